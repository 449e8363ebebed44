"""A compact human-readable summary of a :class:`~spikecore.golden.run.RunResult`.

Meant for a terminal or a test failure message: the run's size, where the spikes and drops happened,
the membranes that ended somewhere other than zero, and what reached the host. Long lists are cut
with an explicit ``(+N more)``, never silently.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from spikecore.golden.run import RunResult
from spikecore.isa import TraceKind
from spikecore.wording import array_size, cycles_noun, plural


def _listing(items: Iterable[str], limit: int) -> str:
    items = list(items)
    shown = " ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "") if items else "none"


def _per_core(counts: np.ndarray, limit: int) -> str:
    nonzero = np.flatnonzero(counts)
    return f"{_listing((f'{c}:{counts[c]}' for c in nonzero), limit)} (total {int(counts.sum())})"


def summarize(result: RunResult, limit: int = 12) -> str:
    """Several short lines describing ``result``; each list shows at most ``limit`` items."""
    # A board (docs/spec.md §13) counts board cycles and is named by its chips and cores per chip.
    board = (f" ({array_size(result.chips, len(result.membranes) // result.chips)})"
             if result.chips > 1 else "")
    lines = [f"{plural(result.steps, 'step')}, {result.cycles} {cycles_noun(result.chips)}{board}; step starts "
             f"{_listing((str(s) for s in result.step_starts), limit)}"]
    if result.trace is not None:
        kinds = np.bincount(result.trace["kind"], minlength=len(TraceKind))
        # The version-2 kinds (SYN, and a board's LINK, LINK_FULL) only when there are any.
        shown = [k for k in TraceKind if k <= TraceKind.OUT or kinds[k]]
        lines.append(f"trace: {len(result.trace)} records ("
                     + ", ".join(f"{k.name} {int(kinds[k])}" for k in shown) + ")")
    lines.append(f"spikes per core: {_per_core(result.spike_counts, limit)}")
    lines.append(f"drops per core: {_per_core(result.drops, limit)}")
    cores, neurons = np.nonzero(result.membranes)
    lines.append("non-zero membranes: "
                 + _listing((f"{c}.{n}={result.membranes[c, n]}" for c, n in zip(cores, neurons, strict=True)), limit))
    lines.append(f"outputs ({len(result.outputs)}): "
                 + _listing((f"s{o.step}/c{o.core}/a{o.axon}={o.payload}" for o in result.outputs), limit))
    return "\n".join(lines)
