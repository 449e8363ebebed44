"""Human-readable compile report: chip utilisation and the quantisation chosen per layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spikecore.compiler.pipeline import CompiledModel
from spikecore import isa
from spikecore.compiler.ir import PlacedProgram, QuantGraph


def utilisation(placed: PlacedProgram) -> str:
    """Cores used, weight bytes, neurons per layer and per core, events, fan-out and program words."""
    cfg = placed.config
    used = len(placed.cores)
    weight_total = sum(pc.weight_bytes for pc in placed.cores)
    slots = sum(len(pc.neurons) for pc in placed.cores)
    lines = [
        f"utilisation on {cfg.describe()}:",
        f"  cores used      {used} of {cfg.board_cores} ({used / cfg.board_cores:.0%})",
        f"  weight bytes    {weight_total} of {used * cfg.weight_bytes} on used cores "
        f"({weight_total / max(1, used * cfg.weight_bytes):.0%})",
        f"  neuron slots    {slots} of {used * cfg.neurons} on used cores (a split neuron uses one per part, and "
        "one more on its merging core in a hidden layer; a neuron with a fine-weight twin two)",
        "  layer          cores  neurons  per core   weight bytes/core  axons/core  fan-out/core",
    ]
    for layer in placed.quant.layers:
        cores = placed.layer_cores(layer.name)
        wbytes = f"{_spread([pc.weight_bytes for pc in cores])}/{cfg.weight_bytes}"
        lines.append(f"  {layer.name:<14} {len(cores):>5}  {layer.out_features:>7}  "
                     f"{_spread([pc.count for pc in cores]):<9}  {wbytes:<17}  "
                     f"{_spread([len(pc.axons) for pc in cores]):<10}  {_spread([len(pc.fanout) for pc in cores])}")
    lines.append("  core  layer          neurons      weight bytes  axons  fan-out  program words")
    for pc in placed.cores:
        part = " (partial)" if pc.partial else " (merging)" if pc.merge else ""
        lines.append(f"  {pc.core:>4}  {pc.layer:<14} {pc.start:>4}..{pc.start + pc.count - 1:<5}  "
                     f"{pc.weight_bytes:>5}/{cfg.weight_bytes:<6}  {len(pc.axons):>5}  {len(pc.fanout):>7}  "
                     f"{len(pc.program):>13}{part}")
    if cfg.chips > 1:
        lines += board_lines(placed)
    return "\n".join(lines)


def link_traffic(placed: PlacedProgram) -> dict[tuple[int, int], int]:
    """Per link ``(source chip, destination chip)`` (docs/spec.md §13): the fan-out entries that cross it.

    Each entry carries at most one event per step (a neuron fires at most once per FIRE), so this is also the
    most events the link carries in one step.
    """
    cores = placed.config.cores
    traffic: dict[tuple[int, int], int] = {}
    for pc in placed.cores:
        source = pc.core // cores
        for entry in pc.fanout:
            if entry.core != isa.HOST_CORE and entry.chip != source:
                traffic[(source, entry.chip)] = traffic.get((source, entry.chip), 0) + 1
    return traffic


def board_lines(placed: PlacedProgram) -> list[str]:
    """Per-chip utilisation and the link traffic of a board placement."""
    cfg = placed.config
    lines = ["  chip  cores used  weight bytes  layers"]
    for chip in range(cfg.chips):
        mine = [pc for pc in placed.cores if pc.core // cfg.cores == chip]
        layers = list(dict.fromkeys(pc.layer for pc in mine))
        lines.append(f"  {chip:>4}  {len(mine):>4} of {cfg.cores:<3}  {sum(pc.weight_bytes for pc in mine):>6} of "
                     f"{cfg.cores * cfg.weight_bytes:<6}  {', '.join(layers) or '-'}")
    traffic = link_traffic(placed)
    total = sum(traffic.values())
    lines.append(f"  links used      {len(traffic)} of {cfg.chips * (cfg.chips - 1)}; fan-out entries across chips "
                 f"{total} (at most that many link events per step)")
    lines += [f"  link {a}->{b}       {n} fan-out entries" for (a, b), n in sorted(traffic.items())]
    return lines


def quantisation(graph: QuantGraph) -> str:
    """Per layer: scales, shift or threshold, and how much of the int8 weight range is used."""
    q = graph.input
    rate = f", T={graph.T}" if graph.encoding == "rate" else ""
    lines = [f"quantisation ({graph.encoding}{rate}, {graph.steps} steps "
             f"per inference): input scale {q.scale:.6g}"]
    for layer in graph.layers:
        used = int(abs(layer.weight).max()) if layer.weight.size else 0
        cell = layer.neuron
        rule = (f"shift {cell.shift}" if cell.graded else
                f"threshold {cell.threshold}" if "FIRE" in cell.schedule and layer.role == "hidden" else "readout")
        lines.append(f"  {layer.name:<14} weight scale {layer.weight_scale:.4g} (|q| <= {used}), membrane unit "
                     f"{layer.acc_scale:.4g}, {rule}, emits units of {layer.out_scale:.4g}")
    return "\n".join(lines)


def _spread(values: list[int]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}..{high}"


def compile_report(compiled: CompiledModel) -> str:
    """The full report printed by ``spikecore compile --report``."""
    timing = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in compiled.timings.items())
    parts = [utilisation(compiled.placed), quantisation(compiled.quant)]
    if compiled.frontend == "tvm":
        parts.append(host_work(compiled.host_work))
    parts.append(f"steps per inference: {compiled.steps}; compile time: {timing}")
    return "\n".join(parts)


def host_work(ops: list[str]) -> str:
    """The TVM frontend's host work: ops left outside the SpikeCore partition, which the host must run."""
    if not ops:
        return "host work: none (every op of the model runs on SpikeCore)"
    many = len(ops) != 1
    runs = "runs them, in this order," if many else "runs it"
    lines = [f"host work: {len(ops)} op{'s' * many} not offloaded; the host {runs} on the outputs read from the chip:"]
    lines += [f"  host  {op}" for op in ops]
    return "\n".join(lines)
