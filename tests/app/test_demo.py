"""``make sim``'s flow (spikecore/demo.py): MNIST input handling, errors, and a small end-to-end run through
compiler, golden model and RTL with the scoreboard."""

import gzip
import struct

import numpy as np
import pytest

from spikecore.app.demo import cosimulate_samples, load_data, main, pool_to_8x8
from spikecore.app.digits import load_digits_split, predict, train_digits_mlp
from spikecore.app.runtime import run_batch
from spikecore.compiler.pipeline import compile_model
from spikecore.config import ChipConfig


def test_pool_to_8x8_averages_4x4_blocks_of_the_padded_image():
    image = np.zeros((1, 28, 28), dtype=np.float32)
    image[0, 2:6, 2:6] = 1.0      # padded by 2: exactly block (1, 1) of the 32x32 image -> mean 1
    image[0, 0:2, 0:2] = 1.0      # padded to rows/cols 2..3: the lower-right quarter of block (0, 0) -> 4/16
    pooled = pool_to_8x8(image.reshape(1, 784)).reshape(8, 8)
    expected = np.zeros((8, 8), dtype=np.float32)
    expected[1, 1] = 1.0
    expected[0, 0] = 0.25
    np.testing.assert_allclose(pooled, expected)


def _write_idx(path, array: np.ndarray, compress: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def test_mnist_folder_is_read_and_pooled_to_the_digits_resolution(tmp_path):
    rng = np.random.default_rng(3)
    for split, n in (("train", 5), ("t10k", 3)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), compress=split == "t10k")
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte", np.arange(n) % 10, compress=False)
    data, name = load_data(str(tmp_path), seed=0)
    assert data.x_train.shape == (5, 64) and data.x_test.shape == (3, 64)
    assert data.y_test.tolist() == [0, 1, 2]
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    assert "MNIST" in name


def test_missing_mnist_folder_is_one_line_error(tmp_path, capsys):
    # A fresh user's fault: MNIST=nonexistent said "missing train-images-idx3-ubyte", not that the folder is absent.
    assert main(["--mnist", str(tmp_path / "absent"), "--rtl-samples", "0", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"make sim: error: MNIST directory {tmp_path / 'absent'}: no such directory "
                                       "(MNIST= names a folder holding the four MNIST IDX files; nothing is "
                                       "downloaded)\n")
    assert not (tmp_path / "out").exists()


def test_unknown_example_names_the_ones_that_exist(capsys):
    assert main(["--example", "nope"]) == 2
    assert capsys.readouterr().err == ("make sim: error: --example nope: no examples/nope.s (have: graded_mlp, "
                                       "if_neuron, lif_neuron)\n")


@pytest.mark.rtl
@pytest.mark.xdist_group("verilator")
def test_small_mlp_end_to_end_golden_and_rtl_agree(tmp_path):
    data = load_digits_split(seed=1)
    model, _ = train_digits_mlp(seed=1, sizes=(64, 8, 10), iterations=150, data=data)
    compiled = compile_model(model, data.x_train[:1], data.x_train, encoding="graded", config=ChipConfig(cores=4))
    x_q = compiled.quantize_input(data.x_test)
    golden = run_batch(compiled, x_q, quantized=True)
    assert np.array_equal(golden.logits, compiled.reference(x_q, quantized=True).logits)
    assert np.mean(golden.predictions == predict(model, data.x_test)) >= 0.97
    rtl = cosimulate_samples(compiled, x_q[:3], tmp_path, waves=False)
    assert rtl["samples"] == 3 and rtl["passed"] == 3, rtl["failures"]
    assert rtl["mismatches"] == 0
    assert rtl["records_compared"] > 100


def test_saturation_is_refused_or_counted_in_report_json(tmp_path, capsys):
    """A 64 -> 10 model whose bias (1.0) is 16129 / 1e-6 membrane units (inputs 0..1 in steps of 1/127, weights
    1e-6 in steps of 1e-6/127): beyond int32 on all 10 neurons. Refused by default; counted with the flag."""
    import json

    import torch

    model = torch.nn.Sequential(torch.nn.Linear(64, 10))
    with torch.no_grad():
        model[0].weight.fill_(1e-6)
        model[0].bias.fill_(1.0)
    torch.save(model, tmp_path / "big_bias.pt")
    args = ["--model", str(tmp_path / "big_bias.pt"), "--rtl-samples", "0", "--no-waves", "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "neuron 0: the bias needs" in err and "is 2147483647" in err
    assert main([*args, "--allow-saturation"]) == 0
    saturation = json.loads((tmp_path / "report.json").read_text())["saturation"]
    (field,) = saturation["clipped_fields"]
    assert (field["count"], field["neuron"], field["largest"]) == (10, 0, 2**31 - 1)
    assert field["needed"] == pytest.approx(16129 / float(np.float32(1e-6)), rel=1e-6)
    assert saturation["inputs_clipped"] == 0 and saturation["input_values"] == 360 * 64   # digits lie in 0..1


def test_make_sim_energy_counts_agree_with_the_runtime_counters_and_name_the_layers():
    # The energy model counts events on the golden chip; the runtime derives synaptic ops from the integer
    # reference's events and the placement, and reads spikes from the chip: the two must agree per sample.
    from spikecore.app.demo import energy_per_inference

    data = load_digits_split(seed=1)
    model, _ = train_digits_mlp(seed=1, sizes=(64, 8, 10), iterations=60, data=data)
    compiled = compile_model(model, data.x_train[:1], data.x_train, encoding="graded", config=ChipConfig(cores=4))
    x_q = compiled.quantize_input(data.x_test[:12])
    golden = run_batch(compiled, x_q, quantized=True)
    energy = energy_per_inference(compiled, x_q, "loihi", None)
    assert energy.inferences == 12
    assert energy.counts["synaptic_op"] == pytest.approx(golden.synops.mean())
    assert energy.counts["spike"] == pytest.approx(golden.spikes.mean())
    assert energy.cycles == pytest.approx(golden.cycles.mean())
    assert energy.latency_us == pytest.approx(golden.cycles.mean() / 100.0)
    assert set(energy.layer_pj) == {layer.name for layer in compiled.quant.layers}
    assert sum(sum(items.values()) for items in energy.layer_pj.values()) == pytest.approx(energy.energy_pj)
    assert energy.energy_pj > energy.counts["synaptic_op"] * 23.6


def test_rtl_samples_above_the_held_out_samples_is_refused_naming_it_and_the_maximum(tmp_path, capsys):
    # RTL_SAMPLES=400 ran the 360 held-out digits (20 % of 1797, rounded up) on the RTL, silently.
    out = tmp_path / "out"
    assert main(["--rtl-samples", "361", "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("make sim: error: RTL_SAMPLES=361 (--rtl-samples): sklearn load_digits (8x8) "
                                       "has 360 held-out samples; RTL_SAMPLES must be 0..360\n")
    assert not out.exists()
