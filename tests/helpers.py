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

#: Core 0 (every step) fires its neuron each step (weight 1, threshold 1, reset=always) into core 1 axon 0;
#: core 1 accumulates weight 3 per event, with the given period and phase.
PERIOD_PAIR = """
.chip cores=2 neurons=2 weight_bytes=4 imem_depth=4 event_depth=4 fanout_depth=2
.core 0
    acc  neuron=0, count=1, wbase=0
    fire neuron=0, count=1, shift=0, reset=always, graded=0
    halt
.weights 0: 1
.neuron 0 threshold=1 reset=0 init=0 fanout_start=0 fanout_count=1
.fanout 0: 1:0
.core 1
.period {period} {phase}
    acc  neuron=0, count=1, wbase=0
    halt
.weights 0: 3
"""


def word(op: str, **fields: object) -> int:
    """One instruction word: ``word("ACC", neuron=0, count=2, wbase=0)``."""
    return encode(Instruction(Opcode[op], **fields))
