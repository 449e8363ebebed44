"""The DUT observers: the trace port in FULL mode, the signature history in FAST mode, the host outputs.

FULL mode reads the packed ``trace`` port once per clock (one VPI access per cycle, the cheapest way
to see every record) and keeps the raw integers; :class:`TraceUnpacker` turns a whole step's worth of
them into :data:`~spikecore.trace.TRACE_DTYPE` records at numpy speed afterwards.

FAST mode does not look at the DUT every cycle. The array signs each counted cycle
(:mod:`spikecore.signature`) into a 32-deep history; :func:`fast_step` lets the simulator run 32
clocks on its own (one ``Timer``, no Python per cycle), then reads ``sig_cycles`` and ``sig_history``
once. 32 clocks count at most 32 array cycles, so consecutive reads see every cycle's signature.

:class:`HostOutputs` records the spikes the array delivers to the host (the ``out_*`` ports) with one
value-change trigger per burst of deliveries, so it costs nothing while there are none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from spikecore.isa import TraceKind
from spikecore.rtl.trace_port import CORE_RECORD, ROUTE_RECORD, trace_layout
from spikecore.signature import HISTORY_DEPTH, MASK32
from spikecore.trace import TRACE_DTYPE, empty_trace

#: Clock period of the testbench's clock, in ns.
CLOCK_NS = 10


# --- decoding the trace port ------------------------------------------------------------------------------


class TraceUnpacker:
    """Decodes many raw ``trace`` port values at once (the offsets come from ``rtl.trace_port``'s layout).

    Each value is split into bits with numpy; every field of every core is then a dot product of a
    bit slice with powers of two, for all cycles at once.
    """

    def __init__(self, cores: int) -> None:
        self.cores = cores
        layout = trace_layout(cores)
        self.width = layout.size
        self.nbytes = (self.width + 7) // 8
        base = layout["cores"].offset
        self.core_base = base + np.arange(cores) * CORE_RECORD.size
        self.core_fields = {name: (CORE_RECORD[name].offset, CORE_RECORD[name].width,
                                   CORE_RECORD[name].shape.signed) for name in CORE_RECORD.members}
        route = layout["route"].offset
        self.route_fields = {name: (route + ROUTE_RECORD[name].offset, ROUTE_RECORD[name].width,
                                    ROUTE_RECORD[name].shape.signed) for name in ROUTE_RECORD.members}
        self.cycle_field = (layout["cycle"].offset, layout["cycle"].width, False)
        self.active_bit = layout["active"].offset

    @staticmethod
    def _value(bits: np.ndarray, field: tuple[int, int, bool], base: np.ndarray | int = 0) -> np.ndarray:
        """Field values from a (cycles, width) bit matrix; ``base`` may be a per-core offset vector."""
        offset, width, is_signed = field
        columns = np.asarray(base)[..., None] + offset + np.arange(width)
        weights = (np.int64(1) << np.arange(width, dtype=np.int64))
        raw = bits[:, columns].astype(np.int64) @ weights
        if is_signed:
            raw = np.where(raw >> (width - 1) & 1, raw - (np.int64(1) << width), raw)
        return raw

    def decode(self, raws: list[int]) -> np.ndarray:
        """The records of every active cycle among ``raws``, sorted (cycle, core, kind)."""
        active = [r for r in raws if (r >> self.active_bit) & 1]
        if not active:
            return empty_trace()
        buffer = b"".join(r.to_bytes(self.nbytes, "little") for r in active)
        bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8).reshape(len(active), self.nbytes),
                             axis=1, bitorder="little")
        cycles = self._value(bits, self.cycle_field)
        parts = []
        for kind, valid, index, value in ((TraceKind.ACC, "acc_valid", "acc_neuron", "acc_value"),
                                          (TraceKind.SPIKE, "spike_valid", "spike_neuron", "spike_payload")):
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

    def _per_row(self, bits: np.ndarray, field: tuple[int, int, bool], bases: np.ndarray) -> np.ndarray:
        """One field per row, each row at its own core's offset."""
        offset, width, is_signed = field
        columns = bases[:, None] + offset + np.arange(width)
        picked = np.take_along_axis(bits, columns, axis=1).astype(np.int64)
        raw = picked @ (np.int64(1) << np.arange(width, dtype=np.int64))
        if is_signed:
            raw = np.where(raw >> (width - 1) & 1, raw - (np.int64(1) << width), raw)
        return raw

    def cycle_of(self, raw: int) -> int | None:
        """The array cycle an active value shows (None when the cycle was not counted)."""
        if not (raw >> self.active_bit) & 1:
            return None
        offset, width, _ = self.cycle_field
        return (raw >> offset) & ((1 << width) - 1)


def decode_history(raw: int) -> list[int]:
    """``sig_history`` as a list: entry ``k`` is the signature of cycle ``sig_cycles - 1 - k``."""
    return [(raw >> (32 * k)) & MASK32 for k in range(HISTORY_DEPTH)]


# --- FULL mode ----------------------------------------------------------------------------------------------


@dataclass
class FullCapture:
    """What FULL mode saw during one step."""

    raws: list[int] = field(default_factory=list)
    times: list[int] = field(default_factory=list)     # sim time (ns) at which each raw value was read
    finished: bool = True

    def cycle_times(self, unpacker: TraceUnpacker) -> dict[int, int]:
        """Array cycle -> sim time (ns) of the falling edge at which the trace port showed it."""
        out = {}
        for raw, t in zip(self.raws, self.times, strict=True):
            cycle = unpacker.cycle_of(raw)
            if cycle is not None:
                out[cycle] = t
        return out


async def full_step(dut, unpacker: TraceUnpacker, timeout: int, port) -> FullCapture:
    """Read ``trace`` at every falling edge until the step is over (``busy`` low, nothing on the port).

    ``port`` is the trace port's handle. Call right after the ``step`` strobe. ``busy`` is read only on
    cycles the port shows no counted cycle.
    """
    capture = FullCapture()
    trace, busy = port, dut.busy
    active = 1 << unpacker.active_bit
    edge = FallingEdge(dut.clk)
    for _ in range(timeout):
        raw = trace.value.to_unsigned()
        capture.raws.append(raw)
        capture.times.append(int(get_sim_time("ns")))
        if not raw & active and not int(busy.value):
            return capture
        await edge
    capture.finished = False
    return capture


# --- FAST mode ----------------------------------------------------------------------------------------------


@dataclass
class SignatureSnapshot:
    """One read of the signature unit: ``history[k]`` signs cycle ``cycles - 1 - k``."""

    cycles: int
    history: list[int]
    records: int


@dataclass
class FastCapture:
    snapshots: list[SignatureSnapshot] = field(default_factory=list)
    finished: bool = True


def read_signatures(dut) -> SignatureSnapshot:
    return SignatureSnapshot(dut.sig_cycles.value.to_unsigned(), decode_history(dut.sig_history.value.to_unsigned()),
                             dut.sig_records.value.to_unsigned())


async def fast_step(dut, expected_clocks: int, timeout: int) -> FastCapture:
    """Let the step run in chunks of at most HISTORY_DEPTH clocks, reading the signatures after each.

    ``expected_clocks`` (the golden step length plus the pipeline latency) sizes the last chunk so that
    a correct DUT is not left idling; a DUT still busy then is followed in further chunks until
    ``timeout`` clocks have passed. Starts and ends on a falling edge.
    """
    capture = FastCapture()
    waited = 0
    while True:
        chunk = min(HISTORY_DEPTH, max(1, expected_clocks - waited)) if waited < expected_clocks else HISTORY_DEPTH
        # A Timer lets Verilator run the chunk without a Python callback per clock; it lands a quarter
        # period before the falling edge that ends the chunk, which is then awaited to read stable values.
        await Timer(chunk * CLOCK_NS - CLOCK_NS // 4, unit="ns")
        await FallingEdge(dut.clk)
        waited += chunk
        capture.snapshots.append(read_signatures(dut))
        if not int(dut.busy.value):
            return capture
        if waited >= timeout:
            capture.finished = False
            return capture


# --- host outputs -------------------------------------------------------------------------------------------


class HostOutputs:
    """Collects ``(step, core, axon, payload)`` for every spike the array delivers to the host.

    Waits for a rising ``out_valid`` (no cost while nothing is delivered), then samples the ``out_*``
    ports at every falling edge while it stays high. ``step`` is set by the test before each step. While
    ``enabled`` is false (FAST mode, where per-cycle sampling would cost as much as FULL mode) only the
    rising edges are seen and nothing is recorded.
    """

    def __init__(self, dut) -> None:
        self.dut = dut
        self.step = 0
        self.enabled = True
        self.outputs: list[tuple[int, int, int, int]] = []

    async def run(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.out_valid)
            if not self.enabled:
                continue
            await FallingEdge(dut.clk)
            while int(dut.out_valid.value):
                self.outputs.append((self.step, dut.out_core.value.to_unsigned(), dut.out_axon.value.to_unsigned(),
                                     dut.out_payload.value.to_signed()))
                await FallingEdge(dut.clk)
