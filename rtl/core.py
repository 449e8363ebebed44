"""One SpikeCore neuron core (docs/spec.md §1.2, §4, §5) as an Amaranth component.

The core runs its program once per timestep: from the array's ``start`` to its first ``HALT``. Its
records (one ACC, one SPIKE and one SYN at most per cycle) leave on the ``trace`` port in the cycle they happen;
the array registers them onto the top-level trace port. Between steps the array's configuration bus
reads and writes every memory through the ``cfg_*`` ports, the router drains the out-queue through
``outq_addr`` / ``outq_data`` and appends routed (or host-injected) events through ``ev_in``.

>>> from spikecore.config import ChipConfig
>>> core = Core(ChipConfig(cores=1), core_id=0)
>>> core.trace.shape().size
115
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikecore import isa
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.arith import round_shift, round_shift_const, saturate
from spikecore.rtl.layout import (
    CONFIG_INDEX_BITS,
    COUNT_BITS,
    EVENT,
    FANOUT_ENTRY,
    FANOUT_INDEX_BITS,
    INSTRUCTION,
    NEURON_PARAMS,
    OUTQ_ENTRY,
    PARAM_WORD_BITS,
    PARAM_WORDS,
    STEP_MOD_BITS,
    ConfigSpace,
    CoreStatus,
    default_params_word,
)
from spikecore.rtl.trace_port import CORE_RECORD

#: Width of the event counters: drops, spikes, synaptic ops, neuron updates, deliveries (they wrap; docs/spec.md §8).
COUNTER_BITS = 32


class CoreState(enum.Enum, shape=4):
    """What the core does this cycle."""

    IDLE = 0     # halted or between steps; the configuration bus owns the memory ports
    ISSUE = 1    # decode the word at ``pc`` and set up the first work cycle's addresses
    ACC = 2      # one multiply-accumulate (event ``e``, neuron ``j``)
    FIRE = 3     # evaluate neuron ``j`` of a FIRE: compare, spike, reset
    PUSH = 4     # push one fan-out entry of the neuron that just fired
    LEAK = 5     # decay neuron ``j``
    RESET = 6    # state reset: copy ``init`` into the membranes, one neuron per cycle
    SYN = 7      # version 2: integrate synaptic current ``j`` into its membrane, then decay it
    MERGE = 8    # version 2: add event ``e``'s payload to the membrane its axon names (when in the range)


def core_signature(config: ChipConfig) -> wiring.Signature:
    """The ports of a :class:`Core` of ``config`` (identical for every core id)."""
    return wiring.Signature({
        "start": In(1),
        "barrier": In(1),
        "reset_state": In(1),
        "step_mod": In(STEP_MOD_BITS),
        "done": Out(1),
        "busy": Out(1),
        "ev_in_valid": In(1),
        "ev_in": In(EVENT),
        "ev_full": Out(1),
        "outq_addr": In(range(config.fanout_depth)),
        "outq_data": Out(OUTQ_ENTRY),
        "outq_count": Out(range(config.fanout_depth + 1)),
        "cfg_space": In(ConfigSpace),
        "cfg_index": In(CONFIG_INDEX_BITS),
        "cfg_wdata": In(isa.WORD_BITS),
        "cfg_write": In(1),
        "cfg_rdata": Out(isa.WORD_BITS),
        "trace": Out(CORE_RECORD),
    })


class Core(wiring.Component):
    """One neuron core.

    Parameters
    ----------
    config:
        The chip configuration (memory sizes).
    core_id:
        This core's id; it is the ``core`` of the core's trace records.

    Members
    -------
    start: In(1)
        Pulse in the cycle before the step's first cycle: the core issues ``pc = 0`` in the next cycle.
    barrier: In(1)
        The barrier cycle: the input buffer is emptied.
    step_mod: In(64)
        ``s mod D`` of the current step for D = 1 .. 16, 4 bits each (D = 1 in bits 3..0): the core runs
        (``start`` and ``barrier`` act) only when its own D's counter equals its phase (docs/spec.md §2).
    reset_state: In(1)
        Pulse (while idle): membranes := init and synaptic currents := syn_init over the next ``neurons + 1``
        cycles, counters cleared.
    done: Out(1)
        The core has halted, or issues ``HALT`` this cycle.
    busy: Out(1)
        The core is not idle (running its program or resetting state).
    ev_in_valid, ev_in: In(1), In(EVENT)
        Append an event to the input buffer this cycle, or count a drop if it is full.
    ev_full: Out(1)
        The input buffer is full.
    outq_addr, outq_data: In, Out(OUTQ_ENTRY)
        Synchronous read port of the out-queue (data one cycle after the address).
    outq_count: Out
        Out-queue entries pushed in the current (or last) step.
    cfg_space, cfg_index, cfg_wdata, cfg_write: In
        Configuration access; ``cfg_write`` is only asserted while the core is idle.
    cfg_rdata: Out(32)
        The word addressed by ``cfg_space`` / ``cfg_index`` one cycle earlier.
    trace: Out(CORE_RECORD)
        This cycle's ACC, SPIKE and SYN records.
    """

    def __init__(self, config: ChipConfig, core_id: int) -> None:
        if not isinstance(config, ChipConfig):
            raise SpikeCoreError(f"Core: config must be a ChipConfig, not {config!r}")
        if isinstance(core_id, bool) or not isinstance(core_id, int) or not 0 <= core_id < config.cores:
            raise SpikeCoreError(f"Core: core_id must be 0..{config.cores - 1}, not {core_id!r}")
        self.config = config
        self.core_id = core_id
        super().__init__(core_signature(config))

    def elaborate(self, platform):
        """Micro-architecture: every instruction spends one ISSUE cycle, then one cycle per unit of work.

        The instruction memory's synchronous read port always addresses the *next* ``pc``, so the word
        is ready in the issue cycle without a fetch bubble. Membranes and the input buffer are read
        asynchronously, so a multiply-accumulate reads, adds, saturates and writes back in one cycle;
        the weight, neuron-parameter and fan-out memories are synchronous and their next row is
        addressed one cycle ahead (in the issue cycle for the first). During FIRE's push cycles the
        parameter port keeps addressing the next neuron, so its row is ready when evaluation resumes.
        Between steps (IDLE) every synchronous read port follows the configuration bus index; the membranes
        and the input buffer have a second asynchronous read port for the configuration bus, so the datapath
        never depends combinationally on the array's inputs (a simulator such as Verilator re-evaluates
        logic that does on every input change: with one shared port, every core's whole datapath).
        """
        m = Module()
        cfg = self.config

        # --- schedule (v2, docs/spec.md §2): run in steps s with s mod D = phase -----------------------
        period_phase = Signal(8)     # 16 (D - 1) + phase; 0 after power-on: every step
        runs = Signal()
        step_mods = Array(self.step_mod[4 * i:4 * i + 4] for i in range(isa.PERIOD_MAX))
        m.d.comb += runs.eq(step_mods[period_phase[4:8]] == period_phase[:4])

        # --- storage ---------------------------------------------------------------------------
        m.submodules.imem = imem = Memory(shape=unsigned(isa.WORD_BITS), depth=cfg.imem_depth,
                                          init=[isa.HALT_WORD] * cfg.imem_depth)
        m.submodules.weights = weights = Memory(shape=signed(isa.WEIGHT_BITS), depth=cfg.weight_bytes, init=[])
        m.submodules.params = params = Memory(shape=unsigned(NEURON_PARAMS.size), depth=cfg.neurons,
                                              init=[default_params_word()] * cfg.neurons)
        m.submodules.fanout = fanout = Memory(shape=FANOUT_ENTRY, depth=cfg.fanout_depth, init=[])
        m.submodules.membranes = membranes = Memory(shape=signed(isa.ACC_BITS), depth=cfg.neurons, init=[])
        m.submodules.events = events = Memory(shape=EVENT, depth=cfg.event_depth, init=[])
        m.submodules.outq = outq = Memory(shape=OUTQ_ENTRY, depth=cfg.fanout_depth, init=[])
        # Version 2 (CubaLIF): the synaptic currents, read asynchronously like the membranes.
        m.submodules.currents = currents = Memory(shape=signed(isa.ACC_BITS), depth=cfg.neurons, init=[])

        # One read and one write port per memory (one assignment per line: Amaranth names the port
        # signals after the variable). Membranes and events are read asynchronously.
        imem_wr = imem.write_port()
        imem_rd = imem.read_port()
        w_wr = weights.write_port()
        w_rd = weights.read_port()
        p_wr = params.write_port(granularity=isa.WORD_BITS)
        p_rd = params.read_port()
        fo_wr = fanout.write_port()
        fo_rd = fanout.read_port()
        acc_wr = membranes.write_port()
        acc_rd = membranes.read_port(domain="comb")
        acc_cfg_rd = membranes.read_port(domain="comb")  # the configuration bus's own port (see below)
        ev_wr = events.write_port()
        ev_rd = events.read_port(domain="comb")
        ev_cfg_rd = events.read_port(domain="comb")
        oq_wr = outq.write_port()
        oq_rd = outq.read_port()
        syn_wr = currents.write_port()
        syn_rd = currents.read_port(domain="comb")

        word = data.View(INSTRUCTION, imem_rd.data)
        param = data.View(NEURON_PARAMS, p_rd.data)

        # --- state -----------------------------------------------------------------------------
        state = Signal(CoreState)
        pc = Signal(range(cfg.imem_depth))
        pc_next = Signal.like(pc)
        base = Signal(isa.NEURON.width)            # latched at issue: first neuron of the range
        count = Signal(COUNT_BITS)                 # neurons in the range (1 .. 256)
        wbase = Signal(isa.WBASE.width)
        shift = Signal(isa.SHIFT.width)
        reset_mode = Signal(isa.RESET.width)
        graded = Signal()
        wide = Signal()                            # FIRE wide=1: the graded payload saturates to 24 bits
        to_current = Signal()                      # latched at issue: this ACC is a SACC (into the currents)
        j = Signal(COUNT_BITS)                     # offset of the current neuron in the range
        e = Signal(range(cfg.event_depth + 1))     # ACC: current event
        ev_count = Signal(range(cfg.event_depth + 1))
        payload = Signal(signed(isa.WIDE_PAYLOAD_BITS))  # ACC, MERGE: current event's payload; PUSH: the spike's
        ev_axon = Signal(isa.AXON_BITS)            # MERGE: current event's axon (the neuron it adds to)
        w_addr = Signal.like(w_rd.addr)            # the weight address presented last cycle (data now)
        fo_addr = Signal.like(fo_rd.addr)          # likewise for the fan-out table
        fo_left = Signal(FANOUT_INDEX_BITS)        # PUSH: entries still to push, this one included
        tail = Signal(range(cfg.fanout_depth + 1))
        drops = Signal(COUNTER_BITS)
        spikes = Signal(COUNTER_BITS)
        synops = Signal(COUNTER_BITS)              # ACC work cycles (one MAC each), MERGE adds
        updates = Signal(COUNTER_BITS)             # FIRE evaluation and LEAK cycles (one neuron each)
        deliveries = Signal(COUNTER_BITS)          # out-queue pushes: each is delivered once by the router
        reset_n = Signal(range(cfg.neurons + 1))

        halting = Signal()                         # HALT issues this cycle
        neuron = Signal(isa.NEURON.width + 2)
        m.d.comb += neuron.eq(base + j)
        last_j = j + 1 == count

        m.d.comb += [
            pc_next.eq(pc),
            imem_rd.addr.eq(pc_next),
            acc_rd.addr.eq(neuron),
            acc_wr.addr.eq(neuron),
            syn_rd.addr.eq(neuron),
            syn_wr.addr.eq(neuron),
            p_rd.addr.eq(neuron + 1),
            ev_rd.addr.eq(e + 1),
            w_rd.addr.eq(w_addr),
            fo_rd.addr.eq(fo_addr + 1),
            oq_rd.addr.eq(self.outq_addr),
            acc_cfg_rd.addr.eq(self.cfg_index),
            ev_cfg_rd.addr.eq(self.cfg_index),
            self.outq_data.eq(oq_rd.data),
            self.outq_count.eq(tail),
            self.ev_full.eq(ev_count == cfg.event_depth),
            self.busy.eq(state != CoreState.IDLE),
        ]
        m.d.sync += [pc.eq(pc_next), w_addr.eq(w_rd.addr), fo_addr.eq(fo_rd.addr)]

        # --- datapath --------------------------------------------------------------------------
        membrane = acc_rd.data
        acc_sum = saturate(membrane + payload * w_rd.data, isa.ACC_BITS)
        fired = membrane >= param.threshold
        rounded = round_shift(membrane, shift)
        spike_payload = Mux(wide, saturate(rounded, isa.WIDE_PAYLOAD_BITS),
                            Mux(graded, saturate(rounded, isa.PAYLOAD_BITS),
                                Const(isa.BINARY_PAYLOAD, signed(isa.PAYLOAD_BITS))))
        # MERGE (§4.7): the event's axon names the neuron; outside neuron .. neuron+count-1 the cycle only passes
        merge_hit = (ev_axon >= base) & (ev_axon < base + count)
        merged = saturate(acc_rd.data + payload, isa.ACC_BITS)
        sub_reset = saturate(membrane - param.threshold, isa.ACC_BITS)
        leaked = round_shift_const(membrane * param.decay, isa.DECAY_FRAC_BITS)[:isa.ACC_BITS].as_signed()
        # version 2 (§4.5, §4.6): SACC's MAC into the current; SYN's integration and current decay
        current = syn_rd.data
        syn_sum = saturate(current + payload * w_rd.data, isa.ACC_BITS)
        integrated = saturate(membrane + current, isa.ACC_BITS)
        syn_decayed = round_shift_const(current * param.syn_decay, isa.DECAY_FRAC_BITS)[:isa.ACC_BITS].as_signed()

        def row_start(axon, block, length):
            """First weight address of ``axon``'s row; the adder is log2(weight_bytes) bits wide (the wrap)."""
            return isa.weight_row(block, axon, length)

        def record_acc(value):
            m.d.comb += [
                self.trace.acc_valid.eq(1),
                self.trace.acc_neuron.eq(neuron),
                self.trace.acc_value.eq(value),
                acc_wr.en.eq(1),
                acc_wr.data.eq(value),
            ]

        def record_syn(value):
            m.d.comb += [
                self.trace.syn_valid.eq(1),
                self.trace.syn_neuron.eq(neuron),
                self.trace.syn_value.eq(value),
                syn_wr.en.eq(1),
                syn_wr.data.eq(value),
            ]

        def next_neuron(work_state):
            with m.If(last_j):
                m.d.sync += state.eq(CoreState.ISSUE)
            with m.Else():
                m.d.sync += [j.eq(j + 1), state.eq(work_state)]

        # --- sequencer -------------------------------------------------------------------------
        with m.Switch(state):
            with m.Case(CoreState.IDLE):
                # Between steps the read ports follow the configuration index and writes land; ``start``
                # addresses instruction 0 so that it is on the read port in the first issue cycle.
                index = self.cfg_index
                m.d.comb += [
                    imem_rd.addr.eq(Mux(self.start, 0, index)),
                    w_rd.addr.eq(index),
                    p_rd.addr.eq(index >> PARAM_WORD_BITS),
                    fo_rd.addr.eq(index),
                ]
                with m.If(self.cfg_write), m.Switch(self.cfg_space):
                    with m.Case(ConfigSpace.IMEM):
                        m.d.comb += [imem_wr.en.eq(1), imem_wr.addr.eq(index), imem_wr.data.eq(self.cfg_wdata)]
                    with m.Case(ConfigSpace.WEIGHT):
                        m.d.comb += [w_wr.en.eq(1), w_wr.addr.eq(index),
                                 w_wr.data.eq(self.cfg_wdata[:isa.WEIGHT_BITS])]
                    with m.Case(ConfigSpace.PARAM):
                        m.d.comb += [
                            p_wr.en.eq(1 << index[:PARAM_WORD_BITS]),
                            p_wr.addr.eq(index >> PARAM_WORD_BITS),
                            p_wr.data.eq(Cat(*[self.cfg_wdata] * PARAM_WORDS)),
                        ]
                    with m.Case(ConfigSpace.FANOUT):
                        m.d.comb += [fo_wr.en.eq(1), fo_wr.addr.eq(index),
                                     fo_wr.data.eq(self.cfg_wdata[:FANOUT_ENTRY.size])]
                    with m.Case(ConfigSpace.MEMBRANE):
                        m.d.comb += [acc_wr.en.eq(1), acc_wr.addr.eq(index), acc_wr.data.eq(self.cfg_wdata)]
                with m.If(self.cfg_write & (self.cfg_space == ConfigSpace.PERIOD)):
                    m.d.sync += period_phase.eq(self.cfg_wdata[:8])
                with m.If(self.start):   # an idle step (period/phase) empties the out-queue too: nothing to route
                    m.d.sync += tail.eq(0)
                with m.If(self.start & runs):
                    m.d.sync += state.eq(CoreState.ISSUE)
                with m.Elif(self.reset_state):
                    m.d.sync += [state.eq(CoreState.RESET), reset_n.eq(0), ev_count.eq(0), tail.eq(0), drops.eq(0),
                                 spikes.eq(0), synops.eq(0), updates.eq(0), deliveries.eq(0)]

            with m.Case(CoreState.ISSUE):
                first_count = word.count + isa.COUNT.bias
                m.d.comb += pc_next.eq(pc + 1)
                m.d.sync += [
                    base.eq(word.neuron), count.eq(first_count), wbase.eq(word.wbase), shift.eq(word.shift),
                    reset_mode.eq(word.reset), graded.eq(word.graded), wide.eq(word.wide), j.eq(0), e.eq(0),
                    to_current.eq(word.opcode == int(isa.Opcode.SACC)),
                ]
                with m.Switch(word.opcode):
                    with m.Case(int(isa.Opcode.HALT)):
                        m.d.comb += [pc_next.eq(0), halting.eq(1)]
                        m.d.sync += state.eq(CoreState.IDLE)
                    with m.Case(int(isa.Opcode.ACC), int(isa.Opcode.SACC)):
                        m.d.comb += [ev_rd.addr.eq(0),
                                     w_rd.addr.eq(row_start(ev_rd.data.axon, word.wbase, first_count))]
                        m.d.sync += payload.eq(ev_rd.data.payload)
                        with m.If(ev_count != 0):
                            m.d.sync += state.eq(CoreState.ACC)
                    with m.Case(int(isa.Opcode.FIRE)):
                        m.d.comb += p_rd.addr.eq(word.neuron)
                        m.d.sync += state.eq(CoreState.FIRE)
                    with m.Case(int(isa.Opcode.LEAK)):
                        m.d.comb += p_rd.addr.eq(word.neuron)
                        m.d.sync += state.eq(CoreState.LEAK)
                    with m.Case(int(isa.Opcode.SYN)):
                        m.d.comb += p_rd.addr.eq(word.neuron)
                        m.d.sync += state.eq(CoreState.SYN)
                    with m.Case(int(isa.Opcode.MERGE)):
                        m.d.comb += ev_rd.addr.eq(0)
                        m.d.sync += [payload.eq(ev_rd.data.payload), ev_axon.eq(ev_rd.data.axon)]
                        with m.If(ev_count != 0):
                            m.d.sync += state.eq(CoreState.MERGE)
                    # NOP, and any word the loader would reject, take the issue cycle only.

            with m.Case(CoreState.ACC):
                with m.If(to_current):
                    record_syn(syn_sum)
                with m.Else():
                    record_acc(acc_sum)
                m.d.sync += synops.eq(synops + 1)     # ACC and SACC: one synaptic op each cycle
                with m.If(~last_j):
                    m.d.comb += w_rd.addr.eq(w_addr + 1)
                    m.d.sync += j.eq(j + 1)
                with m.Else():
                    m.d.sync += [j.eq(0), e.eq(e + 1)]
                    with m.If(e + 1 == ev_count):
                        m.d.sync += state.eq(CoreState.ISSUE)
                    with m.Else():
                        m.d.comb += w_rd.addr.eq(row_start(ev_rd.data.axon, wbase, count))
                        m.d.sync += payload.eq(ev_rd.data.payload)

            with m.Case(CoreState.FIRE):
                m.d.comb += [
                    self.trace.spike_valid.eq(fired),
                    self.trace.spike_neuron.eq(neuron),
                    self.trace.spike_payload.eq(spike_payload),
                ]
                m.d.sync += [spikes.eq(spikes + fired), updates.eq(updates + 1)]
                with m.Switch(reset_mode):
                    with m.Case(int(isa.ResetMode.VALUE)), m.If(fired):
                        record_acc(param.reset)
                    with m.Case(int(isa.ResetMode.SUB)), m.If(fired):
                        record_acc(sub_reset)
                    with m.Case(int(isa.ResetMode.ALWAYS)):
                        record_acc(param.reset)
                with m.If(fired & (param.fanout_count != 0)):
                    m.d.comb += fo_rd.addr.eq(param.fanout_start)
                    m.d.sync += [state.eq(CoreState.PUSH), fo_left.eq(param.fanout_count),
                                 payload.eq(spike_payload)]
                with m.Else():
                    next_neuron(CoreState.FIRE)

            with m.Case(CoreState.PUSH):
                # The loader guarantees the pushes of one step fit; a full queue ignores extra pushes.
                with m.If(tail != cfg.fanout_depth):
                    m.d.comb += [
                        oq_wr.en.eq(1),
                        oq_wr.addr.eq(tail),
                        oq_wr.data.core.eq(fo_rd.data.core),
                        oq_wr.data.axon.eq(fo_rd.data.axon),
                        oq_wr.data.chip.eq(fo_rd.data.chip),
                        oq_wr.data.payload.eq(payload),
                    ]
                    m.d.sync += [tail.eq(tail + 1), deliveries.eq(deliveries + 1)]
                m.d.sync += fo_left.eq(fo_left - 1)
                with m.If(fo_left == 1):
                    next_neuron(CoreState.FIRE)

            with m.Case(CoreState.MERGE):
                # The membranes are read at the event's axon, not at base + j; ev_rd addresses event e + 1.
                m.d.comb += [acc_rd.addr.eq(ev_axon), acc_wr.addr.eq(ev_axon)]
                with m.If(merge_hit):
                    m.d.comb += [
                        self.trace.acc_valid.eq(1),
                        self.trace.acc_neuron.eq(ev_axon),
                        self.trace.acc_value.eq(merged),
                        acc_wr.en.eq(1),
                        acc_wr.data.eq(merged),
                    ]
                    m.d.sync += synops.eq(synops + 1)
                m.d.sync += [e.eq(e + 1), payload.eq(ev_rd.data.payload), ev_axon.eq(ev_rd.data.axon)]
                with m.If(e + 1 == ev_count):
                    m.d.sync += state.eq(CoreState.ISSUE)

            with m.Case(CoreState.LEAK):
                record_acc(leaked)
                m.d.sync += updates.eq(updates + 1)
                next_neuron(CoreState.LEAK)

            with m.Case(CoreState.SYN):
                record_acc(integrated)
                record_syn(syn_decayed)
                next_neuron(CoreState.SYN)

            with m.Case(CoreState.RESET):
                # Row r of the parameters is addressed in cycle r and written to membrane r in cycle r+1.
                m.d.comb += p_rd.addr.eq(reset_n)
                with m.If(reset_n != 0):
                    m.d.comb += [acc_wr.en.eq(1), acc_wr.addr.eq(reset_n - 1), acc_wr.data.eq(param.init)]
                    m.d.comb += [syn_wr.en.eq(1), syn_wr.addr.eq(reset_n - 1), syn_wr.data.eq(param.syn_init)]
                m.d.sync += reset_n.eq(reset_n + 1)
                with m.If(reset_n == cfg.neurons):
                    m.d.sync += state.eq(CoreState.IDLE)

        m.d.comb += self.done.eq(halting | (state == CoreState.IDLE))

        # --- input buffer: the barrier empties it, a delivery or an injection appends to it ----------
        with m.If(self.barrier & runs):
            m.d.sync += ev_count.eq(0)
        with m.If(self.ev_in_valid):
            with m.If(ev_count != cfg.event_depth):
                m.d.comb += [ev_wr.en.eq(1), ev_wr.addr.eq(ev_count), ev_wr.data.eq(self.ev_in)]
                m.d.sync += ev_count.eq(ev_count + 1)
            with m.Else():
                m.d.sync += drops.eq(drops + 1)

        # --- configuration reads: one cycle of latency for every space ------------------------------
        rd_space = Signal(ConfigSpace)
        rd_word = Signal(PARAM_WORD_BITS)
        rd_async = Signal(isa.WORD_BITS)   # membrane, event or status word, captured in the read cycle
        status = Signal(isa.WORD_BITS)
        with m.Switch(self.cfg_index):
            with m.Case(int(CoreStatus.EVENT_COUNT)):
                m.d.comb += status.eq(ev_count)
            with m.Case(int(CoreStatus.DROP_COUNT)):
                m.d.comb += status.eq(drops)
            with m.Case(int(CoreStatus.SPIKE_COUNT)):
                m.d.comb += status.eq(spikes)
            with m.Case(int(CoreStatus.OUTQ_COUNT)):
                m.d.comb += status.eq(tail)
            with m.Case(int(CoreStatus.SYNOP_COUNT)):
                m.d.comb += status.eq(synops)
            with m.Case(int(CoreStatus.NEURON_UPDATE_COUNT)):
                m.d.comb += status.eq(updates)
            with m.Case(int(CoreStatus.DELIVERY_COUNT)):
                m.d.comb += status.eq(deliveries)
        m.d.sync += [rd_space.eq(self.cfg_space), rd_word.eq(self.cfg_index[:PARAM_WORD_BITS])]
        with m.Switch(self.cfg_space):
            with m.Case(ConfigSpace.MEMBRANE):
                m.d.sync += rd_async.eq(acc_cfg_rd.data)
            with m.Case(ConfigSpace.EVENT):
                m.d.sync += rd_async.eq(ev_cfg_rd.data.as_value())
            with m.Case(ConfigSpace.STATUS):
                m.d.sync += rd_async.eq(status)
            with m.Case(ConfigSpace.PERIOD):
                m.d.sync += rd_async.eq(period_phase)
        param_words = [p_rd.data[i * isa.WORD_BITS:(i + 1) * isa.WORD_BITS] for i in range(PARAM_WORDS)]
        with m.Switch(rd_space):
            with m.Case(ConfigSpace.IMEM):
                m.d.comb += self.cfg_rdata.eq(imem_rd.data)
            with m.Case(ConfigSpace.WEIGHT):
                m.d.comb += self.cfg_rdata.eq(w_rd.data)           # sign-extended
            with m.Case(ConfigSpace.PARAM), m.Switch(rd_word):
                for i, word_value in enumerate(param_words):
                    with m.Case(i):
                        m.d.comb += self.cfg_rdata.eq(word_value)
            with m.Case(ConfigSpace.FANOUT):
                m.d.comb += self.cfg_rdata.eq(fo_rd.data.as_value())
            with m.Case(ConfigSpace.OUTQ):
                m.d.comb += self.cfg_rdata.eq(oq_rd.data.as_value())
            with m.Default():
                m.d.comb += self.cfg_rdata.eq(rd_async)
        return m
