"""SpikeCore: an open reference for verifying a neuromorphic accelerator end to end.

Subpackages map onto the repository's top-level folders: ``spikecore.compiler`` (``compiler/``),
``spikecore.golden`` (``golden/``), ``spikecore.rtl`` (``rtl/``), ``spikecore.verif`` (``verif/``).
The ISA table is :mod:`spikecore.isa`; chip sizes are :mod:`spikecore.config`.
"""

__version__ = "0.1.0"
