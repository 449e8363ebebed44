"""The cocotb test of the SpikeCore array: every step of a program checked against the golden model.

Run by :mod:`spikecore.verif.sim` through ``cocotb_tools.runner`` (never imported by pytest directly).
What to run comes from the environment (:func:`runs_from_environment`):

- one run: ``SPIKECORE_IMAGE`` (.bin), ``SPIKECORE_STIMULUS`` (.json/.csv, optional), ``SPIKECORE_STEPS``,
  ``SPIKECORE_SEED``, ``SPIKECORE_CHECK`` (scoreboard check: ``full`` or ``fast``), ``SPIKECORE_RESULT`` (JSON
  result path),
  plus optional ``SPIKECORE_VARIANT``, ``SPIKECORE_REPRODUCE``, ``SPIKECORE_VCD``, ``SPIKECORE_FAULT``;
- a batch (regressions): ``SPIKECORE_BATCH``, a JSON file holding a list of runs with the same keys in
  lower case; one simulator process runs them all (the array is reset and re-loaded between runs).

Per run: reset the array, load the image through the configuration bus (only words that differ from
what the memories hold), state reset; then per step the golden model runs the step first
(:meth:`~spikecore.verif.scoreboard.Scoreboard.expect_step`), the driver injects the same host events
and strobes ``step``, and the monitor checks the DUT — FULL mode record by record, FAST mode by
signature with a FULL re-run of a failing step. Finally membranes, drop counters, host outputs and every
core's event counters (``Scoreboard.check_counters``) are compared. The run stops at its first failing
step (later state has diverged). A result JSON is written for every run, and the test fails with the
mismatch report.

``SPIKECORE_FAULT`` injects a fault into what the *DUT* is given, to prove the scoreboard catches it:
``weight:<core>:<address>:<value>`` loads a different weight; ``golden:<index>:<delta>`` adds ``delta``
to the value of golden record ``index`` of the run (counted over all steps) before comparison;
``rtl:<name>`` simulates a build with a planted RTL fault (:data:`spikecore.verif.protocol.RTL_FAULTS`).

Two checks run beside the scoreboard. The **progress watchdog**: a step still busy
``golden step length + PIPELINE_CLOCKS + WATCHDOG_MARGIN`` clocks after its strobe fails the run at once
(``progress watchdog: ...`` naming seed, step, clock, array cycle and bound); a state reset gets
``neurons + 2 + WATCHDOG_MARGIN``. The **protocol monitors** compiled into the model
(:mod:`spikecore.verif.protocol`) are read once per run; a latched violation fails the run with
``<port> protocol violation at cycle C: <rule>, saw <values>``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, FallingEdge, Timer

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import Image, load_image
from spikecore.isa import WEIGHT_MAX, WEIGHT_MIN
from spikecore.stimulus import Stimulus
from spikecore.verif.build import TRACE_PORT
from spikecore.verif.coverage import FunctionalCoverage
from spikecore.verif.protocol import Violation, check_rtl_fault, decode_violation
from spikecore.verif.scoreboard import Mismatch, Scoreboard
from spikecore.verif.tb.driver import ArrayDriver
from spikecore.verif.tb.monitor import CLOCK_NS, HostOutputs, fast_step, full_step
from spikecore.verif.tb.report import RunInfo, explain, format_explanation, result_dict, write_json
from spikecore.verif.trace_decode import TraceDecoder

#: Clocks after the golden step length before a correct DUT has signed its last cycle (trace register,
#: signature register, busy falling).
PIPELINE_CLOCKS = 2
#: Clocks a step (or a state reset) may run past its expected length before the progress watchdog stops the
#: run: two FAST-mode signature reads (32 clocks each), so a correct DUT is never cut short by the read rhythm.
WATCHDOG_MARGIN = 64


@dataclass(frozen=True)
class Finding(Mismatch):
    """A failure that is not a record comparison (watchdog, protocol monitor): ``text`` is its whole message."""

    text: str = ""

    @property
    def message(self) -> str:
        return self.text


def watchdog_bound(golden_cycles: int) -> int:
    """Clocks after the step strobe by which a step of ``golden_cycles`` array cycles must have finished."""
    return golden_cycles + PIPELINE_CLOCKS + WATCHDOG_MARGIN


@dataclass
class RunSpec:
    """One program to co-simulate (see the module docstring for the keys)."""

    image: str
    steps: int
    result: str
    stimulus: str = ""
    seed: int | None = None
    #: How the scoreboard checks the DUT: ``fast`` (signatures, a FULL re-run of a failing step) or ``full``.
    check: str = "fast"
    variant: str = ""
    reproduce: str = ""
    vcd: str = ""
    fault: str = ""


def runs_from_environment(env: dict[str, str] | None = None) -> list[RunSpec]:
    env = dict(os.environ if env is None else env)
    if env.get("SPIKECORE_BATCH"):
        return [RunSpec(**entry) for entry in json.loads(Path(env["SPIKECORE_BATCH"]).read_text())]
    seed = env.get("SPIKECORE_SEED", "")
    return [RunSpec(image=env["SPIKECORE_IMAGE"], steps=int(env["SPIKECORE_STEPS"]), result=env["SPIKECORE_RESULT"],
                    stimulus=env.get("SPIKECORE_STIMULUS", ""), seed=int(seed) if seed else None,
                    check=env.get("SPIKECORE_CHECK", "fast"), variant=env.get("SPIKECORE_VARIANT", ""),
                    reproduce=env.get("SPIKECORE_REPRODUCE", ""), vcd=env.get("SPIKECORE_VCD", ""),
                    fault=env.get("SPIKECORE_FAULT", ""))]


FAULT_FORMS = "weight:<core>:<address>:<value>, golden:<record>:<delta> or rtl:<name>"


def check_fault(fault: str, config: ChipConfig) -> None:
    """Refuse, in one line naming it, a fault that is malformed or outside ``config`` ('' is no fault).

    Checked before the simulator starts, so that a typo is a clear error, not a crash inside the cocotb process.
    """
    if not fault:
        return
    kind, *fields = fault.split(":")
    if kind == "rtl":
        check_rtl_fault(fault[4:] or " ")   # "rtl:" alone names no fault
        return
    if kind not in ("weight", "golden") or len(fields) != (3 if kind == "weight" else 2):
        raise SpikeCoreError(f"fault {fault!r}: expected {FAULT_FORMS}")
    try:
        numbers = [int(field) for field in fields]
    except ValueError:
        raise SpikeCoreError(f"fault {fault!r}: every field after '{kind}:' must be an integer") from None
    if kind == "golden":
        if numbers[0] < 0:
            raise SpikeCoreError(f"fault {fault!r}: record index must be 0 or more, not {numbers[0]}")
        return
    core, address, value = numbers
    for name, number, low, high in (("core", core, 0, config.board_cores - 1),   # a board: global ids
                                    ("address", address, 0, config.weight_bytes - 1),
                                    ("value", value, WEIGHT_MIN, WEIGHT_MAX)):
        if not low <= number <= high:
            raise SpikeCoreError(f"fault {fault!r}: {name} must be {low}..{high}, not {number}")


def apply_weight_fault(image: Image, fault: str) -> Image:
    """The image the DUT gets under ``weight:<core>:<address>:<value>`` (the golden model keeps ``image``)."""
    _, core, address, value = fault.split(":")
    core, address, value = int(core), int(address), int(value)
    cores = dict(image.cores)
    section = image.core(core)
    weights = list(section.weights) + [0] * max(0, address + 1 - len(section.weights))
    weights[address] = value
    cores[core] = replace(section, weights=weights)
    return Image(image.config, cores)


class GoldenFault:
    """``golden:<index>:<delta>``: corrupt one golden record before it is compared."""

    def __init__(self, fault: str) -> None:
        _, index, delta = fault.split(":")
        self.index, self.delta, self.seen = int(index), int(delta), 0

    def apply(self, records: np.ndarray) -> None:
        if self.seen <= self.index < self.seen + len(records):
            records["value"][self.index - self.seen] += self.delta
        self.seen += len(records)


class ArrayBench:
    """The testbench components of one simulator process, shared by the runs of a batch."""

    def __init__(self, dut) -> None:
        self.dut = dut
        self.driver = ArrayDriver(dut)
        self.outputs = HostOutputs(dut)
        self.trace = getattr(dut, TRACE_PORT)
        self.unpacker: TraceDecoder | None = None
        self.seed: int | None = None
        self.neurons = 0
        try:
            dut.mon_fail   # noqa: B018 -- a handle lookup: does the model carry the protocol monitors?
            self.unchecked = False
        except AttributeError:
            self.unchecked = True

    def read_violation(self) -> Violation | None:
        """The first protocol violation the model's monitor latched since the last reset, if any (``None`` also
        for a model built without monitors, the speed benchmark's reference)."""
        dut = self.dut
        if self.unchecked:
            return None
        return decode_violation(int(dut.mon_fail.value), dut.mon_rule.value.to_unsigned(),
                                dut.mon_clock.value.to_unsigned(), dut.mon_array_cycle.value.to_unsigned(),
                                dut.mon_values.value.to_unsigned())

    def watchdog(self, step: int, golden_cycles: int, waited: int) -> Finding:
        bound = watchdog_bound(golden_cycles)
        text = (f"progress watchdog: seed {self.seed}: step {step} still busy {waited} clocks after its strobe "
                f"(sim time {int(get_sim_time('ns'))} ns, array cycle "
                f"{self.dut.cycle.value.to_unsigned()}); bound {bound} clocks = golden step length {golden_cycles}"
                f" + pipeline {PIPELINE_CLOCKS} + margin {WATCHDOG_MARGIN}")
        return Finding("watchdog", "still busy", f"done within {bound} clocks", text=text)

    async def start(self) -> None:
        Clock(self.dut.clk, CLOCK_NS, unit="ns").start()
        await self.driver.reset()
        config = await self.driver.read_config()
        self.unpacker = TraceDecoder(config["cores"])
        cocotb.start_soon(self.outputs.run())

    async def run_step(self, board: Scoreboard, events, check: str, golden_fault: GoldenFault | None,
                       times: dict[int, int]) -> str:
        """Inject, strobe and check one step; returns "" or why the run must stop."""
        exp = board.current
        refused = await self.driver.inject(events)
        if refused:
            core, axon, payload = refused[0]
            board.note([Mismatch("inject", f"core {core} refused event (axon {axon}, payload {payload})",
                                  "accepted (the golden buffer had room)", core=core)])
            return "injection refused"
        self.outputs.step = exp.step
        if golden_fault is not None:
            golden_fault.apply(exp.records)
        timeout = watchdog_bound(exp.cycles)
        await self.driver.start_step()
        if check == "full":
            capture = await full_step(self.dut, self.unpacker, timeout, port=self.trace)
            times.update(capture.cycle_times(self.unpacker))
            if not capture.finished:
                board.note([self.watchdog(exp.step, exp.cycles, timeout)])
                return "watchdog"
            found = board.check_step(self.unpacker.decode(capture.raws))
            return "mismatch" if found else ""
        capture = await fast_step(self.dut, exp.cycles + PIPELINE_CLOCKS, timeout)
        if not capture.finished:
            board.note([self.watchdog(exp.step, exp.cycles, timeout)])
            return "watchdog"
        snapshots = [(s.cycles, s.history, s.records) for s in capture.snapshots]
        verdict = board.check_signatures(snapshots)
        return "" if verdict.ok and capture.finished else f"signature: {verdict.reason or 'step did not finish'}"

    async def rerun_full(self, board: Scoreboard, image: Image, injections: list, lengths: list[int],
                         times: dict[int, int]) -> None:
        """Replay the run from reset (re-loading ``image``) up to the failing (current) step, that step in
        FULL mode (``lengths``: the golden cycles of each step, for the watchdog bounds)."""
        exp = board.current
        await self.driver.reset()
        await self.driver.load(image)
        await self.driver.reset_state(self.neurons + 2 + WATCHDOG_MARGIN)
        for events, length in zip(injections[:-1], lengths, strict=False):
            await self.driver.inject(events)
            await self.driver.start_step()
            if not (await fast_step(self.dut, 1, watchdog_bound(length))).finished:
                board.note([Finding("watchdog", "still busy", "done", text="progress watchdog: the FULL re-run "
                                    f"did not finish an earlier step within {watchdog_bound(length)} clocks")])
                return
        self.outputs.outputs.clear()
        await self.driver.inject(injections[-1])
        await self.driver.start_step()
        capture = await full_step(self.dut, self.unpacker, watchdog_bound(exp.cycles), port=self.trace)
        times.update(capture.cycle_times(self.unpacker))
        found = board.check_records(exp.records, self.unpacker.decode(capture.raws))
        if not capture.finished:
            board.note([Mismatch("step", f"step {exp.step} still busy after its records", f"{exp.cycles} cycles")])
        elif not found:
            board.note([Mismatch("signature", "FAST mode saw a wrong signature", "FULL re-run of the step "
                                  "matched every record (a signature unit fault?)")])

    async def run(self, spec: RunSpec) -> dict[str, object]:
        started = time.monotonic()
        image = load_image(spec.image)
        stimulus = Stimulus.load(spec.stimulus) if spec.stimulus else Stimulus()
        board = Scoreboard(image, stimulus, seed=spec.seed)
        coverage = FunctionalCoverage(image.config)
        dut_image = apply_weight_fault(image, spec.fault) if spec.fault.startswith("weight:") else image
        golden_fault = GoldenFault(spec.fault) if spec.fault.startswith("golden:") else None
        self.seed, self.neurons = spec.seed, image.config.neurons
        await self.driver.reset()
        await self.driver.load(dut_image)
        await self.driver.reset_state(self.neurons + 2 + WATCHDOG_MARGIN)
        self.outputs.outputs.clear()
        self.outputs.enabled = spec.check == "full"
        times: dict[int, int] = {}
        injections: list[list[tuple[int, int, int]]] = []
        lengths: list[int] = []
        violation: Violation | None = None
        stop = ""
        stepping, stepping_cpu = time.perf_counter(), time.process_time()
        sim_start = get_sim_time("ns")
        matched_steps = []
        for _ in range(spec.steps):
            exp = board.expect_step()
            injections.append(exp.injections)
            lengths.append(exp.cycles)
            stop = await self.run_step(board, exp.injections, spec.check, golden_fault, times)
            if stop:
                violation = self.read_violation()   # before a re-run's reset clears the monitor
            if stop.startswith("signature"):
                await self.rerun_full(board, dut_image, injections, lengths, times)
            if stop:
                break
            matched_steps.append(exp)
        stepping, stepping_cpu = time.perf_counter() - stepping, time.process_time() - stepping_cpu
        clocks = (get_sim_time("ns") - sim_start) / CLOCK_NS
        if not stop:
            cfg = image.config
            membranes = await self.driver.read_membranes(cfg.cores, cfg.neurons)
            drops = await self.driver.read_drops(cfg.cores)
            # FULL mode watched the out_* ports every cycle; FAST mode proved the OUT records by signature.
            outputs = self.outputs.outputs if spec.check == "full" else None
            board.check_final(np.array(membranes), np.array(drops), outputs)
            # The event counters (synaptic ops, neuron updates, spikes, deliveries, drops) of every core.
            board.check_counters(np.array(await self.driver.read_event_counts(cfg.cores)))
            # The input buffers: the events routed in the last step, waiting for the next (EVENT space).
            board.check_buffers(await self.driver.read_buffers(cfg.cores))
            violation = self.read_violation()
        if violation is not None:
            board.note([Finding("protocol", "violation", "none", text=violation.message)])
        # Coverage of the steps the DUT matched, sampled after the run (off the simulation's critical path).
        sampling = time.perf_counter()
        for exp in matched_steps:
            coverage.sample_step(exp, board.golden.loaded)
        sampling = time.perf_counter() - sampling
        result = board.finish()
        if stop and result.passed:   # cannot happen: every stop reason notes a mismatch; keep the guard
            result.passed, result.reason = False, stop
        info = RunInfo(seed=spec.seed, cores=image.config.cores, check=spec.check, variant=spec.variant,
                       image=spec.image, stimulus=spec.stimulus, steps=spec.steps, vcd=spec.vcd,
                       reproduce=spec.reproduce, wall_seconds=time.monotonic() - started, clock_period_ns=CLOCK_NS,
                       extra={"fault": spec.fault} if spec.fault else {})
        first = explain(board, result.mismatches[0], info, times.get) if result.mismatches else None
        data = result_dict(result, info, first)
        data["coverage"] = coverage.to_dict()
        # Speed of the stepping phase alone (no image load, no final read-back): the benchmark's figure.
        data["stepping"] = {"seconds": round(stepping, 4), "clocks": int(clocks),
                            "array_cycles_per_second": round(result.cycles / stepping, 1) if stepping else None,
                            "clocks_per_second": round(clocks / stepping, 1) if stepping else None,
                            # CPU time of this (simulator) process: robust to other jobs on a loaded machine
                            "array_cycles_per_cpu_second": round(result.cycles / stepping_cpu, 1)
                            if stepping_cpu else None,
                            "coverage_seconds": round(sampling, 4)}
        data["text"] = data["report"] = "\n".join(result.lines() + ([format_explanation(first)] if first else []))
        write_json(spec.result, data)
        return data


