"""Fan-in splitting of a hidden layer over partial-sum cores and merging cores (docs/spec.md §4.8).

A hidden neuron whose sources do not fit one core (weight bytes, 256 axons, ``event_depth``) is computed by
``G`` *partial-sum cores*, each holding the same neuron slice over one group of the sources (``ACC``, then
``FIRE wide=1`` sends every partial sum as one 24-bit event), and one *merging core* that adds the ``G``
partial sums (``MERGE``) and then runs the layer's FIRE as an unsplit core would. :func:`plan_split` chooses
the slices and groups; :mod:`~spikecore.compiler.place` turns them into cores.

Capacity per partial-sum core: ``count ≤ neurons``, ``rows × count ≤ weight_bytes`` (rows = sources of its
group), ``rows ≤ 256`` and ``≤ event_depth``, one fan-out entry per neuron (``count ≤ fanout_depth``). Per
merging core: ``count ≤ neurons``, ``G × count ≤ event_depth`` (every partial-sum neuron fires every step),
its neurons' fan-out entries to the next layer ``≤ fanout_depth``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from spikecore import isa
from spikecore.config import ChipConfig

#: Words of a partial-sum core's program: ACC, FIRE wide=1, HALT.
PARTIAL_PROGRAM_WORDS = 3


@dataclass(frozen=True)
class SplitSlice:
    """Neurons ``start .. start+count-1`` over ``groups`` (each a tuple of ascending source indices, the groups
    in ascending source order): one partial-sum core per group, one merging core for the slice."""

    start: int
    count: int
    groups: tuple[tuple[int, ...], ...]


def even_bounds(total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering ``0 .. total-1`` whose sizes differ by at most one."""
    bounds = [round(i * total / parts) for i in range(parts + 1)]
    return list(itertools.pairwise(bounds))


def _groups(union: tuple[int, ...], parts: int) -> tuple[tuple[int, ...], ...]:
    if not union:
        return ((),)
    parts = min(parts, len(union))
    return tuple(tuple(union[a:b]) for a, b in even_bounds(len(union), parts))


