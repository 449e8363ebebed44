"""The golden board: ``chips`` SpikeCore chips in lock-step, joined by links (docs/spec.md §13).

:class:`CycleBoard` wraps one :class:`~spikecore.golden.cycle.CycleChip` per chip and returns each step's
board trace (``BOARD_TRACE_DTYPE``: the chip records of §6 with a ``chip`` column, and the ``LINK`` /
``LINK_FULL`` records of the links); :class:`FunctionalBoard` wraps
:class:`~spikecore.golden.functional.FunctionalChip` and returns nothing. Both share the DELIVER phase
(:meth:`_Board._deliver`), simulated cycle by cycle because link latency and backpressure make a step's length
depend on the order of the traffic.

The host view uses global core ids ``chip * cores + core`` (§13): ``inject(core, ...)``, ``membranes``
``(chips * cores, neurons)``, ``outputs`` (``OutSpike.core`` global), so a compiled model's ``IOMap`` reads
a board exactly as it reads one chip.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import ChipState, CycleChip, OutSpike, Queue
from spikecore.golden.functional import FunctionalChip
from spikecore.image import Image, validate_image
from spikecore.isa import (
    BARRIER_CYCLES,
    HOST_CORE,
    LINK_LATENCY_CYCLES,
    LINK_QUEUE_DEPTH,
    TraceKind,
)
from spikecore.trace import BOARD_TRACE_DTYPE, board_records

#: One out-queue entry as the router sees it: (source core, destination chip, destination core, axon, payload).
_Entry = tuple[int, int, int, int, int]


class _Board:
    """The board's host view and its DELIVER phase; subclasses pick the chip model."""

    chip_model: type[ChipState] = ChipState

    def __init__(self, image: Image) -> None:
        validate_image(image)
        self.config: ChipConfig = image.config
        self.chips = [self.chip_model(image, chip=c) for c in range(self.config.chips)]
        n = self.config.chips
        self.link_events = np.zeros((n, n), dtype=np.int64)   # events sent a -> b since loading
        self.link_stalls = np.zeros((n, n), dtype=np.int64)   # cycles a's router stalled on a full a -> b
        self.outputs: list[OutSpike] = []
        self.cycle = 0
        self.step_index = 0
        self.step_starts: list[int] = []

    # -- host view (global core ids) ---------------------------------------------------------------------

    def _local(self, core: int) -> tuple[ChipState, int]:
        if isinstance(core, bool) or not isinstance(core, int | np.integer) or not 0 <= core < self.config.board_cores:
            raise SpikeCoreError(f"inject: core must be a board core 0..{self.config.board_cores - 1}, not {core!r}")
        chip, local = divmod(int(core), self.config.cores)
        return self.chips[chip], local

    def inject(self, core: int, axon: int, payload: int) -> None:
        """Append a host event to global core ``core``'s input buffer (errors as ``ChipState.inject``)."""
        chip, local = self._local(core)
        try:
            chip.inject(local, axon, payload)
        except SpikeCoreError as err:
            raise SpikeCoreError(f"{err} (board core {core})") from None

    def reset_state(self) -> None:
        """Every chip's state reset (§2 "Host"); the link counters are emptied too, the cycle counter kept."""
        for chip in self.chips:
            chip.reset_state()
        self.link_events[:] = 0
        self.link_stalls[:] = 0

    def _stacked(self, name: str) -> np.ndarray:
        return np.concatenate([getattr(chip, name) for chip in self.chips])

    @property
    def membranes(self) -> np.ndarray:
        """``(chips * cores, neurons)`` int64, a copy: row = global core id."""
        return self._stacked("membranes")

    @property
    def currents(self) -> np.ndarray:
        return self._stacked("currents")

    @property
    def drops(self) -> np.ndarray:
        return self._stacked("drops")

    @property
    def spike_counts(self) -> np.ndarray:
        return self._stacked("spike_counts")

    def event_counts(self) -> np.ndarray:
        """``(chips * cores, 5)``: every chip's ``ChipState.event_counts()``, stacked."""
        return np.concatenate([chip.event_counts() for chip in self.chips])

    # -- one step ------------------------------------------------------------------------------------------

    def step(self) -> np.ndarray | None:
        start = self.cycle
        phases = [chip.exec_phase(start) for chip in self.chips]
        exec_cycles = max(p[0] for p in phases)
        for chip in self.chips:
            chip._barrier()
        records: list[tuple[int, int, int, int, int, int]] = []
        deliver_cycles = self._deliver([p[2] for p in phases], start + exec_cycles + BARRIER_CYCLES, records)
        self.step_starts.append(start)
        self.cycle = start + exec_cycles + BARRIER_CYCLES + deliver_cycles
        self.step_index += 1
        for chip in self.chips:
            chip.step_starts.append(start)
            chip.cycle, chip.step_index = self.cycle, self.step_index
            chip.schedule_step += 1
        if phases[0][1] is None:
            return None
        parts = [board_records(p[1], c) for c, p in enumerate(phases)]
        parts.append(np.array(records, dtype=BOARD_TRACE_DTYPE))
        trace = np.concatenate(parts)
        return trace[np.lexsort((trace["kind"], trace["core"], trace["chip"], trace["cycle"]))]

    def _deliver(self, queues: list[list[Queue]], first: int, records: list) -> int:
        """DELIVER (§13) from board cycle ``first``; appends its records, returns ``D_t`` (its cycles)."""
        n = len(self.chips)
        pending: list[deque[_Entry]] = []
        for chip_queues in queues:
            entries: deque[_Entry] = deque()
            for source, dest, axon, payload, dest_chip in sorted(chip_queues, key=lambda q: q[0]):
                entries.extend(zip([source] * len(dest), dest_chip.tolist(), dest.tolist(), axon.tolist(),
                                   payload.tolist(), strict=True))
            pending.append(entries)
        links: dict[tuple[int, int], deque[tuple[int, int, int, int]]] = {
            (a, b): deque() for a in range(n) for b in range(n) if a != b}
        in_flight = 0
        served = [-1] * n   # per destination chip: the source chip it took from last (round robin, §13)
        d = 0
        while in_flight or any(pending):
            busy = [False] * n
            if in_flight:   # take: one arrival per chip, round robin over the source chips whose head is due
                for b in range(n):
                    for step in range(1, n + 1):
                        a = (served[b] + step) % n
                        link = links.get((a, b))
                        if link and link[0][0] <= d - LINK_LATENCY_CYCLES:
                            _, core, axon, payload = link.popleft()
                            in_flight -= 1
                            self._to_core(b, core, axon, payload, first + d, records)
                            busy[b] = True
                            served[b] = a
                            break
            for c in range(n):   # send: the next out-queue entry of every router that did not take
                if busy[c] or not pending[c]:
                    continue
                source, dest_chip, core, axon, payload = pending[c][0]
                chip = self.chips[c]
                if core == HOST_CORE or dest_chip == c:
                    pending[c].popleft()
                    chip.deliveries[source] += 1
                    if core == HOST_CORE:
                        chip.routes[source, chip.config.cores] += 1
                        self.outputs.append(OutSpike(self.step_index, c * self.config.cores + source, axon, payload))
                        records.append((first + d, c, source, int(TraceKind.OUT), axon, payload))
                    else:
                        chip.routes[source, core] += 1
                        self._to_core(c, core, axon, payload, first + d, records)
                    continue
                link = links[(c, dest_chip)]
                if len(link) >= LINK_QUEUE_DEPTH:
                    self.link_stalls[c, dest_chip] += 1
                    records.append((first + d, c, source, int(TraceKind.LINK_FULL), dest_chip, LINK_QUEUE_DEPTH))
                    continue
                pending[c].popleft()
                chip.deliveries[source] += 1
                link.append((d, core, axon, payload))
                in_flight += 1
                self.link_events[c, dest_chip] += 1
                records.append((first + d, c, source, int(TraceKind.LINK), dest_chip, len(link)))
            d += 1
        return d

    def _to_core(self, chip_id: int, core: int, axon: int, payload: int, cycle: int, records: list) -> None:
        """A routed event written to (``EVENT``) or dropped at (``DROP``) a core's input buffer (§1.2)."""
        chip = self.chips[chip_id]
        fill = int(chip.buffer_fill[core])
        if fill < chip.config.event_depth:
            chip.buffer_axon[core, fill] = axon
            chip.buffer_payload[core, fill] = payload
            chip.buffer_fill[core] = fill + 1
            kind = TraceKind.EVENT
        else:
            chip.drops[core] += 1
            kind = TraceKind.DROP
        records.append((cycle, chip_id, core, int(kind), axon, payload))


