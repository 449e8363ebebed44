# amaranth: UnusedElaboratable=no
# (Amaranth linter option: the validation test creates components whose constructor refuses.)
"""One core of the RTL, instruction by instruction, in Amaranth's simulator.

Each test builds a one-core image, states the records the spec (docs/spec.md §3-§5) requires — every
value and cycle worked out by hand in the comments — and checks that the RTL's trace port produces
exactly those; :func:`crosscheck` then compares the same run record for record, cycle for cycle, with
the golden CycleChip (plus membranes, counters, outputs and signatures).
"""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import CycleChip
from spikecore.image import Image
from spikecore.isa import (
    ACC_MAX,
    ACC_MIN,
    HOST_CORE,
    MAX_CORES,
    CoreImage,
    FanoutEntry,
    Instruction,
    NeuronParams,
    Opcode,
    ResetMode,
    TraceKind,
    encode,
)
from spikecore.stimulus import Stimulus
from spikecore.verif.crosscheck import crosscheck
from spikecore.verif.sim_host import SimHost, simulate

pytestmark = pytest.mark.rtl

CFG = ChipConfig(cores=1, neurons=8, weight_bytes=16, imem_depth=16, event_depth=4, fanout_depth=8)
ACC, SPIKE, EVENT, DROP, OUT, SYN = (int(k) for k in list(TraceKind)[:6])   # one chip's kinds
HALT = Instruction(Opcode.HALT)
NOP = Instruction(Opcode.NOP)


def acc(neuron: int, count: int, wbase: int) -> Instruction:
    return Instruction(Opcode.ACC, neuron=neuron, count=count, wbase=wbase)


def fire(neuron: int, count: int, reset: ResetMode = ResetMode.NONE, graded: bool = False,
         shift: int = 0) -> Instruction:
    return Instruction(Opcode.FIRE, neuron=neuron, count=count, reset=reset, graded=graded, shift=shift)


def leak(neuron: int, count: int) -> Instruction:
    return Instruction(Opcode.LEAK, neuron=neuron, count=count)


def one_core(program, weights=(), neurons=(), fanout=()) -> Image:
    section = CoreImage(program=[encode(i) for i in program], weights=list(weights), neurons=list(neurons),
                        fanout=list(fanout))
    return Image(CFG, {0: section})


def events(step_events: dict[int, list[tuple[int, int]]]) -> Stimulus:
    """Host events for core 0: ``{step: [(axon, payload), ...]}``."""
    stimulus = Stimulus()
    for step, pairs in step_events.items():
        for axon, payload in pairs:
            stimulus.add(step, 0, axon, payload)
    return stimulus


def trace_rows(result) -> list[tuple[int, int, int, int, int]]:
    return [tuple(int(v) for v in row) for row in result.rtl.trace.tolist()]


# --- NOP, HALT ----------------------------------------------------------------------------------------


def test_nop_and_halt_take_their_issue_cycle_only():
    # NOP (cycle 0), NOP (1), HALT (2): E = 3; barrier on cycle 3; nothing queued: C_1 = 4, C_2 = 8.
    result = crosscheck(one_core([NOP, NOP, HALT]), steps=2, allow_empty=True)
    assert result.rtl.step_starts == [0, 4]
    assert result.rtl.cycles == 8
    assert len(result.rtl.trace) == 0


def test_halt_first_ignores_the_rest_of_the_program():
    # HALT at address 0 issues on cycle 0; the ACC after it never runs although an event is buffered.
    # E = 1, barrier on cycle 1: C_1 = 2. Membrane 0 keeps its init 0.
    image = one_core([HALT, acc(0, 1, 0)], weights=[3])
    result = crosscheck(image, events({0: [(0, 5)]}), steps=1, allow_empty=True)
    assert result.rtl.step_starts == [0]
    assert result.rtl.cycles == 2
    assert result.rtl.membranes[0].tolist() == [0] * 8


# --- ACC -------------------------------------------------------------------------------------------


WEIGHTS = [a - 8 for a in range(16)]  # weight[a] = a - 8: every address is recognisable by its weight


