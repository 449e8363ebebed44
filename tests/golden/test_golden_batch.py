"""The batched functional golden model equals the per-sample one: on compiled models (graded and rate mode,
through ``run_batch``) and on random programs whose runs saturate membranes and drop events."""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.app.digits import train_digits_mlp
from spikecore.app.runtime import run_batch
from spikecore.compiler.pipeline import compile_model
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.batch import BatchFunctionalChip
from spikecore.golden.functional import FunctionalChip
from spikecore.golden.run import run
from spikecore.image import Image
from spikecore.isa import ACC_MAX, ACC_MIN
from spikecore.verif.edge_programs import fit_stimulus, program_for_seed


@pytest.fixture(scope="module")
def digits():
    return train_digits_mlp(seed=0)


@pytest.mark.parametrize("mode", ["graded", "rate"])
def test_batch_equals_per_sample_on_a_compiled_model(digits, mode):
    model, data = digits
    knobs = {"T": 6} if mode == "rate" else {}
    compiled = compile_model(model, data.x_train[:1], data.x_train, encoding=mode, **knobs)
    x = data.x_test[:48]
    one, many = run_batch(compiled, x), run_batch(compiled, x, chip="batch")
    for field in ("logits", "predictions", "cycles", "spikes", "drops", "synops"):
        np.testing.assert_array_equal(getattr(many, field), getattr(one, field), err_msg=field)
    assert many.total_cycles == one.total_cycles
    assert one.spikes.min() > 0 and len(np.unique(one.logits, axis=0)) > 10   # real, varied work was compared


def _batched(image, stimuli, steps):
    chip = BatchFunctionalChip(image, len(stimuli))
    for step in range(steps):
        events = [(b, *event) for b, stim in enumerate(stimuli) for event in stim.at(step)]
        if events:
            chip.inject(*np.array(events, dtype=np.int64).T)
        chip.step()
    return chip


@pytest.mark.parametrize("variant", ["saturate", "full_buffers", "dense_fanout", "all_fire", "extreme_weights"])
def test_batch_equals_per_sample_on_random_programs(variant):
    config = ChipConfig(cores=4)
    seeds = [11, 12, 13, 14, 15]
    image, first, steps, _ = program_for_seed(seeds[0], config, variant)
    # Samples share the image and differ in what the host injects (other seeds' stimuli, fitted to it).
    stimuli = [first] + [fit_stimulus(image, program_for_seed(s, config, variant)[1], steps) for s in seeds[1:]]
    chip = _batched(image, stimuli, steps)
    membranes = chip.membranes
    for b, stimulus in enumerate(stimuli):
        expected = run(image, stimulus, steps, chip="functional")
        np.testing.assert_array_equal(membranes[b], expected.membranes, err_msg=f"sample {b} membranes")
        np.testing.assert_array_equal(chip.drops[b], expected.drops, err_msg=f"sample {b} drops")
        np.testing.assert_array_equal(chip.spike_counts[b], expected.spike_counts, err_msg=f"sample {b} spikes")
        assert chip.cycle[b] == expected.cycles, f"sample {b} cycles"
        assert chip.outputs[b] == expected.outputs, f"sample {b} outputs"
    assert chip.spike_counts.sum() > 0


def test_random_programs_exercise_saturation_and_drops():
    """The variants above do reach the rare paths (per-MAC saturation, dropped deliveries)."""
    config = ChipConfig(cores=4)
    saturated = dropped = False
    for variant in ("saturate", "full_buffers", "dense_fanout"):
        for seed in range(11, 16):
            image, stimulus, steps, _ = program_for_seed(seed, config, variant)
            chip = _batched(image, [stimulus], steps)
            saturated |= bool(((chip.membranes == ACC_MAX) | (chip.membranes == ACC_MIN)).any())
            dropped |= bool(chip.drops.any())
    assert saturated and dropped


def test_batch_injection_refuses_a_full_buffer_and_bad_ids():
    config = ChipConfig(cores=2)
    chip = BatchFunctionalChip(Image(config), 3)
    depth = config.event_depth
    zeros = np.zeros(depth, dtype=int)
    chip.inject(zeros, zeros, np.arange(depth) % 256, zeros + 1)
    assert chip.buffer_fill.tolist() == [[depth, 0], [0, 0], [0, 0]]
    with pytest.raises(SpikeCoreError, match="sample 0 core 0 input buffer is full"):
        chip.inject([1, 0], [0, 0], [0, 0], [1, 1])
    assert chip.buffer_fill.tolist() == [[depth, 0], [0, 0], [0, 0]]        # nothing of the refused call landed
    with pytest.raises(SpikeCoreError, match=r"core must be an integer 0\.\.1, not 2"):
        chip.inject([0], [2], [0], [1])
    with pytest.raises(SpikeCoreError, match=r"payload must be an integer -128\.\.127, not 200"):
        chip.inject_dense(1, [0, 1], np.array([[0, 200], [0, 0], [0, 0]]))
    with pytest.raises(SpikeCoreError, match="batch must be a positive integer"):
        BatchFunctionalChip(Image(config), 0)


@pytest.mark.parametrize("variant", ["saturate", "extreme_weights"])
def test_batch_synaptic_currents_equal_per_sample_and_reset_to_syn_init(variant):
    # The random programs use SACC and SYN (spec version 2); each sample's currents must equal a
    # FunctionalChip fed the same events, step by step, and reset_state must load syn_init again.
    config = ChipConfig(cores=4)
    seeds = [21, 22, 23]
    image, first, steps, _ = program_for_seed(seeds[0], config, variant)
    stimuli = [first] + [fit_stimulus(image, program_for_seed(s, config, variant)[1], steps) for s in seeds[1:]]
    chip = _batched(image, stimuli, steps)
    moved = False
    for b, stimulus in enumerate(stimuli):
        single = FunctionalChip(image)
        for step in range(steps):
            for core, axon, payload in stimulus.at(step):
                single.inject(core, axon, payload)
            single.step()
        np.testing.assert_array_equal(chip.currents[b], single.currents, err_msg=f"sample {b} currents")
        np.testing.assert_array_equal(chip.membranes[b], single.membranes, err_msg=f"sample {b} membranes")
        moved |= bool((single.currents != single.loaded.syn_init).any())
    assert moved, "no SACC/SYN changed a current: the comparison would pass on untouched registers"
    chip.reset_state()
    np.testing.assert_array_equal(chip.currents, np.broadcast_to(FunctionalChip(image).currents, chip.currents.shape))