class CycleBoard(_Board):
    """Cycle-accurate board: ``step()`` returns the step's board trace records, sorted (§13).

    >>> board = CycleBoard(Image(ChipConfig(cores=1, chips=2)))   # two one-core chips running HALT
    >>> board.step().size, board.cycle                            # HALT's issue cycle, then the barrier
    (0, 2)
    """

    chip_model = CycleChip


class FunctionalBoard(_Board):
    """The board on :class:`FunctionalChip`: ``step()`` returns ``None``; state and cycles as :class:`CycleBoard`."""

    chip_model = FunctionalChip


#: The golden models by name, as the model runtimes of spikecore.app name them.
MODELS = ("cycle", "functional")


def golden_model(image: Image, kind: str = "cycle") -> ChipState | _Board:
    """The golden model ``kind`` (``cycle`` or ``functional``) for ``image``: one chip's (``CycleChip``,
    ``FunctionalChip``) or, for a board image (``chips > 1``), the board's, with the same host view."""
    if kind not in MODELS:
        raise SpikeCoreError(f"chip must be one of {', '.join(MODELS)}, not {kind!r}")
    if image.config.chips > 1:
        return CycleBoard(image) if kind == "cycle" else FunctionalBoard(image)
    return CycleChip(image) if kind == "cycle" else FunctionalChip(image)


def run_board(image: Image, events: dict[int, list[tuple[int, int, int]]] | None = None, steps: int = 1,
              cycle_accurate: bool = True) -> tuple[_Board, np.ndarray | None]:
    """Load ``image`` on a board, inject ``events[step]`` (global core, axon, payload) before each step, run.

    Returns the board (its final host view) and the whole board trace (``None`` when not ``cycle_accurate``).
    """
    board = (CycleBoard if cycle_accurate else FunctionalBoard)(image)
    traces = []
    for step in range(steps):
        for core, axon, payload in (events or {}).get(step, []):
            board.inject(core, axon, payload)
        records = board.step()
        if records is not None:
            traces.append(records)
    if not cycle_accurate:
        return board, None
    return board, np.concatenate(traces) if traces else np.zeros(0, dtype=BOARD_TRACE_DTYPE)
