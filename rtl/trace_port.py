"""The trace port: every trace record of every core on top-level ports, plus per-cycle signatures.

A testbench can observe the array in two ways (docs/spec.md §8):

- **Full records.** The ``trace`` port (layout :func:`trace_layout`) carries, one cycle after the array
  cycle they belong to, that cycle's number, an ``active`` bit (the cycle was counted), the router's
  record and each core's ACC and SPIKE records. It is one packed vector, so a cocotb testbench reads it
  with one handle access per cycle; :class:`TraceDecoder` turns the integer into :data:`TRACE_DTYPE`
  records.
- **Signatures.** :class:`SignatureUnit` folds the records of each counted cycle into a 32-bit
  signature (the hash of :mod:`spikecore.signature`) and a record count, and shifts the signature
  into a 32-entry history. Reading ``history`` once every 32 cycles lets a testbench check the whole
  trace at clock speed and locate the first wrong cycle.

>>> decoder = TraceDecoder(cores=2)
>>> raw = decoder.encode(cycle=7, records=[(0, 0, 3, -9), (1, 1, 4, 2)])
>>> decoder.decode(raw).tolist()
[(7, 0, 0, 3, -9), (7, 1, 1, 4, 2)]
"""

from __future__ import annotations

import functools
import operator

import numpy as np
from amaranth.hdl import Cat, Const, Module, Shape, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spikecore import isa
from spikecore import signature as ref
from spikecore.errors import SpikeCoreError
from spikecore.rtl.layout import KIND_BITS, NEURON_BITS
from spikecore.trace import TRACE_DTYPE

#: Width of the array cycle counter and of every cycle number on the trace port.
CYCLE_BITS = 64
#: Width of the per-cycle record count (2 records per core + 1 router record, at most 511).
RECORD_COUNT_BITS = 16

#: What one core contributes to the trace in one cycle: at most one ACC and one SPIKE record.
CORE_RECORD = data.StructLayout({
    "acc_valid": unsigned(1),
    "acc_neuron": unsigned(NEURON_BITS),
    "acc_value": signed(isa.ACC_BITS),
    "spike_valid": unsigned(1),
    "spike_neuron": unsigned(NEURON_BITS),
    "spike_payload": signed(isa.PAYLOAD_BITS),
})

#: The router's record of one cycle: EVENT / DROP (core = destination) or OUT (core = source).
ROUTE_RECORD = data.StructLayout({
    "valid": unsigned(1),
    "kind": unsigned(KIND_BITS),
    "core": unsigned(isa.CORE_ID_BITS),
    "axon": unsigned(isa.AXON_BITS),
    "payload": signed(isa.PAYLOAD_BITS),
})


def trace_layout(cores: int) -> data.StructLayout:
    """The packed ``trace`` port of an array of ``cores`` cores (bit 0 = bit 0 of ``cycle``)."""
    return data.StructLayout({
        "cycle": unsigned(CYCLE_BITS),
        "active": unsigned(1),
        "route": ROUTE_RECORD,
        "cores": data.ArrayLayout(CORE_RECORD, cores),
    })


def _tree(op, items):
    """Reduce ``items`` with ``op`` as a balanced tree (shallow logic, fast to simulate)."""
    items = list(items)
    while len(items) > 1:
        items = [op(items[i], items[i + 1]) if i + 1 < len(items) else items[i] for i in range(0, len(items), 2)]
    return items[0]


def _key_mix(key):
    """``key ^ key << 13 ^ key << 23``, truncated to 32 bits (the hardware form of ``ref.key_mix``)."""
    mixed = key.as_unsigned()
    for shift in ref.KEY_SHIFTS:
        mixed = mixed ^ (key.as_unsigned() << shift)
    return mixed[:32]


def _word32(value):
    """A signed value sign-extended to 32 bits (the ``value mod 2**32`` of the reference)."""
    value = Value.cast(value)
    if len(value) >= 32:
        return value[:32]
    return Cat(value, value[-1].replicate(32 - len(value)))


def _rotl32_const(value, amount: int):
    return _word32(value).rotate_left(amount)


def _rotl32_var(value, amount):
    word = _word32(value)
    return (Cat(word, word) << amount)[32:64]


