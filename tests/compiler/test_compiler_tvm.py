"""The TVM Relax BYOC frontend: same IR and image bytes as the torch.export walk, host work, clear errors.

The reference for every image is the default (torch.export) path on the same model and calibration data:
the two frontends share no lowering code (Relax ops vs ATen nodes), so equal bytes mean the partition and
the ``relax.ext.spikecore`` codegen understood the model exactly as the default path did.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spikecore.compiler.frontends import tvm as tvm_frontend
from spikecore.compiler.pipeline import compile_model
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import encode_image

TVM_MISSING = tvm_frontend.tvm_missing()
needs_tvm = pytest.mark.skipif(TVM_MISSING is not None, reason=f"TVM frontend not testable: {TVM_MISSING}")
# Importing TVM costs seconds: keep its tests on one xdist worker.
pytestmark = pytest.mark.xdist_group("tvm")


class Named(nn.Module):
    """Attribute names (not Sequential indices) and a functional ReLU: the layer names come from the modules."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(20, 12)
        self.head = nn.Linear(12, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.encoder(x)))


def _architectures() -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    torch.manual_seed(7)
    return {
        "mlp2_bias": (nn.Sequential(nn.Linear(16, 10), nn.ReLU(), nn.Linear(10, 4)), (16,)),
        "mlp4_no_bias": (nn.Sequential(nn.Linear(24, 20, bias=False), nn.ReLU(), nn.Linear(20, 14, bias=False),
                                       nn.ReLU(), nn.Linear(14, 9, bias=False), nn.ReLU(), nn.Linear(9, 3, bias=False)),
                         (24,)),
        "mlp3_mixed_wide": (nn.Sequential(nn.Linear(40, 48), nn.ReLU(), nn.Linear(48, 30, bias=False), nn.ReLU(),
                                          nn.Linear(30, 6)), (40,)),
        "flatten_mlp": (nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.ReLU(), nn.Linear(16, 5)), (6, 6)),
        "conv_net": (nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 3, stride=2, bias=False),
                                   nn.ReLU(), nn.Flatten(), nn.Linear(2 * 3 * 3, 4)), (1, 7, 7)),
        "named_functional_relu": (Named(), (20,)),
    }


ARCHITECTURES = list(_architectures())


def _compile_both(model: nn.Module, shape: tuple[int, ...], **kwargs):
    data = torch.rand(48, *shape, generator=torch.Generator().manual_seed(3))
    torch_path = compile_model(model, data[:1], data, **kwargs)
    tvm_path = compile_model(model, data[:1], data, frontend="tvm", **kwargs)
    return torch_path, tvm_path


@needs_tvm
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_tvm_image_is_byte_identical_to_the_default_path(name):
    model, shape = _architectures()[name]
    default, via_tvm = _compile_both(model, shape)
    assert via_tvm.frontend == "tvm" and default.frontend == "torch"
    assert '"Codegen": "spikecore"' in via_tvm.dump("partition")
    expected_layers = sum(isinstance(m, nn.Linear | nn.Conv2d) for m in model.modules())
    assert len(via_tvm.float_graph.layers) == expected_layers >= 2
    assert encode_image(via_tvm.image) == encode_image(default.image)
    assert via_tvm.listing == default.listing
    for stage in ("float", "quant", "placed"):
        assert via_tvm.dump(stage) == default.dump(stage)
    assert via_tvm.host_work == []


@needs_tvm
def test_tvm_rate_mode_and_small_chip_give_the_same_bytes():
    model, shape = _architectures()["mlp3_mixed_wide"]
    default, via_tvm = _compile_both(model, shape, encoding="rate", T=8, config=ChipConfig(cores=16))
    assert len(default.image.cores) > 2
    assert encode_image(via_tvm.image) == encode_image(default.image)


@needs_tvm
def test_partition_holds_one_spikecore_function_with_the_composites():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4, bias=False), nn.Softmax(dim=1))
    program = torch.export.export(model.eval(), (torch.rand(1, 4, 4),))
    partitioned = tvm_frontend.partition(tvm_frontend.to_relax(program))
    assert len(tvm_frontend.spikecore_functions(partitioned)) == 1
    text = partitioned.script(show_meta=False)
    # Flatten -> Linear+bias+ReLU -> Linear without bias: one composite each, softmax left to the host.
    for composite in ("spikecore.reshape", "spikecore.dense_bias_relu", '"spikecore.dense"'):
        assert text.count(composite) == 1, composite
    split = tvm_frontend.split_host_work(partitioned)
    assert split.host_work == ["nn.softmax(axis=1)"]
    names = [pattern.name for pattern in tvm_frontend.register_spikecore_patterns()]
    assert names[0] == "spikecore.dense_bias_relu" and all(n.startswith("spikecore.") for n in names)
    assert {"spikecore.conv2d_bias_relu", "spikecore.dense", "spikecore.reshape"} <= set(names)
    assert {name.removeprefix("spikecore.") for name in names} == set(tvm_frontend.PATTERN_SPELLING)