def test_acc_walks_events_then_neurons_one_mac_per_cycle():
    # ACC neuron=2 count=3 wbase=1 issues on cycle 0; events (axon 1, payload 3), (axon 4, payload -2).
    # Event 0: addresses 1 + 1*3 + j = 4, 5, 6 -> weights -4, -3, -2; event 1: 1 + 4*3 + j = 13, 14, 15 -> 5, 6, 7.
    # MAC (e, j) on cycle 1 + 3e + j. Neuron 2 starts at init 10, neurons 3 and 4 at 0:
    #   cycle 1: n2 = 10 + 3*-4 = -2     cycle 2: n3 = 3*-3 = -9       cycle 3: n4 = 3*-2 = -6
    #   cycle 4: n2 = -2 + -2*5 = -12    cycle 5: n3 = -9 + -2*6 = -21  cycle 6: n4 = -6 + -2*7 = -20
    # HALT issues on cycle 7, barrier on 8: 9 cycles.
    image = one_core([acc(2, 3, 1), HALT], weights=WEIGHTS, neurons=[NeuronParams()] * 2 + [NeuronParams(init=10)])
    result = crosscheck(image, events({0: [(1, 3), (4, -2)]}))
    assert trace_rows(result) == [
        (1, 0, ACC, 2, -2), (2, 0, ACC, 3, -9), (3, 0, ACC, 4, -6),
        (4, 0, ACC, 2, -12), (5, 0, ACC, 3, -21), (6, 0, ACC, 4, -20),
    ]
    assert result.rtl.cycles == 9


def test_acc_weight_addresses_wrap_modulo_weight_bytes():
    # wbase=15, count=2, axon 1: addresses (15 + 2 + j) mod 16 = 1, 2 -> weights -7, -6; payload 1.
    image = one_core([acc(0, 2, 15), HALT], weights=WEIGHTS)
    result = crosscheck(image, events({0: [(1, 1)]}))
    assert trace_rows(result) == [(1, 0, ACC, 0, -7), (2, 0, ACC, 1, -6)]


def test_acc_saturates_after_every_mac():
    # Events (axon 0, payload 127), (axon 0, payload -128). ACC n0 (weight[0] = 127) issues on 0, MACs on 1, 2:
    #   n0 = ACC_MAX - 100 + 127*127 = ACC_MAX + 16029 -> saturates to ACC_MAX = 2147483647
    #   n0 = ACC_MAX + (-128)*127 = 2147483647 - 16256 = 2147467391   (saturating once at the end: ACC_MAX - 227)
    # ACC n1 (wbase 1, weight[1] = -128) issues on 3, MACs on 4, 5:
    #   n1 = ACC_MIN + 5 + 127*-128 = ACC_MIN + 5 - 16256 -> saturates to ACC_MIN = -2147483648
    #   n1 = ACC_MIN + (-128)*(-128) = -2147483648 + 16384 = -2147467264
    image = one_core([acc(0, 1, 0), acc(1, 1, 1), HALT], weights=[127, -128],
                     neurons=[NeuronParams(init=ACC_MAX - 100), NeuronParams(init=ACC_MIN + 5)])
    result = crosscheck(image, events({0: [(0, 127), (0, -128)]}))
    assert trace_rows(result) == [
        (1, 0, ACC, 0, 2147483647), (2, 0, ACC, 0, 2147467391),
        (4, 0, ACC, 1, -2147483648), (5, 0, ACC, 1, -2147467264),
    ]


def test_acc_with_an_empty_buffer_takes_only_its_issue_cycle():
    # ACC (cycle 0, no events: no work), NOP (1), HALT (2): E = 3, barrier on 3, C_1 = 4.
    result = crosscheck(one_core([acc(0, 4, 0), NOP, HALT], weights=WEIGHTS), steps=1, allow_empty=True)
    assert result.rtl.cycles == 4
    assert len(result.rtl.trace) == 0


# --- FIRE ------------------------------------------------------------------------------------------


