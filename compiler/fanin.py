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


def _problem(config: ChipConfig, count: int, groups: tuple[tuple[int, ...], ...], merge_fanout: int,
             merge_words: int) -> str | None:
    """Why a slice of ``count`` neurons over ``groups`` does not fit its cores, or None."""
    rows = max(len(g) for g in groups)
    if count > config.neurons:
        return f"{count} neurons, a core has {config.neurons}"
    if rows * count > config.weight_bytes:
        return f"{rows * count} weight bytes ({rows} inputs x {count} neurons), a core has {config.weight_bytes}"
    if rows > isa.AXON_MAX + 1:
        return f"{rows} inputs in one group, an event addresses at most {isa.AXON_MAX + 1} axons"
    if rows > config.event_depth or len(groups) * count > config.event_depth:
        return (f"up to {max(rows, len(groups) * count)} input events per step in one core, event_depth is "
                f"{config.event_depth}")
    if count > config.fanout_depth or merge_fanout > config.fanout_depth:
        return f"{max(count, merge_fanout)} fan-out entries, fanout_depth is {config.fanout_depth}"
    if max(PARTIAL_PROGRAM_WORDS, merge_words) > config.imem_depth:
        return f"{max(PARTIAL_PROGRAM_WORDS, merge_words)} program words, imem_depth is {config.imem_depth}"
    return None


def _union(sources: list[np.ndarray], start: int, stop: int) -> tuple[int, ...]:
    return tuple(np.unique(np.concatenate(sources[start:stop])).tolist()) if stop > start else ()


def _slices_for(sources: list[np.ndarray], config: ChipConfig, fanout: np.ndarray, parts: int,
                merge_words: int) -> list[SplitSlice] | None:
    """Greedy slices over ``parts`` groups each, then an even split over as many slices if it fits."""
    n = len(sources)
    greedy: list[SplitSlice] = []
    start = 0
    while start < n:
        stop, seen, groups = start, set(), None
        while stop < n:
            candidate = tuple(sorted(seen | set(sources[stop].tolist())))
            grouped = _groups(candidate, parts)
            if _problem(config, stop + 1 - start, grouped, int(fanout[start:stop + 1].sum()), merge_words):
                break
            stop, seen, groups = stop + 1, set(candidate), grouped
        if groups is None:
            return None
        greedy.append(SplitSlice(start, stop - start, groups))
        start = stop
    balanced = []
    for lo, hi in even_bounds(n, len(greedy)):
        groups = _groups(_union(sources, lo, hi), parts)
        if _problem(config, hi - lo, groups, int(fanout[lo:hi].sum()), merge_words) is not None:
            return greedy
        balanced.append(SplitSlice(lo, hi - lo, groups))
    return balanced


def plan_split(sources: list[np.ndarray], config: ChipConfig, fanout: np.ndarray | None,
               merge_words: int) -> tuple[list[SplitSlice] | None, str]:
    """The split of a layer whose neuron ``j`` reads ``sources[j]`` (ascending source indices) that takes the
    fewest cores (partial-sum + merging), trying 2, 3, ... groups; ``fanout[j]``: entries neuron ``j`` needs in
    the merging core; ``merge_words``: the merging core's program length.

    Returns ``(slices, "")``, or ``(None, why)`` naming what no split can fit (one neuron over as many groups as
    a merging core can take)."""
    fanout = np.zeros(len(sources), dtype=np.int64) if fanout is None else fanout
    best: list[SplitSlice] | None = None
    best_cores = None
    widest = max((len(s) for s in sources), default=0)
    for parts in range(2, max(2, min(config.event_depth, widest)) + 1):
        if best_cores is not None and parts + 1 > best_cores:
            break   # one slice over this many groups already takes more cores
        slices = _slices_for(sources, config, fanout, parts, merge_words)
        if slices is None:
            continue
        cores = sum(len(s.groups) + 1 for s in slices)
        if best_cores is None or cores < best_cores:
            best, best_cores = slices, cores
    if best is not None:
        return best, ""
    parts = max(2, min(config.event_depth, widest))
    widest_neuron = int(np.argmax([len(s) for s in sources]))
    why = _problem(config, 1, _groups(tuple(sources[widest_neuron].tolist()), parts),
                   int(fanout[widest_neuron]), merge_words)
    return None, why or "no split fits"