async def run_listed(dut, bench) -> None:
    """Run every run of the environment's list on ``bench`` (an :class:`ArrayBench` or a board bench: ``start``
    and ``run(spec)`` returning the result dict); a run whose testbench breaks leaves a failed result and the
    next one goes on. Raises ``AssertionError`` listing the failures, :class:`SpikeCoreError` on an empty list."""
    runs = runs_from_environment()
    if not runs:
        raise SpikeCoreError("no runs given (set SPIKECORE_IMAGE or SPIKECORE_BATCH)")
    await bench.start()
    failures = []
    for spec in runs:
        try:
            data = await bench.run(spec)
        except Exception as err:   # the testbench itself broke: leave a result, go on with the next run
            dut._log.exception("testbench error in seed %s", spec.seed)
            data = {"passed": False, "reason": f"testbench error: {err!r}", "seed": spec.seed, "variant": spec.variant,
                    "check": spec.check, "text": f"testbench error: {err!r}\nreproduce: {spec.reproduce}"}
            write_json(spec.result, data)
        dut._log.info("seed %s %s: %s", spec.seed, spec.variant, data["text"].splitlines()[-1] if data["passed"]
                      else data["text"])
        if not data["passed"]:
            failures.append(data["text"])
    assert not failures, "\n\n".join(failures)


