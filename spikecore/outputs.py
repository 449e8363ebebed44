"""Atomic outputs: a file a command writes appears whole, and only once the whole command has succeeded.

Every writer of the project (images, listings, traces, NIR exports, reports, plots) goes through
:func:`output_path` (or :func:`write_bytes` / :func:`write_text` / :func:`open_output` built on it). The
data go to a temporary file in the destination's own folder (so the final rename never crosses a file
system), and then:

- inside a :func:`transaction` (every ``spikecore`` command runs in one), the temporary files are renamed
  into place together when the transaction commits, after the command succeeded; a command that fails
  removes them, so every file that existed before it is untouched;
- outside a transaction (a library call), the file is renamed into place as soon as it is complete.

A reader never sees half a file, and a failed write (disk full, ``ulimit -f``, Ctrl-C) leaves the previous
file as it was. :func:`refuse_overlap` refuses a command whose output path is one of its inputs.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with transaction():
...     write_text(folder / "a.txt", "hello")
...     (folder / "a.txt").exists()          # staged, not yet in place
False
>>> (folder / "a.txt").read_text()
'hello'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

from spikecore.errors import SpikeCoreError

PathLike = str | os.PathLike[str]


class Transaction:
    """The outputs staged by one command: ``(temporary, final)`` pairs, renamed on :meth:`commit`."""

    def __init__(self) -> None:
        self.staged: list[tuple[Path, Path]] = []

    def commit(self) -> None:
        """Rename every staged file into place, in staging order."""
        staged, self.staged = self.staged, []
        for index, (temporary, final) in enumerate(staged):
            try:
                os.replace(temporary, final)
            except OSError as err:
                for rest, _ in staged[index:]:
                    _remove(rest)
                raise SpikeCoreError(f"{final}: cannot write ({err.strerror or err})") from None

    def discard(self) -> None:
        """Remove every staged temporary file; the destinations stay as they were."""
        staged, self.staged = self.staged, []
        for temporary, _ in staged:
            _remove(temporary)


_current: ContextVar[Transaction | None] = ContextVar("spikecore_outputs", default=None)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


@contextlib.contextmanager
def transaction() -> Iterator[Transaction]:
    """Stage every output written inside the block; commit them when the block ends without an exception.

    Call :meth:`Transaction.discard` inside the block to drop everything staged so far (a command that
    reports failure by its exit status instead of an exception).
    """
    txn = Transaction()
    token = _current.set(txn)
    try:
        yield txn
    except BaseException:
        txn.discard()
        raise
    finally:
        _current.reset(token)
    txn.commit()


@contextlib.contextmanager
def immediate() -> Iterator[None]:
    """Inside the block, outputs are renamed into place as soon as each is complete, even in a transaction.

    For working files a later step of the same command reads back (a run folder that a simulator subprocess
    opens); each is still written whole or not at all.
    """
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


def _permissions(final: Path) -> int:
    """The mode the output gets: the replaced file's, else what ``open`` would give (0o666 less the umask)."""
    try:
        return final.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def output_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; once the block has written it, it becomes ``path``.

    The temporary name keeps ``path``'s suffix, so writers that pick a format by suffix (matplotlib, h5py)
    behave the same. A failure while writing removes the temporary file and raises
    :class:`SpikeCoreError` ``"<path>: cannot write (<reason>)"`` for an ``OSError``.
    """
    final = Path(path)
    if final.is_dir():
        raise SpikeCoreError(f"{final}: cannot write (is a folder)")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".tmp{final.suffix}",
                                        dir=final.parent)
    except OSError as err:
        raise SpikeCoreError(f"{final}: cannot write ({err.strerror or err})") from None
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _permissions(final))
    except OSError as err:
        _remove(temporary)
        raise SpikeCoreError(f"{final}: cannot write ({err.strerror or err})") from None
    except BaseException:
        _remove(temporary)
        raise
    txn = _current.get()
    if txn is not None:
        txn.staged.append((temporary, final))
        return
    try:
        os.replace(temporary, final)
    except OSError as err:
        _remove(temporary)
        raise SpikeCoreError(f"{final}: cannot write ({err.strerror or err})") from None


@contextlib.contextmanager
def open_output(path: PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open(path, mode)`` for writing, through :func:`output_path` (text mode is UTF-8 unless told)."""
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with output_path(path) as temporary, open(temporary, mode, **kwargs) as handle:
        yield handle


def write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see the module)."""
    with open_output(path, "wb") as handle:
        handle.write(data)


def write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see the module)."""
    with open_output(path, "w", newline="") as handle:
        handle.write(text)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return a.resolve() == b.resolve()


Named = Iterable[tuple[str, PathLike | None]]


def refuse_overlap(inputs: Named, outputs: Named) -> None:
    """Raise :class:`SpikeCoreError` if an output path names an input file or another output.

    ``inputs`` and ``outputs`` are ``(option, path)`` pairs, e.g. ``("--inputs", "stim.csv")``; ``None``
    paths and ``-`` (stdout) are skipped. The message names both options and the path.
    """
    given_inputs = [(what, Path(p)) for what, p in inputs if p is not None and os.fspath(p) != "-"]
    seen: list[tuple[str, Path]] = []
    for what, p in outputs:
        if p is None or os.fspath(p) == "-":
            continue
        out = Path(p)
        for other, source in given_inputs:
            if _same_file(out, source):
                raise SpikeCoreError(f"{out}: the output ({what}) is also an input ({other}); "
                                     "refusing to overwrite it")
        for other, earlier in seen:
            if _same_file(out, earlier):
                raise SpikeCoreError(f"{out}: given as two outputs ({other} and {what})")
        seen.append((what, out))
