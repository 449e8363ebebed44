"""The trace port: every trace record of every core on top-level ports, plus per-cycle signatures.

A testbench can observe the array in two ways (docs/spec.md §8):

- **Full records.** The ``trace`` port (layout :func:`trace_layout`) carries, one cycle after the array
  cycle they belong to, that cycle's number, an ``active`` bit (the cycle was counted), the router's
  record and each core's ACC, SPIKE and SYN records. It is one packed vector, so a cocotb testbench reads it
  with one handle access per cycle; :class:`spikecore.verif.trace_decode.TraceDecoder` turns the integer
  into :data:`~spikecore.trace.TRACE_DTYPE` records.
- **Signatures.** :class:`SignatureUnit` folds the records of each counted cycle into a 32-bit
  signature (the hash of :mod:`spikecore.signature`) and a record count, and shifts the signature
  into a 32-entry history. Reading ``history`` once every 32 cycles lets a testbench check the whole
  trace at clock speed and locate the first wrong cycle.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Cat, Const, Module, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spikecore import isa
from spikecore import signature as ref
from spikecore.errors import SpikeCoreError
from spikecore.rtl.layout import KIND_BITS, NEURON_BITS

#: Width of the array cycle counter and of every cycle number on the trace port.
CYCLE_BITS = 64
#: Width of the per-cycle record count (3 records per core + 1 router record, at most 766).
RECORD_COUNT_BITS = 16

#: What one core contributes to the trace in one cycle: at most one ACC, one SPIKE and (version 2) one SYN
#: record. The SYN fields come last, so the version-1 fields keep their bit positions.
CORE_RECORD = data.StructLayout({
    "acc_valid": unsigned(1),
    "acc_neuron": unsigned(NEURON_BITS),
    "acc_value": signed(isa.ACC_BITS),
    "spike_valid": unsigned(1),
    "spike_neuron": unsigned(NEURON_BITS),
    "spike_payload": signed(isa.WIDE_PAYLOAD_BITS),   # int8, or int24 from FIRE wide=1 (version 2)
    "syn_valid": unsigned(1),
    "syn_neuron": unsigned(NEURON_BITS),
    "syn_value": signed(isa.ACC_BITS),
})

#: The record kinds a core emits and their (valid, index, value) fields in :data:`CORE_RECORD`.
CORE_RECORD_KINDS: tuple[tuple[isa.TraceKind, str, str, str], ...] = (
    (isa.TraceKind.ACC, "acc_valid", "acc_neuron", "acc_value"),
    (isa.TraceKind.SPIKE, "spike_valid", "spike_neuron", "spike_payload"),
    (isa.TraceKind.SYN, "syn_valid", "syn_neuron", "syn_value"),
)

#: The router's record of one cycle: EVENT / DROP (core = destination) or OUT (core = source).
ROUTE_RECORD = data.StructLayout({
    "valid": unsigned(1),
    "kind": unsigned(KIND_BITS),
    "core": unsigned(isa.CORE_ID_BITS),
    "axon": unsigned(isa.AXON_BITS),
    "payload": signed(isa.WIDE_PAYLOAD_BITS),
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
            for kind, valid_name, index_name, value_name in CORE_RECORD_KINDS:
                valid, index, value = record[valid_name], record[index_name], record[value_name]
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
