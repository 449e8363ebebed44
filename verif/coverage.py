"""Functional coverage of a run (docs/spec.md §10), collected from the golden model's execution.

The DUT's trace is compared record for record with the golden trace, so what the golden model exercised is
what the DUT was shown to do; collecting coverage on the golden side keeps it out of the simulator's inner
loop and lets a quick test measure the random generator's coverage with no simulator at all.

Each step is sampled from an :class:`~spikecore.verif.scoreboard.ExpectedStep` (the step's records plus the
membranes and input buffers when EXEC began) and the loaded image. :func:`walk_core` replays one core's
records against its program — the records of a step are fully determined by the program, the buffers and
the membranes, so the walk knows, for every FIRE neuron, the membrane it compared, and for every MAC, the
product it added — and raises if the records do not follow the program (a second, independent check).

Coverpoints, their bins and their meaning are listed in :func:`coverpoints` (and in docs/spec.md §10).
Hits are counted here (fast, mergeable, JSON); :func:`export_cocotb_xml` hands the same bins to
cocotb-coverage for its XML/YAML report and merge tools.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikecore.config import ChipConfig
from spikecore.golden.cycle import LoadedImage
from spikecore.isa import (
    ACC_MAX,
    ACC_MIN,
    HOST_CORE,
    ISSUE_CYCLES,
    PAYLOAD_MAX,
    PAYLOAD_MIN,
    WEIGHT_MAX,
    WEIGHT_MIN,
    WIDE_PAYLOAD_MAX,
    WIDE_PAYLOAD_MIN,
    Opcode,
    ResetMode,
    TraceKind,
    round_shift,
    weight_address,
    weight_row,
)
from spikecore.verif.scoreboard import ExpectedStep

#: The record kinds EXEC writes (the router writes the others).
_EXEC_KINDS = (int(TraceKind.ACC), int(TraceKind.SPIKE), int(TraceKind.SYN))

#: Opcodes that can precede another instruction in one step (HALT ends the program).
_NOT_HALT = tuple(op for op in Opcode if op != Opcode.HALT)


@dataclass(frozen=True)
class Coverpoint:
    """A named set of bins; a bin is covered once it has been hit at least once."""

    name: str
    description: str
    bins: tuple[str, ...]


def coverpoints(config: ChipConfig) -> list[Coverpoint]:
    """The coverpoints of a chip configuration (bins that need two cores exist only on multi-core chips)."""
    cores = range(config.cores)
    multi = config.cores > 1
    return [
        Coverpoint("opcode_core", "each opcode issued on each core",
                   tuple(f"{op.name}@core{c}" for op in Opcode for c in cores)),
        Coverpoint("opcode_transition", "instruction A immediately followed by B in one core's program",
                   tuple(f"{a.name}->{b.name}" for a in _NOT_HALT for b in Opcode)),
        Coverpoint("saturation", "a MAC whose exact sum left int32 (clipped high/low); FIRE reset=sub whose "
                   "v - threshold exceeded ACC_MAX", ("acc_clip_high", "acc_clip_low", "sub_reset_clip")),
        Coverpoint("threshold_compare", "FIRE's membrane v against the threshold (equal fires)",
                   ("below", "equal", "above")),
        Coverpoint("reset_fired", "FIRE reset mode crossed with whether the neuron fired",
                   tuple(f"{m.name.lower()}/{'fired' if f else 'silent'}" for m in ResetMode for f in (True, False))),
        Coverpoint("graded_payload", "payload of a fired neuron: binary, graded in range, graded clipped to int8",
                   ("binary", "graded_in_range", "graded_clip_high", "graded_clip_low")),
        Coverpoint("event_buffer", "input buffer occupancy when EXEC starts (per core), and a routed event dropped",
                   ("empty", "partial", "full", "drop")),
        Coverpoint("acc_operands", "ACC corner cases: no buffered events, weight address wrap, extreme weights used",
                   ("no_events", "address_wrap", "weight_max", "weight_min")),
        Coverpoint("leak", "LEAK of a negative / positive membrane", ("negative", "positive")),
        Coverpoint("synaptic", "version 2: SACC over an empty buffer; a SACC MAC clipped high / low; SYN "
                   "integrating a current that clipped the membrane high / low; SYN decaying a negative / positive "
                   "current", ("sacc_no_events", "sacc_clip_high", "sacc_clip_low", "integrate_clip_high",
                               "integrate_clip_low", "current_negative", "current_positive")),
        Coverpoint("fan_in_split", "version 2, split neurons and merges (spec §4.7-4.8): a FIRE wide=1 payload "
                   "within 24 bits / clipped high / low; MERGE over an empty buffer, adding an event in its range, "
                   "passing an event outside it, adding a payload beyond int8 (a partial sum), clipping high / low",
                   ("wide_fits", "wide_clip_high", "wide_clip_low", "merge_no_events", "merge_add", "merge_outside",
                    "merge_wide_payload", "merge_clip_high", "merge_clip_low")),
        Coverpoint("router", "deliveries of one step: none, from one source core, from several; a destination "
                   "fed by two or more source cores (contention)",
                   ("no_deliveries", "one_source", "many_sources") + (("fan_in",) if multi else ())),
        Coverpoint("host_delivery", "spikes delivered to the host; a step delivering to the host and to cores",
                   ("out", "out_and_event")),
        Coverpoint("period", "version 2, a core of period D > 1 (spec §2): a step it skips, a step it runs, a "
                   "routed event (or drop) reaching it in a step it skips", ("idle_step", "run_step", "idle_event")),
        Coverpoint("array_activity", "every core writes a record on one cycle; several / all cores spike on one cycle",
                   ("all_cores_active",) + (("multi_core_spike", "all_cores_spike") if multi else ())),
    ]


class TraceWalkError(AssertionError):
    """The records of a core do not follow its program (the golden trace is inconsistent)."""


class FunctionalCoverage:
    """Hit counts per coverpoint bin, for one configuration; mergeable and JSON-serialisable."""

    def __init__(self, config: ChipConfig) -> None:
        self.config = config
        self.points = {cp.name: cp for cp in coverpoints(config)}
        self.hits: dict[str, collections.Counter] = {name: collections.Counter() for name in self.points}
        self.steps = 0

    def hit(self, point: str, bin_name: str, count: int = 1) -> None:
        if bin_name not in self.points[point].bins:
            raise KeyError(f"coverpoint {point} has no bin {bin_name!r}")
        self.hits[point][bin_name] += count

    # --- sampling -------------------------------------------------------------------------------------

    def sample_step(self, step: ExpectedStep, loaded: LoadedImage) -> None:
        """Sample every coverpoint from one golden step."""
        self.steps += 1
        records = step.records
        exec_records = records[np.isin(records["kind"], _EXEC_KINDS)]
        order = np.argsort(exec_records["core"], kind="stable")   # per core, cycle/kind order kept
        by_core = np.split(exec_records[order], np.searchsorted(exec_records["core"][order],
                                                               np.arange(1, self.config.cores)))
        for core in range(self.config.cores):
            periodic = loaded.period is not None and loaded.period[core] > 1
            if step.runs is not None and not step.runs[core]:
                if len(by_core[core]):
                    raise TraceWalkError(f"core {core} is idle in step {step.step} (period/phase) but has "
                                         f"{len(by_core[core])} EXEC records")
                if periodic:
                    self.hit("period", "idle_step")
                    arrivals = records[(records["core"] == core)
                                       & np.isin(records["kind"], (int(TraceKind.EVENT), int(TraceKind.DROP)))]
                    if len(arrivals):
                        self.hit("period", "idle_event")
                continue
            if periodic:
                self.hit("period", "run_step")
            walk_core(self, loaded, step, core, by_core[core])
        self._sample_deliveries(step, loaded)
        self._sample_activity(exec_records)

    def _sample_deliveries(self, step: ExpectedStep, loaded: LoadedImage) -> None:
        kinds = set(step.records["kind"].tolist())
        if TraceKind.DROP in kinds:
            self.hit("event_buffer", "drop")
        if TraceKind.OUT in kinds:
            self.hit("host_delivery", "out")
            if TraceKind.EVENT in kinds or TraceKind.DROP in kinds:
                self.hit("host_delivery", "out_and_event")
        spikes = step.records[step.records["kind"] == TraceKind.SPIKE]
        sources: set[int] = set()
        feeders: dict[int, set[int]] = collections.defaultdict(set)
        for core, neuron in zip(spikes["core"].tolist(), spikes["index"].tolist(), strict=True):
            first = int(loaded.fanout_start[core, neuron])
            count = int(loaded.fanout_count[core, neuron])
            if count:
                sources.add(core)
            for dest in loaded.fanout_core[core, first:first + count].tolist():
                if dest != HOST_CORE:
                    feeders[dest].add(core)
        self.hit("router", ("no_deliveries", "one_source")[len(sources)] if len(sources) < 2 else "many_sources")
        if self.config.cores > 1 and any(len(s) > 1 for s in feeders.values()):
            self.hit("router", "fan_in")

    def _sample_activity(self, exec_records: np.ndarray) -> None:
        if not len(exec_records):
            return
        cores = self.config.cores
        pairs = np.unique(exec_records["cycle"] * cores + exec_records["core"])
        _, active = np.unique(pairs // cores, return_counts=True)
        if active.max() == cores:
            self.hit("array_activity", "all_cores_active")
        spikes = exec_records[exec_records["kind"] == TraceKind.SPIKE]
        if cores > 1 and len(spikes):
            _, spiking = np.unique(spikes["cycle"], return_counts=True)   # one SPIKE per core per cycle
            if spiking.max() >= 2:
                self.hit("array_activity", "multi_core_spike")
            if spiking.max() == cores:
                self.hit("array_activity", "all_cores_spike")

    # --- results --------------------------------------------------------------------------------------

    def covered(self, point: str) -> list[str]:
        return [b for b in self.points[point].bins if self.hits[point][b] > 0]

    def missing(self, point: str) -> list[str]:
        return [b for b in self.points[point].bins if self.hits[point][b] == 0]

    def percent(self, point: str) -> float:
        return 100.0 * len(self.covered(point)) / len(self.points[point].bins)

    def average(self) -> float:
        """The mean over coverpoints of each coverpoint's percentage of covered bins."""
        return sum(self.percent(p) for p in self.points) / len(self.points)

    def merge(self, other: FunctionalCoverage) -> None:
        if other.config != self.config:
            raise ValueError("cannot merge coverage of different chip configurations")
        for point, counter in other.hits.items():
            self.hits[point].update(counter)
        self.steps += other.steps

    def to_dict(self) -> dict[str, object]:
        """JSON form: per coverpoint its percentage, every bin's hits, and the bins never hit."""
        return {
            "average_percent": round(self.average(), 2),
            "steps_sampled": self.steps,
            "coverpoints": {
                name: {"percent": round(self.percent(name), 2), "description": cp.description,
                       "bins": {b: self.hits[name][b] for b in cp.bins}, "missing": self.missing(name)}
                for name, cp in self.points.items()
            },
        }

    @classmethod
    def from_dict(cls, config: ChipConfig, data: dict) -> FunctionalCoverage:
        cov = cls(config)
        cov.steps = int(data.get("steps_sampled", 0))
        for name, point in data["coverpoints"].items():
            for bin_name, count in point["bins"].items():
                if count:
                    cov.hit(name, bin_name, int(count))
        return cov

    def report_lines(self, bins: bool = False) -> list[str]:
        lines = []
        for name, cp in self.points.items():
            lines.append(f"{name:18s} {self.percent(name):6.1f}%  ({len(self.covered(name))}/{len(cp.bins)} bins)")
            if bins:
                lines += [f"    {b:24s} {self.hits[name][b]}" for b in cp.bins]
            elif self.missing(name):
                shown = self.missing(name)[:8]
                more = len(self.missing(name)) - len(shown)
                lines.append("    missing: " + ", ".join(shown) + (f" (+{more} more)" if more else ""))
        lines.append(f"{'average':18s} {self.average():6.1f}%")
        return lines


