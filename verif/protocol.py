"""Host-interface protocol monitors compiled into the simulated model, and the faults planted to test them.

The top level the Verilator builds simulate is the array of ``make rtl`` (one core module instantiated N times,
:class:`~spikecore.rtl.instanced.InstancedArray`) with a :class:`ProtocolMonitor` added as one more submodule
of the top, ``spikecore.protocol_monitor``, beside the cores, the router and the signature unit
(:func:`checked_array`). No level is added to the hierarchy, so wave views and the ``.gtkw`` names
(``spikecore.core3.state``) stay those of the product RTL. The monitor checks every rule of :data:`RULES`
(docs/spec.md §8.7) on the top's ports in every clock cycle, in the simulator itself (no Python per cycle, so
FAST mode keeps its speed). It latches the **first** violation: the clock count since reset (``mon_clock``),
the array cycle (``mon_array_cycle``), the rule number (``mon_rule``, 1-based into :data:`RULES`) and up to four
16-bit values (``mon_values``); the testbench reads them once per run and reports
``<port> protocol violation at cycle C: <rule>, saw <values>``. ``rst`` clears the latch.

Planted faults (``rtl:<name>`` in ``SPIKECORE_FAULT``, :data:`RTL_FAULTS`) are single-point patches of the RTL
source (:mod:`spikecore.verif.patched_rtl`), built like the mutants of ``spikecore mutate``: ``done-or`` is the
issue's mutant ``done = busy_d1 | ~busy``, ``inj-accepted-or`` is ``inj_accepted = inj_valid | inject_ok``,
and ``stall`` keeps the sequencer in EXEC for ever (``busy`` stays high), which the testbench's progress
watchdog must catch.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from spikecore import isa
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl import instanced
from spikecore.rtl.array import SpikeCoreArray
from spikecore.rtl.generate import TOP_MODULE
from spikecore.rtl.trace_port import CORE_RECORD, CYCLE_BITS, ROUTE_RECORD
from spikecore.verif.patched_rtl import Patch, PatchedRtl


@dataclass(frozen=True)
class Rule:
    """One protocol rule: the port group it belongs to, its text (as in docs/spec.md §8.7) and the names of
    the values latched when it is broken."""

    port: str
    text: str
    values: tuple[str, ...]


#: The rules, numbered from 1 in this order (``mon_rule``). Keep docs/spec.md §8.7 in step.
RULES: tuple[Rule, ...] = (
    Rule("config bus", "cfg_rvalid is high exactly in the cycle after cfg_read",
         ("cfg_read in the cycle before", "cfg_rvalid")),
    Rule("config bus", "no configuration access in the same cycle as step, reset_state or inj_valid",
         ("cfg_write", "cfg_read", "step | reset_state", "inj_valid")),
    Rule("injection", "inj_accepted and inj_refused are never high together",
         ("inj_accepted", "inj_refused")),
    Rule("injection", "exactly one of inj_accepted, inj_refused pulses, in the cycle after inj_valid and only then",
         ("inj_valid in the cycle before", "inj_accepted", "inj_refused")),
    Rule("injection", "an injection while busy is refused",
         ("inj_valid & busy in the cycle before", "inj_accepted")),
    Rule("step/busy/done", "done pulses exactly in the cycle busy falls (busy in the cycle before and not now)",
         ("busy in the cycle before", "busy", "done")),
    Rule("step/busy/done", "step or reset_state while busy = 0 raises busy in the next cycle",
         ("step | reset_state while idle in the cycle before", "busy")),
    Rule("step/busy/done", "cycle advances by 0 or 1 per clock, and only while busy",
         ("cycle in the cycle before (low 16 bits)", "cycle (low 16 bits)", "busy in the cycle before")),
    Rule("host output", "out_valid only with an OUT router record on trace_port, with the same core, axon "
         "and payload", ("out_valid", "router record valid and kind OUT", "out_core", "record core")),
    Rule("host output", "out_valid only while busy", ("out_valid", "busy")),
    Rule("trace port", "a trace_port cycle with active = 1 only while busy", ("active", "busy")),
    Rule("trace port", "an active trace_port cycle carries the array cycle counted in the clock before",
         ("trace cycle (low 16 bits)", "cycle in the cycle before (low 16 bits)")),
    Rule("trace port", "no record is valid on trace_port while active = 0",
         ("active", "router valid", "core records valid (any)")),
)

ARRAY = "rtl/array.py"
#: Planted faults (``rtl:<name>``): the port group whose rule each one must trip (``watchdog`` for the stall)
#: and the patch of the RTL source that plants it.
RTL_FAULTS: dict[str, tuple[str, Patch]] = {
    "done-or": ("step/busy/done", Patch(ARRAY, "self.done.eq(busy_d1 & ~self.busy)",
                                        "self.done.eq(busy_d1 | ~self.busy)")),
    "inj-accepted-or": ("injection", Patch(ARRAY, "self.inj_accepted.eq(self.inj_valid & inject_ok)",
                                           "self.inj_accepted.eq(self.inj_valid | inject_ok)")),
    "refused-too": ("injection", Patch(ARRAY, "self.inj_refused.eq(self.inj_valid & ~inject_ok)",
                                       "self.inj_refused.eq(self.inj_valid)")),
    "rvalid-write": ("config bus", Patch(ARRAY, "self.cfg_rvalid.eq(self.cfg_read)",
                                         "self.cfg_rvalid.eq(self.cfg_write)")),
    "cycle-skip": ("step/busy/done", Patch(ARRAY, "cycle.eq(cycle + 1)", "cycle.eq(cycle + 2)")),
    "step-ignored": ("step/busy/done", Patch(ARRAY, "with m.If(self.step & ~self.busy):",
                                             "with m.If(self.step & self.busy):")),
    "out-stray": ("host output", Patch(ARRAY, "self.out_valid.eq(trace_route.valid &",
                                       "self.out_valid.eq(~self.busy | trace_route.valid &")),
    "active-idle": ("trace port", Patch(ARRAY, "trace_active.eq(running)", "trace_active.eq(1)")),
    "trace-stray": ("trace port", Patch(ARRAY, "trace_active.eq(running)", "trace_active.eq(0)")),
    "trace-cycle": ("trace port", Patch(ARRAY, "trace_cycle.eq(cycle)", "trace_cycle.eq(cycle + 1)")),
    "stall": ("watchdog", Patch(ARRAY, "with m.Case(ArrayState.EXEC), m.If(exec_end):",
                                "with m.Case(ArrayState.EXEC), m.If(exec_end & 0):")),
}
VALUE_BITS = 16
VALUE_SLOTS = 4
#: The monitor's result ports, added to the array's.
MONITOR_PORTS = {
    "mon_fail": Out(1),
    "mon_rule": Out(8),
    "mon_clock": Out(64),
    "mon_array_cycle": Out(CYCLE_BITS),
    "mon_values": Out(VALUE_BITS * VALUE_SLOTS),
}


def check_rtl_fault(fault: str) -> None:
    """Refuse an unknown ``rtl:`` fault name ('' is none), in one line naming it."""
    if fault and fault not in RTL_FAULTS:
        raise SpikeCoreError(f"fault 'rtl:{fault}': unknown; expected one of {', '.join(sorted(RTL_FAULTS))}")


def fault_patch(fault: str) -> PatchedRtl | None:
    """The :class:`~spikecore.verif.patched_rtl.PatchedRtl` of ``rtl:`` fault ``fault`` (without the prefix);
    ``None`` for ''."""
    check_rtl_fault(fault)
    return PatchedRtl(f"fault-{fault}", (RTL_FAULTS[fault][1],)) if fault else None


def checked_array(config: ChipConfig, base: type[SpikeCoreArray] = instanced.InstancedArray,
                  chip: int | None = None) -> wiring.Component:
    """The array ``base(config)`` with the protocol monitor as one more submodule (``protocol_monitor``) and
    its result ports ``mon_fail``, ``mon_rule``, ``mon_clock``, ``mon_array_cycle`` and ``mon_values`` (4 x 16
    bits, value ``k`` in bits ``16k+15 .. 16k``) beside the array's own ports.

    ``base``: :class:`~spikecore.rtl.instanced.InstancedArray` for Verilog (default);
    :class:`~spikecore.rtl.array.SpikeCoreArray` (or a patched copy of it) for Amaranth's simulator.
    ``chip``: the array is that chip of a board (:func:`checked_board`), its monitor watches its own ports."""

    class CheckedArray(base):
        def __init__(self, config: ChipConfig, chip: int | None = None) -> None:
            ports = base(config, chip)      # only for its port signature
            ports._MustUse__silence = True  # Amaranth's "created but never used" warning: it is not meant to be
            members = dict(ports.signature.members) | MONITOR_PORTS
            self.config = config
            self.chip = chip
            wiring.Component.__init__(self, wiring.Signature(members))

        def elaborate(self, platform):
            m = super().elaborate(platform)
            m.submodules.protocol_monitor = monitor = ProtocolMonitor(self.config, self.signature)
            for name in monitor.watched:
                m.d.comb += getattr(monitor, name).eq(getattr(self, name))
            m.d.comb += [self.mon_fail.eq(monitor.fail), self.mon_rule.eq(monitor.rule),
                         self.mon_clock.eq(monitor.clock), self.mon_array_cycle.eq(monitor.array_cycle),
                         self.mon_values.eq(monitor.values)]
            return m

    return CheckedArray(config, chip)


def checked_board(config: ChipConfig, base: type[SpikeCoreArray] = instanced.InstancedArray) -> wiring.Component:
    """The board of ``config`` (docs/spec.md §13) whose every chip is a :func:`checked_array` (its protocol
    monitor beside its cores, ``spikecore.chip<c>.protocol_monitor``), with each chip's monitor results as the
    board's ports ``mon_fail[c]``, ``mon_rule[c]``, ... (Verilog ``mon_fail__<c>``)."""
    chips = config.chips

    class CheckedBoard(instanced.SpikeCoreBoard):
        def __init__(self, config: ChipConfig) -> None:
            ports = instanced.SpikeCoreBoard(config)   # only for its port signature and links
            ports._MustUse__silence = True
            members = dict(ports.signature.members) | {name: member.array(chips)
                                                       for name, member in MONITOR_PORTS.items()}
            self.config, self.links = config, ports.links
            wiring.Component.__init__(self, wiring.Signature(members))

        def make_array(self, chip: int) -> SpikeCoreArray:
            return checked_array(self.config, base, chip)

        def elaborate(self, platform):
            m = super().elaborate(platform)
            for c in range(chips):
                array = m.submodules[f"chip{c}"]
                for name in MONITOR_PORTS:
                    m.d.comb += getattr(self, name)[c].eq(getattr(array, name))
            return m

    return CheckedBoard(config)


