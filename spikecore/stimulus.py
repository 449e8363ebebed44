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
import re
from dataclasses import dataclass, field
from pathlib import Path

from spikecore.errors import SpikeCoreError
from spikecore.grammar import match_int, parse_int, quote, read_text_file, split_lines
from spikecore.isa import AXON_MAX, MAX_CHIPS, MAX_CORES, PAYLOAD_MAX, PAYLOAD_MIN
from spikecore.outputs import write_text

CSV_HEADER = ("step", "core", "axon", "payload")
#: Largest step number of an event (docs/spec.md §12); also the largest ``--steps``.
MAX_STEP = 10_000_000
#: Most events one stimulus file may hold.
MAX_EVENTS = 10_000_000
#: Longest CSV line, in characters (a well-formed event line needs fewer than 40).
MAX_CSV_LINE = 4096
#: Deepest JSON nesting read (a stimulus needs 3: object, object, list of lists).
MAX_JSON_DEPTH = 16

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u0085\u2028\u2029]")

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

    The core is checked against the largest board (``MAX_CHIPS x MAX_CORES`` global core ids, docs/spec.md §13);
    the chip or board checks its own size on injection.
    """
    _check_int(step, "step", 0, MAX_STEP - 1, where)
    _check_int(core, "core", 0, MAX_CHIPS * MAX_CORES - 1, where)
    _check_int(axon, "axon", 0, AXON_MAX, where)
    _check_int(payload, "payload", PAYLOAD_MIN, PAYLOAD_MAX, where)


@dataclass
class Stimulus:
    """Host-injected input events per step: ``events[step]`` is injected, in order, before that step runs."""

    events: dict[int, list[Event]] = field(default_factory=dict)
    #: Where each event came from (``"stimulus file s.csv:7"``), parallel to ``events``; filled by :meth:`load`
    #: so that a run that cannot inject an event names its line. Not part of equality.
    origins: dict[int, list[str]] = field(default_factory=dict, compare=False, repr=False)

    def origin(self, step: int, index: int) -> str:
        """Where event ``index`` of ``step`` came from; ``"stimulus step S event I"`` for one built in code."""
        known = self.origins.get(step, [])
        return known[index] if index < len(known) else f"stimulus step {step} event {index}"

    def _append(self, step: int, event: Event, origin: str) -> None:
        self.events.setdefault(step, []).append(event)
        self.origins.setdefault(step, []).append(origin)

    def first_event_from(self, step: int) -> tuple[int, str] | None:
        """The earliest step ``>= step`` that has events and where its first event came from, else None."""
        later = [s for s, evs in self.events.items() if s >= step and evs]
        if not later:
            return None
        first = min(later)
        return first, self.origin(first, 0)

    def add(self, step: int, core: int, axon: int, payload: int) -> None:
        """Append one event to ``step``'s injections."""
        check_event(step, core, axon, payload)
        self._append(int(step), (int(core), int(axon), int(payload)), f"stimulus step {step} event "
                     f"{len(self.events.get(int(step), []))}")

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
        """Read a ``.csv`` or ``.json`` stimulus (grammar: docs/spec.md §12).

        Raises :class:`SpikeCoreError` naming the file (and the line, for CSV) on any malformed content.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".json"):
            raise SpikeCoreError(f"stimulus file {path}: unknown format {suffix or '(none)'!r}, expected .csv or .json")
        try:
            text = read_text_file(path, "stimulus file")
        except OSError as err:
            raise SpikeCoreError(f"stimulus file {path}: cannot read ({err.strerror})") from None
        return cls._from_csv(path, text) if suffix == ".csv" else cls._from_json(path, text)

    @classmethod
    def _from_csv(cls, path: Path, text: str) -> Stimulus:
        lines = split_lines(text)
        if len(lines) > MAX_EVENTS + 1:
            raise SpikeCoreError(f"stimulus file {path}: {len(lines)} lines, more than {MAX_EVENTS} events")
        for number, line in enumerate(lines, start=1):
            bad = _CONTROL.search(line)
            if bad is not None:
                raise SpikeCoreError(f"stimulus file {path}:{number}: unexpected character U+{ord(bad.group()):04X} "
                                     f"at column {bad.start() + 1}")
            if len(line) > MAX_CSV_LINE:
                raise SpikeCoreError(f"stimulus file {path}:{number}: line of {len(line)} characters "
                                     f"(at most {MAX_CSV_LINE})")
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader, None)
            if header is None or tuple(h.strip(" \t") for h in header) != CSV_HEADER:
                found = "an empty file" if header is None else quote(",".join(header))
                raise SpikeCoreError(f"stimulus file {path}: header must be {','.join(CSV_HEADER)}, not {found}")
            stim = cls()
            for row in reader:
                where = f"stimulus file {path}:{reader.line_num}"
                if not row or not "".join(row).strip(" \t"):
                    continue
                if len(row) != len(CSV_HEADER):
                    raise SpikeCoreError(f"{where}: expected {len(CSV_HEADER)} fields, got {len(row)}")
                step, core, axon, payload = (parse_int(t, n, where) for t, n in zip(row, CSV_HEADER, strict=True))
                check_event(step, core, axon, payload, where)
                stim._append(step, (core, axon, payload), where)
        except csv.Error as err:
            raise SpikeCoreError(f"stimulus file {path}:{reader.line_num}: not valid CSV ({err})") from None
        return stim

    @classmethod
    def _from_json(cls, path: Path, text: str) -> Stimulus:
        where = f"stimulus file {path}"

        def no_constant(name: str) -> object:
            raise SpikeCoreError(f"{where}: {name} is not a number of the stimulus grammar")

        def integer(token: str) -> int:
            number = match_int(token)  # raises for an overlong token, before int() would
            assert number is not None  # json only hands over -?[0-9]+
            return number

        def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
            obj: dict[str, object] = {}
            for key, value in pairs:
                if key in obj:
                    raise SpikeCoreError(f"{where}: key {quote(key)} given twice in one object")
                obj[key] = value
            return obj

        if _json_depth(text) > MAX_JSON_DEPTH:
            raise SpikeCoreError(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels "
                                 '(expected {"events": {"<step>": [[core, axon, payload], ...]}})')
        try:
            obj = json.loads(text, parse_constant=no_constant, parse_int=integer, object_pairs_hook=unique)
        except json.JSONDecodeError as err:
            raise SpikeCoreError(f"{where}: not valid JSON ({err.msg} at line {err.lineno})") from None
        except SpikeCoreError as err:
            raise SpikeCoreError(f"{where}: {err}" if not str(err).startswith(where) else str(err)) from None
        except (ValueError, RecursionError) as err:  # json's own limits; the depth check above comes first
            raise SpikeCoreError(f"{where}: not valid JSON ({err})") from None
        if not isinstance(obj, dict) or set(obj) != {"events"} or not isinstance(obj["events"], dict):
            raise SpikeCoreError(f'{where}: expected {{"events": {{"<step>": [[core, axon, payload], ...]}}}}')
        stim = cls()
        total = 0
        for key, evs in obj["events"].items():
            step = parse_int(key, "step key", where) if isinstance(key, str) else key
            if not isinstance(evs, list):
                raise SpikeCoreError(f"{where}: step {quote(key)}: events must be a list, not {type(evs).__name__}")
            total += len(evs)
            if total > MAX_EVENTS:
                raise SpikeCoreError(f"{where}: more than {MAX_EVENTS} events")
            for index, event in enumerate(evs):
                at = f"{where}: step {key} event {index}"
                if not isinstance(event, list) or len(event) != 3:
                    raise SpikeCoreError(f"{at}: an event must be [core, axon, payload], not {quote(repr(event))}")
                check_event(step, *event, where=at)
                stim._append(step, (event[0], event[1], event[2]), at)
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
            write_text(path, "\n".join(lines) + "\n")
        else:
            obj = {"events": {str(s): [list(e) for e in self.events[s]] for s in steps}}
            write_text(path, json.dumps(obj, indent=1) + "\n")


def _json_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text (strings skipped), without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
