"""The cycle-by-cycle scoreboard: the golden model's trace against the DUT's, record for record.

Pure Python (numpy only), so it runs inside the cocotb process, offline on two trace files
(:mod:`spikecore.verif.vcd_check`), and in unit tests without a simulator.

Two layers:

- :func:`compare_records` — compares two :data:`~spikecore.trace.TRACE_DTYPE` arrays. A record's
  key is ``(cycle, core, kind)``: the trace port carries at most one record of each kind per core per cycle
  (docs/spec.md §6), so a key present on one side only is a *missing* or an *extra* record, and a key on
  both sides with a different ``index`` or ``value`` is a *wrong* record.
- :class:`Scoreboard` — owns a golden :class:`~spikecore.golden.cycle.CycleChip` running the same image and
  stimulus step by step (:meth:`Scoreboard.expect_step`), compares the DUT's records of each step
  (:meth:`Scoreboard.check_step`), then the whole final state (:meth:`Scoreboard.check_final`: every
  membrane of every core, the drop counters, the host's output spikes), and refuses to pass a run in
  which nothing was compared (:meth:`Scoreboard.finish`).

Every mismatch prints as one line ``"<what> mismatch, DUT: <actual> expected: <expected>"``, e.g.::

    ACC mismatch, DUT: cycle 12 core 3 ACC n=5 value=-17 expected: cycle 12 core 3 ACC n=5 value=-16
    SPIKE mismatch, DUT: cycle 40 core 1 SPIKE n=2 value=1 expected: no record
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from spikecore.golden.cycle import CycleChip
from spikecore.image import Image
from spikecore.isa import TraceKind
from spikecore.signature import cycle_signatures
from spikecore.stimulus import Stimulus
from spikecore.trace import TRACE_DTYPE, empty_trace, format_record

#: What a side without a record prints.
NO_RECORD = "no record"
#: Mismatches kept in full (all are counted); the first one is the one a report explains.
KEEP_MISMATCHES = 50
#: Matched records remembered per core, printed as context under a mismatch.
HISTORY_PER_CORE = 8

#: One line of the golden model's issue log: (issue cycle, core, pc, instruction word).
IssueEntry = tuple[int, int, int, int]


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between the DUT and the golden model.

    ``what`` names the record kind (``ACC``, ``SPIKE``, …) or the piece of final state (``membrane``,
    ``drops``, ``host output``). ``cycle``/``core``/``index`` locate it (``None`` where not applicable;
    ``index`` is the neuron for ACC/SPIKE/membrane, the axon for EVENT/DROP/OUT). ``dut`` and ``expected``
    are the two sides as text; :data:`NO_RECORD` when a side has nothing.
    """

    what: str
    dut: str
    expected: str
    cycle: int | None = None
    core: int | None = None
    index: int | None = None
    dut_value: int | None = None
    expected_value: int | None = None

    @property
    def message(self) -> str:
        return f"{self.what} mismatch, DUT: {self.dut} expected: {self.expected}"

    def as_dict(self) -> dict[str, object]:
        return {"what": self.what, "message": self.message, "cycle": self.cycle, "core": self.core,
                "index": self.index, "dut": self.dut, "expected": self.expected,
                "dut_value": self.dut_value, "expected_value": self.expected_value}


def as_trace(records: np.ndarray | Iterable[Sequence[int]]) -> np.ndarray:
    """``records`` as a TRACE_DTYPE array sorted by (cycle, core, kind), the order of docs/spec.md §6."""
    if isinstance(records, np.ndarray) and records.dtype == TRACE_DTYPE:
        trace = records
    else:
        rows = [tuple(int(v) for v in row) for row in records]
        trace = np.array(rows, dtype=TRACE_DTYPE) if rows else empty_trace()
    if len(trace) > 1:
        trace = trace[np.lexsort((trace["kind"], trace["core"], trace["cycle"]))]
    return trace


def _record_mismatch(dut, expected) -> Mismatch:
    """The mismatch between two records of the same key, or a record and ``None`` (no record)."""
    rec = dut if dut is not None else expected
    cycle, core, kind, index, _ = (int(v) for v in rec.item())
    try:
        what = TraceKind(kind).name
    except ValueError:
        what = f"kind {kind}"
    return Mismatch(
        what=what,
        dut=format_record(dut) if dut is not None else NO_RECORD,
        expected=format_record(expected) if expected is not None else NO_RECORD,
        cycle=cycle, core=core, index=index,
        dut_value=int(dut["value"]) if dut is not None else None,
        expected_value=int(expected["value"]) if expected is not None else None,
    )


