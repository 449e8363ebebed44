"""Helpers shared by several test modules: the repository's folders, small chip configs, instruction words.

Import them as ``from tests.helpers import ...`` (the test folders are packages, see tests/__init__.py).
"""

from __future__ import annotations

from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.isa import Instruction, Opcode, encode

#: The repository's root folder, and its example programs.
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: A small chip for hand-worked golden-model programs: 4 cores of 8 neurons, 16 weight bytes, 16 instructions,
#: 4 buffered events, 8 fan-out entries.
SMALL_CHIP = ChipConfig(cores=4, neurons=8, weight_bytes=16, imem_depth=16, event_depth=4, fanout_depth=8)


def word(op: str, **fields: object) -> int:
    """One instruction word: ``word("ACC", neuron=0, count=2, wbase=0)``."""
    return encode(Instruction(Opcode[op], **fields))
