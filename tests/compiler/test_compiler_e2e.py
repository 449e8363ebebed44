"""End to end: a trained PyTorch model compiled, run on the golden chip, held to float and to the integer reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spikecore import isa
from spikecore.app.digits import predict, train_digits_mlp
from spikecore.app.runtime import activity, run_batch, run_stream
from spikecore.compiler.asm import assemble
from spikecore.compiler.pipeline import compile_model
from spikecore.config import ChipConfig
from spikecore.golden.run import run
from spikecore.image import encode_image
from spikecore.isa import TraceKind


@pytest.fixture(scope="module")
def digits():
    """The digits MLP, trained once for this module (seed 0), and its float predictions on the held-out set."""
    model, data = train_digits_mlp(seed=0)
    return model, data, predict(model, data.x_test)


@pytest.fixture(scope="module")
def graded(digits):
    model, data, _ = digits
    return compile_model(model, data.x_train[:1], data.x_train, encoding="graded")


def test_graded_digits_on_the_golden_chip(digits, graded):
    _, data, float_pred = digits
    result = run_batch(graded, data.x_test)
    ref = graded.reference(data.x_test)
    assert len(result.logits) == len(data.y_test) == 360
    np.testing.assert_array_equal(result.logits, ref.logits)               # golden == integer reference, exactly
    agreement = np.mean(result.predictions == float_pred)
    drop = np.mean(float_pred == data.y_test) - np.mean(result.predictions == data.y_test)
    print(f"graded: agreement {agreement:.2%}, accuracy drop {drop * 100:.2f} points")
    assert agreement >= 0.995 and drop <= 0.005
    costs = activity(graded, ref)
    np.testing.assert_array_equal(result.cycles, costs.cycles)              # the §5 timing model predicts the chip
    np.testing.assert_array_equal(result.spikes, costs.spikes)
    assert not result.drops.any() and result.synops.min() > 0
    # 64 -> 32 -> 10 on the product core (256 weight bytes): hidden 64 inputs x 4 neurons = 256 B -> 32 / 4 = 8
    # cores; output 32 x 10 = 320 B > 256 -> fan-in split into 2 cores of 16 sources. One step per layer.
    assert graded.steps == 2 and len(graded.image.cores) == 8 + 2


def test_cycle_chip_trace_agrees_with_the_counters(digits, graded):
    """On the cycle-accurate model: same logits; ACC records = MACs + FIRE's reset writes; SPIKE, EVENT counts."""
    _, data, _ = digits
    x = data.x_test[:3]
    fast, slow = run_batch(graded, x), run_batch(graded, x, chip="cycle")
    np.testing.assert_array_equal(slow.logits, fast.logits)
    np.testing.assert_array_equal(slow.cycles, fast.cycles)
    costs = activity(graded, graded.reference(x))
    # reset=always writes every neuron a FIRE covers, every step: one ACC record each.
    fire_writes = graded.steps * sum(pc.count for pc in graded.placed.cores
                                     for ins in pc.program if ins.opcode == isa.Opcode.FIRE)
    for i in range(len(x)):
        result = run(graded.image, graded.stimulus(x[i]), steps=graded.steps, chip="cycle")
        kinds = np.bincount(result.trace["kind"], minlength=len(TraceKind))
        assert kinds[TraceKind.ACC] == costs.synops[i] + fire_writes
        assert kinds[TraceKind.SPIKE] == costs.spikes[i]
        assert kinds[TraceKind.EVENT] == costs.deliveries[i] and kinds[TraceKind.DROP] == 0
        assert graded.io.read_outputs(result.membranes).tolist() == fast.logits[i].tolist()


def test_pipelined_stream_is_exact(digits, graded):
    _, data, _ = digits
    x = data.x_test[:60]
    stream = run_stream(graded, x)
    np.testing.assert_array_equal(stream.logits, graded.reference(x).logits)
    assert stream.total_cycles < run_batch(graded, x).total_cycles
    # The same stream through golden.run (what an RTL testbench replays): sample 59 read after the last step.
    result = run(graded.image, graded.stream_stimulus(x), steps=len(x) + graded.steps - 1, chip="functional")
    assert graded.io.read_outputs(result.membranes).tolist() == stream.logits[-1].tolist()


