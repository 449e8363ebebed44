"""Which trace format a traced run writes: VCD for small arrays, FST for big ones.

Verilator compiles one trace format into a simulator (``--trace`` for VCD, ``--trace-fst`` for FST), so the
format is a property of the build configuration: a traced run uses the build of its format
(``build/verilator/array<N>`` or ``array<N>-fst``, :func:`spikecore.verif.build.build_array`); plain runs use
that same build with tracing switched off.

The default follows the array size: VCD (plain text, readable by any tool) up to :data:`FST_FROM_CORES`
cores, FST (compressed, GTKWave's own format) from there on — one 128-core sample of ``make sim`` is 86 MB
as VCD. ``WAVES_FORMAT=vcd|fst`` in the environment, or an explicit argument, overrides the default.
"""

from __future__ import annotations

import os
from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError

FORMATS = ("vcd", "fst")
#: Arrays of this many cores or more trace to FST by default (16 cores and fewer keep VCD).
FST_FROM_CORES = 32
#: Environment variable that overrides the default format.
ENV = "WAVES_FORMAT"


def check_format(name: str, origin: str = "trace format") -> str:
    """``name`` lower-cased if it is ``vcd`` or ``fst``; else :class:`SpikeCoreError` naming ``origin``."""
    value = name.strip().lower()
    if value not in FORMATS:
        raise SpikeCoreError(f"{origin} must be vcd or fst, not {name!r}")
    return value


def default_format(config: ChipConfig) -> str:
    """``fst`` for arrays of :data:`FST_FROM_CORES` cores or more, else ``vcd``."""
    return "fst" if config.cores >= FST_FROM_CORES else "vcd"


def trace_format(config: ChipConfig, requested: str | None = None) -> str:
    """The format a traced run of ``config`` writes: ``requested``, else ``$WAVES_FORMAT``, else the default.

    Raises :class:`SpikeCoreError` for any other value than ``vcd`` or ``fst``.
    """
    if requested:
        return check_format(requested)
    env = os.environ.get(ENV, "")
    if env:
        return check_format(env, ENV)
    return default_format(config)


def dump_name(fmt: str) -> str:
    """File name the cocotb Verilator main writes in the run folder: ``dump.vcd`` or ``dump.fst``."""
    return f"dump.{check_format(fmt)}"


def find_dump(run: Path) -> Path:
    """The wave file of run folder ``run`` (``dump.fst`` or ``dump.vcd``; the newer if both exist).

    Raises :class:`SpikeCoreError` when there is neither.
    """
    found = [run / dump_name(fmt) for fmt in FORMATS if (run / dump_name(fmt)).exists()]
    if not found:
        raise SpikeCoreError(f"{run}: holds no dump.vcd or dump.fst (run the simulation with --waves)")
    return max(found, key=lambda p: p.stat().st_mtime)
