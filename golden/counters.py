"""Event counts of a run: what the energy model prices, and what the RTL's event counters must equal.

The golden chips (:class:`~spikecore.golden.cycle.ChipState`) count, per core and since the last state reset,
the five events of :data:`EVENT_KINDS` — the same five the RTL exposes as STATUS registers (docs/spec.md §8.3):

============== ======================================================= ===========================
kind           one count is                                            STATUS register (index)
============== ======================================================= ===========================
synaptic_ops   one ACC multiply-accumulate (event ``e``, neuron ``j``) ``SYNOP_COUNT`` (4)
neuron_updates one neuron evaluated by FIRE or decayed by LEAK         ``NEURON_UPDATE_COUNT`` (5)
spikes         one neuron that fired                                   ``SPIKE_COUNT`` (2)
deliveries     one router delivery of this core's out-queue (to a      ``DELIVERY_COUNT`` (6)
               core's buffer, dropped, or to the host): by *source*
drops          one routed event dropped at this (destination) core    ``DROP_COUNT`` (1)
============== ======================================================= ===========================

They also keep ``routes[s, d]``, the deliveries from core ``s`` to core ``d`` (column ``cores`` = the host),
from which :func:`mesh_hops` derives the hops of a notional 2-D mesh (the RTL's router is a serial bus; hops
exist only in the energy model).

On a board (docs/spec.md §13) the rows are global core ids ``chip * cores + core``: each chip's counters
stacked, each chip's ``routes`` to its own cores and the host (a link event counts as a delivery of its source
core, not as a route), and the links' events and stall cycles in ``links`` and ``link_stalls``.

>>> from spikecore.config import ChipConfig
>>> mesh_position(5, ChipConfig(cores=16)), mesh_width(ChipConfig(cores=128))
((1, 1), 12)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import Image
from spikecore.stimulus import Stimulus

#: The counted events, in the column order of ``ChipState.event_counts()``.
EVENT_KINDS = ("synaptic_ops", "neuron_updates", "spikes", "deliveries", "drops")


@dataclass
class EventCounts:
    """Event counts of ``inferences`` runs of one image, summed (divide by ``inferences`` for a mean).

    ``per_core`` is ``(cores, 5)`` int64 in :data:`EVENT_KINDS` order; ``routes`` ``(cores, cores + 1)`` int64;
    ``cycles`` the array cycles of all the runs; ``steps`` the chip steps of one run. On a board of ``chips``
    chips the rows are the ``chips * cores`` global core ids (``routes`` ``(chips * cores, cores + 1)``, each
    row to its own chip's cores and the host), and ``links`` / ``link_stalls`` are ``(chips, chips)`` int64: the
    events sent and the stall cycles of link ``a -> b`` (both ``None`` on one chip).
    """

    config: ChipConfig
    per_core: np.ndarray
    routes: np.ndarray
    cycles: int
    steps: int
    inferences: int = 1
    links: np.ndarray | None = None
    link_stalls: np.ndarray | None = None

    def total(self, kind: str) -> int:
        """The count of ``kind`` (one of :data:`EVENT_KINDS`) over every core and run."""
        return int(self.per_core[:, EVENT_KINDS.index(kind)].sum())

    def hops(self) -> tuple[np.ndarray, np.ndarray]:
        """Per source core, the east-west and north-south mesh hops of its deliveries (:func:`mesh_hops`)."""
        return mesh_hops(self.routes, self.config)


def mesh_width(config: ChipConfig) -> int:
    """Columns of the notional mesh: ``ceil(sqrt(cores))``."""
    return math.isqrt(config.cores - 1) + 1 if config.cores > 1 else 1


def mesh_position(core: int, config: ChipConfig) -> tuple[int, int]:
    """``(x, y)`` of ``core`` on the notional mesh: cores row-major, :func:`mesh_width` columns."""
    return core % mesh_width(config), core // mesh_width(config)


def mesh_hops(routes: np.ndarray, config: ChipConfig) -> tuple[np.ndarray, np.ndarray]:
    """East-west and north-south hops of every delivery in ``routes``, summed per source core (two int64 arrays).

    An assumption of the energy model, not of the chip: the cores sit one per tile on a 2-D mesh,
    row-major, :func:`mesh_width` columns; a delivery from ``(x0, y0)`` to ``(x1, y1)`` takes ``|x1 - x0|``
    east-west and ``|y1 - y0|`` north-south hops (dimension-order routing); the host port sits just above
    core 0, at ``(0, -1)``. A delivery inside its own core takes no hop. On a board every chip has its own
    mesh and host port (``routes`` ``(chips * cores, cores + 1)``, :class:`EventCounts`); links have no hops.
    """
    cores = config.cores
    rows = config.chips * cores
    routes = np.asarray(routes, dtype=np.int64)
    if routes.shape != (rows, cores + 1):
        raise SpikeCoreError(f"routes must be ({rows}, {cores + 1}), not {routes.shape}")
    x = np.array([mesh_position(c, config)[0] for c in range(cores)] + [0], dtype=np.int64)
    y = np.array([mesh_position(c, config)[1] for c in range(cores)] + [-1], dtype=np.int64)
    ew = np.tile(np.abs(x[None, :] - x[:cores, None]), (config.chips, 1))   # row r is local core r % cores
    ns = np.tile(np.abs(y[None, :] - y[:cores, None]), (config.chips, 1))
    return (routes * ew).sum(axis=1), (routes * ns).sum(axis=1)


def count_runs(image: Image, stimuli: Iterable[Stimulus | None], steps: int, chip: str = "functional") -> EventCounts:
    """Run ``image`` once per stimulus (a state reset before each, as one inference), summing the counts.

    ``chip`` is ``"functional"`` (fast) or ``"cycle"``; both count the same events. A board image (``chips > 1``)
    runs on the golden board (:func:`~spikecore.golden.board.golden_model`; stimuli name global core ids) and
    its counts have one row per global core and the link counts (:class:`EventCounts`). Raises
    :class:`SpikeCoreError` for a bad image, stimulus, ``steps`` or ``chip``, and when ``stimuli`` is empty.
    """
    from spikecore.golden.board import golden_model

    if chip not in ("functional", "cycle"):
        raise SpikeCoreError(f"count_runs: chip must be functional or cycle, not {chip!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise SpikeCoreError(f"steps must be a positive integer, not {steps!r}")
    model = golden_model(image, chip)
    board = image.config.chips > 1
    cores, rows = image.config.cores, image.config.board_cores
    per_core = np.zeros((rows, len(EVENT_KINDS)), dtype=np.int64)
    routes = np.zeros((rows, cores + 1), dtype=np.int64)
    links = np.zeros((image.config.chips,) * 2, dtype=np.int64) if board else None
    link_stalls = np.zeros_like(links) if board else None
    runs = 0
    start = model.cycle
    for stimulus in stimuli:
        stimulus = stimulus if stimulus is not None else Stimulus()
        stimulus.validate()
        model.reset_state()
        for step in range(steps):
            for index, (core, axon, payload) in enumerate(stimulus.at(step)):
                try:
                    model.inject(core, axon, payload)
                except SpikeCoreError as err:   # name the event's file and line, as spikecore run does
                    raise SpikeCoreError(f"{stimulus.origin(step, index)}: {err}") from None
            model.step()
        per_core += model.event_counts()
        if board:
            routes += np.concatenate([one.routes for one in model.chips])
            links += model.link_events
            link_stalls += model.link_stalls
        else:
            routes += model.routes
        runs += 1
    if runs == 0:
        raise SpikeCoreError("count_runs: no stimulus given (zero runs count nothing)")
    return EventCounts(image.config, per_core, routes, model.cycle - start, steps, runs, links, link_stalls)