def compare_records(expected: np.ndarray, actual: np.ndarray) -> tuple[int, list[Mismatch]]:
    """Compare two sorted traces record for record; returns (records matched, mismatches in cycle order).

    A whole-array equality test handles the common case at numpy speed; only a window that differs is
    walked key by key (a merge of the two sorted key lists).
    """
    if len(expected) == len(actual) and np.array_equal(expected, actual):
        return len(expected), []
    matched = 0
    mismatches: list[Mismatch] = []
    exp_keys = [tuple(k) for k in expected[["cycle", "core", "kind"]].tolist()]
    act_keys = [tuple(k) for k in actual[["cycle", "core", "kind"]].tolist()]
    i = j = 0
    while i < len(expected) or j < len(actual):
        if j >= len(actual) or (i < len(expected) and exp_keys[i] < act_keys[j]):
            mismatches.append(_record_mismatch(None, expected[i]))
            i += 1
        elif i >= len(expected) or act_keys[j] < exp_keys[i]:
            mismatches.append(_record_mismatch(actual[j], None))
            j += 1
        else:
            if expected[i]["index"] == actual[j]["index"] and expected[i]["value"] == actual[j]["value"]:
                matched += 1
            else:
                mismatches.append(_record_mismatch(actual[j], expected[i]))
            i += 1
            j += 1
    return matched, mismatches


@dataclass
class ExpectedStep:
    """What the golden model did in one step: the window the DUT's records of that step are compared in."""

    step: int
    start_cycle: int            # C_t
    end_cycle: int              # C_{t+1}: the step occupies cycles start_cycle .. end_cycle-1
    records: np.ndarray
    injections: list[tuple[int, int, int]]
    issue_log: list[IssueEntry]
    #: State when EXEC began (after the injections): membranes (cores x neurons) and each core's buffer.
    membranes_before: np.ndarray
    buffers_before: list[list[tuple[int, int]]]
    #: Version 2: the synaptic currents (cores x neurons) when EXEC began; None if the model has none.
    currents_before: np.ndarray | None = None
    #: Version 2: which cores ran their program in this step (period/phase, docs/spec.md §2); None = all.
    runs: np.ndarray | None = None

    @property
    def cycles(self) -> int:
        return self.end_cycle - self.start_cycle


def golden_issue_log(chip: CycleChip) -> list[IssueEntry]:
    """The (issue cycle, core, pc, word) of every instruction the golden model issued in its last step.

    Read from ``CycleChip.last_issue_log``; an empty list if the golden model does not provide it (the
    report then cannot name the instruction, but every comparison still runs).
    """
    return [tuple(int(v) for v in entry) for entry in getattr(chip, "last_issue_log", None) or []]


@dataclass
class SignatureVerdict:
    """The outcome of :meth:`Scoreboard.check_signatures` for one step."""

    ok: bool
    cycles_checked: int
    first_bad_cycle: int | None = None
    reason: str = ""

    def fail(self, cycle: int, reason: str) -> SignatureVerdict:
        self.ok, self.first_bad_cycle, self.reason = False, cycle, reason
        return self


@dataclass
class ScoreboardResult:
    """The verdict of one run."""

    passed: bool
    matched: int
    mismatch_count: int
    mismatches: list[Mismatch]
    steps: int
    cycles: int
    final_compared: int
    reason: str

    def lines(self) -> list[str]:
        out = [m.message for m in self.mismatches]
        if self.mismatch_count > len(self.mismatches):
            out.append(f"... {self.mismatch_count - len(self.mismatches)} more mismatches")
        out.append(f"matched {self.matched} records")
        if not self.passed:
            out.append(f"FAIL: {self.reason}")
        return out


