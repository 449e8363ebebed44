"""Per-instruction tests of the golden model against values worked out BY HAND from docs/spec.md.

Every expected record below is derived in the comments from the spec's formulas (§3 integer semantics,
§4 instructions, §5 timing, §6 records); nothing is computed by the code under test. The tests run the
cycle-accurate model and (through `Both`) check that the functional model reaches the same state after
every step.

Record tuples are (cycle, core, kind, index, value); within a cycle and core, ACC (kind 0) sorts before
SPIKE (kind 1), so a FIRE that fires and resets lists the ACC first.
"""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import CycleChip, OutSpike
from spikecore.golden.functional import FunctionalChip
from spikecore.image import Image
from spikecore.isa import (
    ACC_MAX,
    ACC_MIN,
    HOST_CORE,
    CoreImage,
    FanoutEntry,
    NeuronParams,
    ResetMode,
    TraceKind,
)
from tests.helpers import SMALL_CHIP, word

ACC, SPIKE, EVENT, DROP, OUT, SYN = (int(k) for k in list(TraceKind)[:6])   # one chip's kinds
CFG = SMALL_CHIP

w = word


HALT = w("HALT")
NOP = w("NOP")


class Both:
    """A CycleChip and a FunctionalChip on the same image, driven in lock step."""

    def __init__(self, cores: dict[int, CoreImage], config: ChipConfig = CFG) -> None:
        image = Image(config, cores)
        self.cycle = CycleChip(image)
        self.functional = FunctionalChip(image)

    def inject(self, core: int, axon: int, payload: int) -> None:
        self.cycle.inject(core, axon, payload)
        self.functional.inject(core, axon, payload)

    def step(self) -> list[tuple[int, int, int, int, int]]:
        records = self.cycle.step()
        assert self.functional.step() is None
        a, b = self.cycle, self.functional
        assert np.array_equal(a.membranes, b.membranes)
        assert np.array_equal(a.currents, b.currents)
        assert np.array_equal(a.drops, b.drops)
        assert np.array_equal(a.spike_counts, b.spike_counts)
        assert a.outputs == b.outputs
        assert (a.cycle, a.step_index, a.step_starts) == (b.cycle, b.step_index, b.step_starts)
        assert [a.buffered_events(c) for c in range(a.config.cores)] == \
            [b.buffered_events(c) for c in range(b.config.cores)]
        return [tuple(r) for r in records.tolist()]


# --- ACC -------------------------------------------------------------------------------------------------

WEIGHTS = [0, 1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, 127, -128]   # weight[a] for a = 0..15


def test_acc_order_addressing_wrap_and_cycles() -> None:
    chip = Both({0: CoreImage(program=[w("ACC", neuron=2, count=3, wbase=14), HALT], weights=WEIGHTS)})
    chip.inject(0, 1, 2)      # event 0: axon 1, payload 2
    chip.inject(0, 0, -3)     # event 1: axon 0, payload -3
    chip.inject(0, 255, 1)    # event 2: axon 255, payload 1
    # address = (14 + axon*3 + j) mod 16; ACC issued on 0, MAC (e, j) on cycle 1 + 3e + j.
    # e0: addr 17,18,19 -> 1,2,3 -> w 1,-2,3; x2 -> 2,-4,6         acc[2..4] = 2, -4, 6
    # e1: addr 14,15,16 -> 14,15,0 -> w 127,-128,0; x-3 -> -381,384,0   acc = -379, 380, 6
    # e2: addr 14+765+j = 779.. -> 11,12,13 -> w 11,-12,13; x1       acc = -368, 368, 19
    assert chip.step() == [
        (1, 0, ACC, 2, 2), (2, 0, ACC, 3, -4), (3, 0, ACC, 4, 6),
        (4, 0, ACC, 2, -379), (5, 0, ACC, 3, 380), (6, 0, ACC, 4, 6),
        (7, 0, ACC, 2, -368), (8, 0, ACC, 3, 368), (9, 0, ACC, 4, 19),
    ]
    assert chip.cycle.membranes[0].tolist() == [0, 0, -368, 368, 19, 0, 0, 0]
    # ACC: 1 + 3*3 = 10 cycles, HALT on 10: E = 11; C_1 = 0 + 11 + 1 + 0 = 12
    assert chip.cycle.cycle == 12
    # the barrier consumed the events: next step ACC costs its issue cycle only: C_2 = 12 + (1 + 1) + 1 = 15
    assert chip.step() == []
    assert chip.cycle.cycle == 15


