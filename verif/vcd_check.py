"""Offline check of a wave file (VCD or FST): re-derive the trace records and compare them with the golden model.

    python -m spikecore.app.vcd_check build/sim/seed9-c1            # a run folder (image, stimulus, result)
    python -m spikecore.app.vcd_check dump.fst --image p.bin --stimulus p.json --steps 4

The array's packed trace port (``trace_port`` of the co-simulation top) carries every counted cycle's
number and records, so its value changes are the trace: no clock sampling is needed. Each value with the
``active`` bit set is decoded with the testbench's own :class:`~spikecore.verif.trace_decode.TraceDecoder`.
A testbench that re-ran part of a program (FAST mode's FULL re-run, or a batch of programs) leaves several
passes in one VCD; a pass starts wherever the cycle number goes backwards, and ``--segment`` picks one
(default: the first). The records are compared with the golden trace of the same image and stimulus by
:func:`spikecore.verif.scoreboard.compare_records`, which prints the same mismatch lines as the live run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikecore.errors import SpikeCoreError
from spikecore.image import Image
from spikecore.stimulus import Stimulus
from spikecore.trace import empty_trace
from spikecore.verif.build import TOPLEVEL, TRACE_PORT
from spikecore.verif.scoreboard import Mismatch, Scoreboard, compare_records
from spikecore.verif.trace_decode import TraceDecoder


def trace_port_changes(dump: str | Path) -> list[tuple[int, int]]:
    """``(time, value)`` of every change of the trace port in ``dump`` (.vcd or .fst; time in its unit).

    Read with pywellen (Rust; VCD and FST alike, several times faster than vcdvcd on a big VCD: see
    ``bench/bench_waves.py``). Values holding x or z (before reset) carry no records and are left out.
    """
    import pywellen

    dump = Path(dump)
    if not dump.exists():
        raise FileNotFoundError(2, "No such file or directory", str(dump))
    wanted = f"{TOPLEVEL}.{TRACE_PORT}"
    try:
        wave = pywellen.Waveform(str(dump))
    except Exception as err:    # pywellen raises plain exceptions for unreadable files
        raise SpikeCoreError(f"{dump}: not a readable VCD or FST file ({err})") from None
    if not any(var.full_name == wanted for var in wave.all_vars()):
        raise SpikeCoreError(f"{dump}: no signal {wanted} (was it written by a co-simulation with --waves?)")
    changes = []
    for time, value in wave[wanted].tv:
        if isinstance(value, str):          # a value with x/z bits comes as a bit string
            if any(c in value for c in "xXzZ"):
                continue
            value = int(value, 2)
        changes.append((int(time), int(value)))
    return changes


def records_from_vcd(vcd: str | Path, cores: int) -> list[tuple[np.ndarray, int]]:
    """Per pass of ``vcd`` (a pass restarts when the cycle goes back): its sorted records and its last cycle."""
    unpacker = TraceDecoder(cores)
    passes: list[list[int]] = [[]]
    ends: list[int] = [-1]
    for _, raw in trace_port_changes(vcd):
        cycle = unpacker.cycle_of(raw)
        if cycle is None:
            continue
        if cycle <= ends[-1]:
            passes.append([])
            ends.append(-1)
        passes[-1].append(raw)
        ends[-1] = cycle
    return [(unpacker.decode(raws) if raws else empty_trace(), end) for raws, end in zip(passes, ends, strict=True)]


@dataclass
class VcdCheck:
    matched: int
    mismatches: list[Mismatch]
    passes: int
    cycles: int           # cycles the checked pass reached

    @property
    def passed(self) -> bool:
        return not self.mismatches and self.matched > 0

    def lines(self) -> list[str]:
        out = [m.message for m in self.mismatches[:50]]
        if len(self.mismatches) > 50:
            out.append(f"... {len(self.mismatches) - 50} more mismatches")
        out.append(f"matched {self.matched} records")
        if self.matched == 0 and not self.mismatches:
            out.append("FAIL: zero trace records were compared")
        return out


def check_vcd(vcd: str | Path, image: Image, stimulus: Stimulus | None, steps: int, segment: int = 0) -> VcdCheck:
    """Compare pass ``segment`` of the VCD's trace with the golden trace of ``steps`` steps.

    Only the golden records up to the last cycle the pass reached are expected (a run stopped at its first
    failing step leaves the rest of the program unsimulated).
    """
    passes = records_from_vcd(vcd, image.config.cores)
    if not 0 <= segment < len(passes):
        raise SpikeCoreError(f"{vcd}: has {len(passes)} passes, no pass {segment}")
    actual, last_cycle = passes[segment]
    board = Scoreboard(image, stimulus)
    golden = [board.expect_step().records for _ in range(steps)]
    expected = np.concatenate(golden) if golden else empty_trace()
    expected = expected[expected["cycle"] <= last_cycle]
    cycles = last_cycle + 1
    matched, mismatches = compare_records(expected, actual)
    return VcdCheck(matched, mismatches, len(passes), cycles)
