"""Exact fan-in splitting in the golden models (docs/spec.md §4.2 FIRE wide=1, §4.7 MERGE), values by hand.

Every expected record is worked out in the comments from the spec's formulas; `Both` runs the cycle-accurate
and the functional model in lock step, and the batch model is held to the same membranes and outputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.errors import SpikeCoreError
from spikecore.golden.batch import BatchFunctionalChip
from spikecore.golden.cycle import OutSpike
from spikecore.image import Image, decode_image, encode_image
from spikecore.isa import (
    ACC_MAX,
    ACC_MIN,
    HOST_CORE,
    CoreImage,
    FanoutEntry,
    Instruction,
    NeuronParams,
    Opcode,
    ResetMode,
    TraceKind,
    decode,
    encode,
)
from tests.golden.test_golden_instructions import Both
from tests.helpers import SMALL_CHIP, word

ACC, SPIKE, EVENT, DROP, OUT, SYN = (int(k) for k in list(TraceKind)[:6])
HALT = word("HALT")
ALWAYS = ResetMode.ALWAYS


def _split_neuron_image() -> dict[int, CoreImage]:
    """Core 0 holds two partial-sum neurons (ACC, FIRE wide=1); core 1 merges them into its neurons 1 and 2."""
    partial = CoreImage(
        program=[word("ACC", neuron=0, count=2, wbase=0),
                 word("FIRE", neuron=0, count=2, shift=0, reset=ALWAYS, graded=True, wide=True), HALT],
        weights=[100, -120, 127, 50],          # row-major: axon a, neuron j at 2a + j
        neurons=[NeuronParams(threshold=ACC_MIN, fanout_start=0, fanout_count=1),
                 NeuronParams(threshold=ACC_MIN, fanout_start=1, fanout_count=1)],
        fanout=[FanoutEntry(1, 1), FanoutEntry(1, 2)])
    merge = CoreImage(
        program=[word("MERGE", neuron=1, count=2),
                 word("FIRE", neuron=1, count=2, shift=8, reset=ALWAYS, graded=True), HALT],
        neurons=[NeuronParams(),
                 NeuronParams(threshold=1, reset=1000, init=1000, fanout_start=0, fanout_count=1),
                 NeuronParams(threshold=1, reset=-5, init=-5)],
        fanout=[FanoutEntry(HOST_CORE, 7)])
    return {0: partial, 1: merge}


def test_partial_sums_travel_wide_and_merge_exactly() -> None:
    chip = Both(_split_neuron_image())
    chip.inject(0, 0, 127)
    chip.inject(0, 1, 127)
    # Step 0. Core 0: ACC issue 0, MAC (e, j) on 1 + 2e + j:
    #   n0 = 127*100 = 12700, n1 = 127*-120 = -15240; then + 127*127 -> 28829, + 127*50 -> -8890.
    #   FIRE issue 5; n0 on 6 (28829 >= ACC_MIN: payload 28829, 24 bits, no int8 clamp), reset always -> 0;
    #   push on 7; n1 on 8 (payload -8890), push on 9; HALT 10: 11 cycles.
    # Core 1: MERGE over an empty buffer (issue 0), FIRE issue 1: n1 on 2 (1000 >= 1, payload
    #   round_shift(1000, 8) = 1128 >> 8 = 4), reset -> 1000, push 3; n2 on 4 (-5 < 1), reset -> -5; HALT 5.
    # Barrier 11; deliveries: core 0's two entries on 12, 13, then core 1's host spike on 14. Next step: 15.
    assert chip.step() == [
        (1, 0, ACC, 0, 12700), (2, 0, ACC, 1, -15240), (2, 1, ACC, 1, 1000), (2, 1, SPIKE, 1, 4),
        (3, 0, ACC, 0, 28829), (4, 0, ACC, 1, -8890), (4, 1, ACC, 2, -5),
        (6, 0, ACC, 0, 0), (6, 0, SPIKE, 0, 28829), (8, 0, ACC, 1, 0), (8, 0, SPIKE, 1, -8890),
        (12, 1, EVENT, 1, 28829), (13, 1, EVENT, 2, -8890), (14, 1, OUT, 7, 4),
    ]
    assert chip.cycle.cycle == 15
    assert chip.cycle.buffered_events(1) == [(1, 28829), (2, -8890)]
    # Step 1 (C = 15). Core 0: ACC over nothing (issue 15), FIRE issue 16: both neurons hold 0 >= ACC_MIN, so
    #   they fire payload 0 on 17 and 19 (pushes 18, 20); HALT 21: 7 cycles.
    # Core 1: MERGE issue 15; event 0 on 16: acc[1] = 1000 + 28829 = 29829; event 1 on 17: acc[2] = -5 - 8890
    #   = -8895. FIRE issue 18: n1 on 19 fires round_shift(29829, 8) = 29957 >> 8 = 117, reset 1000, push 20;
    #   n2 on 21 stays silent, reset -5; HALT 22: 8 cycles. Barrier 23; deliveries 24, 25 (core 0), 26 (host).
    assert chip.step() == [
        (16, 1, ACC, 1, 29829), (17, 0, ACC, 0, 0), (17, 0, SPIKE, 0, 0), (17, 1, ACC, 2, -8895),
        (19, 0, ACC, 1, 0), (19, 0, SPIKE, 1, 0), (19, 1, ACC, 1, 1000), (19, 1, SPIKE, 1, 117),
        (21, 1, ACC, 2, -5),
        (24, 1, EVENT, 1, 0), (25, 1, EVENT, 2, 0), (26, 1, OUT, 7, 117),
    ]
    assert chip.cycle.cycle == 27
    assert chip.cycle.outputs == [OutSpike(0, 1, 7, 4), OutSpike(1, 1, 7, 117)]
    # synaptic ops: core 0 four MACs; core 1 two merge adds (step 1)
    assert chip.cycle.synops.tolist()[:2] == [4, 2]
    assert chip.functional.synops.tolist()[:2] == [4, 2]


def test_batch_model_merges_like_the_functional_model() -> None:
    image = Image(SMALL_CHIP, _split_neuron_image())
    batch = BatchFunctionalChip(image, 2)
    # sample 0 as above; sample 1: payload -128 on axon 0 only: n0 = -12800, n1 = 15360 (hand: -128 x 100, x -120)
    batch.inject(np.array([0, 0, 1]), np.array([0, 0, 0]), np.array([0, 1, 0]), np.array([127, 127, -128]))
    for _ in range(2):
        batch.step()
    # after step 1 core 1 was reset (always) to its biases; the host saw 4 then 117 (sample 0) and
    # 4 then round_shift(1000 - 12800, 8) -> not fired (-11800 < 1) (sample 1)
    assert [list(o) for o in batch.outputs] == [[OutSpike(0, 1, 7, 4), OutSpike(1, 1, 7, 117)],
                                                [OutSpike(0, 1, 7, 4)]]
    # sample 1, step 0: core 0 ACC 1 event x 2 = 2 MACs (issue 0, MACs 1-2), FIRE issue 3, n0 on 4 + push,
    # n1 on 6 + push, HALT 8: 9 cycles; barrier; 3 deliveries -> 13. Step 1: core 0 7 cycles (as sample 0);
    # core 1 MERGE issue + 2 adds, FIRE issue, n1 (-11800, silent), n2 (-5 + 15360 fires, no fan-out), HALT:
    # 7 cycles; barrier; 2 deliveries -> 13 + 7 + 1 + 2 = 23.
    assert batch.cycle.tolist() == [27, 23]


def test_merge_range_saturation_and_cycles() -> None:
    chip = Both({0: CoreImage(program=[word("MERGE", neuron=2, count=2), HALT],
                              neurons=[NeuronParams()] * 3 + [NeuronParams(init=ACC_MAX - 5)])})
    for axon, payload in ((3, 7), (1, 100), (2, -128), (3, -1)):
        chip.inject(0, axon, payload)
    # MERGE issue 0; event e on 1 + e: e0 acc[3] = ACC_MAX - 5 + 7 saturates to ACC_MAX; e1 axon 1 is outside
    # 2..3: its cycle passes without a record; e2 acc[2] = -128; e3 acc[3] = ACC_MAX - 1. HALT 5, barrier 6.
    assert chip.step() == [(1, 0, ACC, 3, ACC_MAX), (3, 0, ACC, 2, -128), (4, 0, ACC, 3, ACC_MAX - 1)]
    assert chip.cycle.cycle == 7
    assert chip.cycle.synops[0] == 3


def test_wide_payload_saturates_to_24_bits() -> None:
    chip = Both({0: CoreImage(
        program=[word("FIRE", neuron=0, count=2, shift=0, reset=ResetMode.NONE, graded=True, wide=True), HALT],
        neurons=[NeuronParams(threshold=ACC_MIN, init=ACC_MAX, fanout_start=0, fanout_count=1),
                 NeuronParams(threshold=ACC_MIN, init=-(1 << 23) - 1, fanout_start=1, fanout_count=1)],
        fanout=[FanoutEntry(HOST_CORE, 0), FanoutEntry(HOST_CORE, 1)])})
    # FIRE issue 0; n0 on 1: payload saturate24(2^31 - 1) = 2^23 - 1 = 8388607; push 2; n1 on 3:
    # saturate24(-2^23 - 1) = -2^23 = -8388608; push 4; HALT 5; barrier 6; host deliveries 7, 8.
    assert chip.step() == [(1, 0, SPIKE, 0, 8388607), (3, 0, SPIKE, 1, -8388608),
                           (7, 0, OUT, 0, 8388607), (8, 0, OUT, 1, -8388608)]


def test_wide_needs_graded_and_version_2() -> None:
    # FIRE bits: opcode 3 << 28, count-1 = 0, wide = bit 3, graded = bit 4 (docs/spec.md §4)
    assert decode(0x30000018).wide
    with pytest.raises(SpikeCoreError, match="wide=1 needs graded=1"):
        decode(0x30000008)
    with pytest.raises(SpikeCoreError, match="wide=1 needs graded=1"):
        encode(Instruction(Opcode.FIRE, wide=True))
    assert encode(Instruction(Opcode.MERGE, neuron=1, count=3)) == 0x70102000   # 7 << 28 | 1 << 20 | 2 << 12
    for program in ([0x70000000, HALT], [0x30000018, HALT]):
        data = bytearray(encode_image(Image(SMALL_CHIP, {0: CoreImage(program=program)})))
        data[4:6] = (1).to_bytes(2, "little")           # claim version 1 (its sections hold no neuron records)
        data[22:24] = bytes(2)                          # ... whose header has no chips field (reserved, 0)
        import zlib
        data[-4:] = zlib.crc32(bytes(data[:-4])).to_bytes(4, "little")
        what = "MERGE" if program[0] >> 28 == 7 else "FIRE wide=1"
        with pytest.raises(SpikeCoreError, match=f"program word 0: {what} needs image format version 2"):
            decode_image(bytes(data))
