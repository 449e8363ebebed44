"""Small helpers for the wording of messages: counts with the right plural, ``a``/``an``, plain numbers.

Messages are read by people: ``1 core`` (not ``1 cores``), ``an Affine node`` (not ``a Affine``), and a value
read from a file shown as ``-0.0001``, not as numpy's ``np.float64(-0.0001)`` repr.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``"1 core"``, ``"2 cores"``: ``count`` and ``noun``, plural ``many`` (default ``noun + "s"``) unless 1."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def ordinal(number: int) -> str:
    """``"1st"``, ``"2nd"``, ``"3rd"``, ``"4th"``, ``"11th"``, ``"22nd"``: ``number`` as an English ordinal."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def array_size(chips: int, cores: int) -> str:
    """What ran: ``"4 cores"`` on one chip, ``"2 chips x 2 cores"`` on a board (``cores`` per chip, spec §13)."""
    return f"{plural(chips, 'chip')} x {plural(cores, 'core')}" if chips > 1 else plural(cores, "core")


def cycles_noun(chips: int) -> str:
    """The cycle counter's name: ``"array cycles"`` on one chip, ``"board cycles"`` on a board (docs/spec.md §2,
    §13: a board's chips run in lock-step on one board cycle counter)."""
    return "board cycles" if chips > 1 else "array cycles"


def article(word: str) -> str:
    """``word`` with its indefinite article by its first letter: ``"an Affine"``, ``"a LIF"``.

    Acronyms that start with a vowel sound but a consonant letter (``LIF``: "el-") are rare in our node names;
    the letter rule is what the messages need (``Affine``, ``Input``, ``IF``, ``I``, ``Output``)."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def shown(value: Any) -> str:
    """``value`` as a message shows it: numpy scalars and arrays as plain Python numbers and lists
    (``-0.0001``, ``[1.0, 2.0]``), strings quoted, anything else its ``repr``."""
    if isinstance(value, np.ndarray | np.generic):
        value = value.tolist()
    return repr(value)