class SignatureUnit(wiring.Component):
    """Signs every counted cycle of the ``trace`` port and keeps a 32-deep signature history.

    The signature of cycle ``c`` is :func:`spikecore.signature.cycle_signatures` of that cycle;
    a core's record hash uses its core id and kind as constants, so only the router's hash has a
    variable rotation. All outputs are registered and change one cycle after ``trace`` shows an
    active cycle: ``value`` / ``count`` sign cycle ``cycle``; ``history`` entry ``k`` is the signature of
    cycle ``cycles - 1 - k`` (entries older than the first cycle are zero); ``records`` counts every
    record signed since reset.

    Parameters
    ----------
    cores:
        Number of cores whose records ``trace`` carries.
    """

    def __init__(self, cores: int) -> None:
        if isinstance(cores, bool) or not isinstance(cores, int) or not 1 <= cores <= isa.MAX_CORES:
            raise SpikeCoreError(f"SignatureUnit: cores must be 1..{isa.MAX_CORES}, not {cores!r}")
        self.cores = cores
        super().__init__({
            "trace": In(trace_layout(cores)),
            "valid": Out(1),
            "cycle": Out(CYCLE_BITS),
            "value": Out(32),
            "count": Out(RECORD_COUNT_BITS),
            "history": Out(data.ArrayLayout(32, ref.HISTORY_DEPTH)),
            "cycles": Out(CYCLE_BITS),
            "records": Out(CYCLE_BITS),
        })

    def elaborate(self, platform):
        """Each core's two record hashes are XOR-ed with the router's into one word; the XOR and the
        popcount are balanced trees so that 128 cores stay a shallow, cheap network."""
        m = Module()
        # Split the wide input once (each reference to a slice of it costs Amaranth work in its width).
        cycle = Signal(CYCLE_BITS)
        active = Signal()
        route = Signal(ROUTE_RECORD)
        records = [Signal(CORE_RECORD, name=f"core{core_id}") for core_id in range(self.cores)]
        m.d.comb += Cat(cycle, active, route, *records).eq(self.trace)
        hashes, valids = [], []
        for core_id, record in enumerate(records):
            for kind, valid, index, value in (
                (isa.TraceKind.ACC, record.acc_valid, record.acc_neuron, record.acc_value),
                (isa.TraceKind.SPIKE, record.spike_valid, record.spike_neuron, record.spike_payload),
            ):
                constant = ref.key_mix(ref.record_key(core_id, int(kind), 0))
                rotated = _rotl32_const(value.as_signed(), ref.record_rotation(core_id, int(kind)))
                hashed = rotated ^ _key_mix(index) ^ Const(constant, 32)
                hashes.append(hashed & valid.replicate(32))
                valids.append(valid)
        route_key = Cat(route.axon, route.core, route.kind)
        route_rot = (route.core[:5] + (route.kind << 3))[:5]
        route_hash = _rotl32_var(route.payload.as_signed(), route_rot) ^ _key_mix(route_key)
        hashes.append(route_hash & route.valid.replicate(32))
        valids.append(route.valid)

        signature = Const(ref.SEED, 32) ^ cycle[:32] ^ _tree(operator.xor, hashes)
        count = _tree(operator.add, valids)

        with m.If(active):
            m.d.sync += [
                self.value.eq(signature),
                self.count.eq(count),
                self.cycle.eq(cycle),
                self.cycles.eq(cycle + 1),
                self.records.eq(self.records + count),
                self.history.as_value().eq(Cat(signature, self.history.as_value()[:-32])),
            ]
        m.d.sync += self.valid.eq(active)
        return m