def test_acc_saturates_after_every_mac_at_both_ends() -> None:
    program = [w("ACC", neuron=0, count=1, wbase=0), HALT]
    chip = Both({0: CoreImage(program=program, weights=[127], neurons=[NeuronParams(init=ACC_MAX - 100)]),
                 1: CoreImage(program=program, weights=[-128], neurons=[NeuronParams(init=ACC_MIN + 5)])})
    chip.inject(0, 0, 1)
    chip.inject(0, 0, -1)
    chip.inject(1, 0, 127)
    chip.inject(1, 0, -128)
    # core 0: 2147483547 + 127 = 2147483674 -> 2147483647 (saturated); then - 127 = 2147483520
    #         (saturating once at the end would give 2147483547 instead)
    # core 1: -2147483643 - 16256 = -2147499899 -> -2147483648; then + 16384 = -2147467264
    assert chip.step() == [
        (1, 0, ACC, 0, 2147483647), (1, 1, ACC, 0, -2147483648),
        (2, 0, ACC, 0, 2147483520), (2, 1, ACC, 0, -2147467264),
    ]
    assert chip.cycle.cycle == 5   # ACC 1 + 2, HALT 1: E = 4; C_1 = 4 + 1


def test_acc_with_no_events_costs_one_cycle_and_emits_nothing() -> None:
    chip = Both({0: CoreImage(program=[w("ACC", neuron=0, count=4, wbase=3), HALT], weights=WEIGHTS)})
    assert chip.step() == []
    assert chip.cycle.cycle == 3   # ACC 1 + 0, HALT 1: E = 2; C_1 = 2 + 1


# --- FIRE ------------------------------------------------------------------------------------------------


def test_fire_threshold_equality_fires_binary_payload() -> None:
    neurons = [NeuronParams(threshold=5, init=5),      # 5 >= 5: fires
               NeuronParams(threshold=5, init=4),      # 4 < 5
               NeuronParams(threshold=-7, init=-7)]    # -7 >= -7: fires
    chip = Both({0: CoreImage(program=[w("FIRE", neuron=0, count=3), HALT], neurons=neurons)})
    # FIRE on 0, no fan-out: neuron j on 1 + j; binary payload 1; reset none writes nothing
    assert chip.step() == [(1, 0, SPIKE, 0, 1), (3, 0, SPIKE, 2, 1)]
    assert chip.cycle.spike_counts.tolist() == [2, 0, 0, 0]
    assert chip.cycle.cycle == 6   # FIRE 1 + 3, HALT 1: E = 5; C_1 = 0 + 5 + 1 + 0 = 6
    assert chip.cycle.step_starts == [0]


def test_graded_payload_rounds_half_up_and_saturates_to_int8() -> None:
    always_fire = ACC_MIN
    core0 = [-6, -5, 6, 5, 10000, -10000, -2]
    core1 = [ACC_MAX, ACC_MIN, -(1 << 30), 200, -3]
    chip = Both({
        0: CoreImage(program=[w("FIRE", neuron=0, count=7, shift=2, graded=True), HALT],
                     neurons=[NeuronParams(threshold=always_fire, init=v) for v in core0]),
        1: CoreImage(program=[w("FIRE", neuron=0, count=3, shift=31, graded=True),
                              w("FIRE", neuron=3, count=2, shift=0, graded=True), HALT],
                     neurons=[NeuronParams(threshold=always_fire, init=v) for v in core1]),
    })
    # core 0, shift 2: (v + 2) >> 2
    #   -6 -> -4>>2 = -1;  -5 -> -3>>2 = -1;  6 -> 8>>2 = 2;  5 -> 7>>2 = 1;
    #   10000 -> 2500 -> 127;  -10000 -> -9998>>2 = -2500 -> -128;  -2 -> 0>>2 = 0 (fires with payload 0)
    # core 1, shift 31: (v + 2^30) >> 31: 2^31-1 -> 1;  -2^31 -> -1;  -2^30 -> 0.   shift 0: 200 -> 127; -3 -> -3
    # core 0 neuron j on 1 + j.  core 1: first FIRE on 0 (neurons on 1,2,3), second FIRE on 4 (neurons on 5,6)
    assert chip.step() == [
        (1, 0, SPIKE, 0, -1), (1, 1, SPIKE, 0, 1),
        (2, 0, SPIKE, 1, -1), (2, 1, SPIKE, 1, -1),
        (3, 0, SPIKE, 2, 2), (3, 1, SPIKE, 2, 0),
        (4, 0, SPIKE, 3, 1),
        (5, 0, SPIKE, 4, 127), (5, 1, SPIKE, 3, 127),
        (6, 0, SPIKE, 5, -128), (6, 1, SPIKE, 4, -3),
        (7, 0, SPIKE, 6, 0),
    ]
    # core 0: 1 + 7 + 1 = 9; core 1: (1 + 3) + (1 + 2) + 1 = 8; E = 9; C_1 = 10
    assert chip.cycle.cycle == 10
    assert chip.cycle.spike_counts.tolist() == [7, 5, 0, 0]


