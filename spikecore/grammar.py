"""The lexical rules every text reader of the project shares (docs/spec.md §9 and §12).

Readers of user text (assembly, stimulus CSV/JSON, ``--chip`` strings) use these instead of Python's own
rules, which are wider than the spec's:

- a text file is UTF-8; one leading byte-order mark (U+FEFF, written by Notepad and Excel's "CSV UTF-8")
  is dropped;
- lines end only at ``\\n`` (a ``\\r`` just before it belongs to the line end); ``str.splitlines`` would also
  split at form feed, U+001C..U+001E, U+0085, U+2028 and U+2029;
- an integer is ``[+|-]`` then ASCII decimal digits or ``0x`` and hex digits, at most
  :data:`MAX_INT_DIGITS` digits; ``int()`` would also take ``1_0``, ``٣`` and surrounding Unicode space, and
  fail with its own message past 4,300 digits.

>>> split_lines("a\\r\\nb\\x0cc\\n")
['a', 'b\\x0cc']
>>> parse_int("0x1F", "axon")
31
"""

from __future__ import annotations

import re
from pathlib import Path

from spikecore.errors import SpikeCoreError

#: The byte-order mark a UTF-8 file may start with.
BOM = "\ufeff"
#: Digits an integer token may have; every count and field of the project fits in far fewer (2**64 has 20).
MAX_INT_DIGITS = 24
#: How much of an offending token a message quotes.
QUOTE_LIMIT = 40

_INT = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|([0-9]+))")
_BAD_CHAR = re.compile(r"[^\t\x20-\x7e]")


def strip_bom(text: str) -> str:
    """``text`` without one leading byte-order mark."""
    return text[1:] if text.startswith(BOM) else text


def split_lines(text: str) -> list[str]:
    """The lines of ``text``: split at ``\\n`` only, a ``\\r`` before it dropped, no empty last line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def quote(token: str, limit: int = QUOTE_LIMIT) -> str:
    """``repr(token)`` shortened to about ``limit`` characters, for messages (always one line)."""
    if len(token) > limit:
        return repr(token[: limit // 2]) + f"...({len(token)} characters)..." + repr(token[-limit // 4:])
    return repr(token)


def bad_character(text: str) -> tuple[int, str] | None:
    """The first character outside printable ASCII and tab as ``(column from 1, 'U+XXXX')``, else None."""
    match = _BAD_CHAR.search(text)
    if match is None:
        return None
    return match.start() + 1, f"U+{ord(match.group()):04X}"


def match_int(token: str) -> int | None:
    """The value of an integer token of the spec's grammar, or None if ``token`` is not one.

    Raises :class:`SpikeCoreError` ``"... has N digits (at most 24)"`` for a well-formed but overlong token,
    so that a caller never builds a 4,300-digit Python int.
    """
    match = _INT.fullmatch(token)
    if match is None:
        return None
    sign, hex_digits, decimal = match.groups()
    digits = hex_digits if hex_digits is not None else decimal
    if len(digits) > MAX_INT_DIGITS:
        raise SpikeCoreError(f"{quote(token)} has {len(digits)} digits (at most {MAX_INT_DIGITS}); out of range")
    number = int(hex_digits, 16) if hex_digits is not None else int(decimal)
    return -number if sign == "-" else number


def parse_int(token: str, what: str, where: str | None = None) -> int:
    """``token`` (surrounding spaces and tabs allowed) as an integer of the spec's grammar.

    Raises :class:`SpikeCoreError` ``"<where>: <what> must be an integer ..., not '<token>'"``.
    """
    prefix = f"{where}: " if where else ""
    stripped = token.strip(" \t")
    try:
        number = match_int(stripped)
    except SpikeCoreError as err:
        raise SpikeCoreError(f"{prefix}{what}: {err}") from None
    if number is None:
        raise SpikeCoreError(f"{prefix}{what} must be an integer (ASCII decimal or 0x hex), not {quote(token)}")
    return number


def read_text_file(path: str | Path, what: str = "") -> str:
    """A UTF-8 text file's contents without its byte-order mark.

    Raises :class:`SpikeCoreError` ``"<what> <path>: not UTF-8 text (byte 0xNN at offset K)"``; an
    ``OSError`` (missing file, a folder) passes through with its file name.
    """
    data = Path(path).read_bytes()
    try:
        return strip_bom(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        name = f"{what} {path}" if what else str(path)
        raise SpikeCoreError(f"{name}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})") from None