def test_fire_binary_fires_on_threshold_equality_and_resets_to_value():
    # FIRE n0..n2 reset=value (reset -7), binary; issue on 0, f_j = 1 + j (no fan-out, no stalls):
    #   n0: 5 >= 5 fires (equality)  -> cycle 1: ACC n0 = -7, SPIKE n0 payload 1
    #   n1: 4 >= 5 no                -> cycle 2: nothing
    #   n2: -3 >= -3 fires (equality of negatives) -> cycle 3: ACC n2 = -7, SPIKE n2 payload 1
    # HALT on 4, barrier on 5.
    neurons = [NeuronParams(threshold=5, reset=-7, init=5), NeuronParams(threshold=5, reset=-7, init=4),
               NeuronParams(threshold=-3, reset=-7, init=-3)]
    result = crosscheck(one_core([fire(0, 3, ResetMode.VALUE), HALT], neurons=neurons))
    assert trace_rows(result) == [(1, 0, ACC, 0, -7), (1, 0, SPIKE, 0, 1), (3, 0, ACC, 2, -7), (3, 0, SPIKE, 2, 1)]
    assert result.rtl.membranes[0, :3].tolist() == [-7, 4, -7]
    assert result.rtl.spike_counts.tolist() == [2]
    assert result.rtl.cycles == 6


def test_fire_graded_payload_rounds_half_up_and_saturates():
    # Every threshold is ACC_MIN, so every neuron fires; reset none: SPIKE records only.
    #   FIRE n0..n1 shift 1 (issue 0, f = 1, 2): (5 + 1) >> 1 = 3;  (-5 + 1) >> 1 = -2
    #   FIRE n2..n3 shift 2 (issue 3, f = 4, 5): (-6 + 2) >> 2 = -1; (1000 + 2) >> 2 = 250 -> saturates to 127
    #   FIRE n4 shift 0     (issue 6, f = 7):    -1000 -> saturates to -128
    #   FIRE n5..n6 shift 31 (issue 8, f = 9, 10): (2^31 - 1 + 2^30) >> 31 = 1; (-2^31 + 2^30) >> 31 = -1
    inits = [5, -5, -6, 1000, -1000, ACC_MAX, ACC_MIN]
    neurons = [NeuronParams(threshold=ACC_MIN, init=v) for v in inits]
    program = [fire(0, 2, graded=True, shift=1), fire(2, 2, graded=True, shift=2), fire(4, 1, graded=True, shift=0),
               fire(5, 2, graded=True, shift=31), HALT]
    result = crosscheck(one_core(program, neurons=neurons))
    assert trace_rows(result) == [
        (1, 0, SPIKE, 0, 3), (2, 0, SPIKE, 1, -2), (4, 0, SPIKE, 2, -1), (5, 0, SPIKE, 3, 127),
        (7, 0, SPIKE, 4, -128), (9, 0, SPIKE, 5, 1), (10, 0, SPIKE, 6, -1),
    ]


def test_fire_reset_modes():
    # Thresholds 5 except n3 (-5). Four FIREs of two neurons each: issues on 0, 3, 6, 9; f = issue + 1, + 2.
    #   none   n0 (9: fires) cycle 1 SPIKE only; n1 (1: no) nothing
    #   sub    n2 (9: fires) cycle 4: ACC 9 - 5 = 4; n3 (ACC_MAX >= -5 fires) cycle 5: ACC_MAX + 5 -> ACC_MAX
    #   always n4 (9: fires) cycle 7: ACC 11 (its reset); n5 (1: no spike) cycle 8: ACC 11 all the same
    #   value  n6 (9: fires) cycle 10: ACC -3; n7 (1: no) nothing
    # HALT on 12, barrier on 13.
    neurons = [NeuronParams(threshold=5, init=9), NeuronParams(threshold=5, init=1),
               NeuronParams(threshold=5, init=9), NeuronParams(threshold=-5, init=ACC_MAX),
               NeuronParams(threshold=5, reset=11, init=9), NeuronParams(threshold=5, reset=11, init=1),
               NeuronParams(threshold=5, reset=-3, init=9), NeuronParams(threshold=5, reset=-3, init=1)]
    program = [fire(0, 2, ResetMode.NONE), fire(2, 2, ResetMode.SUB), fire(4, 2, ResetMode.ALWAYS),
               fire(6, 2, ResetMode.VALUE), HALT]
    result = crosscheck(one_core(program, neurons=neurons))
    assert trace_rows(result) == [
        (1, 0, SPIKE, 0, 1),
        (4, 0, ACC, 2, 4), (4, 0, SPIKE, 2, 1),
        (5, 0, ACC, 3, ACC_MAX), (5, 0, SPIKE, 3, 1),
        (7, 0, ACC, 4, 11), (7, 0, SPIKE, 4, 1),
        (8, 0, ACC, 5, 11),
        (10, 0, ACC, 6, -3), (10, 0, SPIKE, 6, 1),
    ]
    assert result.rtl.membranes[0].tolist() == [9, 1, 4, ACC_MAX, 11, 11, -3, 1]
    assert result.rtl.cycles == 14


