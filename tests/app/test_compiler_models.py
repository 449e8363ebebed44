"""Real-world models (issue 10, kinds 2-6): float32 tolerance, dtypes and capacity, NIR conventions, PyTorch
layers users expect, and the same options on every command. Inputs are built here; expected values come from
torch itself, a naive float loop, an equivalent control model, or the exact one-line message."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

import nir
import numpy as np
import pytest
import torch

from spikecore.app.cli import main
from spikecore.app.nir_runtime import run_nir
from spikecore.compiler.frontends.torch import from_torch
from spikecore.compiler.pipeline import compile_nir
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import encode_image, save_image

CHIP = ChipConfig(cores=4)


def chain(input_shape, *named, metadata=None, type_check=False) -> nir.NIRGraph:
    """A NIR chain input -> named nodes -> output."""
    names = ["input", *[n for n, _ in named], "output"]
    nodes = {"input": nir.Input(input_type=np.array(input_shape)), **dict(named),
             "output": nir.Output(output_type=np.array([1]))}
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(names)),
                        metadata=metadata or {}, type_check=type_check)


def one_line(capsys, status: int, message: str) -> None:
    err = capsys.readouterr().err
    assert status == 2 and err == f"spikecore: error: {message}\n", err


# --- kind 2: tolerances of the file's own precision -------------------------------------------------------


W3 = np.array([[0.9, 0.4, -0.3, 0.2], [0.1, 0.8, 0.5, -0.4], [0.6, 0.6, 0.6, 0.6]])


def lif_graph(tau: np.ndarray, dtype) -> nir.NIRGraph:
    n = len(tau)
    return chain([4], ("fc", nir.Linear(weight=W3.astype(dtype))),
                 ("lif", nir.LIF(tau=tau.astype(dtype), r=np.ones(n, dtype), v_leak=np.zeros(n, dtype),
                                 v_threshold=np.ones(n, dtype), v_reset=np.zeros(n, dtype))))


def test_float32_tau_equal_to_dt_is_decay_zero():
    """snnTorch's beta = 0 in float32: tau = float32(1e-4) is 2.5e-8 below 1e-4, within float32's own step."""
    tau32 = np.full(3, 1e-4, dtype=np.float32)
    assert float(tau32[0]) < 1e-4                                            # the case this test is about
    layer = compile_nir(lif_graph(tau32, np.float32), dt=1e-4, config=CHIP).quant.layers[0]
    assert layer.neuron.decays.tolist() == [0, 0, 0]                               # 1 - dt/tau = 0
    # float64 keeps float64's tolerance: a tau one part in 1e9 below dt is still "shorter than dt".
    with pytest.raises(SpikeCoreError, match=r"tau = 0\.0001 s is shorter than dt = 0\.0001 s"):
        compile_nir(lif_graph(np.full(3, 1e-4 * (1 - 1e-9)), np.float64), dt=1e-4, config=CHIP)
    with pytest.raises(SpikeCoreError, match="shorter than dt"):             # float32, but really shorter
        compile_nir(lif_graph(np.full(3, 0.9e-4), np.float32), dt=1e-4, config=CHIP)


# --- kind 3: dtypes and capacity ----------------------------------------------------------------------------


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).eval()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_every_float_dtype_is_widened_exactly(dtype):
    model = mlp().to(dtype)
    graph = from_torch(model, torch.rand(1, 6))
    for layer, linear in zip(graph.layers, (model[0], model[2]), strict=True):
        # The IR stores float32; bfloat16 and float16 values are exact in float32.
        expected = linear.weight.detach().to(torch.float64).numpy().astype(np.float32)
        np.testing.assert_array_equal(layer.weight, expected)


def test_bfloat16_exported_program_compiles_from_the_command_line(tmp_path, capsys):
    model = mlp().to(torch.bfloat16)
    torch.export.save(torch.export.export(model, (torch.rand(1, 6, dtype=torch.bfloat16),)), tmp_path / "m.pt2")
    torch.save(model, tmp_path / "m.pt")
    for name in ("m.pt2", "m.pt"):
        assert main(["compile", str(tmp_path / name), "--chip", "cores=4", "--out", str(tmp_path / "m.bin")]) == 0
        assert "graded mode, 2 steps per inference" in capsys.readouterr().out


class IntWeight(torch.nn.Module):
    """A Linear whose weight is an int8 buffer (stored quantised), cast to float in forward."""

    def __init__(self, dtype=torch.int8) -> None:
        super().__init__()
        self.register_buffer("w", (torch.arange(12).reshape(3, 4) - 6).to(dtype))

    def forward(self, x):
        w = self.w.real if self.w.is_complex() else self.w
        return torch.nn.functional.linear(x, w.to(torch.float32))


def test_integer_weights_are_converted_and_complex_refused_in_one_line():
    graph = from_torch(IntWeight(), torch.rand(1, 4))
    np.testing.assert_array_equal(graph.layers[0].weight, (np.arange(12).reshape(3, 4) - 6).astype(np.float32))
    with pytest.raises(SpikeCoreError) as err:
        from_torch(IntWeight(torch.complex64), torch.rand(1, 4))
    assert str(err.value) == ("exported program buffer 'w' has dtype complex64, which SpikeCore cannot convert; "
                              "supported: floating, integer and bool tensors")


BIG_MODEL = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))      # 1 GiB of address space
    import nir, numpy as np, torch
    from spikecore.compiler.pipeline import compile_model, compile_nir
    from spikecore.errors import SpikeCoreError
    # Conv2d(3 -> 64, 3x3, pad 1) on 3x224x224: 3,211,264 neurons, 784x the product chip's 4,096; its dense
    # Toeplitz matrix would be 3.2M x 150k float64 (3.9 PB).
    for which in ("torch", "nir"):
        try:
            if which == "torch":
                model = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1))
                compile_model(model, torch.zeros(1, 3, 224, 224), np.zeros((1, 3, 224, 224), np.float32))
            else:
                size = (64, 224, 224)
                graph = nir.NIRGraph(nodes={
                    "input": nir.Input(input_type=np.array([3, 224, 224])),
                    "conv": nir.Conv2d(input_shape=np.array([224, 224]), weight=np.ones((64, 3, 3, 3)),
                                       stride=np.array([1, 1]), padding=np.array([1, 1]), dilation=np.array([1, 1]),
                                       groups=1, bias=np.zeros(64)),
                    "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1)),
                    "output": nir.Output(output_type=np.array(size))},
                    edges=[("input", "conv"), ("conv", "if"), ("if", "output")], type_check=False)
                compile_nir(graph, dt=1.0)
        except SpikeCoreError as err:
            print(which, err)
""")