def test_every_stage_prints_and_the_listing_is_the_image(graded):
    assert graded.dump("float").startswith("float graph: input 'x' shape (64,), 2 layers")
    assert "graded, 2 steps per inference" in graded.dump("quant")
    assert graded.dump("placed").startswith("placed program: 10 of 128 cores")
    assert "cores used      10 of 128" in graded.report()
    assert "; layer linear [Linear 'net.0'] (hidden)" in graded.listing
    assert encode_image(assemble(graded.listing)) == encode_image(graded.image)


def test_rate_digits_agreement_per_T(digits):
    model, data, float_pred = digits
    agreement = {}
    for T in (8, 16, 32):
        compiled = compile_model(model, data.x_train[:1], data.x_train, encoding="rate", T=T)
        ref = compiled.reference(data.x_test)
        agreement[T] = np.mean(ref.predictions == float_pred)
        assert compiled.steps == T + 1
    print("rate agreement per T:", {T: f"{a:.2%}" for T, a in agreement.items()})
    assert max(agreement.values()) >= 0.99
    # The golden chip computes exactly the reference (T = 32 is the last compiled).
    x = data.x_test[:12]
    result = run_batch(compiled, x)
    ref = compiled.reference(x)
    np.testing.assert_array_equal(result.logits, ref.logits)
    np.testing.assert_array_equal(result.cycles, activity(compiled, ref).cycles)
    assert compiled.io.bias_events and not result.drops.any()


def test_saturation_is_reproduced_exactly():
    """A bias about 16000 below ACC_MAX, then events +16129 and -16129: the chip saturates after the first MAC.

    Linear(2 -> 1), weights [1, -1], calibration max |x| = 1 -> input and weight scales 1/127, membrane unit
    1/16129, int weights [127, -127]. Input [1, 1] -> payloads 127, 127 -> products +16129 then -16129
    (ascending axon order). The bias (in float32, so only about ACC_MAX - 16000) + 16129 saturates to
    ACC_MAX, then - 16129 -> exactly ACC_MAX - 16129, whatever the bias's low bits (unsaturated: the bias).
    """
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -1.0]]))
        model.bias.fill_((isa.ACC_MAX - 16000) / 16129)
    compiled = compile_model(model, torch.ones(1, 2), np.array([[1.0, 1.0], [0.0, 0.0]]),
                             config=ChipConfig(cores=1))
    layer = compiled.quant.layers[0]
    assert layer.weight.tolist() == [[127, -127]] and compiled.quantize_input(np.ones((1, 2))).tolist() == [[127, 127]]
    assert isa.ACC_MAX - 16129 < int(layer.bias[0]) < isa.ACC_MAX - 16129 + 1000   # the first MAC must saturate
    result = run_batch(compiled, np.array([[1.0, 1.0]]))
    assert compiled.reference(np.array([[1.0, 1.0]])).logits.tolist() == [[isa.ACC_MAX - 16129]]
    assert result.logits.tolist() == [[isa.ACC_MAX - 16129]]


@pytest.mark.parametrize("mode", ["graded", "rate"])
def test_deeper_and_convolutional_models_are_exact(mode):
    torch.manual_seed(5)
    deep = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 6), nn.ReLU(),
                         nn.Linear(6, 4))
    conv = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    for model, shape in ((deep, (20,)), (conv, (1, 6, 6))):
        calib = torch.rand(64, *shape)
        compiled = compile_model(model, calib[:1], calib, encoding=mode, T=6 if mode == "rate" else None)
        x = torch.rand(8, *shape).numpy()
        ref = compiled.reference(x)
        result = run_batch(compiled, x)
        np.testing.assert_array_equal(result.logits, ref.logits)
        np.testing.assert_array_equal(result.cycles, activity(compiled, ref).cycles)
        assert not result.drops.any()
        if mode == "graded":
            with torch.no_grad():
                float_pred = model(torch.as_tensor(x)).argmax(1).numpy()
            assert np.mean(ref.predictions == float_pred) >= 0.75   # 8-bit random nets: a sanity bound only
