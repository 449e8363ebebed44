"""Write the Verilog of the SpikeCore array for one or more core counts.

    python -m spikecore.app.generate --cores 1,4,16,128 --out build/rtl

writes ``build/rtl/spikecore_<N>c.v`` for each N (``make rtl``). Every file's top module is named
``spikecore`` (:data:`TOP_MODULE`), with ``clk``, ``rst`` and the host and trace ports of docs/spec.md
§8; it instantiates one core module, ``spikecore_core``, N times (:mod:`spikecore.rtl.instanced`). The
other chip sizes default to the product configuration and can be changed with ``--neurons``,
``--weight-bytes``, ``--imem-depth``, ``--event-depth`` and ``--fanout-depth``. Generated Verilog is a
build product: it lives under ``build/`` and is never committed.
"""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from spikecore import outputs
from spikecore.config import ChipConfig
from spikecore.rtl import instanced
from spikecore.rtl.array import SpikeCoreArray

#: Name of the top module in every generated file.
TOP_MODULE = "spikecore"


def verilog_path(out_dir: str | Path, cores: int) -> Path:
    """Where the Verilog of a ``cores``-core array goes."""
    return Path(out_dir) / f"{TOP_MODULE}_{cores}c.v"


def generate_verilog(config: ChipConfig, *, emit_src: bool = False, shared_core: bool = True) -> str:
    """The Verilog text of a :class:`SpikeCoreArray` for ``config`` (top module :data:`TOP_MODULE`).

    ``shared_core`` (default): one core module, instantiated ``config.cores`` times
    (:mod:`spikecore.rtl.instanced`), so a Verilog tool compiles the core once; ``False`` writes
    Amaranth's flattened form, one module per core. ``emit_src`` adds a source-location attribute to
    every statement (several times larger output).
    """
    if shared_core:
        return instanced.generate_verilog(config, TOP_MODULE, emit_src=emit_src)
    return verilog.convert(SpikeCoreArray(config), name=TOP_MODULE, emit_src=emit_src)


def write_verilog(config: ChipConfig, out_dir: str | Path, *, emit_src: bool = False) -> Path:
    """Generate and write the Verilog for ``config``; return the file's path."""
    path = verilog_path(out_dir, config.cores)
    path.parent.mkdir(parents=True, exist_ok=True)
    outputs.write_text(path, generate_verilog(config, emit_src=emit_src))
    return path
