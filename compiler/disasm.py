"""The SpikeCore disassembler: instruction words and whole images back to assembly text (docs/spec.md §9).

It prints with the assembler's own tables (:data:`spikecore.compiler.asm.MNEMONICS`,
:func:`~spikecore.compiler.asm.operand_names`, :func:`~spikecore.compiler.asm.format_operand`), and
:func:`disassemble_image` lists every word, weight, neuron record and fan-out entry the image holds, so
for every valid image::

    encode_image(assemble(disassemble_image(image))) == encode_image(image)

>>> disassemble_word(0x304033F0)
'fire neuron=4, count=4, shift=7, reset=always, graded=1'
"""

from __future__ import annotations

from collections.abc import Iterable

from spikecore import isa
from spikecore.compiler.asm import HOST_KEYWORD, OPTIONAL_OPERANDS, format_operand, mnemonic, operand_names
from spikecore.config import format_chip
from spikecore.image import Image, validate_image

#: Weights and fan-out entries printed per line.
ITEMS_PER_LINE = 16
#: Column where the address/word comment of an instruction line starts.
DISASM_COMMENT_COLUMN = 64


def disassemble_word(word: int) -> str:
    """One instruction as one assembly line; an invalid word raises :class:`SpikeCoreError`."""
    instr = isa.decode(word)
    operands = instr.operands()
    text = ", ".join(f"{name}={format_operand(name, operands[name])}" for name in operand_names(instr.opcode)
                     if operands[name] or name not in OPTIONAL_OPERANDS)
    return f"{mnemonic(instr.opcode)} {text}".rstrip()


def disassemble_program(words: Iterable[int]) -> str:
    """A bare program, one instruction per line; :func:`~spikecore.compiler.asm.assemble_program` reads it back."""
    return "".join(f"{disassemble_word(word)}\n" for word in words)


def _rows(items: list[str], start: int = 0) -> Iterable[tuple[int, list[str]]]:
    for offset in range(0, len(items), ITEMS_PER_LINE):
        yield start + offset, items[offset:offset + ITEMS_PER_LINE]


def disassemble_image(image: Image, name: str = "image") -> str:
    """Assembly text for a whole image; invalid images are refused with the loader's message."""
    validate_image(image, name)
    config = image.config
    lines = [
        f"; SpikeCore image: {config.describe()}",
        ".chip " + format_chip(config),
    ]
    board = config.chips > 1
    for core_id in sorted(image.cores):
        core = image.cores[core_id]
        lines += ["", ".core {}:{}".format(*image.chip_of(core_id)) if board else f".core {core_id}"]
        if (core.period, core.phase) != (1, 0):
            lines.append(f".period {core.period} {core.phase}")
        for address, word in enumerate(core.program):
            lines.append(f"    {disassemble_word(word)}".ljust(DISASM_COMMENT_COLUMN) + f"; {address:4d}  0x{word:08x}")
        for address, row in _rows([str(w) for w in core.weights]):
            lines.append(f".weights {address}: " + " ".join(row))
        for index, params in enumerate(core.neurons):
            lines.append(f".neuron {index} " + " ".join(f"{key}={getattr(params, key)}" for key in isa.NEURON_FIELDS))
        entries = [(f"{e.chip}:" if board else "") + f"{HOST_KEYWORD if e.to_host else e.core}:{e.axon}"
                   for e in core.fanout]
        for index, row in _rows(entries):
            lines.append(f".fanout {index}: " + " ".join(row))
    return "\n".join(lines) + "\n"


def instruction_text(ins: isa.Instruction) -> str:
    """One instruction as assembly (the disassembler's spelling of its encoded word)."""
    return disassemble_word(isa.encode(ins))
