"""Exact fan-in splitting in the compiler (docs/spec.md §4.8): placement, the integer reference, the golden models.

The expected placements are derived by hand in the comments (every weight of ``float_mlp`` is non-zero, so every
hidden neuron reads every input); bit-exactness is checked against the compiler's integer reference AND against
the reference of the same integer graph unsplit (``merged=()``), so a split that changed the arithmetic fails.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spikecore import isa
from spikecore.app.runtime import activity, run_batch, run_stream, stream_lower_bound
from spikecore.compiler.codegen import codegen
from spikecore.compiler.pipeline import _lay_out
from spikecore.compiler.place import place
from spikecore.compiler.quantize import quantize
from spikecore.compiler.reference import run_reference
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import CycleChip
from tests.compiler.test_compiler_place import float_mlp

CHIP = ChipConfig(cores=32)


def compiled_for(sizes, config, mode="graded", T=None, seed=0, samples=24):
    graph = float_mlp(sizes, seed)
    rng = np.random.default_rng(seed + 1)
    calib = rng.uniform(0, 1, (64, sizes[0]))
    quant = quantize(graph, calib, mode, T, config=config)
    return _lay_out(graph, quant, config, "fanin", {}), quant, rng.uniform(0, 1, (samples, sizes[0]))


def test_300_inputs_split_over_five_groups_of_sixty():
    # 300 inputs x 1 neuron = 300 B > 256. Groups G, rows = 300/G, neurons per slice c <= min(256 // rows,
    # 64 // G): G=2: c=1, 16 x 3 = 48 cores; G=3: c=2, 8 x 4 = 32; G=4: c=3, 6 x 5 = 30; G=5: rows 60, c=4,
    # 4 x 6 = 24; G=6: c=5, 4 x 7 = 28; G=8: rows 38, c=6, 3 x 9 = 27; G=10: c <= 64 // 10 = 6, 3 x 11 = 33;
    # beyond, 64 // G limits c further. Fewest: G = 5, 20 partial-sum cores + 4 merging cores.
    compiled, _, _ = compiled_for((300, 16, 10), CHIP)
    placed = compiled.placed
    partial = [pc for pc in placed.cores if pc.partial]
    merging = [pc for pc in placed.cores if pc.merge]
    assert (len(partial), len(merging), len(placed.cores)) == (20, 4, 25)
    assert [pc.core for pc in placed.cores] == list(range(25))          # partial, merging, then the output layer
    assert [pc.core for pc in merging] == [20, 21, 22, 23]
    assert [(pc.start, pc.axons[0], pc.axons[-1], len(pc.axons)) for pc in partial[:6]] == [
        (0, 0, 59, 60), (0, 60, 119, 60), (0, 120, 179, 60), (0, 180, 239, 60), (0, 240, 299, 60), (4, 0, 59, 60)]
    for pc in partial:     # ACC, FIRE wide (threshold ACC_MIN, cleared), neuron j -> merging core axon j
        assert [i.opcode for i in pc.program] == [isa.Opcode.ACC, isa.Opcode.FIRE, isa.Opcode.HALT]
        assert pc.program[1].wide and pc.program[1].graded and pc.program[1].reset == isa.ResetMode.ALWAYS
        assert {(p.threshold, p.init, p.reset) for p in pc.neurons} == {(isa.ACC_MIN, 0, 0)}
        assert [(e.core, e.axon) for e in pc.fanout] == [(20 + pc.start // 4, j) for j in range(4)]
    for pc in merging:
        assert [i.opcode for i in pc.program] == [isa.Opcode.MERGE, isa.Opcode.FIRE, isa.Opcode.HALT]
        assert pc.weights.size == 0 and pc.axons == ()
    # one step more than the unsplit 2: partial sums in step 0, merged in step 1, output layer in step 2
    assert compiled.quant.merged == (0,) and compiled.steps == 3 == compiled.io.steps


def test_split_graded_mlp_is_bit_exact_with_the_reference_on_every_golden_model():
    compiled, _, x = compiled_for((300, 16, 10), CHIP)
    q = compiled.quantize_input(x)
    ref = compiled.reference(q, quantized=True)
    unsplit = run_reference(dataclasses.replace(compiled.quant, merged=()), q)
    assert np.array_equal(ref.membranes, unsplit.membranes)        # the split changes no integer
    assert np.abs(ref.membranes).max() > 0
    for chip in ("batch", "functional"):
        result = run_batch(compiled, q, chip=chip, quantized=True, reference=ref)
        assert np.array_equal(result.logits, ref.logits), chip
        assert np.array_equal(result.cycles, activity(compiled, ref).cycles), chip   # predicted cycles
    cycle = run_batch(compiled, q[:2], chip="cycle", quantized=True)
    assert np.array_equal(cycle.logits, ref.logits[:2])


def test_split_graded_mlp_streams_pipelined_exactly():
    # graded layers are stateless, partial-sum cores included (cleared every step): sample s injected before
    # step s is read after step s + steps - 1, while later samples are in flight
    compiled, _, x = compiled_for((300, 16, 10), CHIP, samples=12)
    stream = run_stream(compiled, x)
    np.testing.assert_array_equal(stream.logits, compiled.reference(x).logits)
    assert stream.total_cycles < run_batch(compiled, x).total_cycles
    assert 0 < stream_lower_bound(compiled, compiled.reference(x)) <= stream.total_cycles


def test_split_rate_mode_equals_its_reference():
    compiled, _, x = compiled_for((300, 12, 4), CHIP, mode="rate", T=6, samples=6)
    assert compiled.quant.merged == (0,) and compiled.steps == 6 + 2 - 1 + 1     # T + layers - 1, + 1 merge step
    q = compiled.quantize_input(x)
    ref = compiled.reference(q, quantized=True)
    result = run_batch(compiled, q, chip="functional", quantized=True, reference=ref)
    assert np.array_equal(result.logits, ref.logits) and np.abs(ref.membranes).max() > 0


def test_784_64_10_fits_one_chip_with_4096_byte_cores():
    # weight_bytes 4096, event_depth 256 (a group's rows and a merging core's G x c partial sums are events).
    # G=2, 3: 392, 262 rows > 256 axons. c <= min(4096 // rows, 256 // G, 32 neurons): G=4: rows 196, c=20,
    # 4 slices x 5 = 20 cores; G=5: rows 157, c=26, 3 x 6 = 18; G=6: rows 131, c=31, 3 x 7 = 21; G=7: rows 112,
    # c=32, 2 x 8 = 16; G=8: c=32, 2 x 9 = 18; G >= 9: c <= 28, 3 slices x >= 10. Fewest: G=7, 14 + 2, + 1 output.
    config = ChipConfig(cores=32, weight_bytes=4096, event_depth=256)
    compiled, _, x = compiled_for((784, 64, 10), config, samples=8)
    placed = compiled.placed
    assert (sum(pc.partial for pc in placed.cores), sum(pc.merge for pc in placed.cores), len(placed.cores)) == \
        (14, 2, 17)
    assert {(pc.count, len(pc.axons)) for pc in placed.cores if pc.partial} == {(32, 112)}
    q = compiled.quantize_input(x)
    ref = compiled.reference(q, quantized=True)
    assert np.array_equal(run_batch(compiled, q, chip="batch", quantized=True, reference=ref).logits, ref.logits)


def test_refusals_name_cores_and_bytes_needed_and_available():
    # 300 x 16 + 16 x 10 = 4960 weight bytes; the 25 cores of the first test
    with pytest.raises(SpikeCoreError, match=r"^model needs 25 cores \(h: 20 partial-sum \+ 4 merging, i: 1\) and 4960 "
                                             r"weight bytes, the chip has 16 cores of 256 bytes$"):
        compiled_for((300, 16, 10), ChipConfig(cores=16))


def test_check_refuses_a_partial_sum_sent_to_the_wrong_merging_axon():
    _, quant, _ = compiled_for((300, 16, 10), CHIP)
    placed = place(quant, CHIP)
    first = placed.cores[0]
    placed.cores[0] = dataclasses.replace(first, fanout=tuple(isa.FanoutEntry(e.core, (e.axon + 1) % 4)
                                                              for e in first.fanout))
    with pytest.raises(SpikeCoreError, match="does not reach an axon fed by h"):
        placed.check()


def test_listing_assembles_to_the_image():
    from spikecore.compiler.asm import assemble
    from spikecore.image import encode_image

    compiled, _, _ = compiled_for((300, 16, 10), CHIP)
    image, text = codegen(compiled.placed)
    assert "merge neuron=0, count=4" in text and "wide=1" in text
    assert encode_image(assemble(text)) == encode_image(image)


def test_cycle_model_runs_the_split_program():
    compiled, _, x = compiled_for((300, 16, 10), CHIP, samples=1)
    chip = CycleChip(compiled.image)
    stimulus = compiled.stimulus(x[0])
    kinds = set()
    for step in range(compiled.steps):
        for event in stimulus.at(step):
            chip.inject(*event)
        records = chip.step()
        kinds |= {(int(r["core"]) >= 20 and int(r["core"]) < 24, int(r["kind"])) for r in records}
    # merging cores wrote membranes (MERGE's ACC records) and received wide events
    assert (True, int(isa.TraceKind.ACC)) in kinds and (True, int(isa.TraceKind.EVENT)) in kinds
