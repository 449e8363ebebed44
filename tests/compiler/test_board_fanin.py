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
    _, trace = run_board(compiled.image, {s: stim.at(s) for s in range(compiled.steps)}, compiled.steps)
    return trace


def test_a_split_group_straddling_two_chips_sends_its_partial_sums_over_a_link_exactly():
    # 300 -> 16 -> 10 (tests/compiler/test_compiler_fanin.py): 4 slices of 4 neurons, each over 5 groups of 60
    # inputs. On a board each merging core follows its 5 partial-sum cores: slice m takes cores 6m..6m+4 and
    # merges on 6m+5 (5, 11, 17, 23); the output core is 24. Chips of 22 cores: chip 0 holds 0..21, chip 1
    # global 22..24. Slice 3 straddles: its partial-sum cores 18..21 (chip 0) send 4 x 4 = 16 partial sums over
    # link 0->1 to core 23 (chip 1, local 1), core 22 (chip 1) sends its 4 on chip; merging cores 5, 11, 17
    # (chip 0) feed the output core (chip 1): 12 neurons x 1 entry. 28 entries 0->1, nothing 1->0.
    config = ChipConfig(cores=22, chips=2)
    compiled, _, x = compiled_for((300, 16, 10), config, samples=6)
    placed = compiled.placed
    assert [pc.core for pc in placed.cores if pc.merge] == [5, 11, 17, 23]
    assert link_traffic(placed) == {(0, 1): 28}
    for pc in placed.cores:
        if pc.partial:
            assert {(e.chip, e.core) for e in pc.fanout} == {divmod(6 * (pc.core // 6) + 5, 22)}
    assert decode_image(encode_image(compiled.image)) == compiled.image

    q = compiled.quantize_input(x)
    ref = compiled.reference(q, quantized=True)
    assert np.abs(ref.membranes).max() > 0
    functional = run_batch(compiled, q, chip="functional", quantized=True, reference=ref)
    np.testing.assert_array_equal(functional.logits, ref.logits)
    cycle = run_batch(compiled, q[:2], chip="cycle", quantized=True)
    np.testing.assert_array_equal(cycle.logits, ref.logits[:2])

    trace = _board_trace(compiled, q[0])
    kind, chip, core = trace["kind"], trace["chip"], trace["core"]
    # every partial-sum neuron fires every step (zero included): 16 partial sums cross 0->1 in each step
    partial_links = trace[(kind == int(TraceKind.LINK)) & (chip == 0) & (core >= 18)]
    assert len(partial_links) == 16 * compiled.steps and set(partial_links["index"].tolist()) == {1}
    # the partial sums slice 3's cores emitted (SPIKE, wide) are exactly what its merging core received (EVENT):
    # the link carried every 24-bit payload whole, some beyond the int8 range
    sent = trace[(kind == int(TraceKind.SPIKE)) & (((chip == 0) & (core >= 18)) | ((chip == 1) & (core == 0)))]
    arrived = trace[(kind == int(TraceKind.EVENT)) & (chip == 1) & (core == 1)]
    assert len(arrived) == 20 * compiled.steps
    assert sorted(arrived["value"].tolist()) == sorted(sent["value"].tolist())
    assert np.abs(arrived["value"]).max() > isa.PAYLOAD_MAX
    assert not (kind == int(TraceKind.DROP)).any()


@pytest.fixture(scope="module")
def mnist_mlp():
    # The 784 -> 64 -> 10 on the product chip (128 cores x 32 neurons x 256 B, event_depth 64) of a board
    # of 2. Hidden layer: a group's rows <= event_depth 64, so G >= ceil(784 / 64) = 13; c neurons per slice <=
    # min(256 // rows, 64 // G) (weight bytes; a merging core's G x c events): G = 13: rows 61, c = 4, 16 slices
    # x (13 + 1) = 208 partial-sum + 16 merging cores; G = 14..16: c = 4, 16 x 15.. cores; G > 16: c <= 3, more.
    # Output layer 64 x 10 = 640 B > 256: several cores (3). 784 x 64 + 64 x 10 = 50,816 weight bytes.
    compiled, _, x = compiled_for((784, 64, 10), ChipConfig(chips=2), samples=6)
    return compiled, x


def test_784_64_10_compiles_for_two_product_chips(mnist_mlp):
    compiled, _ = mnist_mlp
    placed = compiled.placed
    assert (sum(pc.partial and pc.layer_index == 0 for pc in placed.cores),
            sum(pc.merge for pc in placed.cores)) == (208, 16)
    assert 128 < len(placed.cores) <= 256
    assert sum(pc.weight_bytes for pc in placed.cores) == 784 * 64 + 64 * 10
    # On a board slice m takes cores 14m..14m+12 and merges on 14m+13: chip 0 (cores 0..127) holds slices 0..8
    # and slice 9's partial-sum cores 126, 127, whose 2 x 4 partial sums cross link 0->1. The output layer is
    # split over its fan-in too (10 neurons x 64 inputs = 640 B): 3 cores (224..226, chip 1) of all 10 neurons
    # over 21, 22, 21 of the hidden neurons, so each hidden neuron has one reader and the 9 x 4 neurons merged on
    # chip 0 send one entry each: 8 + 36 = 44 entries 0->1 (partial-sum cores before all merging cores would
    # send 128 x 4 = 512).
    assert [pc.core for pc in placed.cores if pc.merge] == [14 * m + 13 for m in range(16)]
    outputs = [pc for pc in placed.cores if pc.layer_index == 1]
    assert [(pc.core, pc.count, len(pc.axons)) for pc in outputs] == [(224, 10, 21), (225, 10, 22), (226, 10, 21)]
    assert link_traffic(placed) == {(0, 1): 8 + 36}
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
    # ceil(cores needed / 128) = 3 chips of the same sizes hold the same cores: the hint names that board
    assert message.endswith('; a board of 3 chips holds it: pass --chip "chips=3"')
    compiled, _, _ = compiled_for((784, 100, 10), ChipConfig(chips=4), samples=1)
    assert 256 < len(compiled.placed.cores) <= 3 * 128 and compiled.image.config.chips == 4
    assert sum(pc.weight_bytes for pc in compiled.placed.cores) == 79_400