# --- replaying one core's records against its program ----------------------------------------------------


def _occupancy(fill: int, depth: int) -> str:
    return "empty" if fill == 0 else "full" if fill >= depth else "partial"


def walk_core(cov: FunctionalCoverage, loaded: LoadedImage, step: ExpectedStep, core: int,
              records: np.ndarray) -> None:
    """Replay ``core``'s EXEC records (ACC and SPIKE, in trace order) against its program, sampling coverage.

    The membranes start at ``step.membranes_before[core]``; each instruction consumes exactly the records
    the spec's timing table (§5) gives it, so every record is attributed to one instruction and one MAC
    or neuron. Raises :class:`TraceWalkError` if the records do not fit.
    """
    config = cov.config
    buffer = step.buffers_before[core]
    fill = len(buffer)
    cov.hit("event_buffer", _occupancy(fill, config.event_depth))
    axon = np.array([a for a, _ in buffer], dtype=np.int64).reshape(-1, 1)
    payload = np.array([p for _, p in buffer], dtype=np.int64).reshape(-1, 1)
    membrane = step.membranes_before[core].astype(np.int64).copy()
    currents = (step.currents_before[core] if step.currents_before is not None
                else loaded.syn_init[core]).astype(np.int64).copy()
    program = loaded.programs[core]
    for previous, ins in itertools.pairwise(program):
        cov.hit("opcode_transition", f"{previous.opcode.name}->{ins.opcode.name}")
    cycle = step.start_cycle          # issue cycle of the current instruction
    used = 0                          # records consumed so far

    def take(count: int, what: str) -> np.ndarray:
        nonlocal used
        block = records[used:used + count]
        if len(block) != count:
            raise TraceWalkError(f"core {core} step {step.step}: {what} needs {count} records, {len(block)} left")
        used += count
        return block

    def macs(ins, what: str, kind: TraceKind, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The records of an ACC or SACC (``kind`` records, one per MAC): the register values after each
        event ``(fill, count)``, the weights read and the unsaturated sums (to tell which MACs clipped)."""
        block = take(fill * ins.count, what)
        _expect(block, cycle + ISSUE_CYCLES, kind, core, step.step)
        after = block["value"].reshape(fill, ins.count)
        before = np.vstack([start[None, :], after[:-1]])
        weight = loaded.weights[core, weight_address(ins.wbase, axon, ins.count, np.arange(ins.count),
                                                     config.weight_bytes)]
        return after, weight, before + payload * weight

    for ins in program:
        cov.hit("opcode_core", f"{ins.opcode.name}@core{core}")
        work = 0
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        if ins.opcode == Opcode.ACC:
            work = fill * ins.count
            if fill == 0:
                cov.hit("acc_operands", "no_events")
            else:
                after, weight, exact = macs(ins, "ACC", TraceKind.ACC, membrane[neurons])
                raw = weight_row(ins.wbase, axon, ins.count) + np.arange(ins.count)       # before wrapping
                used_weight = weight[np.broadcast_to(payload != 0, weight.shape)]
                _hit_if(cov, "acc_operands", "address_wrap", (raw >= config.weight_bytes).any())
                _hit_if(cov, "acc_operands", "weight_max", (used_weight == WEIGHT_MAX).any())
                _hit_if(cov, "acc_operands", "weight_min", (used_weight == WEIGHT_MIN).any())
                _hit_if(cov, "saturation", "acc_clip_high", (exact > ACC_MAX).any())
                _hit_if(cov, "saturation", "acc_clip_low", (exact < ACC_MIN).any())
                membrane[neurons] = after[-1]
        elif ins.opcode == Opcode.SACC:
            work = fill * ins.count
            if fill == 0:
                cov.hit("synaptic", "sacc_no_events")
            else:
                after, _, exact = macs(ins, "SACC", TraceKind.SYN, currents[neurons])
                _hit_if(cov, "synaptic", "sacc_clip_high", (exact > ACC_MAX).any())
                _hit_if(cov, "synaptic", "sacc_clip_low", (exact < ACC_MIN).any())
                currents[neurons] = after[-1]
        elif ins.opcode == Opcode.SYN:
            work = ins.count
            block = take(2 * work, "SYN")            # per neuron and cycle: ACC (new membrane) then SYN
            _expect(block[0::2], cycle + ISSUE_CYCLES, TraceKind.ACC, core, step.step)
            _expect(block[1::2], cycle + ISSUE_CYCLES, TraceKind.SYN, core, step.step)
            if (block["index"][0::2] != block["index"][1::2]).any() or (
                    block["index"][0::2] != np.arange(ins.neuron, ins.neuron + ins.count)).any():
                raise TraceWalkError(f"core {core} step {step.step}: SYN records name the wrong neurons")
            old = currents[neurons]
            exact = membrane[neurons] + old
            _hit_if(cov, "synaptic", "integrate_clip_high", (exact > ACC_MAX).any())
            _hit_if(cov, "synaptic", "integrate_clip_low", (exact < ACC_MIN).any())
            _hit_if(cov, "synaptic", "current_negative", (old < 0).any())
            _hit_if(cov, "synaptic", "current_positive", (old > 0).any())
            membrane[neurons] = block["value"][0::2]
            currents[neurons] = block["value"][1::2]
        elif ins.opcode == Opcode.MERGE:
            work = fill
            _walk_merge(cov, ins, buffer, membrane, take(_merge_adds(ins, buffer), "MERGE"), cycle, core, step.step)
        elif ins.opcode == Opcode.LEAK:
            work = ins.count
            block = take(work, "LEAK")
            _expect(block, cycle + ISSUE_CYCLES, TraceKind.ACC, core, step.step)
            old = membrane[neurons]
            _hit_if(cov, "leak", "negative", (old < 0).any())
            _hit_if(cov, "leak", "positive", (old > 0).any())
            membrane[neurons] = block["value"]
        elif ins.opcode == Opcode.FIRE:
            evaluate = cycle + ISSUE_CYCLES
            for n in range(ins.neuron, ins.neuron + ins.count):
                v, thr = int(membrane[n]), int(loaded.threshold[core, n])
                fired = v >= thr
                cov.hit("threshold_compare", "below" if v < thr else "equal" if v == thr else "above")
                cov.hit("reset_fired", f"{ins.reset.name.lower()}/{'fired' if fired else 'silent'}")
                written = ins.reset == ResetMode.ALWAYS or (fired and ins.reset != ResetMode.NONE)
                here = take(int(written) + int(fired), "FIRE")
                expected_kinds = [TraceKind.ACC] * written + [TraceKind.SPIKE] * fired   # trace order: kind
                if (here["cycle"].tolist() != [evaluate] * len(here) or here["kind"].tolist() != expected_kinds
                        or (here["index"] != n).any()):
                    raise TraceWalkError(f"core {core} step {step.step}: FIRE neuron {n} on cycle {evaluate} "
                                         f"expected {[k.name for k in expected_kinds]}, found {here.tolist()}")
                if fired:
                    if ins.wide:
                        exact = round_shift(v, ins.shift)
                        cov.hit("fan_in_split", "wide_clip_high" if exact > WIDE_PAYLOAD_MAX else
                                "wide_clip_low" if exact < WIDE_PAYLOAD_MIN else "wide_fits")
                    elif not ins.graded:
                        cov.hit("graded_payload", "binary")
                    else:
                        exact = round_shift(v, ins.shift)
                        cov.hit("graded_payload", "graded_clip_high" if exact > PAYLOAD_MAX else
                                "graded_clip_low" if exact < PAYLOAD_MIN else "graded_in_range")
                    if ins.reset == ResetMode.SUB and v - thr > ACC_MAX:
                        cov.hit("saturation", "sub_reset_clip")
                if written:
                    membrane[n] = here["value"][0]
                evaluate += 1 + (int(loaded.fanout_count[core, n]) if fired else 0)
            work = evaluate - cycle - ISSUE_CYCLES
        cycle += ISSUE_CYCLES + work
    if used != len(records):
        raise TraceWalkError(f"core {core} step {step.step}: {len(records) - used} records left after HALT, "
                             f"first {records[used].tolist()}")


def _merge_adds(ins, buffer: list[tuple[int, int]]) -> int:
    """How many of the buffered events a MERGE adds (the events whose axon lies in its range, §4.7)."""
    return sum(1 for axon, _ in buffer if ins.neuron <= axon < ins.neuron + ins.count)


def _walk_merge(cov: FunctionalCoverage, ins, buffer: list[tuple[int, int]], membrane: np.ndarray,
                block: np.ndarray, cycle: int, core: int, step: int) -> None:
    """MERGE's records: event ``e`` in the range writes ``ACC`` (index = its axon) on ``cycle + 1 + e``."""
    if not buffer:
        cov.hit("fan_in_split", "merge_no_events")
    used = 0
    for e, (axon, payload) in enumerate(buffer):
        if not ins.neuron <= axon < ins.neuron + ins.count:
            cov.hit("fan_in_split", "merge_outside")
            continue
        record = block[used]
        used += 1
        if (int(record["cycle"]), int(record["kind"]), int(record["index"])) != (cycle + ISSUE_CYCLES + e,
                                                                                 int(TraceKind.ACC), axon):
            raise TraceWalkError(f"core {core} step {step}: MERGE event {e} (axon {axon}) expected an ACC record "
                                 f"on cycle {cycle + ISSUE_CYCLES + e}, found {record.tolist()}")
        exact = int(membrane[axon]) + payload
        cov.hit("fan_in_split", "merge_add")
        _hit_if(cov, "fan_in_split", "merge_wide_payload", not PAYLOAD_MIN <= payload <= PAYLOAD_MAX)
        _hit_if(cov, "fan_in_split", "merge_clip_high", exact > ACC_MAX)
        _hit_if(cov, "fan_in_split", "merge_clip_low", exact < ACC_MIN)
        membrane[axon] = record["value"]


def _expect(block: np.ndarray, first_cycle: int, kind: TraceKind, core: int, step: int) -> None:
    """The records of an ACC/LEAK are one per cycle from ``first_cycle``, all of ``kind``."""
    cycles = np.arange(first_cycle, first_cycle + len(block))
    if not (np.array_equal(block["cycle"], cycles) and (block["kind"] == kind).all()):
        raise TraceWalkError(f"core {core} step {step}: expected {kind.name} records on cycles {first_cycle}.."
                             f"{first_cycle + len(block) - 1}, found {block[:4].tolist()}...")


def _hit_if(cov: FunctionalCoverage, point: str, bin_name: str, condition: bool) -> None:
    if condition:
        cov.hit(point, bin_name)


# --- cocotb-coverage export ------------------------------------------------------------------------------


def export_cocotb_xml(coverages: Iterable[FunctionalCoverage], path: str | Path, prefix: str = "spikecore") -> None:
    """Write the bins to a cocotb-coverage XML report (``coverage_db.export_to_xml``).

    Every bin hit in a coverage object is sampled once into cocotb-coverage's database, so its hit counts
    count the merged coverage objects (runs) that hit a bin; exact hit counts are in the JSON summary.
    Items under ``prefix`` are removed first, so repeated exports in one process start fresh.
    """
    from cocotb_coverage.coverage import CoverPoint, coverage_db

    coverages = list(coverages)
    for name in [n for n in coverage_db if n == prefix or n.startswith(prefix + ".")]:
        del coverage_db[name]
    if not coverages:
        return
    samplers = {}
    for name, cp in coverages[0].points.items():
        point = CoverPoint(f"{prefix}.{name}", xf=lambda value: value, bins=list(cp.bins))
        samplers[name] = point(lambda value: None)
    for cov in coverages:
        for name, counter in cov.hits.items():
            for bin_name, count in counter.items():
                if count:
                    samplers[name](bin_name)
    coverage_db.export_to_xml(filename=str(path))