def test_a_model_784x_the_chip_is_refused_from_shapes_under_1_gib():
    result = subprocess.run([sys.executable, "-c", BIG_MODEL], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    chip = "has 3211264 neurons, the chip holds 4096 (128 cores x 32 neurons); use a larger --chip or a smaller layer"
    assert result.stdout.splitlines() == [
        f"torch Conv2d at graph node 'conv2d' (module '0': Conv2d) {chip}",
        # the NIR reader refuses the input itself first: no chip has 150,528 axons
        "nir Input 'input': shape (3, 224, 224) has 150528 features, more than the 65280 axons of the largest chip",
    ]


def test_sparse_conv_expansion_equals_torch():
    from spikecore.compiler.toeplitz import toeplitz_conv2d_sparse

    rng = np.random.default_rng(3)
    for out_ch, in_ch, k, size, stride, pad, dil, groups in [(4, 2, 3, 8, 2, 1, 1, 1), (6, 4, 2, 7, 1, 2, 2, 2)]:
        weight, x = rng.normal(size=(out_ch, in_ch // groups, k, k)), rng.normal(size=(in_ch, size, size))
        matrix, shape = toeplitz_conv2d_sparse(weight, (in_ch, size, size), (stride,) * 2, (pad,) * 2, (dil,) * 2,
                                               groups)
        expected = torch.nn.functional.conv2d(torch.tensor(x)[None], torch.tensor(weight), stride=stride,
                                              padding=pad, dilation=dil, groups=groups)[0].numpy()
        assert shape == expected.shape
        np.testing.assert_allclose(matrix @ x.reshape(-1), expected.reshape(-1), atol=1e-12)


# --- kind 4: NIR conventions --------------------------------------------------------------------------------


def conv_flatten(start_dim: int) -> nir.NIRGraph:
    """Conv2d(2->4, k3, stride 2, pad 1) on 2x8x8 -> IF (4x4x4) -> SumPool 2 -> Flatten -> Affine(16->3) -> IF."""
    rng = np.random.default_rng(4)
    return chain([2, 8, 8],
                 ("conv", nir.Conv2d(input_shape=np.array([8, 8]), weight=rng.normal(0.2, 0.6, (4, 2, 3, 3)),
                                     stride=np.array([2, 2]), padding=np.array([1, 1]), dilation=np.array([1, 1]),
                                     groups=1, bias=np.zeros(4))),
                 ("if1", nir.IF(r=np.ones((4, 4, 4)), v_threshold=np.ones((4, 4, 4)), v_reset=np.zeros((4, 4, 4)))),
                 ("pool", nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                        padding=np.array([0, 0]))),
                 ("flat", nir.Flatten(input_type={"input": np.array([4, 2, 2])}, start_dim=start_dim, end_dim=-1)),
                 ("fc", nir.Affine(weight=rng.normal(0.2, 0.5, (3, 16)), bias=np.zeros(3))),
                 ("if2", nir.IF(r=np.ones(3), v_threshold=np.ones(3), v_reset=np.zeros(3))))


def test_flatten_start_dim_counts_without_the_batch_and_the_hint_names_it():
    assert compile_nir(conv_flatten(0), dt=1.0, config=ChipConfig(cores=32)).quant.layers[-1].out_features == 3
    with pytest.raises(SpikeCoreError) as err:
        compile_nir(conv_flatten(1), dt=1.0, config=ChipConfig(cores=32))
    assert str(err.value) == ("Affine 'fc' reads shape (4, 4) from Flatten 'flat' (start_dim=1, end_dim=-1 on its "
                              "input of shape (4, 2, 2) gives (4, 4)); NIR counts Flatten dimensions without the "
                              "batch: use start_dim=0 to flatten everything")
    # Honoured, not rewritten: Flatten(start_dim=1) of (2, 3, 4) before neurons gives them the shape (2, 12).
    graph = chain([2, 3, 4], ("flat", nir.Flatten(input_type={"input": np.array([2, 3, 4])}, start_dim=1)),
                  ("if", nir.IF(r=np.ones(24), v_threshold=np.ones(24), v_reset=np.zeros(24))))
    assert compile_nir(graph, dt=1.0, config=CHIP).float_graph.layers[0].out_shape == (2, 12)


def lin_lif(input_shape) -> nir.NIRGraph:
    w = np.random.default_rng(13).normal(0.3, 0.4, (5, 6))
    return chain(input_shape, ("fc", nir.Linear(weight=w)),
                 ("lif", nir.LIF(tau=np.full(5, 5e-3), r=np.full(5, 5.0), v_leak=np.zeros(5),
                                 v_threshold=np.ones(5), v_reset=np.zeros(5))), metadata={"dt": 1e-3})


def test_an_input_with_a_leading_batch_dimension_of_1_compiles_like_the_flat_input():
    batched = compile_nir(lin_lif([1, 6]), config=CHIP)
    assert batched.float_graph.input.shape == (6,)
    assert encode_image(batched.image) == encode_image(compile_nir(lin_lif([6]), config=CHIP).image)
    # A single-channel image before a Conv2d keeps its channel: (1, 4, 4) is (C, H, W).
    graph = chain([1, 4, 4], ("conv", nir.Conv2d(input_shape=np.array([4, 4]), weight=np.ones((2, 1, 3, 3)),
                                                 stride=np.array([1, 1]), padding=np.array([0, 0]),
                                                 dilation=np.array([1, 1]), groups=1, bias=np.zeros(2))),
                  ("if", nir.IF(r=np.ones(8), v_threshold=np.ones(8), v_reset=np.zeros(8))), metadata={"dt": 1.0})
    assert compile_nir(graph, config=CHIP).float_graph.input.shape == (1, 4, 4)


W_BETA1 = np.array([[0.5, 0.25, -0.25], [0.125, 0.5, 0.375]])


def beta1(neuron) -> nir.NIRGraph:
    return chain([3], ("fc", nir.Linear(weight=W_BETA1)), ("n", neuron))


def test_snntorch_beta_1_export_tau_r_inf_is_the_if_it_is():
    dt = 1e-4
    inf = np.full(2, np.inf, dtype=np.float32)
    lif = nir.LIF(tau=inf, r=inf, v_leak=np.zeros(2, np.float32), v_threshold=np.ones(2, np.float32),
                  v_reset=np.zeros(2, np.float32))
    compiled = compile_nir(beta1(lif), dt=dt, config=CHIP)
    as_if = compile_nir(beta1(nir.IF(r=np.full(2, 1 / dt), v_threshold=np.ones(2), v_reset=np.zeros(2))), dt=dt,
                        config=CHIP)
    assert compiled.quant.layers[0].neuron.kind == "IF"
    assert encode_image(compiled.image) == encode_image(as_if.image)
    # The float model by hand: v += W x per step (gain dt r / tau = 1); spike when v > 1, reset to 0.
    x = (np.random.default_rng(14).random((40, 3)) < 0.5).astype(np.float64)
    v, expected = np.zeros(2), np.zeros((40, 2), dtype=bool)
    for t in range(40):
        v = v + W_BETA1 @ x[t]
        expected[t] = v > 1
        v[expected[t]] = 0.0
    assert expected.any()
    np.testing.assert_array_equal(run_nir(compiled, x).output.astype(bool), expected)
    with pytest.raises(SpikeCoreError, match=r"tau = inf with finite r gives the input no effect"):
        compile_nir(beta1(nir.LIF(tau=inf, r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2),
                                  v_reset=np.zeros(2))), dt=dt, config=CHIP)


# --- kind 5: layers users expect from a PyTorch frontend ---------------------------------------------------


def with_statistics(bn: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        bn.running_mean.uniform_(-0.3, 0.3)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    return bn


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_eval_batch_norm_is_folded_to_the_same_float_outputs(kind):
    torch.manual_seed(1)
    if kind == "linear":
        model = torch.nn.Sequential(torch.nn.Linear(16, 12), with_statistics(torch.nn.BatchNorm1d(12)),
                                    torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Identity(),
                                    torch.nn.Linear(12, 4))
        x = torch.rand(32, 16)
    else:
        model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), with_statistics(torch.nn.BatchNorm2d(3)),
                                    torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 4))
        x = torch.rand(32, 2, 6, 6)
    model.eval()
    graph = from_torch(model, x[:1])
    assert len(graph.layers) == 2                                    # BN folded, Dropout and Identity dropped
    with torch.no_grad():
        expected = model(x).numpy()
    got = graph.forward(x.numpy().reshape(len(x), -1))[-1]
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_what_cannot_be_folded_is_named_in_one_line():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), with_statistics(torch.nn.BatchNorm1d(3)),
                                torch.nn.Linear(3, 2)).eval()
    with pytest.raises(SpikeCoreError) as err:
        from_torch(model, torch.rand(1, 4))
    assert str(err.value) == ("batch_norm.default at graph node 'batch_norm' (module '2': BatchNorm1d): batch norm "
                              "after the ReLU of layer 'linear' cannot be folded into it; supported: BatchNorm1d/2d "
                              "between a Linear or Conv2d and its ReLU")
    sigmoid = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 2)).eval()
    with pytest.raises(SpikeCoreError, match=r"^unsupported op sigmoid\.default at graph node 'sigmoid' "
                                             r"\(module '1': Sigmoid\); supported ops: "):
        from_torch(sigmoid, torch.rand(1, 4))


