"""Trace records (docs/spec.md §6): the numpy layout, a one-line text form, and CSV / JSONL files.

A trace is a 1-D numpy array of :data:`TRACE_DTYPE`, sorted by ``cycle``, then ``core``, then ``kind``.
The golden model produces it, the RTL's trace port is converted into it, and the scoreboard compares two
of them record by record. The files exist so that a failing run can be kept, diffed and replayed:

- ``.csv``: header ``cycle,core,kind,index,value``; ``kind`` is written by name (``ACC``, ``SPIKE``, ...).
- ``.jsonl``: one JSON object per line with the same five keys, ``kind`` by name.

>>> rec = np.array([(12, 3, TraceKind.ACC, 5, -17)], dtype=TRACE_DTYPE)[0]
>>> format_record(rec)
'cycle 12 core 3 ACC n=5 value=-17'
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from spikecore import outputs
from spikecore.errors import SpikeCoreError
from spikecore.grammar import parse_int
from spikecore.isa import TraceKind

TRACE_DTYPE = np.dtype([("cycle", "<i8"), ("core", "<i2"), ("kind", "<i1"), ("index", "<i2"), ("value", "<i8")])
TRACE_FIELDS = TRACE_DTYPE.names
#: A board's trace record (docs/spec.md §13): a chip record with the chip it happened on, sorted by cycle, chip,
#: core, kind; ``core`` is local to the chip.
BOARD_TRACE_DTYPE = np.dtype([("cycle", "<i8"), ("chip", "<i1"), ("core", "<i2"), ("kind", "<i1"), ("index", "<i2"),
                              ("value", "<i8")])


def board_records(records: np.ndarray, chip: int) -> np.ndarray:
    """One chip's trace (:data:`TRACE_DTYPE`) as board records of ``chip`` (:data:`BOARD_TRACE_DTYPE`)."""
    out = np.empty(len(records), dtype=BOARD_TRACE_DTYPE)
    for name in TRACE_FIELDS:
        out[name] = records[name]
    out["chip"] = chip
    return out


def chip_records(records: np.ndarray, chip: int) -> np.ndarray:
    """The records of ``chip`` in a board trace, as that chip's trace (:data:`TRACE_DTYPE`, chip column dropped)."""
    mine = records[records["chip"] == chip]
    out = np.empty(len(mine), dtype=TRACE_DTYPE)
    for name in TRACE_FIELDS:
        out[name] = mine[name]
    return out

# ACC, SPIKE and SYN records index a neuron; EVENT, DROP and OUT records index an axon.
_INDEX_LABEL = {
    TraceKind.ACC: "n",
    TraceKind.SPIKE: "n",
    TraceKind.EVENT: "axon",
    TraceKind.DROP: "axon",
    TraceKind.OUT: "axon",
    TraceKind.SYN: "n",
    TraceKind.LINK: "to_chip",       # board (§13): the link's destination chip
    TraceKind.LINK_FULL: "to_chip",
}


def empty_trace() -> np.ndarray:
    """A trace with no records."""
    return np.zeros(0, dtype=TRACE_DTYPE)


def _as_tuple(rec) -> tuple[int, int, int, int, int]:
    values = rec.item() if isinstance(rec, np.void) else tuple(rec)
    if len(values) != len(TRACE_FIELDS):
        raise SpikeCoreError(f"trace record must have {len(TRACE_FIELDS)} fields {TRACE_FIELDS}, not {values!r}")
    return tuple(int(v) for v in values)  # type: ignore[return-value]


def format_record(rec) -> str:
    """One record as text, e.g. ``cycle 12 core 3 ACC n=5 value=-17`` (a row of a trace, or a 5-tuple)."""
    cycle, core, kind, index, value = _as_tuple(rec)
    try:
        kind = TraceKind(kind)
    except ValueError:
        return f"cycle {cycle} core {core} kind={kind} index={index} value={value}"
    return f"cycle {cycle} core {core} {kind.name} {_INDEX_LABEL[kind]}={index} value={value}"


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise SpikeCoreError(f"trace file {path}: unknown format {suffix or '(none)'!r}, expected .csv or .jsonl")
    return suffix


