"""Run one image on the RTL (Amaranth simulator) and on the golden :class:`CycleChip`; compare everything.

A board image (``chips > 1``, docs/spec.md §13) runs on the RTL board
(:func:`~spikecore.verif.board_host.run_rtl_board`) against :class:`~spikecore.golden.board.CycleBoard`, every
record of every chip compared, and each chip's signatures against its own records.

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

import dataclasses
from dataclasses import dataclass

import numpy as np

from spikecore.golden.run import RunResult, run
from spikecore.image import Image
from spikecore.signature import HISTORY_DEPTH, cycle_record_counts, cycle_signatures
from spikecore.trace import chip_records
from spikecore.verif.board_host import BoardRtlRun, run_rtl_board
from spikecore.verif.scoreboard import Mismatch, compare_records
from spikecore.verif.sim_host import RtlRun, run_rtl

#: Mismatch lines kept in the exception message.
MAX_REPORTED = 10


class RtlMismatch(AssertionError):
    """The RTL disagrees with the golden model (or nothing was compared)."""


@dataclass
class Crosscheck:
    """A passed cross-check: both runs and the number of trace records compared."""

    rtl: RtlRun | BoardRtlRun
    golden: RunResult
    records: int


def _trace_mismatches(expected: np.ndarray, actual: np.ndarray) -> list[Mismatch]:
    """The scoreboard's record comparison, plus one line for a record count that differs."""
    _, mismatches = compare_records(expected, actual)
    if len(expected) != len(actual):
        mismatches.append(Mismatch("record count", str(len(actual)), str(len(expected))))
    return mismatches


def _checker(problems: list[Mismatch]):
    def check(what: str, dut, expected) -> None:
        same = np.array_equal(np.asarray(dut), np.asarray(expected)) if isinstance(expected, np.ndarray) \
            else dut == expected
        if not same:
            problems.append(Mismatch(what, repr(dut), repr(expected)))
    return check


def _signature_mismatches(trace: np.ndarray, cycles: int, signatures: np.ndarray, record_counts: np.ndarray,
                          history: np.ndarray, history_cycles: int, sig_records: int, where: str) -> list[Mismatch]:
    """The trace port's signatures of one chip against :mod:`spikecore.signature` of its golden ``trace``."""
    problems: list[Mismatch] = []
    check = _checker(problems)
    expected = cycle_signatures(trace, 0, cycles)
    differ = np.flatnonzero(signatures != expected) if len(signatures) == cycles else [0]
    if len(differ):
        c = int(differ[0])
        dut = f"0x{int(signatures[c]):08x}" if c < len(signatures) else "none"
        problems.append(Mismatch(f"{where}signature", f"cycle {c} {dut}", f"0x{int(expected[c]):08x}", cycle=c))
    check(f"{where}per-cycle record count", record_counts.tolist(), cycle_record_counts(trace, 0, cycles).tolist())
    newest = expected[::-1][:HISTORY_DEPTH]
    expected_history = np.concatenate([newest, np.zeros(HISTORY_DEPTH - len(newest), dtype=np.uint32)])
    check(f"{where}signature history", [hex(int(s)) for s in history], [hex(int(s)) for s in expected_history])
    check(f"{where}signed cycles", history_cycles, cycles)
    check(f"{where}signed records", sig_records, len(trace))
    return problems


def compare_runs(golden: RunResult, rtl: RtlRun | BoardRtlRun, *, allow_empty: bool = False) -> int:
    """Compare an RTL run with a golden run; return the records compared or raise :class:`RtlMismatch`.

    A board run (:class:`~spikecore.verif.board_host.BoardRtlRun`) is compared chip by chip: each chip's
    records (chip column dropped), its signatures against its own golden records, then the board's state."""
    if isinstance(rtl, BoardRtlRun):
        return _compare_board_runs(golden, rtl, allow_empty=allow_empty)
    problems = _trace_mismatches(golden.trace, rtl.trace)
    check = _checker(problems)

    _check_state(check, golden, rtl, "core", events_optional=True)

    problems += _signature_mismatches(golden.trace, golden.cycles, rtl.signatures, rtl.record_counts, rtl.history,
                                      rtl.history_cycles, rtl.sig_records, "")
    return _verdict(problems, len(golden.trace), allow_empty)


def _check_state(check, golden: RunResult, rtl: RtlRun | BoardRtlRun, core_label: str, *,
                 events_optional: bool) -> None:
    """Compare what both runs end with: step starts, cycle count, every core's membranes (named ``core_label``
    and its id), drops, spike counts, event counters (skipped when ``events_optional`` and the RTL run read none)
    and the host output."""
    check("step start", rtl.step_starts, golden.step_starts)
    check("cycle count", rtl.cycles, golden.cycles)
    for core in range(golden.membranes.shape[0]):
        check(f"{core_label} {core} membrane", rtl.membranes[core].tolist(), golden.membranes[core].tolist())
    check("drops", rtl.drops.tolist(), golden.drops.tolist())
    check("spike counts", rtl.spike_counts.tolist(), golden.spike_counts.tolist())
    if not (events_optional and rtl.event_counts is None):
        check("event counters", rtl.event_counts.tolist(), golden.event_counts.tolist())
    check("host output", rtl.outputs, [tuple(int(v) for v in out) for out in golden.outputs])


def _compare_board_runs(golden: RunResult, rtl: BoardRtlRun, *, allow_empty: bool) -> int:
    problems: list[Mismatch] = []
    check = _checker(problems)
    chips = len(rtl.signatures)
    for chip in range(chips):
        expected, actual = chip_records(golden.trace, chip), chip_records(rtl.trace, chip)
        problems += [dataclasses.replace(mismatch, what=f"chip {chip} {mismatch.what}")
                     for mismatch in _trace_mismatches(expected, actual)]
        problems += _signature_mismatches(expected, golden.cycles, rtl.signatures[chip], rtl.record_counts[chip],
                                          rtl.history[chip], rtl.history_cycles[chip], rtl.sig_records[chip],
                                          f"chip {chip} ")
    _check_state(check, golden, rtl, "board core", events_optional=False)
    return _verdict(problems, len(golden.trace), allow_empty)


def _verdict(problems: list[Mismatch], records: int, allow_empty: bool) -> int:
    if problems:
        shown = [problem.message for problem in problems[:MAX_REPORTED]]
        more = f"\n... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        raise RtlMismatch("\n".join(shown) + more)
    if records == 0 and not allow_empty:
        raise RtlMismatch("no trace record was compared (DUT and golden both empty); "
                          "pass allow_empty=True if the program is meant to emit nothing")
    return records


def crosscheck(image: Image, stimulus=None, steps: int = 1, *, allow_empty: bool = False) -> Crosscheck:
    """Run ``image`` with ``stimulus`` for ``steps`` on the RTL and on the golden model; compare all."""
    golden = run(image, stimulus, steps, chip="cycle")
    rtl = run_rtl_board(image, stimulus, steps) if image.config.chips > 1 else run_rtl(image, stimulus, steps)
    return Crosscheck(rtl=rtl, golden=golden, records=compare_runs(golden, rtl, allow_empty=allow_empty))
