"""``make sim NET=mnist`` (spikecore/app/demo_mnist.py, issue 13): the MNIST IDX reader, the upsampled digits,
the chips the compiler picks, the report's board and link fields, and the RTL step on a board."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from spikecore.app.demo_mnist import main as mnist_main
from spikecore.app.digits import load_idx, load_mnist
from spikecore.app.mnist import load_28x28, upsample_to_28x28
from spikecore.compiler.pipeline import compile_model
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError

# --- the IDX reader -----------------------------------------------------------------------------------------


def _idx(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file written by hand from the format: 0, 0, type, ndim; big-endian u32 dims; the data."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(">u1" if type_code == 0x08 else ">i4").tobytes()


def _mnist_folder(path, train: int = 5, test: int = 3, gz: bool = False):
    """A tiny MNIST folder: image ``i`` of a split is all ``i`` (scaled: ``i / 255``), label ``i % 10``."""
    for split, n in (("train", train), ("t10k", test)):
        images = np.repeat(np.arange(n, dtype=np.uint8), 28 * 28).reshape(n, 28, 28)
        for stem, array in ((f"{split}-images-idx3-ubyte", images),
                            (f"{split}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 10)):
            data = _idx(array)
            (path / (stem + ".gz" if gz else stem)).write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files_are_read_flattened_and_scaled(tmp_path, gz: bool):
    data = load_mnist(_mnist_folder(tmp_path, gz=gz))
    assert data.x_train.shape == (5, 784) and data.x_test.shape == (3, 784)
    assert data.x_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train[:, 0], [0, 1 / 255, 2 / 255, 3 / 255, 4 / 255], rtol=1e-6)
    assert np.all(data.x_test[2] == np.float32(2 / 255))
    assert data.y_train.tolist() == [0, 1, 2, 3, 4] and data.y_test.tolist() == [0, 1, 2]


def test_idx_reader_takes_other_types_big_endian(tmp_path):
    (tmp_path / "x.idx").write_bytes(_idx(np.array([[1, -2], [70000, 3]]), type_code=0x0C))
    assert load_idx(tmp_path / "x.idx").tolist() == [[1, -2], [70000, 3]]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("train-images-idx3-ubyte", _idx(np.zeros((5, 27, 28), dtype=np.uint8)),
     "expected N x 28 x 28 unsigned bytes with N > 0, found 5 x 27 x 28 of uint8"),
    ("train-labels-idx1-ubyte", _idx(np.zeros(4, dtype=np.uint8)),
     "expected 5 unsigned byte labels (one per image), found 4 of uint8"),
    ("t10k-labels-idx1-ubyte", _idx(np.array([0, 10, 2], dtype=np.uint8)), "label 10 is not a digit 0..9"),
    ("t10k-images-idx3-ubyte", _idx(np.zeros((3, 28, 28), dtype=np.uint8))[:-1],
     "2351 data bytes, dims (3, 28, 28) need 2352"),
    ("train-images-idx3-ubyte", b"\x00\x00\x07\x03", "bad magic 00000703"),
])
def test_a_malformed_mnist_file_is_refused_in_one_line_naming_it(tmp_path, capsys, name, content, message):
    folder = _mnist_folder(tmp_path)
    (folder / name).write_bytes(content)
    assert mnist_main(["--mnist", str(folder), "--rtl-samples", "0", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("make sim NET=mnist: error: ")
    assert str(folder / name) in err and message in err
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_truncated_gzip_mnist_file_is_refused_naming_it(tmp_path, capsys):
    folder = _mnist_folder(tmp_path, gz=True)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-6])
    assert mnist_main(["--mnist", str(folder), "--rtl-samples", "0", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"make sim NET=mnist: error: IDX file {path}: not a whole gzip stream (" + err.split("(", 1)[1]
    assert err.count("\n") == 1


def test_a_missing_mnist_file_is_refused_naming_it(tmp_path, capsys):
    folder = _mnist_folder(tmp_path)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    assert mnist_main(["--mnist", str(folder), "--rtl-samples", "0", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"make sim NET=mnist: error: MNIST directory {folder}: missing "
                                       "t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz); nothing is downloaded\n")


def test_an_mnist_folder_that_is_a_file_or_lacks_several_files_is_refused_naming_them(tmp_path, capsys):
    out = tmp_path / "out"
    a_file = tmp_path / "mnist.gz"
    a_file.write_bytes(b"")
    assert mnist_main(["--mnist", str(a_file), "--rtl-samples", "0", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"make sim NET=mnist: error: MNIST directory {a_file}: not a directory (MNIST= "
                                       "names a folder holding the four MNIST IDX files, not a file)\n")
    (tmp_path / "half").mkdir()
    folder = _mnist_folder(tmp_path / "half")
    (folder / "train-labels-idx1-ubyte").unlink()
    (folder / "t10k-images-idx3-ubyte").unlink()
    assert mnist_main(["--mnist", str(folder), "--rtl-samples", "0", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"make sim NET=mnist: error: MNIST directory {folder}: missing 2 of the 4 IDX "
                                       "files: train-labels-idx1-ubyte, t10k-images-idx3-ubyte (each also as .gz); "
                                       "nothing is downloaded\n")
    assert not out.exists()


def test_held_out_above_the_mnist_t10k_samples_is_refused_naming_it_and_the_maximum(tmp_path, capsys):
    # A fresh user's fault: HELD_OUT above the held-out samples ran fewer samples, silently.
    folder = _mnist_folder(tmp_path, test=3)
    out = tmp_path / "out"
    assert mnist_main(["--mnist", str(folder), "--held-out", "4", "--rtl-samples", "0", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"make sim NET=mnist: error: HELD_OUT=4 (--held-out): MNIST's t10k split in "
                                       f"{folder} has 3 held-out samples; HELD_OUT must be 1..3\n")
    assert not out.exists()


def test_held_out_above_the_digits_held_out_split_is_refused(tmp_path, capsys):
    # scikit-learn's digits: 1797 images, 20 % held out = ceil(359.4) = 360 (train_test_split rounds the test up)
    out = tmp_path / "out"
    assert mnist_main(["--held-out", "361", "--rtl-samples", "0", "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("make sim NET=mnist: error: HELD_OUT=361 (--held-out): scikit-learn's digits "
                                       "(20 % held out) has 360 held-out samples; HELD_OUT must be 1..360\n")
    assert not out.exists()


def test_rtl_samples_above_held_out_is_refused_naming_it_and_the_maximum(tmp_path, capsys):
    # A fresh user's fault: RTL_SAMPLES=30 HELD_OUT=5 ran 5 samples on the RTL, silently.
    out = tmp_path / "out"
    assert mnist_main(["--held-out", "5", "--rtl-samples", "6", "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("make sim NET=mnist: error: RTL_SAMPLES=6 (--rtl-samples): HELD_OUT=5 keeps 5 "
                                       "held-out samples; RTL_SAMPLES must be 0..5\n")
    assert not out.exists()


def test_rtl_samples_above_the_mnist_t10k_samples_is_refused(tmp_path, capsys):
    folder = _mnist_folder(tmp_path, test=3)
    out = tmp_path / "out"
    assert mnist_main(["--mnist", str(folder), "--rtl-samples", "4", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"make sim NET=mnist: error: RTL_SAMPLES=4 (--rtl-samples): MNIST's t10k split "
                                       f"in {folder} has 3 held-out samples; RTL_SAMPLES must be 0..3\n")
    assert not out.exists()


def test_rtl_samples_not_given_is_20_or_every_held_out_sample_if_fewer():
    from spikecore.app.demo import rtl_sample_count

    assert rtl_sample_count(None, 5, "x") == 5 and rtl_sample_count(None, 360, "x") == 20
    assert rtl_sample_count(5, 5, "x") == 5 and rtl_sample_count(0, 5, "x") == 0


def test_make_sim_passes_rtl_samples_only_when_given():
    # Not given, the demos choose (20, or every held-out sample if fewer): HELD_OUT=5 alone must not be refused.
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for net in ("NET=mnist", "NET=digits"):
        dry = subprocess.run(["make", "-n", "-C", str(root), "sim", net], capture_output=True, text=True,
                             check=True, env={k: v for k, v in os.environ.items() if k != "RTL_SAMPLES"}).stdout
        assert "--rtl-samples" not in dry
        given = subprocess.run(["make", "-n", "-C", str(root), "sim", net, "RTL_SAMPLES=0"], capture_output=True,
                               text=True, check=True).stdout
        assert "--rtl-samples 0" in given


# --- the upsampled digits -----------------------------------------------------------------------------------


def _bilinear_aligned(image: np.ndarray, size: int) -> np.ndarray:
    """A naive bilinear resize with the corners aligned: output pixel i sits at input position i (n-1)/(size-1)."""
    n = image.shape[0]
    out = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            y, x = i * (n - 1) / (size - 1), j * (n - 1) / (size - 1)
            y0, x0 = min(int(y), n - 2), min(int(x), n - 2)
            fy, fx = y - y0, x - x0
            out[i, j] = ((1 - fy) * (1 - fx) * image[y0, x0] + (1 - fy) * fx * image[y0, x0 + 1]
                         + fy * (1 - fx) * image[y0 + 1, x0] + fy * fx * image[y0 + 1, x0 + 1])
    return out


def test_upsampling_is_bilinear_with_aligned_corners():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (3, 64)).astype(np.float32)
    big = upsample_to_28x28(x)
    assert big.shape == (3, 784) and big.dtype == np.float32
    for k in range(3):
        np.testing.assert_allclose(big[k].reshape(28, 28), _bilinear_aligned(x[k].reshape(8, 8), 28), atol=1e-5)
    # the corners are the input's corners
    assert big[0, 0] == x[0, 0] and big[0, 783] == pytest.approx(x[0, 63])
    with pytest.raises(SpikeCoreError, match=r"^upsampling takes 8x8 images as \(N, 64\), not \(2, 63\)$"):
        upsample_to_28x28(np.zeros((2, 63)))


def test_without_a_folder_the_data_are_the_digits_upsampled_and_say_so():
    from spikecore.app.digits import load_digits_split

    data, name = load_28x28(None, seed=0)
    digits = load_digits_split(0)
    assert name.startswith("no MNIST folder given (MNIST=folder): scikit-learn's 8x8 digits upsampled to 28x28")
    assert data.x_train.shape == (len(digits.x_train), 784) and data.x_test.shape == (len(digits.x_test), 784)
    np.testing.assert_array_equal(data.y_test, digits.y_test)
    np.testing.assert_allclose(data.x_test[7].reshape(28, 28), _bilinear_aligned(digits.x_test[7].reshape(8, 8), 28),
                               atol=1e-5)


# --- the chips the compiler picks ---------------------------------------------------------------------------

# Chips of 4 cores x 1024 weight bytes (tests/compiler/test_board_placement.py): 64 -> 48 needs 64 rows x 16
# neurons per core = 3 cores, 48 -> 32 21 neurons per core -> 2 cores, 32 -> 10 one core: 6 cores = 2 chips.
SMALL = dict(cores=4, neurons=32, weight_bytes=1024, event_depth=64)


def _dense_mlp(sizes: tuple[int, ...]) -> nn.Module:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        linear = nn.Linear(a, b)
        w = linear.weight
        with torch.no_grad():   # every weight 0.5 .. 1 in magnitude: none quantises to 0, every input is read
            w.copy_(torch.sign(torch.randn_like(w)) * (0.5 + 0.5 * torch.rand_like(w)))
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers[:-1]).eval()


@pytest.mark.parametrize(("sizes", "chips"), [((64, 48, 32, 10), 2), ((64, 10), 1), ((64, 48, 48, 48, 32, 10), 3)])
def test_fit_chips_takes_the_fewest_chips_that_hold_the_model(sizes, chips):
    # 64 -> 48 -> 48 -> 48 -> 32 -> 10: 3 + 2 + 2 + 2 + 1 cores (48 rows x 21 neurons per core) = 10 -> 3 chips
    x = np.random.default_rng(1).uniform(0, 1, (8, sizes[0])).astype(np.float32)
    compiled = compile_model(_dense_mlp(sizes), x[:1], x, config=ChipConfig(**SMALL, chips=16), fit_chips=True)
    assert compiled.image.config.chips == chips
    assert compiled.image.config == ChipConfig(**SMALL, chips=chips)
    assert max(compiled.image.cores) < chips * 4 and max(compiled.image.cores) >= (chips - 1) * 4
    if chips > 1:   # one chip fewer is refused
        with pytest.raises(SpikeCoreError, match=r"^model needs"):
            compile_model(_dense_mlp(sizes), x[:1], x, config=ChipConfig(**SMALL, chips=chips - 1))


def test_fit_chips_refuses_a_model_too_big_for_the_most_chips_in_one_line():
    # 257 cores on chips of 4 (tests/compiler/test_board_placement.py): more than 16 chips can hold
    x = np.random.default_rng(2).uniform(0, 1, size=(4, 200)).astype(np.float32)
    config = ChipConfig(cores=4, weight_bytes=256, event_depth=256, chips=16)
    with pytest.raises(SpikeCoreError) as info:
        compile_model(_dense_mlp((200, 256, 1)), x[:1], x, config=config, fit_chips=True)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("model needs 257 cores (linear: 256, linear_1: 1), the board has 64 "
                                      "(16 chips x 4)")


def test_spikecore_compile_refuses_a_model_too_big_for_16_chips_in_one_stderr_line(tmp_path, capsys):
    from spikecore.app.cli import main

    path, calib, out = tmp_path / "big.pt", tmp_path / "calib.npy", tmp_path / "big.bin"
    torch.save(_dense_mlp((200, 256, 1)), path)
    np.save(calib, np.random.default_rng(2).uniform(0, 1, size=(4, 200)).astype(np.float32))
    chip = "cores=4 weight_bytes=256 event_depth=256 chips=16"
    assert main(["compile", str(path), "--calib", str(calib), "--out", str(out), "--chip", chip]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"spikecore: error: model file {path}: model needs 257 cores")
    assert "16 available with 240 links" in err
    assert not out.exists()


# --- the flow: report fields --------------------------------------------------------------------------------


@pytest.mark.slow
def test_make_sim_net_mnist_writes_the_board_and_link_fields(tmp_path, capsys):
    from spikecore.app.board_cost import board_traffic
    from spikecore.app.mnist import train_mnist_mlp

    out = tmp_path / "sim"
    assert mnist_main(["--rtl-samples", "0", "--held-out", "12", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    # 784 -> 64 -> 10 on product chips: more than 128 cores (50,816 weights > 32 KiB), fewer than 256
    assert report["chips"] == 2 and 128 < report["cores_used"] <= 256
    assert sum(report["cores_per_chip"]) == report["cores_used"] and report["cores_per_chip"][0] == 128
    assert report["golden_equals_integer_reference"] is True
    assert report["top1_agreement"] >= 0.995 and report["held_out_samples"] == 12
    assert report["net"] == "mnist"
    # Energy (profile's rule): the cores of both chips priced over the 12 samples, links counted, not priced. The
    # synaptic ops and spikes it priced (golden board, sample by sample) equal the batch's, counted apart.
    energy = report["energy"]
    assert energy["inferences"] == 12 and energy["chips"] == 2 and energy["links_priced"] is False
    assert report["energy_pj_per_inference"] == energy["energy_pj_per_inference"] > 0
    assert sum(c["pj_per_inference"] for c in energy["per_chip"]) == pytest.approx(report["energy_pj_per_inference"])
    assert energy["per_kind"]["synaptic_op"]["count_per_inference"] == pytest.approx(report["synops_per_inference"])
    assert energy["per_kind"]["spike"]["count_per_inference"] == pytest.approx(report["spikes_per_inference"])
    assert report["energy"]["link_energy_included"] is False
    assert (f"energy per inference         {report['energy_pj_per_inference'] / 1000:.3f} nJ  (the cores of 2 "
            "chips, table loihi: ") in stdout
    assert "mean of 12 held-out samples; link energy not included: no table prices a chip-to-chip link)" in stdout
    # the link events the golden board counted equal those derived from the reference and the placement
    data, _ = load_28x28(None, 0)
    model = train_mnist_mlp(data, 0)
    compiled = compile_model(model, data.x_train[:1], data.x_train, config=ChipConfig(chips=16), fit_chips=True)
    traffic = board_traffic(compiled, compiled.reference(compiled.quantize_input(data.x_test[:12]), quantized=True))
    per_link = traffic.links.sum(axis=(0, 1))
    expected = [{"from": a, "to": b, "events": int(per_link[a, b])} for a in range(2) for b in range(2)
                if per_link[a, b]]
    assert [{k: r[k] for k in ("from", "to", "events")} for r in report["links"]] == expected
    assert expected and all(r["events_per_inference"] == r["events"] / 12 for r in report["links"])
    assert report["link_events_per_inference"] == pytest.approx(per_link.sum() / 12)
    assert "board                        2 chips of 128 cores (the fewest of at most 16 that hold the model)" in stdout
    events = report["links"][0]["events_per_inference"]
    assert f"link 0->1                    {events:.1f} events per inference" in stdout
    assert "scikit-learn's 8x8 digits upsampled to 28x28" in stdout


# --- the RTL step on a board ----------------------------------------------------------------------------------


def _rtl_takes_boards() -> bool:
    """Whether the RTL entry of make sim accepts a board image (branch brtl; until then it refuses chips > 1)."""
    from spikecore.verif import sim

    check = getattr(sim, "check_one_chip", None)
    try:
        if check is not None:
            check(ChipConfig(cores=1, chips=2))
    except SpikeCoreError:
        return False
    return True


@pytest.mark.rtl
@pytest.mark.xdist_group("verilator")
def test_rtl_samples_of_a_small_mlp_on_two_chips_match_the_golden_board(tmp_path):
    if not _rtl_takes_boards():
        pytest.skip("the RTL entry (spikecore.verif.sim.cosimulate) refuses boards until the RTL board top is merged")
    from spikecore.app.demo import cosimulate_samples

    x = np.random.default_rng(4).uniform(0, 1, (6, 8)).astype(np.float32)
    compiled = compile_model(_dense_mlp((8, 6, 3)), x[:1], x, config=ChipConfig(cores=1, neurons=8, chips=2))
    assert compiled.image.config.chips == 2 and sorted(compiled.image.cores) == [0, 1]   # one layer per chip
    rtl = cosimulate_samples(compiled, compiled.quantize_input(x[:3]), tmp_path, waves=False, make_args=" NET=mnist")
    assert rtl["samples"] == 3 and rtl["passed"] == 3, rtl["failures"]
    assert rtl["mismatches"] == 0 and rtl["records_compared"] > 20


def test_a_saved_model_of_another_input_size_or_a_bad_table_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "m64.pt"
    torch.save(nn.Sequential(nn.Linear(64, 10)), path)
    folder = _mnist_folder(tmp_path)
    assert mnist_main(["--mnist", str(folder), "--model", str(path), "--rtl-samples", "0",
                       "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"make sim NET=mnist: error: model file {path}: does not take the 784 input features")
    # a table prices the board's cores now (links are not priced); a bad one is refused before any work
    out = tmp_path / "out2"
    assert mnist_main(["--table", "nosuch", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("make sim NET=mnist: error: ") and "nosuch" in err
    assert not out.exists()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=64),
                 st.builds(lambda dims, tail: bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big")
                                                                                      for d in dims) + tail,
                           st.lists(st.integers(0, 2**32 - 1), max_size=4), st.binary(max_size=32))))
def test_any_bytes_are_read_as_idx_or_refused_with_a_spikecore_error(tmp_path_factory, raw: bytes):
    path = tmp_path_factory.mktemp("idx") / "x.idx"
    path.write_bytes(raw)
    try:
        array = load_idx(path)
    except SpikeCoreError as err:
        assert "\n" not in str(err) and str(err).startswith(f"IDX file {path}: ")
    else:   # a header that matches its data exactly: 4 + 4 x ndim header bytes, then the data
        assert raw[:2] == b"\x00\x00" and raw[3] == array.ndim and len(raw) == 4 + 4 * array.ndim + array.nbytes


def test_the_chip_option_sets_the_chip_and_its_chips_the_most_chips(tmp_path, capsys):
    assert mnist_main(["--chip", "cores=0"]) == 2
    assert capsys.readouterr().err == ("make sim NET=mnist: error: CHIP=cores=0 (--chip): chip config: cores must be "
                                       "an integer from 1 to 255, not 0\n")
    # one chip of 16 product-sized cores cannot hold the 211..227 cores of the model: refused naming the chip
    folder = _mnist_folder(tmp_path, train=20, test=2)
    assert mnist_main(["--mnist", str(folder), "--chip", "cores=16 chips=1", "--rtl-samples", "0",
                       "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("make sim NET=mnist: error: model needs ")
    # ... and naming the board of ceil(211..227 / 16) = 14 or 15 such chips that holds it
    assert re.search(r' weight bytes, the chip has 16 cores of 256 bytes; a board of (1[45]) chips holds it: '
                     r'pass --chip "cores=16 chips=\1"\n$', err), err