def write_trace(path: str | Path, records: np.ndarray) -> None:
    """Write ``records`` (a :data:`TRACE_DTYPE` array) to ``path``; the format follows the suffix.

    A board trace (:data:`BOARD_TRACE_DTYPE`) is written with its ``chip`` column after ``cycle`` (§13).
    """
    path = Path(path)
    suffix = _suffix(path)
    names = {int(k): k.name for k in TraceKind}
    if records.dtype == BOARD_TRACE_DTYPE:
        fields = BOARD_TRACE_DTYPE.names
        with outputs.open_output(path, "w", newline="") as handle:
            if suffix == ".csv":
                handle.write(",".join(fields) + "\n")
                handle.writelines(f"{c},{chip},{core},{names[k]},{i},{v}\n"
                                  for c, chip, core, k, i, v in records.tolist())
            else:
                handle.writelines(json.dumps(dict(zip(fields, (c, chip, core, names[k], i, v), strict=True))) + "\n"
                                  for c, chip, core, k, i, v in records.tolist())
        return
    rows = np.asarray(records, dtype=TRACE_DTYPE).tolist()
    with outputs.open_output(path, "w", newline="") as handle:
        if suffix == ".csv":
            handle.write(",".join(TRACE_FIELDS) + "\n")
            handle.writelines(f"{c},{core},{names[k]},{i},{v}\n" for c, core, k, i, v in rows)
        else:
            handle.writelines(
                json.dumps({"cycle": c, "core": core, "kind": names[k], "index": i, "value": v}) + "\n"
                for c, core, k, i, v in rows
            )


def _parse_kind(text: object, where: str) -> int:
    if isinstance(text, str):
        try:
            return int(TraceKind[text.strip().upper()])
        except KeyError:
            pass
    names = ", ".join(k.name for k in TraceKind)
    raise SpikeCoreError(f"{where}: kind must be one of {names}, not {text!r}")


def _parse_int(text: object, name: str, where: str) -> int:
    if isinstance(text, bool):
        raise SpikeCoreError(f"{where}: {name} must be an integer, not {text!r}")
    if isinstance(text, int):
        return text
    if not isinstance(text, str):
        raise SpikeCoreError(f"{where}: {name} must be an integer, not {text!r}")
    return parse_int(text, name, where)  # the spec's grammar (§12), not int()'s


def _row(values: dict[str, object], fields: tuple[str, ...], where: str) -> tuple[int, ...]:
    return tuple(_parse_kind(values[name], where) if name == "kind" else _parse_int(values[name], name, where)
                 for name in fields)


def _rows_from_csv(path: Path, handle: Iterable[str]) -> tuple[list[tuple[int, ...]], np.dtype]:
    reader = csv.reader(handle)
    header = next(reader, None)
    names = [h.strip() for h in header] if header is not None else None
    dtype = BOARD_TRACE_DTYPE if names == list(BOARD_TRACE_DTYPE.names) else TRACE_DTYPE   # a board's, §13
    fields = dtype.names
    if names != list(fields):
        found = "an empty file" if header is None else repr(",".join(header))
        raise SpikeCoreError(f"trace file {path}: header must be {','.join(TRACE_FIELDS)}, not {found}")
    rows = []
    for line_no, row in enumerate(reader, start=2):
        where = f"trace file {path}:{line_no}"
        if not row:
            continue
        if len(row) != len(fields):
            raise SpikeCoreError(f"{where}: expected {len(fields)} fields, got {len(row)}")
        rows.append(_row(dict(zip(fields, row, strict=True)), fields, where))
    return rows, dtype


def _rows_from_jsonl(path: Path, handle: Iterable[str]) -> tuple[list[tuple[int, ...]], np.dtype]:
    rows = []
    dtype = None
    for line_no, line in enumerate(handle, start=1):
        where = f"trace file {path}:{line_no}"
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise SpikeCoreError(f"{where}: not valid JSON ({err.msg})") from None
        if dtype is None and isinstance(obj, dict) and set(obj) == set(BOARD_TRACE_DTYPE.names):
            dtype = BOARD_TRACE_DTYPE   # a board's trace (§13): every line then has the chip
        dtype = dtype or TRACE_DTYPE
        if not isinstance(obj, dict) or set(obj) != set(dtype.names):
            raise SpikeCoreError(f"{where}: expected an object with keys {', '.join(dtype.names)}")
        rows.append(_row(obj, dtype.names, where))
    return rows, dtype or TRACE_DTYPE


def read_trace(path: str | Path) -> np.ndarray:
    """Read a trace written by :func:`write_trace` (a board's, with its chip column, as :data:`BOARD_TRACE_DTYPE`);
    a malformed file raises :class:`SpikeCoreError`."""
    path = Path(path)
    suffix = _suffix(path)
    try:
        with path.open(newline="") as handle:
            rows, dtype = _rows_from_csv(path, handle) if suffix == ".csv" else _rows_from_jsonl(path, handle)
    except OSError as err:
        raise SpikeCoreError(f"trace file {path}: cannot read ({err.strerror})") from None
    except UnicodeDecodeError:
        raise SpikeCoreError(f"trace file {path}: not a text file") from None
    try:
        return np.array(rows, dtype=dtype) if rows else np.zeros(0, dtype=dtype)
    except OverflowError:
        raise SpikeCoreError(f"trace file {path}: a field is out of range for its type") from None
