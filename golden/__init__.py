"""SpikeCore golden model: the executable spec (docs/spec.md), in pure Python + numpy.

Two paths over the same semantics, tested against each other:

- :class:`spikecore.golden.cycle.CycleChip` — cycle-accurate; every step returns the trace records
  (docs/spec.md §6) the RTL must reproduce cycle for cycle.
- :class:`spikecore.golden.functional.FunctionalChip` — fast functional path (vectorised numpy) for
  large evaluations; same final state, outputs and drop counters, no trace.

:func:`spikecore.golden.run.run` drives either over a stimulus for a number of steps; an image for a board of
several chips (docs/spec.md §13) runs on :class:`spikecore.golden.board.CycleBoard` / ``FunctionalBoard``,
one chip model per chip plus the links.
"""

from __future__ import annotations

import importlib

#: Public names, each loaded from its module on first use (importing one submodule stays cheap). The formats
#: the golden model reads and writes (stimulus, trace records, signatures) are the ground's:
#: :mod:`spikecore.stimulus`, :mod:`spikecore.trace`, :mod:`spikecore.signature`.
_EXPORTS = {
    "CycleChip": "cycle",
    "OutSpike": "cycle",
    "LoadedImage": "cycle",
    "unpack_image": "cycle",
    "FunctionalChip": "functional",
    "CycleBoard": "board",
    "FunctionalBoard": "board",
    "RunResult": "run",   # the function run() shares its module's name: import it from spikecore.golden.run
    "summarize": "summary",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
