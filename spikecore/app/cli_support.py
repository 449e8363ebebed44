"""What every command line of the project shares: a user mistake is one line on stderr and exit status 2.

``spikecore``, ``make sim`` and each ``python -m spikecore....`` entry point build their parser from
:class:`ArgumentParser`, catch :data:`USER_ERRORS` around their work and print what they caught with
:func:`report_error`::

    spikecore run: error: argument --steps: invalid int value: 'abc' (see spikecore run --help)
    python -m spikecore.app.sim: error: missing.bin: No such file or directory

Anything else (a bug) still ends in a traceback, on purpose: only the user's mistakes are one line.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from spikecore.errors import SpikeCoreError

#: What a command reports as one line: the user's mistakes, and the operating system's word on their files.
USER_ERRORS: tuple[type[Exception], ...] = (SpikeCoreError, OSError)


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line (``<prog>: error: <what> (see <prog> --help)``).

    Sub-parsers made with ``add_subparsers().add_parser`` inherit the class, so every sub-command of a
    command line built from it behaves the same.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def error_message(error: BaseException) -> str:
    """The one line that describes ``error``: ``<file>: <reason>`` for an OSError naming a file, else its text.

    A message that spans lines (a third-party library's) is joined into one.
    """
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}"
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return text or type(error).__name__


def report_error(prog: str, error: BaseException) -> int:
    """Print ``<prog>: error: <message>`` on stderr; returns the exit status of a user mistake, 2."""
    print(f"{prog}: error: {error_message(error)}", file=sys.stderr)
    return 2