def test_fire_fanout_pushes_stall_the_next_neuron_and_deliver_in_push_order():
    # FIRE n0..n3 binary, reset none; thresholds 0. Fan-out table: 0 (host, 7), 1 (core 0, 2), 2 (host, 9),
    # 3 (core 0, 5), 4-5 (core 0, 1).
    #   n0 (1) fires, entries 0..2: f_0 = 1, pushes on 2, 3, 4
    #   n1 (1) fires, entry 3:      f_1 = 5, push on 6
    #   n2 (1) fires, no entries:   f_2 = 7 (no stall)
    #   n3 (-1) does not fire, its entries 4..5 are not pushed: f_3 = 8
    # HALT on 9, barrier on 10, deliveries in push order on 11..14: OUT 7, EVENT 2, OUT 9, EVENT 5.
    # C_1 = 15; step 1 repeats everything 15 cycles later.
    neurons = [NeuronParams(threshold=0, init=1, fanout_start=0, fanout_count=3),
               NeuronParams(threshold=0, init=1, fanout_start=3, fanout_count=1),
               NeuronParams(threshold=0, init=1),
               NeuronParams(threshold=0, init=-1, fanout_start=4, fanout_count=2)]
    fanout = [FanoutEntry(HOST_CORE, 7), FanoutEntry(0, 2), FanoutEntry(HOST_CORE, 9), FanoutEntry(0, 5),
              FanoutEntry(0, 1), FanoutEntry(0, 1)]
    result = crosscheck(one_core([fire(0, 4), HALT], neurons=neurons, fanout=fanout), steps=2)
    step0 = [(1, 0, SPIKE, 0, 1), (5, 0, SPIKE, 1, 1), (7, 0, SPIKE, 2, 1),
             (11, 0, OUT, 7, 1), (12, 0, EVENT, 2, 1), (13, 0, OUT, 9, 1), (14, 0, EVENT, 5, 1)]
    step1 = [(c + 15, core, kind, index, value) for c, core, kind, index, value in step0]
    assert trace_rows(result) == step0 + step1
    assert result.rtl.step_starts == [0, 15]
    assert result.rtl.outputs == [(0, 0, 7, 1), (0, 0, 9, 1), (1, 0, 7, 1), (1, 0, 9, 1)]


FLOOD_NEURONS = [NeuronParams(threshold=0, reset=-9, init=1, fanout_start=0, fanout_count=6)]
FLOOD_FANOUT = [FanoutEntry(0, axon) for axon in range(6)]


def test_deliveries_to_a_full_buffer_are_dropped():
    # n0 fires (f_0 = 1, reset value -9: ACC -9), pushes 6 entries on 2..7; HALT on 8, barrier on 9;
    # deliveries on 10..15 to core 0, axons 0..5: the buffer holds event_depth = 4, so axons 4, 5 are DROPs.
    image = one_core([fire(0, 1, ResetMode.VALUE), HALT], neurons=FLOOD_NEURONS, fanout=FLOOD_FANOUT)
    result = crosscheck(image)
    assert trace_rows(result) == [
        (1, 0, ACC, 0, -9), (1, 0, SPIKE, 0, 1),
        (10, 0, EVENT, 0, 1), (11, 0, EVENT, 1, 1), (12, 0, EVENT, 2, 1), (13, 0, EVENT, 3, 1),
        (14, 0, DROP, 4, 1), (15, 0, DROP, 5, 1),
    ]
    assert result.rtl.drops.tolist() == [2]


