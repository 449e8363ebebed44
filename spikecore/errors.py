"""The one exception type for user mistakes.

Anything a user can get wrong (a malformed image, a bad assembly line, an operand out of range, a model
the chip cannot hold) raises :class:`SpikeCoreError` with a one-line message that names the input and
what is wrong. The CLI prints that line and exits with status 2: no traceback for a user mistake.
"""


class SpikeCoreError(Exception):
    """A user-facing error; ``str(error)`` is the complete one-line message."""
