"""NIR export -> nir.read -> import: the same image bytes, from the compiler IR and from a bare image."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikecore.app.cli import main
from spikecore.app.nir_compare import compare
from spikecore.compiler.nir.export import export_compiled, export_image, write_nir
from spikecore.compiler.pipeline import compile_nir
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import encode_image, save_image

CHIP = ChipConfig(cores=8)
ROOMY = ChipConfig(cores=32, neurons=64, weight_bytes=4096, event_depth=128, fanout_depth=128)   # fine weights


def full(n, value):
    return np.full(n, float(value))


def graphs():
    """Graphs covering every exported node kind, offsets, both resets, bias currents and a convolution."""
    rng = np.random.default_rng(0)
    w = lambda *shape: rng.normal(0.1, 0.4, shape)  # noqa: E731
    lif = lambda n, **kw: nir.LIF(tau=rng.uniform(2e-3, 9e-3, n), r=full(n, 5), v_leak=full(n, kw.get("leak", 0)),  # noqa
                                  v_threshold=full(n, 0.8), v_reset=full(n, kw.get("reset", 0)))
    yield "lif-li", nir.NIRGraph.from_list(nir.Affine(w(6, 5), w(6) * 0.1), lif(6, leak=-0.2, reset=-0.3),
                                           nir.Linear(w(3, 6)), nir.LI(tau=full(3, 4e-3), r=full(3, 4),
                                                                       v_leak=full(3, 0.1))), None
    yield "if-subtract-threshold", nir.NIRGraph.from_list(
        nir.Affine(w(7, 4), w(7) * 0.1), nir.IF(r=full(7, 900), v_threshold=full(7, 1), v_reset=full(7, -0.25)),
        nir.Affine(w(4, 7), w(4) * 0.1), nir.Threshold(full(4, 0.2))), "subtract"
    yield "lif-affine-out", nir.NIRGraph.from_list(nir.Linear(w(6, 6)), lif(6), nir.Affine(w(2, 6), w(2))), None
    yield "conv-i", nir.NIRGraph.from_list(
        nir.Input(np.array([1, 5, 5])), nir.Conv2d((5, 5), w(2, 1, 3, 3), 1, 0, 1, 1, w(2) * 0.1),
        nir.IF(r=np.full((2, 3, 3), 1e3), v_threshold=np.full((2, 3, 3), 0.5), v_reset=np.zeros((2, 3, 3))),
        nir.Flatten(input_type=None, start_dim=0), nir.Linear(w(3, 18)), nir.I(r=full(3, 1e3))), None


@pytest.mark.parametrize("name, graph, reset", list(graphs()), ids=[g[0] for g in graphs()])
def test_export_from_compiler_ir_reimports_to_the_same_bytes(tmp_path, name, graph, reset):
    graph.metadata = {"dt": 1e-3}
    compiled = compile_nir(graph, reset=reset, config=CHIP)
    exported = export_compiled(compiled)
    path = tmp_path / f"{name}.nir"
    write_nir(exported, path)
    again = compile_nir(path)                         # chip, dt, resets and units come from the metadata
    assert encode_image(again.image) == encode_image(compiled.image)
    io = lambda c: (c.io.inputs, c.io.outputs, c.io.bias_events, c.quant.input.scale)  # noqa: E731
    assert io(again) == io(compiled)                  # where inputs enter, bias payloads and input scale survive
    read = nir.read(path)                             # NIR's own reader with its type checks accepts it
    assert {type(n).__name__ for n in read.nodes.values()} >= {"Input", "Output"}
    # the exported floats are the discretised model: its float simulation is the chip's (up to LEAK rounding)
    x = (np.random.default_rng(1).random((50, *compiled.quant.input.shape)) < 0.3).astype(float)
    result = compare(read, x, config=CHIP)
    assert result.golden_equals_integer and result.raster_agreement >= 0.995, result.text()


@pytest.mark.parametrize("fine_inputs, features", [(False, 6), (None, 10)])
def test_export_from_a_bare_image(tmp_path, fine_inputs, features):
    """Only the image: first-layer bias axons (and input twins, the default) come back as more input features,
    and still the same bytes: 4 features + the two bias axons, + 4 twins (random weights, none on the int8
    grid, so every feature has a non-zero fine part)."""
    graph = next(g for n, g, _ in graphs() if n == "if-subtract-threshold")
    graph.metadata = {"dt": 1e-3}
    compiled = compile_nir(graph, reset="subtract", config=CHIP, fine_inputs=fine_inputs)
    assert compiled.quant.input.twins == (fine_inputs is None)
    exported = export_image(compiled.image, 1e-3)
    assert exported.nodes["input"].input_type["input"].tolist() == [features]
    write_nir(exported, tmp_path / "bare.nir")
    assert encode_image(compile_nir(tmp_path / "bare.nir").image) == encode_image(compiled.image)


def test_export_command_writes_and_verifies(tmp_path, capsys):
    graph = next(g for n, g, _ in graphs() if n == "lif-affine-out")
    graph.metadata = {"dt": 2e-3}
    compiled = compile_nir(graph, config=CHIP)
    save_image(compiled.image, tmp_path / "prog.bin")
    assert main(["export", str(tmp_path / "prog.bin"), "--nir", str(tmp_path / "out.nir"), "--dt", "2e-3"]) == 0
    assert "re-imports to the identical image" in capsys.readouterr().out
    assert nir.read(tmp_path / "out.nir").metadata["dt"] == 2e-3
    assert encode_image(compile_nir(tmp_path / "out.nir").image) == encode_image(compiled.image)


def test_programs_that_are_not_nir_are_refused(tmp_path, capsys):
    import torch

    from spikecore.compiler.pipeline import compile_model

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    data = torch.rand(16, 4)
    graded = compile_model(model, data[:1], data, config=CHIP)
    with pytest.raises(SpikeCoreError, match="only programs compiled from NIR graphs export to NIR; this one is "
                                             "graded"):
        export_compiled(graded)
    save_image(graded.image, tmp_path / "relu.bin")
    assert main(["export", str(tmp_path / "relu.bin"), "--nir", str(tmp_path / "relu.nir")]) == 2
    assert "emits graded values (a quantised ReLU)" in capsys.readouterr().err
    assert not (tmp_path / "relu.nir").exists()


@pytest.mark.parametrize("name, graph, reset", list(graphs()), ids=[g[0] for g in graphs()])
def test_fine_weights_export_from_ir_and_image_to_the_same_bytes(tmp_path, name, graph, reset):
    """A source and its twin export as one synapse (a + b/127), the two bias axons as one bias; the metadata
    spikecore_fine_weights makes the importer split them again, from the IR and from the bare image."""
    graph.metadata = {"dt": 1e-3}
    compiled = compile_nir(graph, reset=reset, config=ROOMY, fine_weights=True)
    assert any(layer.twins for layer in compiled.quant.layers)       # the case this test is about
    again = {}
    for how, exported in (("ir", export_compiled(compiled)), ("image", export_image(compiled.image, 1e-3))):
        path = tmp_path / f"{name}-{how}.nir"
        write_nir(exported, path)
        assert nir.read(path).metadata["spikecore_fine_weights"]
        again[how] = compile_nir(path)
        assert encode_image(again[how].image) == encode_image(compiled.image), how
    inputs = lambda c: (c.io.inputs, c.io.fine_inputs)  # noqa: E731
    assert inputs(again["ir"]) == inputs(compiled)
    assert inputs(again["image"]) != inputs(compiled)   # from the image alone, the input twins come back as features
    x = (np.random.default_rng(1).random((50, *compiled.quant.input.shape)) < 0.3).astype(float)
    result = compare(nir.read(tmp_path / f"{name}-ir.nir"), x, config=ROOMY)
    assert result.golden_equals_integer and result.raster_agreement == 1.0, result.text()