def test_host_injection_into_a_full_buffer_is_refused_and_reset_state_restores_init():
    # After step 0 of the flood image the buffer is full (4 events): both the golden model and the RTL host
    # interface refuse an injection naming core 0. reset_state then restores membrane 0 to init 1 (step 0
    # had reset it to -9), empties the buffer and zeroes the drop and spike counters; step 1 then repeats
    # step 0's records 16 cycles later (the cycle counter keeps counting).
    image = one_core([fire(0, 1, ResetMode.VALUE), HALT], neurons=FLOOD_NEURONS, fanout=FLOOD_FANOUT)
    golden = CycleChip(image)
    golden_steps = [golden.step()]
    with pytest.raises(SpikeCoreError, match="core 0 input buffer is full"):
        golden.inject(0, 0, 1)
    golden.reset_state()
    golden_steps.append(golden.step())
    seen = {}

    async def scenario(host: SimHost) -> None:
        await host.load(image)
        steps = [await host.step()]
        with pytest.raises(SpikeCoreError, match="core 0 input buffer is full"):
            await host.inject(0, 0, 1)
        seen["before"] = ((await host.membranes())[0, 0], (await host.drops())[0], len(await host.events(0)))
        await host.reset_state()
        seen["after"] = ((await host.membranes())[0, 0], (await host.drops())[0], len(await host.events(0)),
                         (await host.spike_counts())[0])
        steps.append(await host.step())
        seen["steps"] = steps

    simulate(CFG, scenario)
    assert seen["before"] == (-9, 2, 4)
    assert seen["after"] == (1, 0, 0, 0)
    step0, step1 = seen["steps"]
    assert len(step0) == 8
    assert step1["cycle"].tolist() == (step0["cycle"] + 16).tolist()
    for dut, expected in zip(seen["steps"], golden_steps, strict=True):
        assert np.array_equal(dut, expected)


# --- LEAK ------------------------------------------------------------------------------------------


def test_leak_rounds_half_up_including_negatives():
    # LEAK n0..n4 issues on 0, neuron j on cycle 1 + j: v := (v * decay + 2^15) >> 16
    #   n0:  5 * 0x8000 = 163840;   (163840 + 32768) >> 16 = 3
    #   n1: -5 * 0x8000 = -163840;  (-163840 + 32768) >> 16 = -2
    #   n2: -6 * 0x4000 = -98304;   (-98304 + 32768) >> 16 = -1
    #   n3: ACC_MIN * 0xFFFF = -2147450880 * 2^16; (+ 2^15) >> 16 = -2147450880
    #   n4:  7 * 0 = 0 -> 0
    decays_inits = [(0x8000, 5), (0x8000, -5), (0x4000, -6), (0xFFFF, ACC_MIN), (0, 7)]
    neurons = [NeuronParams(decay=d, init=v) for d, v in decays_inits]
    result = crosscheck(one_core([leak(0, 5), HALT], neurons=neurons))
    assert trace_rows(result) == [
        (1, 0, ACC, 0, 3), (2, 0, ACC, 1, -2), (3, 0, ACC, 2, -1), (4, 0, ACC, 3, -2147450880), (5, 0, ACC, 4, 0),
    ]


# --- SACC, SYN (version 2: CubaLIF) -------------------------------------------------------------------


def test_cubalif_leak_sacc_syn_fire_two_steps():
    # beta = 0x8000/2^16 = 0.5, alpha = 0xC000/2^16 = 0.75 (spec §4.5, §4.6). Step 0, event payload 2:
    # LEAK on 1 (v = 0); SACC issue 2, MAC on 3: i = 0 + 2*40 = 80 (SYN record); SYN issue 4, on 5:
    # v = 80 (ACC), i = round(80*0.75) = 60 (SYN); FIRE on 7: 80 < 100; HALT 8, barrier 9: C_1 = 10.
    # Step 1, payload 1: LEAK on 11: v = 40; SACC on 13: i = 60 + 40 = 100; SYN on 15: v = 140, i = 75;
    # FIRE on 17: 140 >= 100 fires, reset to 0 (ACC before SPIKE).
    program = [leak(0, 1), Instruction(Opcode.SACC, neuron=0, count=1, wbase=0), Instruction(Opcode.SYN, count=1),
               fire(0, 1, reset=ResetMode.VALUE), HALT]
    neuron = NeuronParams(threshold=100, reset=0, decay=0x8000, syn_decay=0xC000)
    result = crosscheck(one_core(program, weights=[40], neurons=[neuron]), events({0: [(0, 2)], 1: [(0, 1)]}),
                        steps=2)
    assert trace_rows(result) == [
        (1, 0, ACC, 0, 0), (3, 0, SYN, 0, 80), (5, 0, ACC, 0, 80), (5, 0, SYN, 0, 60),
        (11, 0, ACC, 0, 40), (13, 0, SYN, 0, 100), (15, 0, ACC, 0, 140), (15, 0, SYN, 0, 75),
        (17, 0, ACC, 0, 0), (17, 0, SPIKE, 0, 1),
    ]


