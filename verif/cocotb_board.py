"""The cocotb test of the SpikeCore board (docs/spec.md §13): every record of every chip checked, cycle by
cycle, against the golden :class:`~spikecore.golden.board.CycleBoard`.

Run by :func:`spikecore.verif.sim.cosimulate` for a board image (``chips > 1``) through ``cocotb_tools.runner``,
with the same environment as :mod:`spikecore.verif.cocotb_array` (``SPIKECORE_IMAGE``, ``SPIKECORE_STIMULUS``,
``SPIKECORE_STEPS``, ``SPIKECORE_SEED``, ``SPIKECORE_CHECK``, ``SPIKECORE_RESULT``, ... or ``SPIKECORE_BATCH``).

Per run: reset, load every chip (configuration address bits 31..28 = chip), state reset; per step the golden
board runs first (:class:`~spikecore.verif.board_scoreboard.BoardScoreboard`), the host events go in
(``inj_chip``, ``inj_core``), ``step`` is strobed, and the DUT is checked per chip — FULL mode: every chip's
``trace_port__<c>`` read at every falling edge, record by record; FAST mode: every chip's signature history
read every 32 clocks, with a FULL re-run of a failing step. Finally every chip's membranes, drop counters,
event counters and input buffers, and (FULL mode) the host outputs of every chip's ``out_*__<c>`` ports. The
progress watchdog and every chip's protocol monitor (``mon_*__<c>``) are those of the array's test. A failure
prints the cycle, chip, core, neuron, the disassembled instruction, expected and actual values, the seed and
the VCD path and time (:func:`~spikecore.verif.tb.report.format_explanation`). ``SPIKECORE_FAULT``:
``weight:<core>:<address>:<value>`` (global core id) and ``golden:<record>:<delta>`` (records counted over the
chips, chip by chip within a step) as in the array's test; ``rtl:`` faults are the one-chip array's.
"""

from __future__ import annotations

import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, Timer

from spikecore import isa
from spikecore.errors import SpikeCoreError
from spikecore.image import Image, load_image
from spikecore.rtl.layout import EVENT_COUNTERS, ConfigSpace, CoreStatus, config_address
from spikecore.signature import HISTORY_DEPTH
from spikecore.stimulus import Stimulus
from spikecore.verif.board_coverage import sample_board_steps
from spikecore.verif.board_scoreboard import BoardScoreboard
from spikecore.verif.cocotb_array import (
    PIPELINE_CLOCKS,
    WATCHDOG_MARGIN,
    Finding,
    GoldenFault,
    RunSpec,
    apply_weight_fault,
    measure_speeds,
    run_listed,
    watchdog_bound,
)
from spikecore.verif.config_bus import default_word, image_words
from spikecore.verif.coverage import FunctionalCoverage
from spikecore.verif.protocol import Violation, decode_violation
from spikecore.verif.scoreboard import Mismatch
from spikecore.verif.tb.driver import ArrayDriver, _signed24, _to_signed32
from spikecore.verif.tb.monitor import CLOCK_NS
from spikecore.verif.tb.report import RunInfo, explain, format_explanation, result_dict, write_json
from spikecore.verif.trace_decode import TraceDecoder, decode_history


def board_words(image: Image) -> dict[int, int]:
    """Every configuration word of a board image, by address (chip in bits 31..28)."""
    words: dict[int, int] = {}
    one = image.config.one_chip
    for chip in range(image.config.chips):
        for address, word in image_words(Image(one, image.chip_sections(chip))).items():
            words[address | chip << 28] = word
    return words