def test_each_reset_mode() -> None:
    neurons = [NeuronParams(threshold=7, reset=-3, init=10),   # fires
               NeuronParams(threshold=7, reset=-3, init=2)]    # does not
    chip = Both({core: CoreImage(program=[w("FIRE", neuron=0, count=2, reset=mode), HALT], neurons=neurons)
                 for core, mode in enumerate(ResetMode)})       # core 0 none, 1 value, 2 sub, 3 always
    # neuron 0 on cycle 1, neuron 1 on cycle 2.
    # none: no write. value: n0 := -3. sub: n0 := 10 - 7 = 3. always: n0 := -3 and n1 := -3 (not fired).
    assert chip.step() == [
        (1, 0, SPIKE, 0, 1),
        (1, 1, ACC, 0, -3), (1, 1, SPIKE, 0, 1),
        (1, 2, ACC, 0, 3), (1, 2, SPIKE, 0, 1),
        (1, 3, ACC, 0, -3), (1, 3, SPIKE, 0, 1),
        (2, 3, ACC, 1, -3),
    ]
    assert chip.cycle.membranes[:, :2].tolist() == [[10, 2], [-3, 2], [3, 2], [-3, -3]]
    # step 1 starts on C_1 = (1 + 2 + 1) + 1 = 5: only core 0 (10 >= 7) fires again; always rewrites both.
    assert chip.step() == [(6, 0, SPIKE, 0, 1), (6, 3, ACC, 0, -3), (7, 3, ACC, 1, -3)]


def test_reset_by_subtraction_saturates_and_handles_negative_thresholds() -> None:
    neurons = [NeuronParams(threshold=ACC_MIN, init=ACC_MAX),   # (2^31-1) - (-2^31) = 2^32-1 -> 2^31-1
               NeuronParams(threshold=-8, init=-5)]             # -5 >= -8 fires; -5 - (-8) = 3
    chip = Both({0: CoreImage(program=[w("FIRE", neuron=0, count=2, reset=ResetMode.SUB), HALT], neurons=neurons)})
    assert chip.step() == [(1, 0, ACC, 0, 2147483647), (1, 0, SPIKE, 0, 1), (2, 0, ACC, 1, 3), (2, 0, SPIKE, 1, 1)]


def test_fire_fanout_cycle_cost_and_deliveries() -> None:
    neurons = [NeuronParams(threshold=1, init=1, fanout_start=0, fanout_count=2),    # fires, entries 0, 1
               NeuronParams(threshold=1, init=0, fanout_start=0, fanout_count=3),    # does not fire
               NeuronParams(threshold=-4, init=9, fanout_start=2, fanout_count=1)]   # fires, entry 2
    fanout = [FanoutEntry(1, 5), FanoutEntry(HOST_CORE, 9), FanoutEntry(2, 3)]
    chip = Both({0: CoreImage(program=[w("FIRE", neuron=0, count=3), HALT], neurons=neurons, fanout=fanout)})
    # f_0 = 1 (fires; pushes on 2, 3); f_1 = 1 + 1 + 2 = 4 (no); f_2 = 4 + 1 + 0 = 5 (fires; push on 6)
    # FIRE work = 3 + 2 + 1 = 6 -> HALT on 7, E = 8; barrier on 8; deliveries on 9, 10, 11 in push order
    assert chip.step() == [
        (1, 0, SPIKE, 0, 1), (5, 0, SPIKE, 2, 1),
        (9, 1, EVENT, 5, 1), (10, 0, OUT, 9, 1), (11, 2, EVENT, 3, 1),
    ]
    assert chip.cycle.cycle == 12   # C_1 = 0 + 8 + 1 + 3
    assert chip.cycle.outputs == [OutSpike(step=0, core=0, axon=9, payload=1)]
    assert chip.cycle.buffered_events(1) == [(5, 1)]
    assert chip.cycle.buffered_events(2) == [(3, 1)]


