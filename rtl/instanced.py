"""The array's Verilog with one core module instantiated ``cores`` times (the Verilog-generation path).

Amaranth elaborates every :class:`~spikecore.rtl.core.Core` of a :class:`~spikecore.rtl.array.SpikeCoreArray`
into its own Verilog module (``spikecore.core0`` … ``spikecore.core127``), although the cores are
identical: a core's id appears nowhere in its logic (the array places each core's records on the trace
port by position). Verilator would then compile the same core 128 times. Here the core is converted
once, as module :data:`CORE_MODULE`, and the array instantiates it with an Amaranth ``Instance`` per
core, so the generated file holds one core module and Verilator compiles it once.

The RTL stays one Amaranth description: :class:`InstancedArray` is the same array with only
:meth:`~spikecore.rtl.array.SpikeCoreArray.make_core` replaced. Amaranth's simulator cannot run an
``Instance``, so the Amaranth-simulator tests keep using :class:`~spikecore.rtl.array.SpikeCoreArray`.
"""

from __future__ import annotations

import re

from amaranth.back import verilog
from amaranth.hdl import ClockSignal, Instance, ResetSignal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from spikecore.config import ChipConfig
from spikecore.rtl.array import SpikeCoreArray
from spikecore.rtl.board import SpikeCoreBoard
from spikecore.rtl.core import Core, core_signature

#: Verilog name of the one shared core module.
CORE_MODULE = "spikecore_core"
#: Verilog name of the core's ``trace`` port (spec §8.5's per-core records) in the generated Verilog. Verilator's
#: hierarchical verilation (verif/build.py) turns the core module into a C++ class with one member per port,
#: and a port named ``trace`` collides with that class's ``trace()`` method; the Amaranth description keeps
#: ``Core.trace``.
CORE_TRACE_PORT = "trace_out"
#: The core's ``trace`` port as a plain identifier (not part of a longer or escaped name) and its fields'
#: escaped names (``\\trace.acc_valid``), which :data:`CORE_TRACE_PORT` replaces in the core's Verilog.
_TRACE_NAME = re.compile(r"(?<![\w\\$.])trace(?![\w$.])")
_TRACE_FIELD = re.compile(r"\\trace\.")


def core_ports(component: wiring.Component) -> dict[str, Value]:
    """``Instance`` keyword arguments connecting every port of ``component`` by its Verilog name.

    Amaranth names a top-level port after its signature path joined with ``__``; ``i_``/``o_`` follow
    the member's flow. Clock and reset are the ``sync`` domain's, as in the converted core.
    """
    ports: dict[str, Value] = {"i_clk": ClockSignal("sync"), "i_rst": ResetSignal("sync")}
    for path, member, value in component.signature.flatten(component):
        prefix = "i_" if member.flow == In else "o_"
        name = "__".join(str(part) for part in path)
        ports[prefix + (CORE_TRACE_PORT if name == "trace" else name)] = Value.cast(value)
    return ports


class CoreInstance(wiring.Component):
    """A stand-in for :class:`~spikecore.rtl.core.Core` with the same signature, elaborated as an
    ``Instance`` of :data:`CORE_MODULE` (whose Verilog :func:`generate_verilog` adds)."""

    def __init__(self, config: ChipConfig, core_id: int) -> None:
        self.core_id = core_id
        super().__init__(core_signature(config))

    def elaborate(self, platform):
        return Instance(CORE_MODULE, **core_ports(self))


class InstancedArray(SpikeCoreArray):
    """:class:`~spikecore.rtl.array.SpikeCoreArray` whose cores are instances of one core module."""

    def make_core(self, core_id: int) -> wiring.Component:
        return CoreInstance(self.config, core_id)


class InstancedBoard(SpikeCoreBoard):
    """:class:`~spikecore.rtl.board.SpikeCoreBoard` whose chips are :class:`InstancedArray` s: every core of
    every chip is an instance of the one core module."""

    def make_array(self, chip: int) -> SpikeCoreArray:
        return InstancedArray(self.config, chip=chip)


def generate_verilog(config: ChipConfig, top: str, *, emit_src: bool = False,
                     array: wiring.Component | None = None) -> str:
    """Verilog of the array for ``config``: top module ``top`` plus :data:`CORE_MODULE` (converted once).

    ``array``: the top component (default ``InstancedArray(config)``, or ``InstancedBoard(config)`` for a
    board, ``config.chips > 1``; the testbench passes a subclass that adds checks beside the cores). The
    core's own ``top`` attribute is dropped: the array (or the board) is the design's one top module.
    """
    if array is None:
        array = InstancedBoard(config) if config.chips > 1 else InstancedArray(config)
    top_text = verilog.convert(array, name=top, emit_src=emit_src)
    core = verilog.convert(Core(config, 0), name=CORE_MODULE, emit_src=emit_src)
    core = re.sub(r"^\(\* top = +1 +\*\)\n", "", core, flags=re.MULTILINE)
    return top_text + "\n" + rename_trace_port(core)


def rename_trace_port(core_verilog: str) -> str:
    """The core module's Verilog with its ``trace`` port (and that record's field wires) renamed to
    :data:`CORE_TRACE_PORT`; raises :class:`ValueError` if the port is not in the module header."""
    header = re.search(r"^module [^(]*\((.*?)\);", core_verilog, flags=re.MULTILINE | re.DOTALL)
    if header is None or "trace" not in [name.strip() for name in header.group(1).split(",")]:
        raise ValueError("rename_trace_port: the core module has no port named trace")
    return _TRACE_FIELD.sub("\\\\" + CORE_TRACE_PORT + ".", _TRACE_NAME.sub(CORE_TRACE_PORT, core_verilog))
