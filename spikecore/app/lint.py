"""Verilator lint of generated Verilog, with the waivers of ``rtl/lint_waivers.vlt`` and nothing else.

The command line of :mod:`spikecore.verif.lint`:

    python -m spikecore.app.lint build/rtl/spikecore_4c.v [more.v ...]

Prints ``<file>: lint clean`` per file. A file that does not exist is a user mistake (one line, exit 2);
a file Verilator warns about fails the lint (one line naming its first warning, exit 1).
"""

from __future__ import annotations

import sys
from pathlib import Path

from spikecore.app.cli_support import ArgumentParser, report_error
from spikecore.errors import SpikeCoreError
from spikecore.verif.lint import lint


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m spikecore.app.lint", description=__doc__.splitlines()[0])
    parser.add_argument("verilog", nargs="+", help="Verilog files to lint (make rtl writes them to build/rtl/)")
    args = parser.parse_args(argv)
    missing = [path for path in args.verilog if not Path(path).is_file()]
    if missing:
        return report_error(parser.prog, SpikeCoreError(f"{missing[0]}: not found (run 'make rtl')"))
    for path in args.verilog:
        try:
            lint(path)
        except SpikeCoreError as error:
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 1
        print(f"{path}: lint clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