# --- LEAK, NOP, HALT -------------------------------------------------------------------------------------


def test_leak_rounds_half_up_including_negatives() -> None:
    half, almost_one = 1 << 15, (1 << 16) - 1
    neurons = [NeuronParams(init=5, decay=half), NeuronParams(init=-5, decay=half), NeuronParams(init=-3, decay=half),
               NeuronParams(init=-7, decay=almost_one), NeuronParams(init=ACC_MIN, decay=almost_one),
               NeuronParams(init=12345, decay=0)]
    chip = Both({0: CoreImage(program=[w("LEAK", neuron=0, count=6), HALT], neurons=neurons)})
    # (v * decay + 32768) >> 16:
    #   5*32768 = 163840 -> 196608 >> 16 = 3;  -5*32768 = -163840 -> -131072 >> 16 = -2
    #   -3*32768 = -98304 -> -65536 >> 16 = -1;  -7*65535 = -458745 -> -425977 >> 16 = -7 (floor -6.4999)
    #   -2^31 * 65535 = -2^47 + 2^31 -> + 2^15 -> >> 16 = -2^31 + 2^15 = -2147450880;  12345 * 0 -> 0
    # LEAK on 0: neuron j on 1 + j, one ACC record each
    assert chip.step() == [(1, 0, ACC, 0, 3), (2, 0, ACC, 1, -2), (3, 0, ACC, 2, -1), (4, 0, ACC, 3, -7),
                           (5, 0, ACC, 4, -2147450880), (6, 0, ACC, 5, 0)]
    assert chip.cycle.cycle == 9   # 1 + 6 + 1 = 8; C_1 = 9


def test_nop_and_halt_take_one_cycle_each() -> None:
    chip = Both({0: CoreImage(program=[NOP, NOP, HALT]), 1: CoreImage(program=[HALT])})
    assert chip.step() == []
    assert chip.step() == []
    # core 0: 3 cycles, core 1: 1 cycle: E = 3; C_1 = 4, C_2 = 8
    assert (chip.cycle.cycle, chip.cycle.step_starts) == (8, [0, 4])


def test_halt_as_first_instruction_runs_nothing_after_it() -> None:
    program = [HALT, w("ACC", neuron=0, count=2, wbase=0), w("LEAK", neuron=0, count=1)]
    chip = Both({0: CoreImage(program=program, weights=[5, 5], neurons=[NeuronParams(init=7)])})
    chip.inject(0, 0, 1)
    chip.inject(0, 0, 1)
    assert chip.step() == []
    assert chip.cycle.membranes[0, 0] == 7
    assert chip.cycle.cycle == 2                  # HALT 1 + barrier 1
    assert chip.cycle.buffered_events(0) == []    # the barrier emptied the buffer anyway


# --- routing ---------------------------------------------------------------------------------------------


