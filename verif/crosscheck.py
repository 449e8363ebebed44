"""Run one image on the RTL (Amaranth simulator) and on the golden :class:`CycleChip`; compare everything.

:func:`crosscheck` is the RTL's acceptance check: the DUT trace must equal the golden trace record for
record and cycle for cycle, and so must the step start cycles, the final membranes, drop and spike
counters, the host's output spikes, and the trace port's signatures (every per-cycle signature and
record count, the final 32-entry history and the running record total) against
:mod:`spikecore.signature`. A run that compared no record at all fails unless the caller says
it expects none. Records are compared by the scoreboard's comparator
(:func:`spikecore.verif.scoreboard.compare_records`) and every disagreement is a
:class:`~spikecore.verif.scoreboard.Mismatch`; failures raise :class:`RtlMismatch` listing up to
:data:`MAX_REPORTED` of their lines ``"<what> mismatch, DUT: <actual> expected: <expected>"``.

>>> from spikecore.config import ChipConfig
>>> from spikecore.image import Image
>>> crosscheck(Image(ChipConfig(cores=1)), steps=1).records  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
spikecore.verif.crosscheck.RtlMismatch: no trace record was compared (DUT and golden both empty); ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikecore.golden.run import RunResult, run
from spikecore.image import Image
from spikecore.signature import HISTORY_DEPTH, cycle_record_counts, cycle_signatures
from spikecore.verif.scoreboard import Mismatch, compare_records
from spikecore.verif.sim_host import RtlRun, run_rtl

#: Mismatch lines kept in the exception message.
MAX_REPORTED = 10


class RtlMismatch(AssertionError):
    """The RTL disagrees with the golden model (or nothing was compared)."""


@dataclass
class Crosscheck:
    """A passed cross-check: both runs and the number of trace records compared."""

    rtl: RtlRun
    golden: RunResult
    records: int


def _trace_mismatches(expected: np.ndarray, actual: np.ndarray) -> list[Mismatch]:
    """The scoreboard's record comparison, plus one line for a record count that differs."""
    _, mismatches = compare_records(expected, actual)
    if len(expected) != len(actual):
        mismatches.append(Mismatch("record count", str(len(actual)), str(len(expected))))
    return mismatches


def compare_runs(golden: RunResult, rtl: RtlRun, *, allow_empty: bool = False) -> int:
    """Compare an RTL run with a golden run; return the records compared or raise :class:`RtlMismatch`."""
    problems = _trace_mismatches(golden.trace, rtl.trace)

    def check(what: str, dut, expected) -> None:
        same = np.array_equal(np.asarray(dut), np.asarray(expected)) if isinstance(expected, np.ndarray) \
            else dut == expected
        if not same:
            problems.append(Mismatch(what, repr(dut), repr(expected)))

    check("step start", rtl.step_starts, golden.step_starts)
    check("cycle count", rtl.cycles, golden.cycles)
    for core in range(golden.membranes.shape[0]):
        check(f"core {core} membrane", rtl.membranes[core].tolist(), golden.membranes[core].tolist())
    check("drops", rtl.drops.tolist(), golden.drops.tolist())
    check("spike counts", rtl.spike_counts.tolist(), golden.spike_counts.tolist())
    if rtl.event_counts is not None:
        check("event counters", rtl.event_counts.tolist(), golden.event_counts.tolist())
    check("host output", rtl.outputs, [tuple(int(v) for v in out) for out in golden.outputs])

    cycles = golden.cycles
    signatures = cycle_signatures(golden.trace, 0, cycles)
    differ = np.flatnonzero(rtl.signatures != signatures) if len(rtl.signatures) == cycles else [0]
    if len(differ):
        c = int(differ[0])
        dut = f"0x{int(rtl.signatures[c]):08x}" if c < len(rtl.signatures) else "none"
        problems.append(Mismatch("signature", f"cycle {c} {dut}", f"0x{int(signatures[c]):08x}", cycle=c))
    check("per-cycle record count", rtl.record_counts.tolist(), cycle_record_counts(golden.trace, 0, cycles).tolist())
    newest = signatures[::-1][:HISTORY_DEPTH]
    expected_history = np.concatenate([newest, np.zeros(HISTORY_DEPTH - len(newest), dtype=np.uint32)])
    check("signature history", [hex(int(s)) for s in rtl.history], [hex(int(s)) for s in expected_history])
    check("signed cycles", rtl.history_cycles, cycles)
    check("signed records", rtl.sig_records, len(golden.trace))

    if problems:
        shown = [problem.message for problem in problems[:MAX_REPORTED]]
        more = f"\n... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        raise RtlMismatch("\n".join(shown) + more)
    if len(golden.trace) == 0 and not allow_empty:
        raise RtlMismatch("no trace record was compared (DUT and golden both empty); "
                          "pass allow_empty=True if the program is meant to emit nothing")
    return len(golden.trace)


def crosscheck(image: Image, stimulus=None, steps: int = 1, *, allow_empty: bool = False) -> Crosscheck:
    """Run ``image`` with ``stimulus`` for ``steps`` on the RTL and on the golden model; compare all."""
    golden = run(image, stimulus, steps, chip="cycle")
    rtl = run_rtl(image, stimulus, steps)
    return Crosscheck(rtl=rtl, golden=golden, records=compare_runs(golden, rtl, allow_empty=allow_empty))