class BoardDriver(ArrayDriver):
    """:class:`~spikecore.verif.tb.driver.ArrayDriver` for the board's host ports (global core ids)."""

    def __init__(self, dut, cores: int, chips: int) -> None:
        super().__init__(dut)
        self.cores, self.chips = cores, chips

    def address(self, core: int, space: ConfigSpace, index: int) -> int:
        chip, local = divmod(core, self.cores)
        return config_address(local, space, index, chip)

    async def check_config(self, image: Image) -> None:
        """Not checked on a board: its build is keyed by the image's configuration (verif/build.py)."""

    def image_words(self, image: Image) -> dict[int, int]:
        return board_words(image)

    def default_word(self, address: int) -> int:
        return default_word(address & 0x0FFF_FFFF)   # (chip in bits 31..28)

    def select_core(self, core: int) -> None:
        chip, local = divmod(core, self.cores)
        self.dut.inj_chip.value = chip
        self.dut.inj_core.value = local

    async def read_chip(self, chip: int, space: ConfigSpace, indices: list[tuple[int, int]]) -> list[int]:
        """Words ``(local core, index)`` of ``space`` on ``chip``."""
        return await self.read_words([config_address(core, space, index, chip) for core, index in indices])

    async def read_state(self, chip: int, neurons: int) -> dict[str, object]:
        """Membranes, drops, event counters and input buffers of every core of ``chip``."""
        cores = range(self.cores)
        words = await self.read_chip(chip, ConfigSpace.MEMBRANE, [(c, n) for c in cores for n in range(neurons)])
        membranes = np.array([_to_signed32(w) for w in words], dtype=np.int64).reshape(self.cores, neurons)
        counts = await self.read_chip(chip, ConfigSpace.STATUS, [(c, int(k)) for c in cores for k in EVENT_COUNTERS])
        counts = np.array(counts, dtype=np.int64).reshape(self.cores, len(EVENT_COUNTERS))
        drops = np.array(await self.read_chip(chip, ConfigSpace.STATUS,
                                              [(c, int(CoreStatus.DROP_COUNT)) for c in cores]), dtype=np.int64)
        fills = await self.read_chip(chip, ConfigSpace.STATUS, [(c, int(CoreStatus.EVENT_COUNT)) for c in cores])
        slots = await self.read_chip(chip, ConfigSpace.EVENT, [(c, s) for c in cores for s in range(fills[c])])
        buffers, at = [], 0
        for fill in fills:
            buffers.append([(w & 0xFF, _signed24(w >> 8)) for w in slots[at:at + fill]])
            at += fill
        return {"membranes": membranes, "drops": drops, "counts": counts, "buffers": buffers}