class Scoreboard:
    """Golden model in lock-step with the DUT, comparing every record and the final state.

    Use::

        sb = Scoreboard(image, stimulus)
        for _ in range(steps):
            exp = sb.expect_step()          # golden runs step t; exp.injections go to the DUT too
            ...                             # DUT runs step t; monitor collects its records
            sb.check_step(dut_records)
        sb.check_final(dut_membranes, dut_drops, dut_outputs)
        result = sb.finish()
    """

    def __init__(self, image: Image, stimulus: Stimulus | None = None, *, seed: int | None = None,
                 keep: int = KEEP_MISMATCHES) -> None:
        self.image = image
        self.stimulus = stimulus or Stimulus()
        self.seed = seed
        self.golden = CycleChip(image)
        self.keep = keep
        self.matched = 0
        self.mismatch_count = 0
        self.mismatches: list[Mismatch] = []
        self.final_compared = 0
        self.steps_checked = 0
        self.current: ExpectedStep | None = None
        #: Issue logs of every step checked so far, by step (the report names the instruction of a cycle).
        self.issue_logs: dict[int, list[IssueEntry]] = {}
        #: Windows of golden records the DUT matched, in order (searched backwards by :meth:`last_records`).
        self.matched_windows: list[np.ndarray] = []
        self.step_windows: list[tuple[int, int]] = []
        self.records_signed = 0     # golden records of the steps checked by signature (FAST mode)

    # --- per step -------------------------------------------------------------------------------------

    def expect_step(self) -> ExpectedStep:
        """Inject this step's stimulus into the golden model and run it; returns what the DUT must do (and
        makes it the step the next :meth:`check_step` / :meth:`check_signatures` compares against)."""
        step = self.golden.step_index
        injections = [tuple(int(v) for v in ev) for ev in self.stimulus.at(step)]
        for core, axon, payload in injections:
            self.golden.inject(core, axon, payload)
        start = self.golden.cycle
        membranes = np.array(self.golden.membranes, dtype=np.int64)
        buffers = [self.golden.buffered_events(core) for core in range(self.image.config.cores)]
        currents = np.array(self.golden.currents, dtype=np.int64)
        runs = self.golden.loaded.runs(self.golden.schedule_step)
        records = as_trace(self.golden.step())
        self.current = ExpectedStep(step, start, self.golden.cycle, records, injections,
                                    golden_issue_log(self.golden), membranes, buffers, currents_before=currents,
                                    runs=runs)
        self.issue_logs[step] = self.current.issue_log
        self.step_windows.append((start, self.golden.cycle))
        return self.current

    def check_records(self, expected: np.ndarray, actual: np.ndarray) -> list[Mismatch]:
        """Compare one window of records, count them and remember the context; returns its mismatches."""
        actual = as_trace(actual)
        matched, found = compare_records(expected, actual)
        self.matched += matched
        self.note(found)
        # Context for a report: only records before the first mismatch matched (and are worth showing).
        self._remember(expected if not found else expected[expected["cycle"] < found[0].cycle])
        return found

    def _remember(self, records: np.ndarray) -> None:
        if len(records):
            self.matched_windows.append(records)

    def check_step(self, actual: np.ndarray | Iterable[Sequence[int]]) -> list[Mismatch]:
        """Compare the DUT's records of the step last returned by :meth:`expect_step`."""
        if self.current is None:
            raise RuntimeError("check_step() before expect_step()")
        found = self.check_records(self.current.records, as_trace(actual))
        self.steps_checked += 1
        return found

    def check_signatures(self, snapshots: Sequence[tuple[int, Sequence[int], int]]) -> SignatureVerdict:
        """FAST mode: compare the DUT's per-cycle signatures of the current step with the golden trace's.

        ``snapshots`` are reads of the signature unit in time order, each ``(cycles, history, records)``:
        ``history[k]`` signs cycle ``cycles - 1 - k`` and ``records`` counts every record signed since
        reset. Every cycle of the step must be seen in some snapshot, the DUT must sign exactly the
        step's cycles, and its record total must match. When all holds, the step's records count as
        matched (a 32-bit signature per cycle; see spikecore/signature.py for what a signature detects);
        otherwise nothing is counted and the verdict names the first bad cycle, to be re-run in FULL mode.
        """
        if self.current is None:
            raise RuntimeError("check_signatures() before expect_step()")
        exp = self.current
        expected = cycle_signatures(exp.records, exp.start_cycle, exp.cycles)
        checked = exp.start_cycle               # the next cycle to check
        verdict = SignatureVerdict(ok=True, cycles_checked=0)
        for cycles, history, _ in snapshots:
            if cycles <= checked:
                continue
            if cycles - checked > len(history):
                return verdict.fail(checked, f"cycles {checked}..{cycles - len(history) - 1} fell out of the "
                                             f"{len(history)}-deep signature history before they were read")
            for cycle in range(checked, cycles):
                got = int(history[cycles - 1 - cycle])
                if cycle >= exp.end_cycle:
                    return verdict.fail(cycle, f"the DUT counted cycle {cycle}; the golden step ended on "
                                               f"{exp.end_cycle - 1}")
                if got != int(expected[cycle - exp.start_cycle]):
                    return verdict.fail(cycle, f"signature of cycle {cycle}: DUT 0x{got:08x} expected "
                                               f"0x{int(expected[cycle - exp.start_cycle]):08x}")
                verdict.cycles_checked += 1
            checked = cycles
        if checked < exp.end_cycle:
            return verdict.fail(checked, f"the DUT's step ended after cycle {checked - 1}; the golden step runs "
                                         f"to {exp.end_cycle - 1}")
        self.records_signed += len(exp.records)
        if snapshots and int(snapshots[-1][2]) != self.records_signed:
            return verdict.fail(exp.start_cycle, f"the DUT signed {snapshots[-1][2]} records since reset, the "
                                                 f"golden trace has {self.records_signed}")
        self.matched += len(exp.records)
        self.steps_checked += 1
        self._remember(exp.records)
        return verdict

    # --- end of run -----------------------------------------------------------------------------------

    def check_final(self, membranes: np.ndarray, drops: np.ndarray,
                    outputs: Iterable[Sequence[int]] | None) -> list[Mismatch]:
        """Compare the DUT's final state: membranes (cores × neurons), drop counters (cores), and the host
        output spikes as (step, core, axon, payload) in delivery order (``None``: not observed on the ports;
        FAST mode checks them as OUT records through the signatures instead)."""
        found: list[Mismatch] = []
        exp_m = np.asarray(self.golden.membranes, dtype=np.int64)
        act_m = np.asarray(membranes, dtype=np.int64)
        if act_m.shape != exp_m.shape:
            found.append(Mismatch("membrane", f"shape {act_m.shape}", f"shape {exp_m.shape}"))
        else:
            for core, n in zip(*np.nonzero(act_m != exp_m), strict=True):
                found.append(Mismatch("membrane", f"core {core} n={n} value={act_m[core, n]}",
                                      f"core {core} n={n} value={exp_m[core, n]}", core=int(core), index=int(n),
                                      dut_value=int(act_m[core, n]), expected_value=int(exp_m[core, n])))
            self.final_compared += exp_m.size - len(found)
        exp_d = np.asarray(self.golden.drops, dtype=np.int64)
        act_d = np.asarray(drops, dtype=np.int64)
        if act_d.shape != exp_d.shape:
            found.append(Mismatch("drops", f"shape {act_d.shape}", f"shape {exp_d.shape}"))
        else:
            bad = np.nonzero(act_d != exp_d)[0]
            found += [Mismatch("drops", f"core {c} drops={act_d[c]}", f"core {c} drops={exp_d[c]}", core=int(c),
                               dut_value=int(act_d[c]), expected_value=int(exp_d[c])) for c in bad]
            self.final_compared += len(exp_d) - len(bad)
        if outputs is not None:
            found += self._compare_outputs([tuple(int(v) for v in o) for o in outputs],
                                           [tuple(int(v) for v in o) for o in self.golden.outputs])
        self.note(found)
        return found

    def check_buffers(self, buffers: Sequence[Sequence[tuple[int, int]]]) -> list[Mismatch]:
        """Compare the DUT's input buffers after the run (per core, ``(axon, payload)`` in slot order) with the
        golden model's (the events routed in the last step, waiting for the next); a differing core is one
        mismatch."""
        found: list[Mismatch] = []
        for core, actual in enumerate(buffers):
            expected = self.golden.buffered_events(core)
            if [tuple(e) for e in actual] != [tuple(e) for e in expected]:
                found.append(Mismatch("input buffer", f"core {core} buffer {list(actual)}",
                                      f"core {core} buffer {expected}", core=core))
            else:
                self.final_compared += 1
        self.note(found)
        return found

    def check_counters(self, counts: np.ndarray | Sequence[Sequence[int]]) -> list[Mismatch]:
        """Compare the DUT's event counters (cores × 5, ``golden.counters.EVENT_KINDS`` order: synaptic ops,
        neuron updates, spikes, deliveries, drops) with the golden model's; each differing counter is a
        mismatch. The RTL counters are 32 bits and wrap, so the golden counts are compared modulo 2³²."""
        from spikecore.golden.counters import EVENT_KINDS

        expected = np.asarray(self.golden.event_counts(), dtype=np.int64) % (1 << 32)
        actual = np.asarray(counts, dtype=np.int64)
        found: list[Mismatch] = []
        if actual.shape != expected.shape:
            found.append(Mismatch("event counters", f"shape {actual.shape}", f"shape {expected.shape}"))
        else:
            for core, k in zip(*np.nonzero(actual != expected), strict=True):
                kind = EVENT_KINDS[k]
                found.append(Mismatch(f"{kind} counter", f"core {core} {kind}={actual[core, k]}",
                                      f"core {core} {kind}={expected[core, k]}", core=int(core),
                                      dut_value=int(actual[core, k]), expected_value=int(expected[core, k])))
            self.final_compared += expected.size - len(found)
        self.note(found)
        return found

    def _compare_outputs(self, actual: list[tuple[int, ...]], expected: list[tuple[int, ...]]) -> list[Mismatch]:
        def text(out: tuple[int, ...] | None) -> str:
            return NO_RECORD if out is None else "step {} core {} axon {} payload {}".format(*out)

        found = []
        for position in range(max(len(actual), len(expected))):
            act = actual[position] if position < len(actual) else None
            exp = expected[position] if position < len(expected) else None
            if act == exp:
                self.final_compared += 1
            else:
                core = (act or exp)[1]
                found.append(Mismatch("host output", text(act), text(exp), core=core))
        return found

    def note(self, found: list[Mismatch]) -> None:
        """Count mismatches found outside the record comparison (e.g. a refused injection, a hung step)."""
        self.mismatch_count += len(found)
        room = self.keep - len(self.mismatches)
        if room > 0:
            self.mismatches.extend(found[:room])

    def finish(self) -> ScoreboardResult:
        """The verdict: fails on any mismatch, and on a run that compared zero records."""
        if self.mismatch_count:
            reason = f"{self.mismatch_count} mismatches, first: {self.mismatches[0].message}"
        elif self.matched == 0:
            reason = "zero trace records were compared (an empty comparison proves nothing)"
        else:
            reason = ""
        cycles = self.step_windows[-1][1] if self.step_windows else 0
        return ScoreboardResult(passed=not reason, matched=self.matched, mismatch_count=self.mismatch_count,
                                mismatches=list(self.mismatches), steps=self.steps_checked, cycles=cycles,
                                final_compared=self.final_compared, reason=reason)

    # --- context for reports --------------------------------------------------------------------------

    def step_of_cycle(self, cycle: int) -> int | None:
        """The step whose window holds array cycle ``cycle`` (None if no step checked so far holds it)."""
        for step, (start, end) in enumerate(self.step_windows):
            if start <= cycle < end:
                return step
        return None

    def last_records(self, core: int, count: int = HISTORY_PER_CORE) -> list[str]:
        """The last ``count`` matched records of ``core`` (oldest first), as text."""
        found: list[np.ndarray] = []
        have = 0
        for window in reversed(self.matched_windows):
            mine = window[window["core"] == core]
            found.insert(0, mine)
            have += len(mine)
            if have >= count:
                break
        rows = np.concatenate(found)[-count:] if found else []
        return [format_record(rec) for rec in rows]


@dataclass
class ExecutingInstruction:
    """The instruction a core was executing on a cycle (see :func:`instruction_at`)."""

    pc: int
    word: int
    issue_cycle: int
    issuing_next: tuple[int, int] | None = field(default=None)   # (pc, word) issued on that very cycle


def instruction_at(issue_log: Sequence[IssueEntry], core: int, cycle: int) -> ExecutingInstruction | None:
    """The instruction ``core`` was working on at ``cycle``: the last one issued *before* it (records are
    written in work cycles, after the issue cycle). ``issuing_next`` names an instruction issued *on*
    ``cycle``, since an extra record there may mean the previous one ran long. ``None`` when the core had
    issued nothing yet this step."""
    current: ExecutingInstruction | None = None
    issuing: tuple[int, int] | None = None
    for issue_cycle, entry_core, pc, word in issue_log:
        if entry_core != core:
            continue
        if issue_cycle < cycle and (current is None or issue_cycle >= current.issue_cycle):
            current = ExecutingInstruction(pc, word, issue_cycle)
        elif issue_cycle == cycle:
            issuing = (pc, word)
    if current is not None:
        current.issuing_next = issuing
    elif issuing is not None:
        current = ExecutingInstruction(issuing[0], issuing[1], cycle)
    return current