def _problem(config: ChipConfig, count: int, sources: int, parts: int, merge_fanout: int,
             merge_words: int, copies: int = 1) -> str | None:
    """Why a slice of ``count`` neurons reading ``sources`` sources in ``parts`` groups does not fit its cores;
    ``copies`` = 2 when the merging core holds the neurons' fine-weight twins (each partial sum is sent to the
    neuron and to its twin).

    The groups are :func:`even_bounds` of the sources, so the largest holds ``ceil(sources / parts)``."""
    groups = max(1, min(parts, sources))
    rows = -(-sources // groups)
    if copies * count > config.neurons:
        twins = " and their twins" if copies > 1 else ""
        return f"{count} neurons{twins}, a core has {config.neurons}"
    if rows * count > config.weight_bytes:
        return f"{rows * count} weight bytes ({rows} inputs x {count} neurons), a core has {config.weight_bytes}"
    if rows > isa.AXON_MAX + 1:
        return f"{rows} inputs in one group, an event addresses at most {isa.AXON_MAX + 1} axons"
    if rows > config.event_depth or copies * groups * count > config.event_depth:
        return (f"up to {max(rows, copies * groups * count)} input events per step in one core, event_depth is "
                f"{config.event_depth}")
    if copies * count > config.fanout_depth or merge_fanout > config.fanout_depth:
        return f"{max(copies * count, merge_fanout)} fan-out entries, fanout_depth is {config.fanout_depth}"
    if max(PARTIAL_PROGRAM_WORDS, merge_words) > config.imem_depth:
        return f"{max(PARTIAL_PROGRAM_WORDS, merge_words)} program words, imem_depth is {config.imem_depth}"
    return None


class _Sources:
    """The layer's per-neuron sources with the union of any neuron range, cached (a dense layer's is one tuple)."""

    def __init__(self, sources: list[np.ndarray]) -> None:
        self.sources = sources
        self.sets = [set(s.tolist()) for s in sources]
        self.dense = all(np.array_equal(s, sources[0]) for s in sources)
        self._cache: dict[tuple[int, int], tuple[int, ...]] = {}

    def union(self, start: int, stop: int) -> tuple[int, ...]:
        if stop <= start:
            return ()
        if self.dense:
            start, stop = 0, 1
        key = (start, stop)
        if key not in self._cache:
            self._cache[key] = tuple(np.unique(np.concatenate(self.sources[start:stop])).tolist())
        return self._cache[key]


def _bounds_for(layer: _Sources, config: ChipConfig, fanout: np.ndarray, parts: int,
                merge_words: int, copies: int = 1) -> list[tuple[int, int]] | None:
    """Greedy neuron slices over ``parts`` groups each, then an even split over as many slices if that fits."""
    n = len(layer.sources)
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < n:
        stop, seen = start, set()
        while stop < n:
            grown = seen | layer.sets[stop]
            if _problem(config, stop + 1 - start, len(grown), parts, int(fanout[start:stop + 1].sum()), merge_words,
                        copies):
                break
            stop, seen = stop + 1, grown
        if stop == start:
            return None
        bounds.append((start, stop))
        start = stop
    balanced = even_bounds(n, len(bounds))
    if all(_problem(config, hi - lo, len(layer.union(lo, hi)), parts, int(fanout[lo:hi].sum()),
                    merge_words, copies) is None for lo, hi in balanced):
        return balanced
    return bounds


def plan_split(sources: list[np.ndarray], config: ChipConfig, fanout: np.ndarray | None,
               merge_words: int, twins: bool = False) -> tuple[list[SplitSlice] | None, str]:
    """The split of a layer whose neuron ``j`` reads ``sources[j]`` (ascending source indices) that takes the
    fewest cores (partial-sum + merging), trying 2, 3, ... groups; ``fanout[j]``: entries neuron ``j`` needs in
    the merging core (its twin's included); ``merge_words``: the merging core's program length; ``twins``: the
    merging core also holds the neurons' fine-weight twins, which receive every partial sum again.

    Returns ``(slices, "")``, or ``(None, why)`` naming what no split can fit (one neuron over as many groups as
    a merging core can take)."""
    fanout = np.zeros(len(sources), dtype=np.int64) if fanout is None else fanout
    copies = 2 if twins else 1
    layer = _Sources(sources)
    best: tuple[int, int, list[tuple[int, int]]] | None = None     # (cores, groups, bounds)
    widest = max((len(s) for s in sources), default=0)
    narrowest = min((len(s) for s in sources), default=0)
    for parts in range(2, max(2, min(config.event_depth, widest)) + 1):
        # at least this many cores over ``parts`` groups (and over more: the bound grows with parts): slices no
        # wider than a merging core takes, each with a partial-sum core per group (as many as its narrowest
        # neuron's sources at least) and its merging core
        groups = max(1, min(parts, narrowest))
        widest_slice = max(1, min(config.neurons, config.event_depth // groups, config.fanout_depth) // copies)
        bound = -(-len(sources) // widest_slice) * (groups + 1)
        if best is not None and bound >= best[0]:
            break
        bounds = _bounds_for(layer, config, fanout, parts, merge_words, copies)
        if bounds is None:
            continue
        cores = sum(max(1, min(parts, len(layer.union(lo, hi)))) + 1 for lo, hi in bounds)
        if best is None or cores < best[0]:
            best = (cores, parts, bounds)
    if best is not None:
        _, parts, bounds = best
        return [SplitSlice(lo, hi - lo, _groups(layer.union(lo, hi), parts)) for lo, hi in bounds], ""
    parts = max(2, min(config.event_depth, widest))
    widest_neuron = int(np.argmax([len(s) for s in sources]))
    why = _problem(config, 1, len(sources[widest_neuron]), parts, int(fanout[widest_neuron]), merge_words, copies)
    return None, why or "no split fits"