def test_syn_saturates_the_membrane_sacc_saturates_the_current_and_reset_state_loads_syn_init():
    # n0: v = ACC_MAX - 5 + 10 -> ACC_MAX, i = (10*1 + 2^15) >> 16 = 0            (SYN on 1)
    # n1: v = ACC_MIN + 3 - 7 -> ACC_MIN, i = (-7*65535 + 2^15) >> 16 = -7        (SYN on 2)
    # then SACC n1 (issue 3) over the events (axon 0, +1), (axon 0, -1): address 0 + 0*1 + 0 = 0, weight 127:
    #   i = -7 + 127 = 120 on 4, then 120 - 127 = -7 on 5; HALT 6.
    neurons = [NeuronParams(init=ACC_MAX - 5, syn_init=10, syn_decay=1),
               NeuronParams(init=ACC_MIN + 3, syn_init=-7, syn_decay=65535)]
    program = [Instruction(Opcode.SYN, neuron=0, count=2), Instruction(Opcode.SACC, neuron=1, count=1, wbase=0), HALT]
    result = crosscheck(one_core(program, weights=[127], neurons=neurons), events({0: [(0, 1), (0, -1)]}))
    assert trace_rows(result) == [
        (1, 0, ACC, 0, ACC_MAX), (1, 0, SYN, 0, 0), (2, 0, ACC, 1, ACC_MIN), (2, 0, SYN, 1, -7),
        (4, 0, SYN, 1, 120), (5, 0, SYN, 1, -7),
    ]


def test_routed_events_are_accumulated_in_the_next_step():
    # Step 0: the ACC issues on 0 with an empty buffer (no work); FIRE issues on 1, n0 fires on f = 2 and
    # pushes (core 0, axon 1) on 3; HALT on 4, barrier on 5, EVENT on 6; C_1 = 7.
    # Step 1: ACC n1 count 1 wbase 0 issues on 7 and MACs the routed event on 8: address 0 + 1*1 + 0 = 1,
    # weight -7, n1 = 0 + 1*-7 = -7. FIRE issues on 9, n0 fires on 10, push on 11; HALT 12, barrier 13,
    # EVENT on 14.
    neurons = [NeuronParams(threshold=0, init=1, fanout_start=0, fanout_count=1)]
    image = one_core([acc(1, 1, 0), fire(0, 1), HALT], weights=WEIGHTS, neurons=neurons, fanout=[FanoutEntry(0, 1)])
    result = crosscheck(image, steps=2)
    assert trace_rows(result) == [
        (2, 0, SPIKE, 0, 1), (6, 0, EVENT, 1, 1),
        (8, 0, ACC, 1, -7), (10, 0, SPIKE, 0, 1), (14, 0, EVENT, 1, 1),
    ]
    assert result.rtl.step_starts == [0, 7]


def test_components_validate_their_arguments():
    from spikecore.rtl.array import SpikeCoreArray
    from spikecore.rtl.core import Core
    from spikecore.rtl.router import Router
    from spikecore.rtl.trace_port import SignatureUnit

    with pytest.raises(SpikeCoreError, match=r"^Core: core_id must be 0\.\.1, not 2$"):
        Core(ChipConfig(cores=2), core_id=2)
    with pytest.raises(SpikeCoreError, match=r"^Core: config must be a ChipConfig, not 4$"):
        Core(4, core_id=0)
    with pytest.raises(SpikeCoreError, match=r"^Router: config must be a ChipConfig"):
        Router({"cores": 4})
    with pytest.raises(SpikeCoreError, match=r"^SpikeCoreArray: config must be a ChipConfig"):
        SpikeCoreArray(None)
    with pytest.raises(SpikeCoreError, match=rf"^SignatureUnit: cores must be 1\.\.{MAX_CORES}, not 0$"):
        SignatureUnit(0)
