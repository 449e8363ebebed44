"""The ``spikecore`` command line: one sub-command per job, each registered from one function.

    spikecore asm prog.s -o prog.bin          assemble (docs/spec.md §9) to a binary image (§7)
    spikecore disasm prog.bin [-o prog.s]     disassemble an image back to assembly
    spikecore run prog.bin|prog.s --steps N [--inputs stim.csv] [--trace out.csv|out.jsonl] [--functional]

A sub-command is a function ``register(subparsers)`` that adds its parser and sets ``handler`` (a
function ``(args) -> int``) as a default. :data:`COMMANDS` lists every registrar as ``"module:function"``;
a package adds a command by adding one line there. Registrars are imported only when the parser is built.

A user mistake (:class:`SpikeCoreError`, or an ``OSError`` such as a missing file) is printed as one line
``spikecore: error: <message>`` on stderr and exits with status 2, never with a traceback; so is a usage
error (``spikecore run: error: argument --steps: ...``, :mod:`spikecore.app.cli_support`).

A reader that stops early (``spikecore disasm prog.bin | head -1``) closes the pipe: ``spikecore`` then stops
quietly with status 141 (128 + SIGPIPE, what a shell shows for ``cat big | head``), printing nothing more.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from spikecore import outputs
from spikecore.app.cli_support import ArgumentParser, guarded
from spikecore.errors import SpikeCoreError

if TYPE_CHECKING:
    from spikecore.image import Image

# Command handlers import their packages when they run, so that `spikecore asm` never loads numpy or the
# golden model, and a command whose package is still missing breaks only that command.

#: Every sub-command's registrar, ``"module:function"``; each takes the argparse sub-parsers action.
COMMANDS: list[str] = [
    "spikecore.app.cli:register_asm",
    "spikecore.app.cli:register_disasm",
    "spikecore.app.cli:register_run",
    "spikecore.app.cli_compile:register",
    "spikecore.app.cli_sim:register",
    "spikecore.app.waves:register",
    "spikecore.app.cli_export:register",
    "spikecore.app.nir_compare:register",
    "spikecore.app.profile:register",
    "spikecore.app.cli_regress:register",
    "spikecore.app.cli_mutate:register",
]

#: Suffixes of assembly source files; every other file is read as a binary image.
ASSEMBLY_SUFFIXES = (".s", ".asm")

Handler = Callable[[argparse.Namespace], int]


# --- shared helpers -----------------------------------------------------------------------------------------


def read_text(path: str | Path) -> str:
    """A UTF-8 text file's contents (a leading byte-order mark dropped); a binary file is a user mistake."""
    from spikecore.grammar import read_text_file

    return read_text_file(path)


def load_program(path: str | Path) -> Image:
    """The :class:`~spikecore.image.Image` in ``path``: assembled if it is ``.s``/``.asm``, else decoded."""
    from spikecore.compiler.asm import assemble
    from spikecore.image import load_image

    if Path(path).suffix.lower() in ASSEMBLY_SUFFIXES:
        return assemble(read_text(path), str(path))
    return load_image(path)


def write_output(text: str, path: str | None) -> None:
    """Write ``text`` to ``path``, or to stdout when ``path`` is None or ``-``."""
    if path is None or path == "-":
        sys.stdout.write(text)
    else:
        outputs.write_text(path, text)


# --- asm ------------------------------------------------------------------------------------------------------


def _asm(args: argparse.Namespace) -> int:
    from spikecore.compiler.asm import assemble
    from spikecore.image import encode_image

    source = Path(args.source)
    output = Path(args.output) if args.output else source.with_suffix(".bin")
    outputs.refuse_overlap([("source", source)], [("--output", output)])
    image = assemble(read_text(source), str(source))
    data = encode_image(image, str(output))
    outputs.write_bytes(output, data)
    sections = len(image.cores)
    print(f"{output}: {len(data)} bytes, {sections} core section{'' if sections == 1 else 's'} "
          f"({image.config.describe()})")
    return 0