# --- kind 6: the same option with the same meaning on every command ---------------------------------------


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save(mlp(), "mlp.pt")
    np.save("calib.npy", np.random.default_rng(0).random((20, 6)).astype(np.float32) * 2)
    graph = chain([4], ("fc", nir.Linear(weight=np.ones((1, 4)))),
                  ("if", nir.IF(r=np.ones(1), v_threshold=np.array([5.5]), v_reset=np.zeros(1))))
    nir.write("counts.nir", graph)
    np.save("counts.npy", np.random.default_rng(8).choice([0, 0, 1, 2, 3], size=(30, 4)).astype(np.float32))
    return tmp_path


def test_input_range_options_mean_the_same_on_compile_and_compare(files, capsys):
    # NIR compile: the input range from --calib data (largest count 3), or --input-max; --percentile needs data.
    assert main(["compile", "counts.nir", "--dt", "1", "--chip", "cores=4", "--calib", "counts.npy", "--report"]) == 0
    assert "(payload 127 = 3)" in capsys.readouterr().out
    one_line(capsys, main(["compile", "counts.nir", "--dt", "1", "--percentile", "99"]),
             "--percentile picks the input range from data: give --calib data.npy too")
    assert main(["compare", "counts.nir", "--dt", "1", "--chip", "cores=4", "--calib", "counts.npy",
                 "--steps", "5"]) == 0
    assert "inputs: range +-3 (payload 127)" in capsys.readouterr().out
    # PyTorch compile: --input-max fixes the input scale (payload 127 = 4), --dt is refused as NIR-only.
    assert main(["compile", "mlp.pt", "--calib", "calib.npy", "--input-max", "4", "--chip", "cores=4",
                 "--report"]) == 0
    assert f"input scale {4 / 127:.6g}" in capsys.readouterr().out
    one_line(capsys, main(["compile", "mlp.pt", "--dt", "1e-3"]), "--dt applies to NIR graphs (.nir) only")


def test_export_refuses_to_guess_dt(files, capsys):
    compiled = compile_nir("counts.nir", dt=1.0, config=CHIP)
    save_image(compiled.image, "counts.bin")
    one_line(capsys, main(["export", "counts.bin", "--nir", "back.nir"]),
             "program file counts.bin: the image does not store dt (seconds per step), and the graph's time "
             "constants depend on it: give "
             "--dt SECONDS (the dt it was compiled at)")
    assert not (files / "back.nir").exists()
    assert main(["export", "counts.bin", "--nir", "back.nir", "--dt", "1"]) == 0
    assert nir.read("back.nir").metadata["dt"] == 1.0
