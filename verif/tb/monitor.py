"""The DUT observers: the trace port in FULL mode, the signature history in FAST mode, the host outputs.

FULL mode reads the packed ``trace`` port once per clock (one VPI access per cycle, the cheapest way
to see every record; its binary string goes straight to ``int``, without cocotb's ``LogicArray``: the
simulator is two-state, so the string holds only 0 and 1) and keeps the raw integers;
:class:`~spikecore.verif.trace_decode.TraceDecoder` turns a whole step's worth of them into
:data:`~spikecore.trace.TRACE_DTYPE` records at numpy speed afterwards.

FAST mode does not look at the DUT every cycle. The array signs each counted cycle
(:mod:`spikecore.signature`) into a 32-deep history; :func:`fast_step` lets the simulator run 32
clocks on its own (one ``Timer``, no Python per cycle), then reads ``sig_cycles`` and ``sig_history``
once. 32 clocks count at most 32 array cycles, so consecutive reads see every cycle's signature.

:class:`HostOutputs` records the spikes the array delivers to the host (the ``out_*`` ports) with one
value-change trigger per burst of deliveries, so it costs nothing while there are none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from spikecore.signature import HISTORY_DEPTH
from spikecore.verif.trace_decode import TraceDecoder, decode_history

#: Clock period of the testbench's clock, in ns.
CLOCK_NS = 10


# --- FULL mode ----------------------------------------------------------------------------------------------


@dataclass
class FullCapture:
    """What FULL mode saw during one step."""

    raws: list[int] = field(default_factory=list)
    start: int = 0                                     # sim time (ns) of the first read; one read per clock
    finished: bool = True

    @property
    def times(self) -> list[int]:
        """Sim time (ns) at which each raw value was read: one falling edge after the other."""
        return [self.start + k * CLOCK_NS for k in range(len(self.raws))]

    def cycle_times(self, unpacker: TraceDecoder) -> dict[int, int]:
        """Array cycle -> sim time (ns) of the falling edge at which the trace port showed it."""
        out = {}
        for raw, t in zip(self.raws, self.times, strict=True):
            cycle = unpacker.cycle_of(raw)
            if cycle is not None:
                out[cycle] = t
        return out


async def full_step(dut, unpacker: TraceDecoder, timeout: int, port) -> FullCapture:
    """Read ``trace`` at every falling edge until the step is over (``busy`` low, nothing on the port).

    ``port`` is the trace port's handle. Call right after the ``step`` strobe. ``busy`` is read only on
    cycles the port shows no counted cycle.
    """
    capture = FullCapture(start=int(get_sim_time("ns")))
    read, busy = port._handle.get_signal_val_binstr, dut.busy   # the raw VPI read (see the module docstring)
    raws = capture.raws
    active = 1 << unpacker.active_bit
    edge = FallingEdge(dut.clk)
    for _ in range(timeout):
        raw = int(read(), 2)
        raws.append(raw)
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