@needs_tvm
def test_softmax_is_host_work_listed_in_the_report_and_the_chip_part_unchanged():
    torch.manual_seed(2)
    body = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 3))
    with_softmax = nn.Sequential(*body, nn.Softmax(dim=1), nn.LogSoftmax(dim=1))
    data = torch.rand(32, 10)
    compiled = compile_model(with_softmax, data[:1], data, frontend="tvm")
    assert compiled.host_work == ["nn.softmax(axis=1)", "nn.log_softmax(axis=1)"]
    report = compiled.report()
    assert "host work: 2 ops not offloaded" in report
    assert report.index("host  nn.softmax(axis=1)") < report.index("host  nn.log_softmax(axis=1)")
    # The default path refuses softmax; its image of the body alone is what the chip runs.
    with pytest.raises(SpikeCoreError, match=r"unsupported op softmax\.int"):
        compile_model(with_softmax, data[:1], data)
    assert encode_image(compiled.image) == encode_image(compile_model(body, data[:1], data).image)


@needs_tvm
def test_report_says_when_everything_is_offloaded():
    model, shape = _architectures()["mlp2_bias"]
    _, via_tvm = _compile_both(model, shape)
    assert "host work: none" in via_tvm.report()


@needs_tvm
@pytest.mark.parametrize(("model", "message"), [
    (nn.Sequential(nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 2)),
     r"host work sigmoid separates SpikeCore layers"),
    (nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 2)),
     r"reads the output of layer 'linear' \(Linear '0'\), which has no ReLU"),
    (nn.Sequential(nn.Softmax(dim=1)), r"no SpikeCore layer found: the model computes nn.softmax\(axis=1\)"),
])
def test_tvm_frontend_refusals_are_one_line(model, message):
    data = torch.rand(8, 6)
    with pytest.raises(SpikeCoreError, match=message) as err:
        compile_model(model, data[:1], data, frontend="tvm")
    assert "\n" not in str(err.value)


@needs_tvm
def test_host_work_before_the_first_layer_is_refused():
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(torch.tanh(x))

    data = torch.rand(8, 4)
    with pytest.raises(SpikeCoreError, match=r"host work tanh runs on the model input before the first SpikeCore"):
        compile_model(Scaled(), data[:1], data, frontend="tvm")


def test_unknown_frontend_and_missing_tvm_are_one_line_errors(monkeypatch):
    model = nn.Sequential(nn.Linear(3, 2))
    data = torch.rand(4, 3)
    with pytest.raises(SpikeCoreError, match="frontend must be one of torch, tvm, not 'relay'"):
        compile_model(model, data[:1], data, frontend="relay")
    monkeypatch.setattr(tvm_frontend, "tvm_missing", lambda: "Apache TVM is not installed (ImportError: x)")
    with pytest.raises(SpikeCoreError, match=r"needs apache-tvm 0.27: .*not installed"):
        compile_model(model, data[:1], data, frontend="tvm")


@needs_tvm
def test_layers_get_generic_names_when_the_program_has_other_layer_ops():
    """A matmul with a parameter (not an nn.Linear) is a dense layer for TVM but no Linear node to name it by."""

    class Raw(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(6, 4)
            self.w = nn.Parameter(torch.randn(4, 3))

        def forward(self, x):
            return torch.relu(self.fc(x)) @ self.w

    torch.manual_seed(5)
    model = Raw()
    data = torch.rand(16, 6)
    compiled = compile_model(model, data[:1], data, frontend="tvm")
    assert [layer.name for layer in compiled.float_graph.layers] == ["linear_0", "linear_1"]
    # The float IR still computes the module (torch is the reference).
    with torch.no_grad():
        reference = model(data).numpy()
    assert np.allclose(compiled.float_graph.forward(data.numpy())[-1], reference, atol=1e-5)