def test_delivery_order_cycles_and_fanout_to_many_cores() -> None:
    core0 = CoreImage(program=[w("FIRE", neuron=0, count=1, reset=ResetMode.VALUE), HALT],
                      neurons=[NeuronParams(threshold=1, reset=-100, init=1, fanout_start=0, fanout_count=4)],
                      fanout=[FanoutEntry(1, 11), FanoutEntry(2, 22), FanoutEntry(3, 33), FanoutEntry(HOST_CORE, 44)])
    core2 = CoreImage(program=[NOP, NOP, w("FIRE", neuron=0, count=2, graded=True, shift=0), HALT],
                      neurons=[NeuronParams(threshold=0, init=3, fanout_start=0, fanout_count=2),
                               NeuronParams(threshold=0, init=-1)],
                      fanout=[FanoutEntry(0, 7), FanoutEntry(3, 1)])
    chip = Both({0: core0, 2: core2})
    # core 0: FIRE on 0, neuron 0 on 1 (fires, reset value -> -100), work 1 + 4 -> HALT on 6: 7 cycles
    # core 2: NOP 0, NOP 1, FIRE on 2: n0 on 3 (fires, payload = 3 >> 0 = 3), n1 on 3 + 1 + 2 = 6 (no);
    #         work 2 + 2 -> HALT on 7: 8 cycles.  E = 8, barrier on 8, 6 deliveries on 9..14:
    # core 0's queue first (source cores ascending), then core 2's, each in push order
    assert chip.step() == [
        (1, 0, ACC, 0, -100), (1, 0, SPIKE, 0, 1), (3, 2, SPIKE, 0, 3),
        (9, 1, EVENT, 11, 1), (10, 2, EVENT, 22, 1), (11, 3, EVENT, 33, 1), (12, 0, OUT, 44, 1),
        (13, 0, EVENT, 7, 3), (14, 3, EVENT, 1, 3),
    ]
    assert chip.cycle.cycle == 15   # 0 + 8 + 1 + 6
    assert chip.cycle.outputs == [OutSpike(0, 0, 44, 1)]
    chip.inject(3, 2, -1)           # host events go after the routed ones
    assert chip.cycle.buffered_events(3) == [(33, 1), (1, 3), (2, -1)]


def test_full_buffer_drops_and_drop_counter() -> None:
    neurons = [NeuronParams(threshold=0, init=0, fanout_start=0, fanout_count=6)]
    fanout = [FanoutEntry(1, axon) for axon in range(6)]
    chip = Both({0: CoreImage(program=[w("FIRE", neuron=0, count=1), HALT], neurons=neurons, fanout=fanout)})
    # FIRE on 0: n0 on 1 fires, work 1 + 6 -> HALT on 8: E = 9; barrier 9; deliveries on 10..15.
    # Core 1's buffer holds event_depth = 4: axons 0..3 are written, axons 4 and 5 dropped.
    assert chip.step() == [(1, 0, SPIKE, 0, 1), (10, 1, EVENT, 0, 1), (11, 1, EVENT, 1, 1), (12, 1, EVENT, 2, 1),
                           (13, 1, EVENT, 3, 1), (14, 1, DROP, 4, 1), (15, 1, DROP, 5, 1)]
    assert chip.cycle.drops.tolist() == [0, 2, 0, 0]
    with pytest.raises(SpikeCoreError, match=r"^inject: core 1 input buffer is full \(4 events\)$"):
        chip.cycle.inject(1, 0, 0)
    # step 1 starts on C_1 = 9 + 1 + 6 = 16: the same again, 16 cycles later
    assert chip.step() == [(17, 0, SPIKE, 0, 1), (26, 1, EVENT, 0, 1), (27, 1, EVENT, 1, 1), (28, 1, EVENT, 2, 1),
                           (29, 1, EVENT, 3, 1), (30, 1, DROP, 4, 1), (31, 1, DROP, 5, 1)]
    assert chip.cycle.drops.tolist() == [0, 4, 0, 0]


