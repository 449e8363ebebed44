"""SpikeCore golden model: the executable spec (docs/spec.md), in pure Python + numpy.

Two paths over the same semantics, tested against each other:

- :class:`spikecore.golden.cycle.CycleChip` — cycle-accurate; every step returns the trace records
  (docs/spec.md §6) the RTL must reproduce cycle for cycle.
- :class:`spikecore.golden.functional.FunctionalChip` — fast functional path (vectorised numpy) for
  large evaluations; same final state, outputs and drop counters, no trace.

:func:`spikecore.golden.run.run` drives either over a stimulus for a number of steps.
"""
