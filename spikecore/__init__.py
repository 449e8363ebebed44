"""SpikeCore: an open reference for verifying a neuromorphic accelerator end to end.

Layers, bottom to top (nothing imports a layer above it; ``lint-imports`` checks the contracts in
pyproject.toml):

1. the ground, this package's own modules: the ISA table (:mod:`spikecore.isa`), chip sizes and their
   text form (:mod:`spikecore.config`), errors, and every shared format: the binary image
   (:mod:`spikecore.image`), trace records (:mod:`spikecore.trace`), the trace signature
   (:mod:`spikecore.signature`) and the host's stimulus (:mod:`spikecore.stimulus`);
2. ``spikecore.compiler`` (``compiler/``), ``spikecore.golden`` (``golden/``), ``spikecore.rtl`` (``rtl/``):
   siblings that import only the ground;
3. ``spikecore.verif`` (``verif/``): every host of the chip, scoreboards, regressions;
4. ``spikecore.app`` (``spikecore/app/``): command lines, the ``make sim`` flow, model runtimes, plots.
"""

__version__ = "0.1.0"
