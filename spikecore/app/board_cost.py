"""What a board inference must cost (docs/spec.md §2, §5, §13): router and link traffic per step, and a cycle
lower bound that includes the links.

From the compiler's integer reference (which neurons fire in which step) and the placement (each neuron's
fan-out entries and the chip of every core), :func:`board_traffic` derives, per sample and step, the out-queue
entries of every chip and the events of every link, without running the board; the tests hold them equal to
the golden board's counters. :func:`board_lower_bound` turns them into the fewest cycles a step can take:

- **EXEC** lasts at least the busiest core's synaptic operations (one cycle each, ``MAC_CYCLES``) plus the
  issue cycles of the longest program (FIRE's neuron and push cycles are left out: a free FIRE);
- **BARRIER**: ``BARRIER_CYCLES``;
- **DELIVER** lasts at least, for every chip ``c``, ``out_c + in_c`` cycles: its router does one thing per
  cycle, either send one of its ``out_c`` out-queue entries (to a local core, the host or a link) or take one of
  the ``in_c`` events arriving on its links; and, for every link ``a → b`` that carries ``e_ab > 0`` events,
  ``e_ab + LINK_LATENCY_CYCLES`` cycles: its pushes take distinct cycles, so the last is in DELIVER cycle
  ``≥ e_ab − 1`` and is taken ``LINK_LATENCY_CYCLES`` later, in a cycle that is part of DELIVER.

The bound is reached when no router ever waits: no link stall, no idle cycle while an event is in flight.
Models with fine-weight twins are not covered (their second FIRE is not modelled here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikecore import isa
from spikecore.compiler.pipeline import CompiledModel
from spikecore.compiler.reference import ReferenceResult
from spikecore.errors import SpikeCoreError


@dataclass
class BoardTraffic:
    """Per sample ``n`` and step ``t`` of a batch (int64 arrays): ``out`` ``(N, steps, chips)`` out-queue entries
    each chip's router sends; ``links`` ``(N, steps, chips, chips)`` events on link ``a → b`` (diagonal 0);
    ``macs`` ``(N, steps)`` the busiest core's synaptic operations."""

    out: np.ndarray
    links: np.ndarray
    macs: np.ndarray


@dataclass
class BoardBound:
    """:func:`board_lower_bound`'s result: ``cycles`` ``(N,)`` the bound per inference, and its per-step parts
    ``exec`` ``(N, steps)`` (busiest core's MACs + longest program's issue cycles), ``deliver`` ``(N, steps)``
    (the router and link term); every step also costs ``BARRIER_CYCLES``."""

    cycles: np.ndarray
    exec: np.ndarray
    deliver: np.ndarray


def _fired(compiled: CompiledModel, ref: ReferenceResult, pc) -> np.ndarray:
    """``(N, steps, count)`` bool: which of the core's neurons fire in each step (every partial-sum neuron of a
    split layer fires every step, docs/spec.md §4.8)."""
    fired = ref.fired[pc.layer_index][:, :, pc.start:pc.start + pc.count]
    if pc.partial and pc.layer_index in set(compiled.quant.merged):
        return np.ones_like(fired)
    return fired


def _macs(compiled: CompiledModel, ref: ReferenceResult, pc) -> np.ndarray:
    """``(N, steps)`` synaptic operations of core ``pc`` (ACC: events × neurons; MERGE: one per partial sum)."""
    n, steps = ref.fired[pc.layer_index].shape[:2]
    if pc.merge:
        cores = compiled.placed.config.cores
        groups = sum(1 for other in compiled.placed.cores if other.partial and other.fanout
                     and other.fanout[0].chip * cores + other.fanout[0].core == pc.core)
        macs = np.full((n, steps), groups * pc.count, dtype=np.int64)
        macs[:, 0] = 0                      # nothing was formed before step 0
        return macs
    return ref.events[pc.layer_index][:, :, list(pc.axons)].sum(axis=2).astype(np.int64) * pc.count


def board_traffic(compiled: CompiledModel, ref: ReferenceResult) -> BoardTraffic:
    """Out-queue entries per chip, events per link and the busiest core's MACs, per sample and step, derived
    from ``ref`` (the integer reference of the batch) and the placement. Raises :class:`SpikeCoreError` for a
    model with fine-weight twins."""
    placed = compiled.placed
    cfg = placed.config
    if any(pc.twins for pc in placed.cores):
        raise SpikeCoreError("board_traffic: models with fine-weight twins are not covered")
    n, steps = ref.fired[0].shape[:2]
    out = np.zeros((n, steps, cfg.chips), dtype=np.int64)
    links = np.zeros((n, steps, cfg.chips, cfg.chips), dtype=np.int64)
    macs = np.zeros((n, steps), dtype=np.int64)
    for pc in placed.cores:
        chip = pc.core // cfg.cores
        fired = _fired(compiled, ref, pc).astype(np.int64)                       # (N, steps, count)
        entries = np.zeros((pc.count, cfg.chips), dtype=np.int64)               # per neuron: entries per chip
        total = np.zeros(pc.count, dtype=np.int64)
        for j, neuron in enumerate(pc.neurons[:pc.count]):
            for entry in pc.fanout[neuron.fanout_start:neuron.fanout_start + neuron.fanout_count]:
                total[j] += 1
                if entry.core != isa.HOST_CORE and entry.chip != chip:
                    entries[j, entry.chip] += 1
        out[:, :, chip] += fired @ total
        links[:, :, chip, :] += fired @ entries
        macs = np.maximum(macs, _macs(compiled, ref, pc))
    return BoardTraffic(out, links, macs)


def board_lower_bound(compiled: CompiledModel, ref: ReferenceResult) -> BoardBound:
    """The fewest board cycles each inference of ``ref``'s batch can take (the module docstring's bound)."""
    traffic = board_traffic(compiled, ref)
    longest = max(len(pc.program) for pc in compiled.placed.cores)
    exec_cycles = traffic.macs * isa.MAC_CYCLES + longest * isa.ISSUE_CYCLES
    arrivals = traffic.links.sum(axis=2)                                          # (N, steps, chips): in_c
    routers = (traffic.out + arrivals).max(axis=2)
    latency = np.where(traffic.links > 0, traffic.links + isa.LINK_LATENCY_CYCLES, 0).max(axis=(2, 3))
    deliver = np.maximum(routers * isa.DELIVERY_CYCLES, latency)
    cycles = (exec_cycles + isa.BARRIER_CYCLES + deliver).sum(axis=1)
    return BoardBound(cycles, exec_cycles, deliver)


def link_rows(link_events: np.ndarray, inferences: int) -> list[dict]:
    """Per used link ``a → b`` of a ``(chips, chips)`` count of events over ``inferences`` inferences: a dict
    ``{"from", "to", "events", "events_per_inference"}``, in link order (the report's ``links``)."""
    chips = len(link_events)
    return [{"from": a, "to": b, "events": int(link_events[a, b]),
             "events_per_inference": float(link_events[a, b]) / max(1, inferences)}
            for a in range(chips) for b in range(chips) if a != b and link_events[a, b]]
