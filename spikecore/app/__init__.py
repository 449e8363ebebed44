"""The application layer: command lines, the ``make sim`` demo flow, model runtimes, NIR compare, plots.

Nothing below (the ground :mod:`spikecore`, the compiler, golden model, RTL and verification) imports it.
"""