class BoardBench:
    """The testbench of one simulator process of the board, shared by the runs of a batch."""

    def __init__(self, dut) -> None:
        self.dut = dut
        self.seed: int | None = None
        self.chips = 0
        self.driver: BoardDriver | None = None

    def port(self, name: str, chip: int):
        return getattr(self.dut, f"{name}__{chip}")

    async def start(self) -> None:
        Clock(self.dut.clk, CLOCK_NS, unit="ns").start()
        chips = 0
        while True:
            try:
                self.port("trace_port", chips)
            except AttributeError:
                break
            chips += 1
        self.chips = chips
        probe = ArrayDriver(self.dut)
        await probe.reset()
        config = await probe.read_config()
        self.cores = config["cores"]
        self.driver = BoardDriver(self.dut, self.cores, chips)
        self.decoder = TraceDecoder(self.cores)
        self.traces = [self.port("trace_port", c) for c in range(chips)]

    def read_violations(self) -> list[tuple[int, Violation]]:
        found = []
        for c in range(self.chips):
            violation = decode_violation(int(self.port("mon_fail", c).value),
                                         self.port("mon_rule", c).value.to_unsigned(),
                                         self.port("mon_clock", c).value.to_unsigned(),
                                         self.port("mon_array_cycle", c).value.to_unsigned(),
                                         self.port("mon_values", c).value.to_unsigned())
            if violation is not None:
                found.append((c, violation))
        return found

    def watchdog(self, step: int, golden_cycles: int, waited: int) -> Finding:
        bound = watchdog_bound(golden_cycles)
        text = (f"progress watchdog: seed {self.seed}: step {step} still busy {waited} clocks after its strobe "
                f"(sim time {int(get_sim_time('ns'))} ns, board cycle {self.dut.cycle.value.to_unsigned()}); bound "
                f"{bound} clocks = golden step length {golden_cycles} + pipeline {PIPELINE_CLOCKS} + margin "
                f"{WATCHDOG_MARGIN}")
        return Finding("watchdog", "still busy", f"done within {bound} clocks", text=text)

    async def full_step(self, timeout: int, step: int, outputs: list) -> tuple[list[list[int]], dict[int, int], bool]:
        """Every chip's trace port at every falling edge until the step is over; the host outputs on the way."""
        dut, chips = self.dut, self.chips
        raws: list[list[int]] = [[] for _ in range(chips)]
        times: dict[int, int] = {}
        active = 1 << self.decoder.active_bit
        outs = [(self.port("out_valid", c), self.port("out_core", c), self.port("out_axon", c),
                 self.port("out_payload", c)) for c in range(chips)]
        edge = FallingEdge(dut.clk)
        # the raw VPI read of each chip's trace port, as the array's monitor does (a LogicArray of ~15 kbit per
        # chip per clock would dominate the step); Verilator is two-state, so the string holds only 0 and 1
        reads = [trace._handle.get_signal_val_binstr for trace in self.traces]
        for _ in range(timeout):
            any_active = False
            for c in range(chips):
                raw = int(reads[c](), 2)
                raws[c].append(raw)
                if raw & active:
                    any_active = True
                    times.setdefault(self.decoder.cycle_of(raw), int(get_sim_time("ns")))
                valid, core, axon, payload = outs[c]
                if int(valid.value):
                    outputs.append((step, c * self.cores + core.value.to_unsigned(), axon.value.to_unsigned(),
                                    payload.value.to_signed()))
            if not any_active and not int(dut.busy.value):
                return raws, times, True
            await edge
        return raws, times, False

    def snapshots(self) -> list[tuple[int, list[int], int]]:
        return [(self.port("sig_cycles", c).value.to_unsigned(),
                 decode_history(self.port("sig_history", c).value.to_unsigned(), HISTORY_DEPTH),
                 self.port("sig_records", c).value.to_unsigned()) for c in range(self.chips)]

    async def fast_step(self, expected_clocks: int, timeout: int) -> tuple[list[list], bool]:
        per_chip: list[list] = [[] for _ in range(self.chips)]
        waited = 0
        while True:
            chunk = (min(HISTORY_DEPTH, max(1, expected_clocks - waited)) if waited < expected_clocks
                     else HISTORY_DEPTH)
            await Timer(chunk * CLOCK_NS - CLOCK_NS // 4, unit="ns")
            await FallingEdge(self.dut.clk)
            waited += chunk
            for c, snapshot in enumerate(self.snapshots()):
                per_chip[c].append(snapshot)
            if not int(self.dut.busy.value):
                return per_chip, True
            if waited >= timeout:
                return per_chip, False

    async def run_step(self, board: BoardScoreboard, expected, events: list, check: str, golden_fault,
                       times: dict, outputs: list) -> str:
        exp = expected[0]
        refused = await self.driver.inject(events)
        if refused:
            core, axon, payload = refused[0]
            board.note(core // self.cores, [Mismatch("inject", f"core {core} refused event (axon {axon}, payload "
                                                     f"{payload})", "accepted (the golden buffer had room)",
                                                     core=core % self.cores)])
            return "injection refused"
        if golden_fault is not None:
            for e in expected:
                golden_fault.apply(e.records)
        timeout = watchdog_bound(exp.cycles)
        await self.driver.start_step()
        if check == "full":
            raws, seen, finished = await self.full_step(timeout, exp.step, outputs)
            times.update(seen)
            if not finished:
                board.note(0, [self.watchdog(exp.step, exp.cycles, timeout)])
                return "watchdog"
            found = False
            for c, chip in enumerate(board.chips):
                found |= bool(chip.check_step(self.decoder.decode(raws[c])))
            return "mismatch" if found else ""
        per_chip, finished = await self.fast_step(exp.cycles + PIPELINE_CLOCKS, timeout)
        if not finished:
            board.note(0, [self.watchdog(exp.step, exp.cycles, timeout)])
            return "watchdog"
        for c, chip in enumerate(board.chips):
            verdict = chip.check_signatures(per_chip[c])
            if not verdict.ok:
                return f"signature: chip {c}: {verdict.reason}"
        return ""

    async def rerun_full(self, board: BoardScoreboard, image: Image, injections: list, lengths: list[int],
                         times: dict) -> None:
        """Replay the run from reset up to the failing (current) step, that step in FULL mode."""
        exp = [chip.current for chip in board.chips]
        await self.driver.reset()
        await self.driver.load(image)
        await self.driver.reset_state(image.config.neurons + 2 + WATCHDOG_MARGIN)
        for events, length in zip(injections[:-1], lengths, strict=False):
            await self.driver.inject(events)
            await self.driver.start_step()
            _, finished = await self.fast_step(1, watchdog_bound(length))
            if not finished:
                board.note(0, [Finding("watchdog", "still busy", "done", text="progress watchdog: the FULL re-run "
                                       f"did not finish an earlier step within {watchdog_bound(length)} clocks")])
                return
        await self.driver.inject(injections[-1])
        await self.driver.start_step()
        raws, seen, finished = await self.full_step(watchdog_bound(exp[0].cycles), exp[0].step, [])
        times.update(seen)
        found = False
        for c, chip in enumerate(board.chips):
            found |= bool(chip.check_records(exp[c].records, self.decoder.decode(raws[c])))
        if not found:
            board.note(0, [Mismatch("signature", "FAST mode saw a wrong signature", "FULL re-run of the step "
                                    "matched every record (a signature unit fault?)")])

    async def run(self, spec: RunSpec) -> dict[str, object]:
        started = time.monotonic()
        image = load_image(spec.image)
        if image.config.chips != self.chips or image.config.cores != self.cores:
            raise SpikeCoreError(f"the simulated board is {self.chips} chips x {self.cores} cores, the image needs "
                                 f"{image.config.chips} x {image.config.cores}")
        stimulus = Stimulus.load(spec.stimulus) if spec.stimulus else Stimulus()
        board = BoardScoreboard(image, stimulus, seed=spec.seed)
        golden_fault = GoldenFault(spec.fault) if spec.fault.startswith("golden:") else None
        dut_image = apply_weight_fault(image, spec.fault) if spec.fault.startswith("weight:") else image
        self.seed = spec.seed
        await self.driver.reset()
        await self.driver.load(dut_image)
        await self.driver.reset_state(image.config.neurons + 2 + WATCHDOG_MARGIN)
        times: dict[int, int] = {}
        outputs: list[tuple[int, int, int, int]] = []
        injections: list[list] = []
        lengths: list[int] = []
        violations: list[tuple[int, Violation]] = []
        stop = ""
        stepping, stepping_cpu, sim_start = time.perf_counter(), time.process_time(), get_sim_time("ns")
        matched_steps = []
        for _ in range(spec.steps):
            expected = board.expect_step()
            injections.append(board.injections(expected[0].step))
            lengths.append(expected[0].cycles)
            stop = await self.run_step(board, expected, injections[-1], spec.check, golden_fault, times, outputs)
            if stop:
                violations = self.read_violations()
            if stop.startswith("signature"):
                await self.rerun_full(board, dut_image, injections, lengths, times)
            if stop:
                break
            matched_steps.append(expected)
        stepping, stepping_cpu = time.perf_counter() - stepping, time.process_time() - stepping_cpu
        clocks = (get_sim_time("ns") - sim_start) / CLOCK_NS
        if not stop:
            for c, chip in enumerate(board.chips):
                state = await self.driver.read_state(c, image.config.neurons)
                chip.check_final(state["membranes"], state["drops"], None)
                chip.check_counters(state["counts"])
                chip.check_buffers(state["buffers"])
            if spec.check == "full":
                board.check_outputs(outputs)
            violations = self.read_violations()
        for c, violation in violations:
            board.note(c, [Finding("protocol", "violation", "none", text=f"chip {c}: {violation.message}")])
        result = board.finish()
        if stop and result.passed:
            result.passed, result.reason = False, stop
        coverage = FunctionalCoverage(image.config.one_chip)
        links = sample_board_steps(matched_steps, board, coverage)
        info = RunInfo(seed=spec.seed, cores=image.config.cores, check=spec.check, variant=spec.variant,
                       image=spec.image, stimulus=spec.stimulus, steps=spec.steps, vcd=spec.vcd,
                       reproduce=spec.reproduce, wall_seconds=time.monotonic() - started, clock_period_ns=CLOCK_NS,
                       extra={"chips": image.config.chips} | ({"fault": spec.fault} if spec.fault else {}))
        first = None
        kept = board.mismatches()
        if kept:
            chip, mismatch = kept[0]
            first = explain(board.chips[chip if chip is not None else 0], mismatch, info, times.get)
            first["chip"] = chip
        data = result_dict(result, info, first)
        data["chips"] = image.config.chips
        data["coverage"] = coverage.to_dict()
        data["link_coverage"] = links
        data["stepping"] = {"seconds": round(stepping, 4), "clocks": int(clocks),
                            "array_cycles_per_second": round(result.cycles / stepping, 1) if stepping else None,
                            "clocks_per_second": round(clocks / stepping, 1) if stepping else None,
                            "array_cycles_per_cpu_second": round(result.cycles / stepping_cpu, 1)
                            if stepping_cpu else None}
        data["text"] = data["report"] = "\n".join(result.lines() + ([format_explanation(first)] if first else []))
        write_json(spec.result, data)
        return data


@cocotb.test(skip=bool(os.environ.get("SPIKECORE_BENCH")))
async def board_matches_golden(dut) -> None:
    """Every run of the environment's list matches the golden board (see the module docstring)."""
    await run_listed(dut, BoardBench(dut))


@cocotb.test(skip=not os.environ.get("SPIKECORE_BENCH"))
async def bench_board_speeds(dut) -> None:
    """Speeds of one board build (``SPIKECORE_BENCH`` = JSON output path): the clock alone, then the
    environment's program scoreboarded (FAST and FULL), as :func:`spikecore.verif.cocotb_array.measure_speeds`."""
    await measure_speeds(dut, BoardBench(dut), edges_awaited=False)


assert isa.MAX_CHIPS <= 16, "the configuration address has 4 chip bits (rtl/layout.py CONFIG_ADDRESS)"
