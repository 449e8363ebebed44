"""Fan-in splitting on a board (docs/spec.md §4.8 with §13): a split layer's partial-sum and merging cores
may sit on different chips, its 24-bit partial sums then cross a link whole, and the golden board equals the
compiler's integer reference bit-exactly. Placements and refusals are derived by hand in the comments
(every weight of ``float_mlp`` is non-zero, so every hidden neuron reads every input)."""

from __future__ import annotations

import numpy as np
import pytest

from spikecore import isa
from spikecore.app.runtime import run_batch
from spikecore.compiler.report import link_traffic
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.board import run_board
from spikecore.image import decode_image, encode_image
from spikecore.isa import TraceKind
from tests.compiler.test_compiler_fanin import compiled_for


def _board_trace(compiled, q_sample: np.ndarray) -> np.ndarray:
    stim = compiled.stimulus(q_sample, quantized=True)
    board, trace = run_board(compiled.image, {s: stim.at(s) for s in range(compiled.steps)}, compiled.steps)
    return board, trace


def test_a_split_group_straddling_two_chips_sends_its_partial_sums_over_a_link_exactly():
    # 300 -> 16 -> 10 (tests/compiler/test_compiler_fanin.py): 20 partial-sum cores 0..19 (5 groups x 4 slices of
    # 4 neurons), merging cores 20..23 (slice m's partial sums from cores 5m..5m+4), output core 24. Chips of 22
    # cores: chip 0 holds 0..21, chip 1 holds global 22..24. Slices 2 and 3 (cores 10..19, chip 0) merge on
    # cores 22, 23 (chip 1): 10 cores x 4 neurons = 40 partial sums over link 0->1; merging cores 20, 21 (chip 0)
    # feed the output core (chip 1): 8 neurons x 1 entry = 8 more. Nothing goes 1 -> 0.
    config = ChipConfig(cores=22, chips=2)
    compiled, _, x = compiled_for((300, 16, 10), config, samples=6)
    placed = compiled.placed
    assert [pc.core for pc in placed.cores if pc.merge] == [20, 21, 22, 23]
    assert link_traffic(placed) == {(0, 1): 48}
    for pc in placed.cores:
        if pc.partial and pc.core >= 10:
            assert {(e.chip, e.core) for e in pc.fanout} == {divmod(20 + pc.core // 5, 22)}
    assert decode_image(encode_image(compiled.image)) == compiled.image

    q = compiled.quantize_input(x)
    ref = compiled.reference(q, quantized=True)
    assert np.abs(ref.membranes).max() > 0
    functional = run_batch(compiled, q, chip="functional", quantized=True, reference=ref)
    np.testing.assert_array_equal(functional.logits, ref.logits)
    cycle = run_batch(compiled, q[:2], chip="cycle", quantized=True)
    np.testing.assert_array_equal(cycle.logits, ref.logits[:2])

    _, trace = _board_trace(compiled, q[0])
    links = trace[trace["kind"] == int(TraceKind.LINK)]
    # every partial-sum neuron fires every step: the 40 partial sums of cores 10..19 cross 0->1 in each step
    partial_links = links[(links["chip"] == 0) & (links["core"] >= 10) & (links["core"] < 20)]
    assert len(partial_links) == 40 * compiled.steps and set(partial_links["index"].tolist()) == {1}
    # on chip 1 the merging cores (local 0, 1) receive them as events; some partial sums leave the int8 range,
    # so the link carried more than 8 bits
    arrived = trace[(trace["chip"] == 1) & (trace["kind"] == int(TraceKind.EVENT)) & (trace["core"] <= 1)]
    assert len(arrived) == 40 * compiled.steps
    assert np.abs(arrived["value"]).max() > isa.PAYLOAD_MAX
    assert not (trace["kind"] == int(TraceKind.DROP)).any()


@pytest.fixture(scope="module")
def mnist_mlp():
    # The 784 -> 64 -> 10 on the product chip (128 cores x 32 neurons x 256 B, event_depth 64) of a board
    # of 2. Hidden layer: a group's rows <= event_depth 64, so G >= ceil(784 / 64) = 13; c neurons per slice <=
    # min(256 // rows, 64 // G) (weight bytes; a merging core's G x c events): G = 13: rows 61, c = 4, 16 slices
    # x (13 + 1) = 208 partial-sum + 16 merging cores; G = 14..16: c = 4, 16 x 15.. cores; G > 16: c <= 3, more.
    # Output layer 64 x 10 = 640 B > 256: several cores. 784 x 64 + 64 x 10 = 50,816 weight bytes.
    compiled, _, x = compiled_for((784, 64, 10), ChipConfig(chips=2), samples=6)
    return compiled, x


def test_784_64_10_compiles_for_two_product_chips(mnist_mlp):
    compiled, _ = mnist_mlp
    placed = compiled.placed
    assert (sum(pc.partial and pc.layer_index == 0 for pc in placed.cores),
            sum(pc.merge for pc in placed.cores)) == (208, 16)
    assert 128 < len(placed.cores) <= 256
    assert sum(pc.weight_bytes for pc in placed.cores) == 784 * 64 + 64 * 10
    # partial-sum cores 0..127 fill chip 0; their merging cores 208..223 are on chip 1: 128 x 4 partial sums
    # cross link 0->1, plus nothing back (the output cores follow the merging cores on chip 1)
    traffic = link_traffic(placed)
    assert set(traffic) == {(0, 1)} and traffic[(0, 1)] == 128 * 4
    with pytest.raises(SpikeCoreError, match=r"^model needs \d+ cores \(h: 208 partial-sum \+ 16 merging, i: \d+\) "
                                             r"and 50816 weight bytes, the chip has 128 cores of 256 bytes$"):
        compiled_for((784, 64, 10), ChipConfig(), samples=1)


def test_784_64_10_on_two_chips_equals_the_integer_reference(mnist_mlp):
    compiled, x = mnist_mlp
    q = compiled.quantize_input(x)
    ref = compiled.reference(q, quantized=True)
    assert np.abs(ref.logits).max() > 0 and len(set(ref.logits.argmax(axis=1).tolist())) > 1
    functional = run_batch(compiled, q, chip="functional", quantized=True, reference=ref)
    np.testing.assert_array_equal(functional.logits, ref.logits)
    assert not functional.drops.any()
    cycle = run_batch(compiled, q[:1], chip="cycle", quantized=True)
    np.testing.assert_array_equal(cycle.logits, ref.logits[:1])


def test_784_100_10_compiles_for_four_chips_and_is_refused_for_two_in_one_line():
    # 784 x 100 + 100 x 10 = 79,400 weight bytes; 2 product chips hold 2 x 128 x 256 = 65,536: refused, the line
    # naming both. Hidden layer as above with c = 4: 25 slices x 14 = 350 cores (325 partial-sum + 25 merging),
    # plus the output cores: more than 256 cores, at most 512 (4 chips).
    with pytest.raises(SpikeCoreError) as info:
        compiled_for((784, 100, 10), ChipConfig(chips=2), samples=1)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("model needs ") and "(h: 325 partial-sum + 25 merging, i: " in message
    assert "the board has 256 (2 chips x 128); weight bytes: needs 79400, 65536 available; chips: needs 3" in message
    compiled, _, _ = compiled_for((784, 100, 10), ChipConfig(chips=4), samples=1)
    assert 256 < len(compiled.placed.cores) <= 512 and compiled.image.config.chips == 4
    assert sum(pc.weight_bytes for pc in compiled.placed.cores) == 79_400
