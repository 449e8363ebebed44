"""What every command line of the project shares: a user mistake is one line on stderr and exit status 2.

``spikecore``, ``make sim`` and each ``python -m spikecore....`` entry point build their parser from
:class:`ArgumentParser`, catch :data:`USER_ERRORS` around their work and print what they caught with
:func:`report_error`::

    spikecore run: error: argument --steps: invalid int value: 'abc' (see spikecore run --help)
    python -m spikecore.app.sim: error: missing.bin: No such file or directory

:func:`guarded` runs a command the way every entry point should: its outputs in one
:func:`spikecore.outputs.transaction` (renamed into place only if it succeeds), its :func:`notice` lines
and Python warnings held back until it has succeeded (so a failure is exactly one line), and anything
else that escapes it (a bug in the project, never the user's input) reported as one clearly labelled line
``<prog>: internal error: ...`` with exit status 1 (``--verbose`` adds the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from typing import NoReturn

from spikecore import outputs
from spikecore.errors import SpikeCoreError

#: What a command reports as one line: the user's mistakes, and the operating system's word on their files.
USER_ERRORS: tuple[type[Exception], ...] = (SpikeCoreError, OSError)


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line (``<prog>: error: <what> (see <prog> --help)``).

    Sub-parsers made with ``add_subparsers().add_parser`` inherit the class, so every sub-command of a
    command line built from it behaves the same.

    A make flow (``make sim``, ``make regress``) passes ``make_knobs``, ``{flag: make variable}``
    (``{"--rtl-samples": "RTL_SAMPLES"}``): the user typed the variable, not the flag, so its messages name the
    variable with its flag and value (``RTL_SAMPLES=-1 (--rtl-samples): must be 0 or more, not -1``), for
    argparse's usage errors and, through :meth:`report_error`, for the command's own; ``help_hint`` replaces
    ``<prog> --help`` (``make sim --help`` is no command).
    """

    def __init__(self, *args, make_knobs: dict[str, str] | None = None, help_hint: str | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.make_knobs = dict(make_knobs or {})
        self.help_hint = help_hint
        self._given: dict[str, str] = {}

    def parse_known_args(self, args=None, namespace=None):
        argv = list(sys.argv[1:] if args is None else args)
        for i, word in enumerate(argv):     # the value of each knob as given, for the messages
            flag, equals, value = word.partition("=")
            if flag in self.make_knobs:
                if equals:
                    self._given[flag] = value
                elif i + 1 < len(argv):
                    self._given[flag] = argv[i + 1]
        return super().parse_known_args(argv, namespace)

    def in_make_words(self, message: str) -> str:
        """``message`` with a make knob's flag named as the user wrote it, ``VAR=value (--flag)``."""
        for flag, variable in self.make_knobs.items():
            value = self._given.get(flag, "")
            name = f"{variable}={value} ({flag})"
            for head in (f"argument {flag}: ", f"{flag} {value}: ", f"{flag} {value!r}: ", f"{flag}: "):
                if message.startswith(head):
                    return f"{name}: {message[len(head):]}"
            if message.startswith(f"{flag} must "):       # "--seeds must be 1 or more, not 0"
                return f"{name}: {message[len(flag) + 1:]}"
        return message

    def error(self, message: str) -> NoReturn:
        hint = self.help_hint or f"{self.prog} --help"
        self.exit(2, f"{self.prog}: error: {self.in_make_words(message)} (see {hint})\n")

    def report_error(self, error: BaseException) -> int:
        """:func:`report_error` under this parser's ``prog``, a make knob named as the user wrote it; returns 2."""
        print(f"{self.prog}: error: {self.in_make_words(error_message(error))}", file=sys.stderr)
        return 2


class OneMeaning(argparse.Action):
    """Store an option given under its name and its old spelling (``--encoding``/``--mode``, ``--check``/
    ``--mode``) into one ``dest``, refusing the two spellings with different values in one command line.

    Without it argparse lets the last one win silently (``--encoding rate --mode graded`` compiled graded).
    The refusal is a usage error (:meth:`ArgumentParser.error`): ``<prog>: error: --encoding rate and --mode
    graded contradict each other (--mode is the old spelling of --encoding) (see <prog> --help)``.
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values,
                 option_string: str | None = None) -> None:
        key = f"_spelled_{self.dest}"
        given = dict(getattr(namespace, key, None) or {})
        for other, value in given.items():
            if other != option_string and value != values:
                new, old = self.option_strings[0], self.option_strings[-1]
                parser.error(f"{other} {value} and {option_string} {values} contradict each other "
                             f"({old} is the old spelling of {new}); give one")
        given[option_string] = values
        setattr(namespace, key, given)
        setattr(namespace, self.dest, values)


#: Set by the Makefile on a flow's command line (``SPIKECORE_MAKE="make regress"``): the make command the user typed.
MAKE_FLOW = "SPIKECORE_MAKE"


def flow_parser(prog: str, make_knobs: dict[str, str], make: str | None = None, **kwargs) -> ArgumentParser:
    """The parser of an entry point a make target runs: named ``make`` (default: the :data:`MAKE_FLOW`
    environment variable) with its knobs named as make variables when run by make, else a plain ``prog``."""
    make = make or os.environ.get(MAKE_FLOW)
    if not make:
        return ArgumentParser(prog=prog, **kwargs)
    return ArgumentParser(prog=make, make_knobs=make_knobs, help_hint=f"README.md: {make}", **kwargs)


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


#: Exit status of an internal error (a bug), distinct from a user mistake's 2.
INTERNAL_ERROR = 1

_notices: ContextVar[list[str] | None] = ContextVar("spikecore_notices", default=None)


def notice(text: str) -> None:
    """An informational line for stderr (e.g. "no --calib given; ...").

    Inside :func:`guarded` it is printed only once the command has succeeded (at once with ``--verbose``),
    so that a failing command prints exactly its one error line; elsewhere it is printed at once.
    """
    pending = _notices.get()
    if pending is None:
        print(text, file=sys.stderr)
    else:
        pending.append(text)


def guarded(prog: str, work: Callable[[], int], verbose: bool = False) -> int:
    """Run ``work`` (a command; returns its exit status) with atomic outputs, held-back notices and warnings.

    Returns ``work``'s status; 2 after printing one line for a user mistake (:data:`USER_ERRORS`); 1 after
    printing ``<prog>: internal error: <type>: <message>`` for any other exception (with the traceback when
    ``verbose``). Outputs are committed only for status 0. A :class:`BrokenPipeError` (the reader of stdout
    went away, ``| head``) is raised on, outputs discarded, for the entry point to stop quietly.
    """
    pending: list[str] = []
    token = _notices.set(None if verbose else pending)
    try:
        with warnings.catch_warnings(record=not verbose) as caught, outputs.transaction() as txn:
            if not verbose:
                warnings.simplefilter("default")
            status = work()
            if status != 0:
                txn.discard()
    except BrokenPipeError:  # stdout's reader went away: not the user's input; the entry point stops quietly
        raise
    except USER_ERRORS as err:
        return report_error(prog, err)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; no output written", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: say so in one line, never blame the input
        if verbose:
            traceback.print_exc()
        first = error_message(err)[:300]
        print(f"{prog}: internal error: {type(err).__name__}: {first} (a bug in SpikeCore, not in your input; "
              "--verbose shows the traceback)", file=sys.stderr)
        return INTERNAL_ERROR
    finally:
        _notices.reset(token)
    if status == 0:
        for text in pending:
            print(text, file=sys.stderr)
        for warning in caught or []:
            print(f"{prog}: warning: {error_message(warning.message)}", file=sys.stderr)
    return status