def checked_verilog(config: ChipConfig) -> str:
    """Verilog of the checked array (:func:`checked_array`), top module ``spikecore`` plus the one shared core
    module, as :func:`spikecore.rtl.instanced.generate_verilog` writes them for ``make rtl``; for a board
    (``config.chips > 1``) the checked board (:func:`checked_board`)."""
    top = checked_board(config) if config.chips > 1 else checked_array(config)
    return instanced.generate_verilog(config, TOP_MODULE, array=top)


class ProtocolMonitor(wiring.Component):
    """Checks :data:`RULES` on the host ports every clock; latches the first violation (cleared by ``rst``)."""

    watched = ("cfg_write", "cfg_read", "cfg_rvalid", "inj_valid", "inj_core", "inj_accepted", "inj_refused", "step",
               "reset_state", "busy", "done", "cycle", "out_valid", "out_core", "out_axon", "out_payload",
               "trace_port")

    def __init__(self, config: ChipConfig, ports: wiring.Signature) -> None:
        """``ports``: the signature of the array whose ports are watched (for their shapes)."""
        self.config = config
        members = {name: wiring.In(ports.members[name].shape) for name in self.watched}
        members.update({"fail": Out(1), "rule": Out(8), "clock": Out(64), "array_cycle": Out(CYCLE_BITS),
                        "values": Out(VALUE_BITS * VALUE_SLOTS)})
        super().__init__(wiring.Signature(members))

    def elaborate(self, platform):
        m = Module()
        cores = self.config.cores
        raw = self.trace_port.as_value()
        trace_cycle, active = raw[:CYCLE_BITS], raw[CYCLE_BITS]
        route = ROUTE_RECORD(raw[CYCLE_BITS + 1:CYCLE_BITS + 1 + ROUTE_RECORD.size])
        base = CYCLE_BITS + 1 + ROUTE_RECORD.size
        core_valid = []
        for i in range(cores):
            record = CORE_RECORD(raw[base + i * CORE_RECORD.size:base + (i + 1) * CORE_RECORD.size])
            core_valid += [record.acc_valid, record.spike_valid]
        any_core_valid = Cat(*core_valid).any()

        # previous-cycle copies; `started` masks the first cycle after reset, which has no previous cycle
        started = Signal()
        read_d1, inj_d1, inj_busy_d1, busy_d1, cmd_d1 = (Signal(name=n) for n in (
            "read_d1", "inj_d1", "inj_busy_d1", "busy_d1", "cmd_d1"))
        cycle_prev = Signal(CYCLE_BITS)
        m.d.sync += [started.eq(1), read_d1.eq(self.cfg_read), inj_d1.eq(self.inj_valid),
                     inj_busy_d1.eq(self.inj_valid & self.busy), busy_d1.eq(self.busy),
                     cmd_d1.eq((self.step | self.reset_state) & ~self.busy), cycle_prev.eq(self.cycle)]
        is_out = route.valid & (route.kind == int(isa.TraceKind.OUT))
        delta = (self.cycle - cycle_prev)[:CYCLE_BITS]
        cfg_any = self.cfg_write | self.cfg_read
        checks = [   # (broken, values) in the order of RULES
            (self.cfg_rvalid != read_d1, (read_d1, self.cfg_rvalid)),
            (cfg_any & (self.step | self.reset_state | self.inj_valid),
             (self.cfg_write, self.cfg_read, self.step | self.reset_state, self.inj_valid)),
            (self.inj_accepted & self.inj_refused, (self.inj_accepted, self.inj_refused)),
            ((self.inj_accepted | self.inj_refused) != inj_d1, (inj_d1, self.inj_accepted, self.inj_refused)),
            (inj_busy_d1 & self.inj_accepted, (inj_busy_d1, self.inj_accepted)),
            (self.done != (busy_d1 & ~self.busy), (busy_d1, self.busy, self.done)),
            (cmd_d1 & ~self.busy, (cmd_d1, self.busy)),
            ((delta > 1) | ((delta == 1) & ~busy_d1), (cycle_prev[:16], self.cycle[:16], busy_d1)),
            (self.out_valid & (~is_out | (self.out_core != route.core) | (self.out_axon != route.axon)
                               | (self.out_payload != route.payload)),
             (self.out_valid, is_out, self.out_core, route.core)),
            (self.out_valid & ~self.busy, (self.out_valid, self.busy)),
            (active & ~self.busy, (active, self.busy)),
            (active & (trace_cycle != cycle_prev), (trace_cycle[:16], cycle_prev[:16])),
            (~active & (route.valid | any_core_valid), (active, route.valid, any_core_valid)),
        ]
        assert len(checks) == len(RULES)
        clock = Signal(64)
        m.d.sync += clock.eq(clock + 1)
        with m.If(started & ~self.fail):
            # the first broken rule of the first violating cycle wins (the last m.d.sync assignment wins)
            for number, (broken, values) in reversed(list(enumerate(checks, start=1))):
                slots = [Signal(VALUE_BITS, name=f"rule{number}_value{k}") for k in range(len(values))]
                m.d.comb += [slot.eq(value) for slot, value in zip(slots, values, strict=True)]
                with m.If(broken):
                    m.d.sync += [self.fail.eq(1), self.rule.eq(number), self.clock.eq(clock),
                                 self.array_cycle.eq(self.cycle), self.values.eq(Cat(*slots))]
        return m


@dataclass(frozen=True)
class Violation:
    """The first protocol violation the monitor latched."""

    rule: Rule
    clock: int
    array_cycle: int
    values: tuple[int, ...]

    @property
    def message(self) -> str:
        saw = ", ".join(f"{name} = {value}" for name, value in zip(self.rule.values, self.values, strict=False))
        return (f"{self.rule.port} protocol violation at cycle {self.clock}: {self.rule.text}, saw {saw} "
                f"(cycle: clocks since reset; array cycle {self.array_cycle})")


def decode_violation(fail: int, rule: int, clock: int, array_cycle: int, values: int) -> Violation | None:
    """The :class:`Violation` the monitor's ports describe, or ``None`` when ``fail`` is 0."""
    if not fail:
        return None
    if not 1 <= rule <= len(RULES):
        raise SpikeCoreError(f"protocol monitor: rule number {rule} is outside 1..{len(RULES)}")
    mask = (1 << VALUE_BITS) - 1
    slots = tuple((values >> (VALUE_BITS * k)) & mask for k in range(VALUE_SLOTS))
    return Violation(RULES[rule - 1], clock, array_cycle, slots[:len(RULES[rule - 1].values)])
