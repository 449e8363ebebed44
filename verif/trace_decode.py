"""The one decoder of the array's ``trace`` and ``sig_history`` ports, used by every host of the chip (the
cocotb monitor, the Amaranth-simulator host, the offline VCD check).

The port layout is the RTL's (:func:`spikecore.rtl.trace_port.trace_layout`, docs/spec.md §8.5): a cycle
number, an ``active`` bit (the cycle was counted), the router's record and each core's ACC and SPIKE
records. :class:`TraceDecoder` turns raw port values into :data:`~spikecore.trace.TRACE_DTYPE` records;
it splits many values into bits with numpy at once, so that every field of every core is a dot product of
a bit slice with powers of two, for all cycles together. :meth:`TraceDecoder.encode` is the inverse, for
tests.

>>> decoder = TraceDecoder(cores=2)
>>> raw = decoder.encode(cycle=7, records=[(0, 0, 3, -9), (1, 1, 4, 2)])
>>> decoder.decode([raw]).tolist()
[(7, 0, 0, 3, -9), (7, 1, 1, 4, 2)]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from amaranth.hdl import Shape

from spikecore.isa import TraceKind
from spikecore.rtl.trace_port import CORE_RECORD, CORE_RECORD_KINDS, ROUTE_RECORD, trace_layout
from spikecore.signature import HISTORY_DEPTH, MASK32
from spikecore.trace import TRACE_DTYPE, empty_trace

#: A field of the port: (bit offset, width, signed).
BitSlice = tuple[int, int, bool]


def _fields(layout, base: int = 0) -> dict[str, BitSlice]:
    return {name: (base + layout[name].offset, layout[name].width, Shape.cast(layout[name].shape).signed)
            for name in layout.members}


class TraceDecoder:
    """Decodes raw ``trace`` port values of a ``cores``-core array into trace records."""

    def __init__(self, cores: int) -> None:
        self.cores = cores
        layout = trace_layout(cores)
        self.width = layout.size
        self.nbytes = (self.width + 7) // 8
        self.core_base = layout["cores"].offset + np.arange(cores) * CORE_RECORD.size
        self.core_fields = _fields(CORE_RECORD)
        self.route_fields = _fields(ROUTE_RECORD, layout["route"].offset)
        self.cycle_field: BitSlice = (layout["cycle"].offset, layout["cycle"].width, False)
        self.active_bit = layout["active"].offset

    def active(self, raw: int) -> bool:
        """Whether the value shows a counted array cycle."""
        return bool((raw >> self.active_bit) & 1)

    def cycle_of(self, raw: int) -> int | None:
        """The array cycle an active value shows (None when the cycle was not counted)."""
        if not self.active(raw):
            return None
        offset, width, _ = self.cycle_field
        return (raw >> offset) & ((1 << width) - 1)

    @staticmethod
    def _value(bits: np.ndarray, field: BitSlice, base: np.ndarray | int = 0) -> np.ndarray:
        """BitSlice values from a (cycles, width) bit matrix; ``base`` may be a per-core offset vector."""
        offset, width, is_signed = field
        columns = np.asarray(base)[..., None] + offset + np.arange(width)
        raw = bits[:, columns].astype(np.int64) @ (np.int64(1) << np.arange(width, dtype=np.int64))
        if is_signed:
            raw = np.where(raw >> (width - 1) & 1, raw - (np.int64(1) << width), raw)
        return raw

    @staticmethod
    def _per_row(bits: np.ndarray, field: BitSlice, bases: np.ndarray) -> np.ndarray:
        """One field per row, each row at its own core's offset."""
        offset, width, is_signed = field
        columns = bases[:, None] + offset + np.arange(width)
        picked = np.take_along_axis(bits, columns, axis=1).astype(np.int64)
        raw = picked @ (np.int64(1) << np.arange(width, dtype=np.int64))
        if is_signed:
            raw = np.where(raw >> (width - 1) & 1, raw - (np.int64(1) << width), raw)
        return raw

    def decode(self, raws: Iterable[int]) -> np.ndarray:
        """The records of every active value among ``raws``, sorted by (cycle, core, kind)."""
        active = [r for r in raws if (r >> self.active_bit) & 1]
        if not active:
            return empty_trace()
        buffer = b"".join(r.to_bytes(self.nbytes, "little") for r in active)
        bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8).reshape(len(active), self.nbytes),
                             axis=1, bitorder="little")
        cycles = self._value(bits, self.cycle_field)
        parts = []
        for kind, valid, index, value in CORE_RECORD_KINDS:
            valids = self._value(bits, self.core_fields[valid], self.core_base)           # (cycles, cores)
            rows, cores = np.nonzero(valids)
            if len(rows):
                chunk = np.empty(len(rows), dtype=TRACE_DTYPE)
                chunk["cycle"], chunk["core"], chunk["kind"] = cycles[rows], cores, int(kind)
                chunk["index"] = self._per_row(bits[rows], self.core_fields[index], self.core_base[cores])
                chunk["value"] = self._per_row(bits[rows], self.core_fields[value], self.core_base[cores])
                parts.append(chunk)
        route_rows = np.nonzero(self._value(bits, self.route_fields["valid"]))[0]
        if len(route_rows):
            chunk = np.empty(len(route_rows), dtype=TRACE_DTYPE)
            sub = bits[route_rows]
            chunk["cycle"] = cycles[route_rows]
            chunk["core"] = self._value(sub, self.route_fields["core"])
            chunk["kind"] = self._value(sub, self.route_fields["kind"])
            chunk["index"] = self._value(sub, self.route_fields["axon"])
            chunk["value"] = self._value(sub, self.route_fields["payload"])
            parts.append(chunk)
        if not parts:
            return empty_trace()
        records = np.concatenate(parts)
        return records[np.lexsort((records["kind"], records["core"], records["cycle"]))]

    def encode(self, cycle: int, records: list[tuple[int, int, int, int]], active: bool = True) -> int:
        """The port value showing ``records`` ``(core, kind, index, value)`` of ``cycle`` (for tests)."""
        raw = (cycle << self.cycle_field[0]) | (int(active) << self.active_bit)

        def put(field: BitSlice, value: int) -> int:
            offset, width, _ = field
            return (value & ((1 << width) - 1)) << offset

        for core, kind, index, value in records:
            kind = TraceKind(kind)
            names = {k: (v, i, x) for k, v, i, x in CORE_RECORD_KINDS}
            if kind in names:
                valid_name, index_name, value_name = names[kind]
                base = int(self.core_base[core])
                for name, field_value in ((valid_name, 1), (index_name, index), (value_name, value)):
                    offset, width, is_signed = self.core_fields[name]
                    raw |= put((base + offset, width, is_signed), field_value)
            else:
                for name, field_value in (("valid", 1), ("kind", int(kind)), ("core", core), ("axon", index),
                                          ("payload", value)):
                    raw |= put(self.route_fields[name], field_value)
        return raw


def decode_history(raw: int, depth: int = HISTORY_DEPTH) -> np.ndarray:
    """The ``sig_history`` port value as ``uint32[depth]``: entry ``k`` signs cycle ``sig_cycles - 1 - k``."""
    return np.array([(raw >> (32 * k)) & MASK32 for k in range(depth)], dtype=np.uint32)