class TraceDecoder:
    """Turns the integer value of the ``trace`` port into :data:`TRACE_DTYPE` records.

    The decoder precomputes bit offsets from :func:`trace_layout`; ``decode`` returns the records of the
    one cycle the value shows, sorted by core then kind (empty when nothing happened). ``encode`` is
    the inverse for tests.
    """

    def __init__(self, cores: int) -> None:
        self.cores = cores
        self.layout = trace_layout(cores)
        self._cycle = self._field(self.layout, "cycle")
        self._active = self._field(self.layout, "active")
        route = self.layout["route"].offset
        self._route = {name: self._field(ROUTE_RECORD, name, route) for name in ROUTE_RECORD.members}
        cores_offset = self.layout["cores"].offset
        self._core_offsets = [cores_offset + i * CORE_RECORD.size for i in range(cores)]
        self._core = {name: self._field(CORE_RECORD, name) for name in CORE_RECORD.members}
        core_bits = (1 << CORE_RECORD.size) - 1
        valid_bits = (1 << self._core["acc_valid"][0]) | (1 << self._core["spike_valid"][0])
        self._any_core_valid = functools.reduce(
            operator.or_, (valid_bits << offset for offset in self._core_offsets), 0)
        self._core_mask = core_bits

    @staticmethod
    def _field(layout, name, base: int = 0) -> tuple[int, int, bool]:
        field = layout[name]
        return base + field.offset, field.width, Shape.cast(field.shape).signed

    @staticmethod
    def _get(raw: int, field: tuple[int, int, bool]) -> int:
        offset, width, is_signed = field
        value = (raw >> offset) & ((1 << width) - 1)
        if is_signed and value >> (width - 1):
            value -= 1 << width
        return value

    def active(self, raw: int) -> bool:
        """Whether the value shows a counted array cycle."""
        return bool(self._get(raw, self._active))

    def cycle(self, raw: int) -> int:
        return self._get(raw, self._cycle)

    def decode(self, raw: int) -> np.ndarray:
        """The records of the cycle ``raw`` shows, as a sorted :data:`TRACE_DTYPE` array."""
        rows = []
        cycle = self._get(raw, self._cycle)
        route_valid = self._get(raw, self._route["valid"])
        route_core = self._get(raw, self._route["core"]) if route_valid else -1
        route_row = None
        if route_valid:
            route_row = (cycle, route_core, self._get(raw, self._route["kind"]),
                         self._get(raw, self._route["axon"]), self._get(raw, self._route["payload"]))
        if raw & self._any_core_valid:
            core_field = self._core
            for core_id, offset in enumerate(self._core_offsets):
                bits = (raw >> offset) & self._core_mask
                if not bits:
                    continue
                if self._get(bits, core_field["acc_valid"]):
                    rows.append((cycle, core_id, int(isa.TraceKind.ACC), self._get(bits, core_field["acc_neuron"]),
                                 self._get(bits, core_field["acc_value"])))
                if self._get(bits, core_field["spike_valid"]):
                    rows.append((cycle, core_id, int(isa.TraceKind.SPIKE),
                                 self._get(bits, core_field["spike_neuron"]),
                                 self._get(bits, core_field["spike_payload"])))
        if route_row is not None:
            rows.append(route_row)
            rows.sort(key=lambda row: (row[1], row[2]))
        return np.array(rows, dtype=TRACE_DTYPE)

    def encode(self, cycle: int, records: list[tuple[int, int, int, int]], active: bool = True) -> int:
        """The port value showing ``records`` ``(core, kind, index, value)`` of ``cycle`` (for tests)."""
        raw = (cycle << self._cycle[0]) | (int(active) << self._active[0])

        def put(field, value):
            offset, width, _ = field
            return (value & ((1 << width) - 1)) << offset

        for core, kind, index, value in records:
            kind = isa.TraceKind(kind)
            if kind in (isa.TraceKind.ACC, isa.TraceKind.SPIKE):
                prefix = "acc" if kind == isa.TraceKind.ACC else "spike"
                value_name = "acc_value" if kind == isa.TraceKind.ACC else "spike_payload"
                base = self._core_offsets[core]
                for name, field_value in ((f"{prefix}_valid", 1), (f"{prefix}_neuron", index), (value_name, value)):
                    offset, width, is_signed = self._core[name]
                    raw |= put((base + offset, width, is_signed), field_value)
            else:
                for name, field_value in (("valid", 1), ("kind", int(kind)), ("core", core), ("axon", index),
                                          ("payload", value)):
                    raw |= put(self._route[name], field_value)
        return raw


def decode_history(raw: int, depth: int = ref.HISTORY_DEPTH) -> np.ndarray:
    """The integer value of the ``sig_history`` port as ``uint32[depth]``, entry 0 the newest cycle."""
    return np.array([(raw >> (32 * k)) & ref.MASK32 for k in range(depth)], dtype=np.uint32)