async def measure_speeds(dut, bench, edges_awaited: bool) -> None:
    """Speeds of one build, measured in one simulator run, written as JSON to ``SPIKECORE_BENCH``: the clock
    alone for ``SPIKECORE_BENCH_CLOCKS`` cycles (one Timer, no Python per cycle; wall and CPU seconds), with
    ``edges_awaited`` the clock awaited edge by edge from Python, then each run of the environment's list on
    ``bench`` (its stepping phase only). ``SPIKECORE_PROFILE=<prefix>`` also writes a cProfile of each run to
    ``<prefix><check>``. Raises ``AssertionError`` when a run failed."""
    runs = runs_from_environment()
    await bench.start()
    clocks = int(os.environ.get("SPIKECORE_BENCH_CLOCKS", "20000"))
    await FallingEdge(dut.clk)
    started, cpu_started = time.perf_counter(), time.process_time()
    await Timer(clocks * CLOCK_NS, unit="ns")
    clock_only = clocks / (time.perf_counter() - started)
    # CPU seconds of this process (simulator and cocotb share it): far less sensitive to a loaded machine.
    clock_only_cpu = clocks / max(time.process_time() - cpu_started, 1e-9)
    speeds = {"clock_only_cycles_per_second": round(clock_only, 1),
              "clock_only_cycles_per_cpu_second": round(clock_only_cpu, 1)}
    if edges_awaited:
        started = time.perf_counter()
        await ClockCycles(dut.clk, clocks // 4, rising=False)
        speeds["clock_edges_awaited_cycles_per_second"] = round((clocks // 4) / (time.perf_counter() - started), 1)
    speeds["runs"] = []
    for spec in runs:
        if os.environ.get("SPIKECORE_PROFILE"):
            import cProfile
            import pstats
            profiler = cProfile.Profile()
            profiler.enable()
            data = await bench.run(spec)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").dump_stats(os.environ["SPIKECORE_PROFILE"] + spec.check)
        else:
            data = await bench.run(spec)
        speeds["runs"].append({"check": spec.check, "passed": data["passed"], "cycles": data["cycles"],
                               "records_compared": data["records_compared"], **data["stepping"]})
    write_json(os.environ["SPIKECORE_BENCH"], speeds)
    assert all(run["passed"] for run in speeds["runs"]), speeds


@cocotb.test(skip=bool(os.environ.get("SPIKECORE_BENCH")))
async def array_matches_golden(dut) -> None:
    """Every run of the environment's list matches the golden model (see the module docstring)."""
    await run_listed(dut, ArrayBench(dut))


@cocotb.test(skip=not os.environ.get("SPIKECORE_BENCH"))
async def bench_speeds(dut) -> None:
    """Speeds of one build (``SPIKECORE_BENCH`` = JSON output path, :func:`measure_speeds`): the clock alone,
    the clock awaited edge by edge from Python, then the environment's program scoreboarded in FAST and in
    FULL mode. ``SPIKECORE_PROFILE=<prefix>`` also writes a cProfile of each run."""
    await measure_speeds(dut, ArrayBench(dut), edges_awaited=True)
