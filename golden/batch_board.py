"""The functional golden board over a batch: ``B`` independent boards (docs/spec.md §13) stepped together.

:class:`BatchFunctionalBoard` is :class:`~spikecore.golden.batch.BatchFunctionalChip` over the board's global
core ids ``chip * cores + core`` (every chip's memories laid end to end): EXEC is the batch chip's, one numpy
call per instruction for every core of every chip and every sample, which is where the per-sample
:class:`~spikecore.golden.board.FunctionalBoard` spends its time. DELIVER is the board's, sample by sample
(:func:`deliver_order`): each chip's router sends its out-queue (source cores ascending, push order) or takes
one due link arrival per cycle, round robin, with link latency and backpressure, exactly as
``FunctionalBoard._deliver``; its result per sample is the order in which events reach every input buffer
(so saturating sums, MERGE and drops see the board's order), the step's DELIVER cycles, and the link counters.

Host view as the batch chip's, with global core ids; ``link_events`` and ``link_stalls`` are
``(B, chips, chips)``. ``tests/golden/test_golden_batch_board.py`` holds it equal to ``FunctionalBoard`` on
compiled models and on random board programs.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import numpy as np

from spikecore.errors import SpikeCoreError
from spikecore.golden.batch import BatchFunctionalChip
from spikecore.golden.cycle import LoadedImage, OutSpike, unpack_image
from spikecore.image import Image, validate_image
from spikecore.isa import HOST_CORE, LINK_LATENCY_CYCLES, LINK_QUEUE_DEPTH

#: The host in the flattened fan-out table: a global core id may be 255 (``HOST_CORE``) on a board.
_HOST = -1


@dataclass(frozen=True)
class _BoardAsChip:
    """The sizes the batch chip reads, for the board's cores laid end to end (``cores`` may exceed 255, which a
    :class:`~spikecore.config.ChipConfig` refuses, so this is not one)."""

    cores: int
    neurons: int
    weight_bytes: int
    imem_depth: int
    event_depth: int
    fanout_depth: int


def flatten_board(image: Image) -> LoadedImage:
    """A board image's chips laid end to end as one :class:`LoadedImage` of ``chips * cores`` cores (global ids;
    the host is -1 in ``fanout_core``), what :class:`BatchFunctionalBoard` runs."""
    cfg = image.config
    parts = [unpack_image(image, chip=c) for c in range(cfg.chips)]
    # every per-core array of the loaded image, laid end to end (the fan-out cores and the schedule below)
    per_core = [f.name for f in dataclasses.fields(LoadedImage) if isinstance(getattr(parts[0], f.name), np.ndarray)
                and f.name not in ("fanout_core", "period", "phase")]
    arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in per_core}
    local = np.concatenate([p.fanout_core for p in parts])
    arrays["fanout_core"] = np.where(local == HOST_CORE, _HOST, arrays["fanout_chip"] * cfg.cores + local)
    config = _BoardAsChip(cfg.board_cores, cfg.neurons, cfg.weight_bytes, cfg.imem_depth, cfg.event_depth,
                          cfg.fanout_depth)
    periodic = any(p.period is not None for p in parts)   # (period/phase, docs/spec.md §2; None: every step)
    for name, default in (("period", 1), ("phase", 0)):
        arrays[name] = np.concatenate([getattr(p, name) if getattr(p, name) is not None
                                       else np.full(cfg.cores, default, dtype=np.int64) for p in parts]) \
            if periodic else None
    return LoadedImage(config=config, programs=tuple(p for part in parts for p in part.programs),
                       words=tuple(w for part in parts for w in part.words), **arrays)


def deliver_order(pending: list[list[tuple[int, int, int]]], chips: int
                  ) -> tuple[int, list[tuple[int, int, int]], np.ndarray, np.ndarray]:
    """DELIVER of one board step (§13) from each chip's out-queue ``pending[c]``: ``(destination chip or -1 for the
    host, entry id, source chip)`` in router order. Returns the DELIVER cycles, the deliveries in the order they
    happen (``(cycle, destination chip or -1, entry id)``: a local delivery, a host output or a link arrival),
    and the events sent and stall cycles per link ``(chips, chips)``."""
    queues = [deque(entries) for entries in pending]
    links = {(a, b): deque() for a in range(chips) for b in range(chips) if a != b}
    sent = np.zeros((chips, chips), dtype=np.int64)
    stalls = np.zeros((chips, chips), dtype=np.int64)
    served = [-1] * chips
    done: list[tuple[int, int, int]] = []
    in_flight = 0
    d = 0
    while in_flight or any(queues):
        busy = [False] * chips
        if in_flight:
            for b in range(chips):
                for step in range(1, chips + 1):
                    a = (served[b] + step) % chips
                    link = links.get((a, b))
                    if link and link[0][0] <= d - LINK_LATENCY_CYCLES:
                        done.append((d, b, link.popleft()[1]))
                        in_flight -= 1
                        busy[b] = True
                        served[b] = a
                        break
        for c in range(chips):
            if busy[c] or not queues[c]:
                continue
            dest, entry, _ = queues[c][0]
            if dest in (_HOST, c):
                queues[c].popleft()
                done.append((d, dest, entry))
                continue
            link = links[(c, dest)]
            if len(link) >= LINK_QUEUE_DEPTH:
                stalls[c, dest] += 1
                continue
            queues[c].popleft()
            link.append((d, entry))
            in_flight += 1
            sent[c, dest] += 1
        d += 1
    return d, done, sent, stalls


class BatchFunctionalBoard(BatchFunctionalChip):
    """``batch`` functional boards loaded with one board ``image``, stepped together (see the module docstring).

    ``loaded``: the image's :func:`flatten_board`, when the caller has it. Raises :class:`SpikeCoreError` for a
    broken image, an image of one chip (use ``BatchFunctionalChip``) or a batch size below 1.
    """

    def __init__(self, image: Image, batch: int, loaded: LoadedImage | None = None) -> None:
        if loaded is None:
            validate_image(image)
        if image.config.chips < 2:
            raise SpikeCoreError("BatchFunctionalBoard runs a board image (chips > 1); this image is one chip")
        self.board = image.config
        super().__init__(loaded if loaded is not None else flatten_board(image), batch)
        n = self.board.chips
        self.link_events = np.zeros((batch, n, n), dtype=np.int64)
        self.link_stalls = np.zeros((batch, n, n), dtype=np.int64)

    def reset_state(self) -> None:
        """As the batch chip's; the link counters are emptied too (as ``FunctionalBoard.reset_state``)."""
        super().reset_state()
        self.link_events[:] = 0
        self.link_stalls[:] = 0

    def _route(self, queues: list) -> np.ndarray:
        """The board's DELIVER for every sample: events reach the buffers in the board's order; returns each
        sample's DELIVER cycles."""
        cycles = np.zeros(self.batch, dtype=np.int64)
        if not queues:
            return cycles
        per_chip = self.board.cores
        source = np.concatenate([np.full(len(q[1]), q[0], dtype=np.int64) for q in queues])
        sample, dest, axon, payload = (np.concatenate([q[i] for q in queues]) for i in (1, 2, 3, 4))
        order = np.argsort(sample, kind="stable")      # per sample: cores ascending, push order
        source, sample, dest, axon, payload = (a[order] for a in (source, sample, dest, axon, payload))
        bounds = np.searchsorted(sample, np.arange(self.batch + 1))
        dest_chip = np.where(dest == _HOST, _HOST, dest // per_chip)
        source_chip = source // per_chip
        depth = self.config.event_depth
        kept_ids: list[np.ndarray] = []
        for b in np.flatnonzero(np.diff(bounds)).tolist():
            lo, hi = int(bounds[b]), int(bounds[b + 1])
            pending: list[list[tuple[int, int, int]]] = [[] for _ in range(self.board.chips)]
            for i, (c, dc) in enumerate(zip(source_chip[lo:hi].tolist(), dest_chip[lo:hi].tolist(), strict=True)):
                pending[c].append((dc, lo + i, c))
            d, done, sent, stalls = deliver_order(pending, self.board.chips)
            cycles[b] = d
            self.link_events[b] += sent
            self.link_stalls[b] += stalls
            fill: dict[int, int] = {}
            kept = []
            for _, to, entry in done:
                if to == _HOST:
                    self.outputs[b].append(OutSpike(self.step_index, int(source[entry]), int(axon[entry]),
                                                    int(payload[entry])))
                    continue
                core = int(dest[entry])
                # a core that did not run last step (period/phase, spec §2) still holds its events
                slot = fill.get(core, int(self.buffer_fill[b, core]))
                if slot < depth:
                    fill[core] = slot + 1
                    kept.append(entry)
                else:
                    self.drops[b, core] += 1
            kept_ids.append(np.array(kept, dtype=np.int64))
        kept_all = np.concatenate(kept_ids) if kept_ids else np.zeros(0, dtype=np.int64)
        if len(kept_all):
            s, d_, a, p = sample[kept_all], dest[kept_all], axon[kept_all], payload[kept_all]
            self.buffer_fill += self._counts(s, d_)
            self._arrive(s, d_, a, p)
        return cycles     # the board's D_t: cycles already (the batch chip's step multiplies by DELIVERY_CYCLES = 1)