def register_asm(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("asm", help="assemble a .s source into a binary image",
                                   description="Assemble SpikeCore assembly (docs/spec.md §9) into a binary image.")
    parser.add_argument("source", help="assembly source file")
    parser.add_argument("-o", "--output", help="image file to write (default: the source with suffix .bin)")
    parser.set_defaults(handler=_asm)


# --- disasm ---------------------------------------------------------------------------------------------------


def _disasm(args: argparse.Namespace) -> int:
    from spikecore.compiler.disasm import disassemble_image
    from spikecore.image import load_image

    outputs.refuse_overlap([("image", args.image)], [("--output", args.output)])
    image = load_image(args.image)
    write_output(disassemble_image(image, str(args.image)), args.output)
    return 0


def register_disasm(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("disasm", help="disassemble a binary image to assembly",
                                   description="Disassemble a SpikeCore image; the text assembles back to the "
                                               "identical image.")
    parser.add_argument("image", help="binary image file")
    parser.add_argument("-o", "--output", help="assembly file to write (default: stdout)")
    parser.set_defaults(handler=_disasm)


# --- run ------------------------------------------------------------------------------------------------------


def check_steps(steps: int, option: str = "--steps", least: int = 1) -> None:
    """Raise :class:`SpikeCoreError` unless ``least <= steps <= MAX_STEP`` (docs/spec.md §12): the one rule and
    wording of ``--steps`` for ``run``, ``sim`` and ``profile`` (``least=1``: a run of no step shows nothing);
    ``spikecore compare`` passes ``least=0``."""
    from spikecore.stimulus import MAX_STEP

    if not least <= steps <= MAX_STEP:
        raise SpikeCoreError(f"{option} must be {least}..{MAX_STEP}, not {steps}")


def _run(args: argparse.Namespace) -> int:
    check_steps(args.steps)
    outputs.refuse_overlap([("program", args.program), ("--inputs", args.inputs)], [("--trace", args.trace)])
    if args.trace is not None:
        suffix = Path(args.trace).suffix.lower()
        if suffix not in (".csv", ".jsonl"):
            raise SpikeCoreError(f"{args.trace}: trace file must end in .csv or .jsonl, not {suffix or '(none)'!r}")
        if args.functional:
            raise SpikeCoreError("--trace needs the cycle-accurate model; the functional model (--functional) "
                                 "emits no trace records")
    from spikecore.golden.run import check_reached, run
    from spikecore.golden.summary import summarize
    from spikecore.stimulus import Stimulus
    from spikecore.trace import write_trace

    image = load_program(args.program)
    stimulus = Stimulus.load(args.inputs) if args.inputs else None
    if stimulus is not None:
        check_reached(stimulus, args.steps)
    result = run(image, stimulus, steps=args.steps, chip="functional" if args.functional else "cycle")
    if args.trace is not None:
        if result.trace is None:
            raise SpikeCoreError(f"{args.trace}: the run produced no trace to write")
        write_trace(args.trace, result.trace)
    print(summarize(result))
    return 0


def register_run(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run an image (or assembly source) on the golden model",
                                   description="Run a program on the golden model and print a summary.")
    parser.add_argument("program", help="binary image, or assembly source (.s, .asm)")
    parser.add_argument("--steps", type=int, default=1, help="timesteps to run (default: 1)")
    parser.add_argument("--inputs", metavar="STIM", help="stimulus file (.csv: step,core,axon,payload; or .json)")
    parser.add_argument("--trace", metavar="OUT", help="write the trace records to OUT (.csv or .jsonl)")
    parser.add_argument("--functional", action="store_true",
                        help="use the fast functional model: the same state and the same array (board) cycle "
                             "count, from the timing table of docs/spec.md §5, but no trace records (no --trace)")
    parser.set_defaults(handler=_run)


# --- the entry point ------------------------------------------------------------------------------------------


def _registrar(entry: str) -> Callable[[argparse._SubParsersAction], None]:
    module_name, _, function_name = entry.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def build_parser() -> argparse.ArgumentParser:
    """The ``spikecore`` parser with every command of :data:`COMMANDS` registered."""
    parser = ArgumentParser(prog="spikecore", description="SpikeCore toolchain: assemble and disassemble images, "
                            "compile PyTorch and NIR models (one chip or a board), run them on the golden model or "
                            "the RTL under Verilator, compare, profile, regress and grade the bench.")
    parser.add_argument("--verbose", action="store_true",
                        help="print notices and warnings as they happen, and a traceback for an internal error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry in COMMANDS:
        _registrar(entry)(subparsers)
    return parser


#: Exit status when the reader of standard output went away (128 + SIGPIPE, as a shell reports a piped tool).
BROKEN_PIPE = 128 + signal.SIGPIPE


def _command(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed usage (status 2) or help (status 0)
        return exit_.code if isinstance(exit_.code, int) else 2
    handler: Handler = args.handler
    return guarded(parser.prog, lambda: handler(args), verbose=args.verbose)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 2 user mistake or usage error, 141 stdout closed early)."""
    try:
        status = _command(argv)
        sys.stdout.flush()  # a pipe closed early fails here, inside the try, not at interpreter exit
    except BrokenPipeError:
        # Python's "Note on SIGPIPE" (library/signal.html): point stdout at devnull so that the flush at exit
        # cannot fail again, and stop without a message; the reader asked for no more output.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE
    return status


if __name__ == "__main__":
    sys.exit(main())
