"""A run's stimulus: the input events the host injects before each step (docs/spec.md §2, "Host").

Host injections cost no array cycle and leave no trace record, so they are stored beside the trace.
Two file formats, chosen by suffix:

- ``.csv``: header ``step,core,axon,payload``, one event per line; events of a step are injected in
  file order.
- ``.json``: ``{"events": {"<step>": [[core, axon, payload], ...], ...}}``.

>>> stim = Stimulus({0: [(1, 3, 1)]})
>>> stim.add(2, core=0, axon=7, payload=-5)
>>> sorted(stim.events)
[0, 2]
"""

from __future__ import annotations

import csv
import json
import numbers
from dataclasses import dataclass, field
from pathlib import Path

from spikecore.errors import SpikeCoreError
from spikecore.isa import AXON_MAX, MAX_CORES, PAYLOAD_MAX, PAYLOAD_MIN

CSV_HEADER = ("step", "core", "axon", "payload")

Event = tuple[int, int, int]


def _check_int(value: object, name: str, low: int, high: int | None, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SpikeCoreError(f"{where}: {name} must be an integer, not {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise SpikeCoreError(f"{where}: {name} must be {bound}, not {value}")
    return value


def check_event(step: object, core: object, axon: object, payload: object, where: str = "stimulus") -> None:
    """Raise :class:`SpikeCoreError` unless ``(step, core, axon, payload)`` is a well-formed event.

    The core is checked against the largest chip (``MAX_CORES``); the chip checks its own size on injection.
    """
    _check_int(step, "step", 0, None, where)
    _check_int(core, "core", 0, MAX_CORES - 1, where)
    _check_int(axon, "axon", 0, AXON_MAX, where)
    _check_int(payload, "payload", PAYLOAD_MIN, PAYLOAD_MAX, where)


def _int_field(text: str, name: str, where: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise SpikeCoreError(f"{where}: {name} must be an integer, not {text!r}") from None


@dataclass
class Stimulus:
    """Host-injected input events per step: ``events[step]`` is injected, in order, before that step runs."""

    events: dict[int, list[Event]] = field(default_factory=dict)

    def add(self, step: int, core: int, axon: int, payload: int) -> None:
        """Append one event to ``step``'s injections."""
        check_event(step, core, axon, payload)
        self.events.setdefault(int(step), []).append((int(core), int(axon), int(payload)))

    def at(self, step: int) -> list[Event]:
        """The events injected before ``step`` (empty when there are none)."""
        return self.events.get(step, [])

    def __len__(self) -> int:
        return sum(len(evs) for evs in self.events.values())

    def validate(self) -> None:
        """Raise :class:`SpikeCoreError` on the first malformed step or event."""
        for step, evs in self.events.items():
            for event in evs:
                if not isinstance(event, tuple | list) or len(event) != 3:
                    raise SpikeCoreError(f"stimulus step {step}: an event must be (core, axon, payload), not {event!r}")
                check_event(step, *event, where=f"stimulus step {step}")

    @classmethod
    def load(cls, path: str | Path) -> Stimulus:
        """Read a ``.csv`` or ``.json`` stimulus; a malformed file raises :class:`SpikeCoreError`."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".json"):
            raise SpikeCoreError(f"stimulus file {path}: unknown format {suffix or '(none)'!r}, expected .csv or .json")
        try:
            text = path.read_text()
        except OSError as err:
            raise SpikeCoreError(f"stimulus file {path}: cannot read ({err.strerror})") from None
        except UnicodeDecodeError:
            raise SpikeCoreError(f"stimulus file {path}: not a text file") from None
        return cls._from_csv(path, text) if suffix == ".csv" else cls._from_json(path, text)

    @classmethod
    def _from_csv(cls, path: Path, text: str) -> Stimulus:
        reader = csv.reader(text.splitlines())
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != CSV_HEADER:
            found = "an empty file" if header is None else repr(",".join(header))
            raise SpikeCoreError(f"stimulus file {path}: header must be {','.join(CSV_HEADER)}, not {found}")
        stim = cls()
        for line_no, row in enumerate(reader, start=2):
            where = f"stimulus file {path}:{line_no}"
            if not row or not "".join(row).strip():
                continue
            if len(row) != len(CSV_HEADER):
                raise SpikeCoreError(f"{where}: expected {len(CSV_HEADER)} fields, got {len(row)}")
            step, core, axon, payload = (_int_field(t, n, where) for t, n in zip(row, CSV_HEADER, strict=True))
            check_event(step, core, axon, payload, where)
            stim.events.setdefault(step, []).append((core, axon, payload))
        return stim

    @classmethod
    def _from_json(cls, path: Path, text: str) -> Stimulus:
        where = f"stimulus file {path}"
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise SpikeCoreError(f"{where}: not valid JSON ({err.msg} at line {err.lineno})") from None
        if not isinstance(obj, dict) or set(obj) != {"events"} or not isinstance(obj["events"], dict):
            raise SpikeCoreError(f'{where}: expected {{"events": {{"<step>": [[core, axon, payload], ...]}}}}')
        stim = cls()
        for key, evs in obj["events"].items():
            try:
                step = int(key)
            except ValueError:
                raise SpikeCoreError(f"{where}: step keys must be integers, not {key!r}") from None
            if not isinstance(evs, list):
                raise SpikeCoreError(f"{where}: step {key}: events must be a list, not {evs!r}")
            for event in evs:
                if not isinstance(event, list) or len(event) != 3:
                    raise SpikeCoreError(f"{where}: step {key}: an event must be [core, axon, payload], not {event!r}")
                check_event(step, *event, where=f"{where}: step {key}")
                stim.events.setdefault(step, []).append(tuple(event))
        return stim

    def save(self, path: str | Path) -> None:
        """Write the stimulus to a ``.csv`` or ``.json`` file (steps in ascending order)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".json"):
            raise SpikeCoreError(f"stimulus file {path}: unknown format {suffix or '(none)'!r}, expected .csv or .json")
        self.validate()
        steps = sorted(self.events)
        if suffix == ".csv":
            lines = [",".join(CSV_HEADER)]
            lines += [f"{s},{c},{a},{p}" for s in steps for c, a, p in self.events[s]]
            path.write_text("\n".join(lines) + "\n")
        else:
            obj = {"events": {str(s): [list(e) for e in self.events[s]] for s in steps}}
            path.write_text(json.dumps(obj, indent=1) + "\n")
