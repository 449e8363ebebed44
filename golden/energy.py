"""Energy and latency per inference: counted events (:mod:`~spikecore.golden.counters`) priced by a table
(:mod:`~spikecore.golden.energy_tables`), cycles turned into time at a clock.

::

    energy = Σ_cores  synaptic_ops·E_sop + neuron_updates·E_neuron + spikes·E_spike + deliveries·E_delivery
                      + hops_ew·E_hop_ew + hops_ns·E_hop_ns                           (picojoules)
    latency = cycles / clock_MHz                                                      (microseconds)

both divided by the number of inferences counted. Drops are counted but not priced: a dropped event was a
delivery and is priced as one. On a board (docs/spec.md §13) the sum runs over every core of every chip, each
chip with its own mesh; an event that crosses a chip-to-chip link is priced as the delivery of its source core
and its link events are counted per link but not priced (no table has a price for a link).
The model is compiler-independent: it needs only an image's run; a layer map
(``{core: layer name}``) adds a per-layer breakdown.

>>> from spikecore.config import ChipConfig
>>> from spikecore.golden.counters import EventCounts
>>> import numpy as np
>>> counts = EventCounts(ChipConfig(cores=1), np.array([[10, 2, 1, 1, 0]]), np.array([[0, 1]]), cycles=50, steps=1)
>>> report = price(counts, TABLES["loihi"], 100.0)
>>> round(report.energy_pj, 1), report.latency_us      # 10·23.6 + 2·52 + 1·1.7 + 1 N-S hop to the host·4.0
(345.7, 0.5)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from spikecore.golden.counters import EVENT_KINDS, EventCounts, count_runs
from spikecore.golden.energy_tables import CLOCK_SOURCE, DEFAULT_CLOCK_MHZ, ITEMS, TABLES, EnergyTable, check_clock
from spikecore.image import Image
from spikecore.stimulus import Stimulus

__all__ = ["TABLES", "EnergyReport", "price", "price_runs"]

#: Which count each priced item multiplies (hops come from the routes, not from a counter).
ITEM_COUNT = {"synaptic_op": "synaptic_ops", "neuron_update": "neuron_updates", "spike": "spikes",
              "delivery": "deliveries", "hop_ew": "hops_ew", "hop_ns": "hops_ns"}
LABELS = {"synaptic_op": "synaptic ops", "neuron_update": "neuron updates", "spike": "spikes",
          "delivery": "deliveries", "hop_ew": "E-W hops", "hop_ns": "N-S hops"}


@dataclass
class EnergyReport:
    """Energy (pJ) and latency (µs) per inference, broken down per item, per core and per layer.

    ``counts[item]`` is events per inference, ``item_pj[item]`` energy per inference; ``core_pj`` is
    ``(cores, len(ITEMS))`` pJ per inference; ``layer_pj`` maps a layer name to its per-item pJ (empty
    without a layer map; cores outside the map are the layer ``"(unmapped)"`` when they cost anything).
    On a board the cores are global ids (``chip * cores_per_chip + core``), ``cores_per_chip`` is the cores of one
    chip (0 on one chip) and ``links`` / ``link_stalls`` ``(chips, chips)`` are the events and stall cycles per
    inference of link ``a -> b`` (counted, not priced).
    """

    table: EnergyTable
    clock_mhz: float
    clock_source: str
    inferences: int
    cycles: float
    counts: dict[str, float]
    item_pj: dict[str, float]
    core_pj: np.ndarray
    core_counts: np.ndarray
    layer_pj: dict[str, dict[str, float]] = field(default_factory=dict)
    cores_per_chip: int = 0
    links: np.ndarray | None = None
    link_stalls: np.ndarray | None = None

    @property
    def chips(self) -> int:
        """Chips of the board the counts come from (1 for one chip)."""
        return len(self.core_pj) // self.cores_per_chip if self.cores_per_chip else 1

    def core_name(self, core: int) -> str:
        """``"5"`` on one chip, ``"5 (chip 1 core 1)"`` for global core 5 of a board of 4-core chips."""
        if not self.cores_per_chip:
            return str(core)
        return "{} (chip {} core {})".format(core, *divmod(core, self.cores_per_chip))

    def chip_pj(self) -> np.ndarray:
        """pJ per inference of each chip's cores, ``(chips,)`` float (one entry on one chip)."""
        return self.core_pj.sum(axis=1).reshape(self.chips, -1).sum(axis=1)

    def link_rows(self) -> list[tuple[int, int, float, float]]:
        """``(from chip, to chip, events per inference, stall cycles per inference)`` of every link that carried
        an event or stalled, in ``(from, to)`` order; empty on one chip."""
        if self.links is None:
            return []
        stalls = self.link_stalls if self.link_stalls is not None else np.zeros_like(self.links)
        return [(int(a), int(b), float(self.links[a, b]), float(stalls[a, b]))
                for a, b in zip(*np.nonzero((self.links > 0) | (stalls > 0)), strict=True)]

    @property
    def energy_pj(self) -> float:
        return float(sum(self.item_pj.values()))

    @property
    def latency_us(self) -> float:
        return self.cycles / self.clock_mhz

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (report.json's ``energy`` object)."""
        return {
            "table": self.table.name, "citation": self.table.citation,
            "clock_mhz": self.clock_mhz, "clock_source": self.clock_source,
            "inferences": self.inferences, "cycles_per_inference": self.cycles,
            "energy_pj_per_inference": self.energy_pj, "latency_us_per_inference": self.latency_us,
            "per_kind": {item: {"count_per_inference": self.counts[item], "pj_each": self.table.price(item).pj,
                                "pj_per_inference": self.item_pj[item], "source": self.table.price(item).source}
                         for item in ITEMS},
            "drops_per_inference": self.counts["drops"],
            "per_core": [{"core": int(core), "pj_per_inference": float(self.core_pj[core].sum()),
                          **{kind: float(self.core_counts[core, k]) for k, kind in enumerate(EVENT_KINDS)}}
                         for core in np.flatnonzero(self.core_counts.any(axis=1) | self.core_pj.any(axis=1))],
            "per_layer": {name: {**items, "total": float(sum(items.values()))}
                          for name, items in self.layer_pj.items()},
        } | ({} if not self.cores_per_chip else {
            "chips": self.chips, "cores_per_chip": self.cores_per_chip,
            "per_chip": [{"chip": chip, "pj_per_inference": float(pj)} for chip, pj in enumerate(self.chip_pj())],
            "links": [{"from": a, "to": b, "events_per_inference": events, "stall_cycles_per_inference": stalls}
                      for a, b, events, stalls in self.link_rows()],
            "links_priced": False,
        })

    def format(self, per_core_limit: int = 16) -> str:
        """The printed table: per kind with each price's source, per core, per layer, totals."""
        lines = [f"energy table: {self.table.name}: {self.table.citation}",
                 f"clock: {self.clock_mhz:g} MHz ({self.clock_source})",
                 f"per inference (mean of {self.inferences}):",
                 f"  {'event':<15} {'count':>12} {'pJ each':>9} {'pJ':>12} {'share':>6}  source"]
        total = self.energy_pj or 1.0
        for item in ITEMS:
            price = self.table.price(item)
            pj = self.item_pj[item]
            lines.append(f"  {LABELS[item]:<15} {self.counts[item]:>12.1f} {price.pj:>9.2f} {pj:>12.1f} "
                         f"{pj / total:>6.1%}  {price.source}")
        lines.append(f"  {'drops':<15} {self.counts['drops']:>12.1f} {'-':>9} {'-':>12} {'':>6}  counted, priced as "
                     "the delivery they were")
        active = [int(c) for c in np.flatnonzero(self.core_counts.any(axis=1) | self.core_pj.any(axis=1))]
        lines.append(f"per core ({len(active)} active; pJ per inference"
                     f"{'; global core ids, chip * cores + core' if self.cores_per_chip else ''}):")
        width = max([4, *(len(self.core_name(core)) for core in active[:per_core_limit])])
        lines.append(f"  {'core':<{width}} " + " ".join(f"{kind:>14}" for kind in EVENT_KINDS) + f" {'pJ':>12}")
        for core in active[:per_core_limit]:
            row = " ".join(f"{value:>14.1f}" for value in self.core_counts[core])
            lines.append(f"  {self.core_name(core):>{width}} {row} {self.core_pj[core].sum():>12.1f}")
        if len(active) > per_core_limit:
            lines.append(f"  (+{len(active) - per_core_limit} more cores)")
        if self.layer_pj:
            lines.append("per layer (pJ per inference):")
            for name, items in self.layer_pj.items():
                parts = ", ".join(f"{LABELS[item]} {pj:.1f}" for item, pj in items.items() if pj)
                lines.append(f"  {name:<16} {sum(items.values()):>12.1f}  ({parts or 'nothing'})")
        if self.cores_per_chip:
            lines.append(f"per chip ({self.chips} chips of {self.cores_per_chip} cores; pJ per inference):")
            lines.extend(f"  chip {chip:<3} {pj:>12.1f}" for chip, pj in enumerate(self.chip_pj()))
            rows = self.link_rows()
            lines.append("links (events per inference, counted, not priced: no table prices a chip-to-chip link):"
                         if rows else "links: no event crossed a chip-to-chip link")
            lines.extend(f"  link {a}->{b}  {events:>12.1f} events, {stalls:.1f} stall cycles"
                         for a, b, events, stalls in rows)
        scope = ", every chip's cores (links not priced)" if self.cores_per_chip else ""
        lines.append(f"energy per inference    {self.energy_pj:.1f} pJ ({self.energy_pj / 1000:.3f} nJ), table "
                     f"{self.table.name}{scope}")
        lines.append(f"latency per inference   {self.latency_us:.3f} us ({self.cycles:.1f} cycles at "
                     f"{self.clock_mhz:g} MHz)")
        return "\n".join(lines)


def price(counts: EventCounts, table: EnergyTable, clock_mhz: float = DEFAULT_CLOCK_MHZ,
          layer_of_core: dict[int, str] | None = None, clock_source: str | None = None) -> EnergyReport:
    """Price ``counts`` with ``table``; latency at ``clock_mhz`` (MHz, > 0, else :class:`SpikeCoreError`).

    ``layer_of_core`` (optional) names the layer each core holds, for the per-layer breakdown.
    """
    clock_mhz = check_clock(clock_mhz)
    n = counts.inferences
    hops_ew, hops_ns = counts.hops()
    per_core_counts = {kind: counts.per_core[:, k] for k, kind in enumerate(EVENT_KINDS)}
    per_core_counts.update(hops_ew=hops_ew, hops_ns=hops_ns)
    core_pj = np.stack([per_core_counts[ITEM_COUNT[item]] * table.price(item).pj for item in ITEMS], axis=1) / n
    item_counts = {item: float(per_core_counts[ITEM_COUNT[item]].sum()) / n for item in ITEMS}
    item_counts["drops"] = float(per_core_counts["drops"].sum()) / n
    layer_pj: dict[str, dict[str, float]] = {}
    if layer_of_core is not None:
        for core in range(counts.config.board_cores):
            name = layer_of_core.get(core)
            if name is None and not core_pj[core].any():
                continue
            entry = layer_pj.setdefault(name if name is not None else "(unmapped)", dict.fromkeys(ITEMS, 0.0))
            for i, item in enumerate(ITEMS):
                entry[item] += float(core_pj[core, i])
    if clock_source is None:
        clock_source = CLOCK_SOURCE if clock_mhz == DEFAULT_CLOCK_MHZ else "given with --clock-mhz"
    return EnergyReport(table=table, clock_mhz=clock_mhz, clock_source=clock_source, inferences=n,
                        cycles=counts.cycles / n, counts=item_counts,
                        item_pj={item: float(core_pj[:, i].sum()) for i, item in enumerate(ITEMS)},
                        core_pj=core_pj, core_counts=counts.per_core / n, layer_pj=layer_pj,
                        cores_per_chip=counts.config.cores if counts.config.chips > 1 else 0,
                        links=None if counts.links is None else counts.links / n,
                        link_stalls=None if counts.link_stalls is None else counts.link_stalls / n)


def price_runs(image: Image, stimuli: Iterable[Stimulus | None], steps: int, table: EnergyTable,
               clock_mhz: float = DEFAULT_CLOCK_MHZ, layer_of_core: dict[int, str] | None = None) -> EnergyReport:
    """Energy and latency per inference of ``image``: one run of ``steps`` chip steps per stimulus (one
    inference each, a state reset before each) counted on the functional golden model
    (:func:`~spikecore.golden.counters.count_runs`; the golden board for a board image), priced by :func:`price`.

    The one rule of ``spikecore profile`` and both ``make sim`` flows: on a board the energy is every chip's cores
    (synaptic ops, neuron updates, spikes, deliveries, each chip's mesh hops), and the link events are counted in
    the report but not priced (no table prices a chip-to-chip link). Raises :class:`SpikeCoreError` as
    :func:`~spikecore.golden.counters.count_runs` and :func:`price` do.
    """
    return price(count_runs(image, stimuli, steps), table, clock_mhz, layer_of_core)