def test_step_cycle_formula_over_three_steps() -> None:
    program = [w("ACC", neuron=0, count=2, wbase=0), w("FIRE", neuron=0, count=1, reset=ResetMode.VALUE), HALT]
    chip = Both({0: CoreImage(program=program, weights=[1, 1],
                              neurons=[NeuronParams(threshold=2, reset=0, init=0, fanout_start=0, fanout_count=3)],
                              fanout=[FanoutEntry(HOST_CORE, a) for a in range(3)])})
    chip.inject(0, 0, 1)
    # step 0: ACC (1 event x 2) on 0: MACs on 1, 2 (n0 = n1 = 1); FIRE on 3: 1 < 2; HALT on 5.
    #         E_0 = 6, D_0 = 0: C_1 = 0 + 6 + 1 + 0 = 7
    assert chip.step() == [(1, 0, ACC, 0, 1), (2, 0, ACC, 1, 1)]
    chip.inject(0, 0, 1)
    chip.inject(0, 0, 1)
    # step 1: ACC on 7, MACs on 8..11 (n0: 2, n1: 2, n0: 3, n1: 3); FIRE on 12: n0 = 3 >= 2 fires on 13,
    #         reset value -> 0, pushes on 14..16; HALT on 17. E_1 = 11; barrier 18; OUT on 19, 20, 21.
    #         C_2 = 7 + 11 + 1 + 3 = 22
    assert chip.step() == [(8, 0, ACC, 0, 2), (9, 0, ACC, 1, 2), (10, 0, ACC, 0, 3), (11, 0, ACC, 1, 3),
                           (13, 0, ACC, 0, 0), (13, 0, SPIKE, 0, 1),
                           (19, 0, OUT, 0, 1), (20, 0, OUT, 1, 1), (21, 0, OUT, 2, 1)]
    # step 2: ACC on 22 (no events), FIRE on 23 (0 < 2), HALT on 25: E_2 = 4; C_3 = 22 + 4 + 1 = 27
    assert chip.step() == []
    # (issue cycle, core, pc, word); cores 1..3 have no section and issue HALT on C_2
    assert chip.cycle.last_issue_log == [(22, 0, 0, program[0]), (23, 0, 1, program[1]), (25, 0, 2, HALT),
                                         (22, 1, 0, HALT), (22, 2, 0, HALT), (22, 3, 0, HALT)]
    assert (chip.cycle.step_starts, chip.cycle.cycle, chip.cycle.step_index) == ([0, 7, 22], 27, 3)
    assert chip.cycle.outputs == [OutSpike(1, 0, 0, 1), OutSpike(1, 0, 1, 1), OutSpike(1, 0, 2, 1)]
    assert chip.cycle.membranes[0, :2].tolist() == [0, 3]


# --- host interface --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("core", "axon", "payload", "message"), [
    (4, 0, 0, r"^inject: core must be an integer 0\.\.3, not 4$"),
    (-1, 0, 0, r"^inject: core must be an integer 0\.\.3, not -1$"),
    (0, 256, 0, r"^inject into core 0: axon must be an integer 0\.\.255, not 256$"),
    (2, 0, 128, r"^inject into core 2: payload must be an integer -128\.\.127, not 128$"),
    (2, 0, -129, r"^inject into core 2: payload must be an integer -128\.\.127, not -129$"),
    (True, 0, 0, r"^inject: core must be an integer 0\.\.3, not True$"),
])
def test_inject_rejects_out_of_range_with_one_line(core: object, axon: int, payload: int, message: str) -> None:
    for chip in (CycleChip(Image(CFG)), FunctionalChip(Image(CFG))):
        with pytest.raises(SpikeCoreError, match=message):
            chip.inject(core, axon, payload)


def test_reset_state_restores_init_and_empties_buffers_and_counters() -> None:
    neurons = [NeuronParams(threshold=0, init=-9, fanout_start=0, fanout_count=6)]
    fanout = [FanoutEntry(1, axon) for axon in range(6)]
    chip = CycleChip(Image(CFG, {0: CoreImage(program=[w("FIRE", neuron=0, count=1), w("LEAK", neuron=0, count=1),
                                                       HALT], neurons=[neurons[0]], fanout=fanout)}))
    chip.step()                       # -9 < 0: no spike; LEAK with decay 0 -> membrane 0
    chip.step()                       # 0 >= 0 fires: 6 deliveries to core 1, 2 dropped
    assert (chip.membranes[0, 0], chip.drops[1], chip.spike_counts[0]) == (0, 2, 1)
    cycle = chip.cycle
    chip.reset_state()
    assert (chip.membranes[0, 0], chip.drops[1], chip.spike_counts[0], chip.cycle) == (-9, 0, 0, cycle)
    for _ in range(CFG.event_depth):  # the buffer is empty again: it takes event_depth more events
        chip.inject(1, 0, 0)
    with pytest.raises(SpikeCoreError, match="core 1 input buffer is full"):
        chip.inject(1, 0, 0)


# --- SACC and SYN (version 2: CubaLIF) -------------------------------------------------------------------


