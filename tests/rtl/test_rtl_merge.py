"""Exact fan-in splitting in the RTL (docs/spec.md §4.2 FIRE wide=1, §4.7 MERGE), in Amaranth's simulator.

The images and the expected records are those of tests/golden/test_golden_merge.py, derived there by hand from
the spec; here the RTL's trace port must produce exactly them, and :func:`crosscheck` compares the whole run
(records, membranes, counters, outputs, signatures) with the golden CycleChip.
"""

from __future__ import annotations

import pytest

from spikecore.image import Image
from spikecore.isa import ACC_MAX, ACC_MIN, HOST_CORE, CoreImage, FanoutEntry, NeuronParams, ResetMode, TraceKind
from spikecore.stimulus import Stimulus
from spikecore.verif.crosscheck import crosscheck
from tests.golden.test_golden_merge import _split_neuron_image
from tests.helpers import SMALL_CHIP, word

pytestmark = pytest.mark.rtl

ACC, SPIKE, EVENT, DROP, OUT, SYN = (int(k) for k in list(TraceKind)[:6])


def rows(result) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in row) for row in result.rtl.trace.tolist()]


def test_partial_sums_travel_wide_through_the_router_and_merge():
    stimulus = Stimulus()
    stimulus.add(0, 0, 0, 127)
    stimulus.add(0, 0, 1, 127)
    result = crosscheck(Image(SMALL_CHIP, _split_neuron_image()), stimulus, steps=2)
    assert rows(result) == [
        (1, 0, ACC, 0, 12700), (2, 0, ACC, 1, -15240), (2, 1, ACC, 1, 1000), (2, 1, SPIKE, 1, 4),
        (3, 0, ACC, 0, 28829), (4, 0, ACC, 1, -8890), (4, 1, ACC, 2, -5),
        (6, 0, ACC, 0, 0), (6, 0, SPIKE, 0, 28829), (8, 0, ACC, 1, 0), (8, 0, SPIKE, 1, -8890),
        (12, 1, EVENT, 1, 28829), (13, 1, EVENT, 2, -8890), (14, 1, OUT, 7, 4),
        (16, 1, ACC, 1, 29829), (17, 0, ACC, 0, 0), (17, 0, SPIKE, 0, 0), (17, 1, ACC, 2, -8895),
        (19, 0, ACC, 1, 0), (19, 0, SPIKE, 1, 0), (19, 1, ACC, 1, 1000), (19, 1, SPIKE, 1, 117),
        (21, 1, ACC, 2, -5),
        (24, 1, EVENT, 1, 0), (25, 1, EVENT, 2, 0), (26, 1, OUT, 7, 117),
    ]


def test_merge_skips_events_outside_its_range_and_saturates():
    image = Image(SMALL_CHIP, {0: CoreImage(program=[word("MERGE", neuron=2, count=2), word("HALT")],
                                            neurons=[NeuronParams()] * 3 + [NeuronParams(init=ACC_MAX - 5)])})
    stimulus = Stimulus()
    for axon, payload in ((3, 7), (1, 100), (2, -128), (3, -1)):
        stimulus.add(0, 0, axon, payload)
    assert rows(crosscheck(image, stimulus)) == [(1, 0, ACC, 3, ACC_MAX), (3, 0, ACC, 2, -128),
                                                 (4, 0, ACC, 3, ACC_MAX - 1)]


def test_wide_payload_saturates_to_24_bits_on_the_host_port():
    image = Image(SMALL_CHIP, {0: CoreImage(
        program=[word("FIRE", neuron=0, count=2, shift=0, reset=ResetMode.NONE, graded=True, wide=True),
                 word("HALT")],
        neurons=[NeuronParams(threshold=ACC_MIN, init=ACC_MAX, fanout_start=0, fanout_count=1),
                 NeuronParams(threshold=ACC_MIN, init=-(1 << 23) - 1, fanout_start=1, fanout_count=1)],
        fanout=[FanoutEntry(HOST_CORE, 0), FanoutEntry(HOST_CORE, 1)])})
    result = crosscheck(image)
    assert rows(result) == [(1, 0, SPIKE, 0, 8388607), (3, 0, SPIKE, 1, -8388608),
                            (7, 0, OUT, 0, 8388607), (8, 0, OUT, 1, -8388608)]