def test_cubalif_two_steps_by_hand() -> None:
    # beta = decay/2^16 = 0.5, alpha = syn_decay/2^16 = 0.75; LEAK, SACC, SYN, FIRE reset=value, HALT (§4.6).
    params = NeuronParams(threshold=100, reset=0, decay=32768, syn_decay=49152)
    program = [w("LEAK", neuron=0, count=1), w("SACC", neuron=0, count=1, wbase=0), w("SYN", neuron=0, count=1),
               w("FIRE", neuron=0, count=1, reset=ResetMode.VALUE), HALT]
    chip = Both({0: CoreImage(program=program, weights=[40], neurons=[params])})
    chip.inject(0, 0, 2)
    # step 0: LEAK issue 0, v = 0 on 1; SACC issue 2, i = 0 + 2*40 = 80 on 3 (a SYN record);
    # SYN issue 4, on 5: v = 0 + 80 = 80, i = 80*0.75 = 60; FIRE issue 6: 80 < 100 on 7, nothing;
    # HALT issue 8: E = 9, C_1 = 10
    assert chip.step() == [(1, 0, ACC, 0, 0), (3, 0, SYN, 0, 80), (5, 0, ACC, 0, 80), (5, 0, SYN, 0, 60)]
    assert chip.cycle.cycle == 10
    chip.inject(0, 0, 1)
    # step 1: LEAK on 11: v = 80*0.5 = 40; SACC on 13: i = 60 + 40 = 100; SYN on 15: v = 40 + 100 = 140,
    # i = 75; FIRE on 17: 140 >= 100 fires (payload 1) and resets v := 0 (ACC sorts before SPIKE);
    # HALT issue 18: E = 9 again, C_2 = 10 + 9 + 1 = 20
    assert chip.step() == [(11, 0, ACC, 0, 40), (13, 0, SYN, 0, 100), (15, 0, ACC, 0, 140), (15, 0, SYN, 0, 75),
                           (17, 0, ACC, 0, 0), (17, 0, SPIKE, 0, 1)]
    assert chip.cycle.cycle == 20
    assert chip.cycle.currents[0, 0] == 75 and chip.cycle.membranes[0, 0] == 0
    # a float reference of the same recurrence, I_t = a I_{t-1} + x_t, v_t = b v_{t-1} + I_t (exact here)
    current, v = 0.0, 0.0
    for x in (80, 40):
        current = 0.75 * current + x
        v = 0.5 * v + current
    assert (current, v) == (100.0, 140.0)


def test_syn_saturates_the_membrane_and_rounds_the_decay_half_up() -> None:
    neurons = [NeuronParams(init=ACC_MAX - 5, syn_init=10, syn_decay=1),
               NeuronParams(init=ACC_MIN + 3, syn_init=-7, syn_decay=65535)]
    chip = Both({0: CoreImage(program=[w("SYN", neuron=0, count=2), HALT], neurons=neurons)})
    # neuron 0 on 1: v = ACC_MAX - 5 + 10 -> ACC_MAX; i = (10*1 + 2^15) >> 16 = 0
    # neuron 1 on 2: v = ACC_MIN + 3 - 7 -> ACC_MIN; i = (-7*65535 + 2^15) >> 16 = -425977 >> 16 = -7
    assert chip.step() == [(1, 0, ACC, 0, ACC_MAX), (1, 0, SYN, 0, 0), (2, 0, ACC, 1, ACC_MIN), (2, 0, SYN, 1, -7)]
    assert chip.cycle.cycle == 5   # SYN 1 + 2, HALT 1: E = 4; C_1 = 4 + 1


def test_sacc_saturates_after_every_mac_costs_like_acc_and_reset_state_restores_syn_init() -> None:
    program = [w("SACC", neuron=0, count=1, wbase=0), HALT]
    chip = Both({0: CoreImage(program=program, weights=[127], neurons=[NeuronParams(syn_init=ACC_MAX - 100)])})
    chip.inject(0, 0, 1)
    chip.inject(0, 0, -1)
    # 2147483547 + 127 -> 2147483647 (saturated), then - 127 = 2147483520; the membrane is untouched
    assert chip.step() == [(1, 0, SYN, 0, 2147483647), (2, 0, SYN, 0, 2147483520)]
    assert chip.cycle.cycle == 5 and chip.cycle.membranes[0, 0] == 0
    assert chip.step() == []        # no events: the issue cycle only; C_2 = 5 + 2 + 1
    assert chip.cycle.cycle == 8
    for model in (chip.cycle, chip.functional):
        model.reset_state()
        assert model.currents[0, 0] == ACC_MAX - 100

