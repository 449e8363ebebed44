"""``spikecore compile model.nir``, ``spikecore compare`` and their one-line errors."""

from __future__ import annotations

import re
import sys

import nir
import numpy as np
import pytest

from spikecore.app.cli import main
from spikecore.compiler.asm import assemble
from spikecore.image import encode_image, load_image


@pytest.fixture
def model(tmp_path):
    rng = np.random.default_rng(0)
    graph = nir.NIRGraph.from_list(
        nir.Affine(rng.normal(0.2, 0.5, (8, 6)), np.zeros(8)),
        nir.LIF(tau=np.full(8, 5e-3), r=np.full(8, 5.0), v_leak=np.zeros(8), v_threshold=np.ones(8),
                v_reset=np.zeros(8)),
        nir.Linear(rng.normal(0.2, 0.5, (3, 8))), nir.LI(tau=np.full(3, 4e-3), r=np.full(3, 4.0), v_leak=np.zeros(3)))
    path = tmp_path / "model.nir"
    nir.write(path, graph)          # no dt in the metadata: --dt is required
    return path


def test_compile_nir_writes_image_and_listing(model, tmp_path, capsys):
    out, listing = tmp_path / "prog.bin", tmp_path / "prog.s"
    assert main(["compile", str(model), "--dt", "1e-3", "--chip", "cores=4", "--out", str(out),
                 "--listing", str(listing), "--report", "--dump-ir", "quant"]) == 0
    text = capsys.readouterr().out
    assert "NIR graph at dt=0.001 s, 2 layers" in text and "LEAK decay [52429..52429]/65536" in text
    # dt/tau = 0.2: decay round(0.8 * 65536) = 52429
    assert "lif            LIF          8 neurons, lags input by 0, decay 52429/65536" in text
    image = load_image(out)
    assert encode_image(assemble(listing.read_text(), str(listing))) == encode_image(image)
    assert sorted(image.cores) == [0, 1]


def test_compile_nir_errors(model, tmp_path, capsys):
    assert main(["compile", str(model)]) == 2
    assert "no 'dt' in its metadata: give the step with --dt SECONDS" in capsys.readouterr().err
    assert main(["compile", str(model), "--dt", "1e-3", "--mode", "rate"]) == 2
    assert capsys.readouterr().err == "spikecore: error: --mode applies to PyTorch models only\n"   # as typed
    import torch

    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), tmp_path / "m.pt")
    assert main(["compile", str(tmp_path / "m.pt"), "--reset", "subtract"]) == 2
    assert "--reset applies to NIR graphs (.nir) only" in capsys.readouterr().err


def test_compare_prints_agreement(model, capsys):
    assert main(["compare", str(model), "--dt", "1e-3", "--steps", "60", "--rate", "0.3", "--chip", "cores=4"]) == 0
    text = capsys.readouterr().out
    assert "60 input steps" in text and "lif: raster agreement" in text
    assert "output (LI membranes): largest |difference|" in text
    assert "golden model == integer reference (every spike, every output): yes" in text
    assert "RTL: not run (give --rtl)" in text


def test_compare_rtl_not_available(model, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "spikecore.verif.sim", None)     # as if verif had no co-simulation
    assert main(["compare", str(model), "--dt", "1e-3", "--steps", "10", "--chip", "cores=4", "--rtl"]) == 0
    assert "RTL: not available (ModuleNotFoundError" in capsys.readouterr().out


def test_compare_inputs_file(model, tmp_path, capsys):
    x = (np.random.default_rng(3).random((30, 6)) < 0.3).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert main(["compare", str(model), "--dt", "1e-3", "--inputs", str(tmp_path / "x.npy"), "--chip", "cores=4"]) == 0
    assert "30 input steps" in capsys.readouterr().out
    np.save(tmp_path / "bad.npy", np.zeros((30, 5), dtype=np.float32))
    assert main(["compare", str(model), "--dt", "1e-3", "--inputs", str(tmp_path / "bad.npy")]) == 2
    assert "input file " + str(tmp_path / "bad.npy") + ": shape (30, 5), expected (T, 6)" in capsys.readouterr().err


def test_fine_weights_flag(model, tmp_path, capsys):
    """--fine-weights: the listing assembles back to the image, twins and fine bias are reported, compare agrees."""
    out, listing = tmp_path / "fine.bin", tmp_path / "fine.s"
    chip = "cores=16 weight_bytes=1024"
    assert main(["compile", str(model), "--dt", "1e-3", "--chip", chip, "--fine-weights", "--out", str(out),
                 "--listing", str(listing), "--report"]) == 0
    text = capsys.readouterr().out
    assert "spike payload 127 (saturated graded), twins (payload 1) for fine weights" in text
    assert "twin (payload 1, fine weight)" in listing.read_text()
    assert encode_image(assemble(listing.read_text(), str(listing))) == encode_image(load_image(out))
    assert main(["compare", str(model), "--dt", "1e-3", "--steps", "40", "--chip", chip, "--fine-weights"]) == 0
    assert "golden model == integer reference (every spike, every output): yes" in capsys.readouterr().out
    assert main(["compile", str(tmp_path / "m.pt"), "--fine-weights"]) == 2
    assert "--fine-weights applies to NIR graphs (.nir) only" in capsys.readouterr().err


def test_fine_inputs_flag(model, tmp_path, capsys):
    """--fine-inputs: only the host's twins (the first layer reads 6 inputs and 6 twins), no neuron twins;
    compare agrees with the integer reference; the image exports and re-imports to the same bytes."""
    out = tmp_path / "fine_inputs.bin"
    assert main(["compile", str(model), "--dt", "1e-3", "--chip", "cores=4", "--fine-inputs", "--out", str(out),
                 "--report"]) == 0
    text = capsys.readouterr().out
    assert "the host injects every input's payload-1 twin too" in text and "twins (payload 1)" not in text
    assert re.search(r"lif\s+1\s+8\s+8\s+96/256\s+12\s", text)       # 8 neurons x 12 axons: 6 inputs, 6 twins
    assert main(["compare", str(model), "--dt", "1e-3", "--steps", "40", "--chip", "cores=4", "--fine-inputs"]) == 0
    assert "golden model == integer reference (every spike, every output): yes" in capsys.readouterr().out
    assert main(["export", str(out), "--nir", str(tmp_path / "back.nir"), "--dt", "1e-3"]) == 0
    assert "re-imports to the identical image" in capsys.readouterr().out
    assert main(["compile", str(tmp_path / "m.pt"), "--fine-inputs"]) == 2
    assert "--fine-inputs applies to NIR graphs (.nir) only" in capsys.readouterr().err


def test_input_twins_are_the_default_and_coarse_inputs_turn_them_off(model, tmp_path, capsys):
    """No flag: the host's twins (as --fine-inputs, byte for byte); --coarse-inputs: the first layer reads the 6
    inputs alone (8 neurons x 6 axons = 48 weight bytes); contradicting flags are refused in one line."""
    default, fine, coarse = tmp_path / "default.bin", tmp_path / "fine.bin", tmp_path / "coarse.bin"
    chip = ["--dt", "1e-3", "--chip", "cores=4"]
    assert main(["compile", str(model), *chip, "--out", str(default), "--report"]) == 0
    assert "the host injects every input's payload-1 twin too" in capsys.readouterr().out
    assert main(["compile", str(model), *chip, "--fine-inputs", "--out", str(fine)]) == 0
    assert encode_image(load_image(default)) == encode_image(load_image(fine))
    assert main(["compile", str(model), *chip, "--coarse-inputs", "--out", str(coarse), "--report"]) == 0
    text = capsys.readouterr().out
    assert "payload-1 twin" not in text and re.search(r"lif\s+1\s+8\s+8\s+48/256\s+6\s", text)
    assert main(["compare", str(model), "--dt", "1e-3", "--steps", "40", "--chip", "cores=4", "--coarse-inputs"]) == 0
    assert "golden model == integer reference (every spike, every output): yes" in capsys.readouterr().out
    for flags, message in ((["--fine-inputs", "--coarse-inputs"],
                            "--fine-inputs and --coarse-inputs contradict each other; pass one of them"),
                           (["--fine-weights", "--coarse-inputs"],
                            "--coarse-inputs contradicts --fine-weights (fine weights include the first layer's)")):
        for command in ("compile", "compare"):
            out = tmp_path / "both.bin"
            extra = ["--out", str(out)] if command == "compile" else []
            assert main([command, str(model), *chip, *flags, *extra]) == 2
            assert capsys.readouterr().err == f"spikecore: error: {message}\n"
            assert not out.exists()
    import torch

    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), tmp_path / "m.pt")
    assert main(["compile", str(tmp_path / "m.pt"), "--coarse-inputs"]) == 2
    assert "--coarse-inputs applies to NIR graphs (.nir) only" in capsys.readouterr().err


def test_a_graph_that_fits_only_without_input_twins_is_refused_with_the_hint(model, tmp_path, capsys):
    """Two cores of 64 weight bytes: int8 inputs need 8 x 6 = 48 bytes for the LIF layer and 3 x 8 = 24 for the
    readout (2 cores); with the twins the LIF layer needs 8 x 12 = 96 bytes, two cores of 4 neurons, and the
    readout a third. The compiler does not drop the twins itself: one line, ending in the hint."""
    out = tmp_path / "prog.bin"
    chip = ["--dt", "1e-3", "--chip", "cores=2 weight_bytes=64"]
    assert main(["compile", str(model), *chip, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"spikecore: error: NIR file {model}: ")
    assert err.endswith("; without the input twins it fits this chip: pass --coarse-inputs\n") and not out.exists()
    assert main(["compile", str(model), *chip, "--coarse-inputs", "--out", str(out)]) == 0
    assert sorted(load_image(out).cores) == [0, 1]
    # explicit --fine-inputs: the same refusal
    assert main(["compile", str(model), *chip, "--fine-inputs", "--out", str(tmp_path / "f.bin")]) == 2
    assert capsys.readouterr().err.endswith("pass --coarse-inputs\n")


def test_recurrent_cubalif_graph_compiles_and_compares_on_the_command_line(tmp_path, capsys):
    from tests.compiler.test_nir_braille import braille_graph

    path = tmp_path / "braille.nir"
    nir.write(path, braille_graph("noBias_subtract"))
    out = tmp_path / "braille.bin"
    assert main(["compile", str(path), "--dt", "1e-4", "--reset", "subtract", "--out", str(out)]) == 0
    assert load_image(out).config.cores == 128 and "2 layers" in capsys.readouterr().out
    args = ["compare", str(path), "--dt", "1e-4", "--reset", "subtract", "--steps", "40", "--fine-weights",
            "--chip", "event_depth=128 fanout_depth=128"]
    assert main([*args, "--sequences", "4"]) == 0
    text = capsys.readouterr().out
    assert "lif1.lif: raster agreement" in text and "lif2: raster agreement" in text
    assert "readout class (most spikes, or largest summed membrane): same on" in text
    assert "untied random input sequences (" in text and " of 4 with a tie in the reference, not counted)" in text
    assert main([*args, "--sequences", "-1"]) == 2
    err = capsys.readouterr().err
    assert err == "spikecore: error: --sequences must be 0..10000, not -1\n"


def _two_class_graph() -> nir.NIRGraph:
    """Input i drives LIF neuron i only (identity weights): the neuron of the active input wins, and silence
    ties both at 0 spikes."""
    return nir.NIRGraph.from_list(
        nir.Affine(np.eye(2), np.zeros(2)),
        nir.LIF(tau=np.full(2, 5e-3), r=np.full(2, 5.0), v_leak=np.zeros(2), v_threshold=np.ones(2),
                v_reset=np.zeros(2)))


def test_class_agreement_leaves_tied_sequences_out():
    from spikecore.app.nir_compare import class_agreement
    from spikecore.compiler.pipeline import compile_nir

    graph = _two_class_graph()
    compiled = compile_nir(graph, dt=1e-4)
    steps = 60
    silent = np.zeros((steps, 2))
    first, second = silent.copy(), silent.copy()
    first[:, 0], second[:, 1] = 1, 1                    # ~12 steps to threshold: several spikes of one neuron
    result = class_agreement(graph, compiled, np.stack([silent, first, silent, second, silent]))
    assert (result.sequences, result.ties, result.untied) == (5, 3, 2)
    assert result.agreement == 1.0
    assert "same on 100.00% of 2 untied random input sequences (3 of 5 with a tie" in result.line()
    none = class_agreement(graph, compiled, np.stack([silent, silent]))
    assert none.untied == 0 and np.isnan(none.agreement)        # no class to agree on: never counted as agreeing
    assert "not compared: all 2 random input sequences have a tie" in none.line()


def test_compare_sequences_where_nothing_fires_says_so(tmp_path, capsys):
    path = tmp_path / "two.nir"
    nir.write(path, _two_class_graph())
    assert main(["compare", str(path), "--dt", "1e-4", "--rate", "0", "--steps", "20", "--sequences", "5"]) == 0
    text = capsys.readouterr().out
    assert "not compared: all 5 random input sequences have a tie in the reference" in text
    assert "same on" not in text


def test_back_edge_graph_compiles_and_compares_on_the_command_line(tmp_path, capsys):
    """A recurrent edge into an earlier layer (docs/spec.md §11): the compile line says two chip steps per dt, the
    disassembly shows each core's period and phase, and compare aligns the dilated schedule."""
    from tests.compiler.test_nir_back_edge_reference import back_edge_graph

    graph, _ = back_edge_graph(np.random.default_rng(2))
    model, out = tmp_path / "back.nir", tmp_path / "back.bin"
    nir.write(str(model), graph)
    assert main(["compile", str(model), "--dt", "1e-4", "--chip", "cores=4", "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "2 layers (2 chip steps per dt; layer k works on input step t in chip step 2t + k)" in line
    assert [(c.period, c.phase) for c in load_image(out).cores.values()] == [(2, 0), (2, 1)]
    assert main(["disasm", str(out)]) == 0
    text = capsys.readouterr().out
    assert ".core 0\n.period 2 0\n" in text and ".core 1\n.period 2 1\n" in text
    assert main(["compare", str(model), "--dt", "1e-4", "--chip", "cores=4", "--steps", "300", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "golden model == integer reference (every spike, every output): yes" in text
    agreement = re.search(r"all spiking layers: raster agreement (\d+\.\d+)%", text)
    assert agreement and float(agreement.group(1)) >= 99.0, text


def _bias_after_a_full_core(kind: str, recurrent: bool) -> nir.NIRGraph:
    """input(64) -> Affine (64 non-zero weights per neuron, bias 0.5) -> one LIF or CubaLIF neuron -> output, with
    an optional Linear from the neuron back into it. On a chip of event_depth 64 the 64 inputs fill a core's
    events per step, so the bias axon has no room, and neither a recurrent nor a CubaLIF layer may split."""
    dt, one = 1e-4, (lambda v: np.full(1, float(v)))
    nodes = {"input": nir.Input(input_type={"input": np.array([64])}),
             "fc": nir.Affine(weight=np.full((1, 64), 0.1), bias=np.array([0.5])),
             "lif": nir.CubaLIF(tau_syn=one(2 * dt), tau_mem=one(4 * dt), r=one(4), v_leak=one(0), v_threshold=one(1),
                                v_reset=one(0), w_in=one(2)) if kind == "CubaLIF" else
             nir.LIF(tau=one(4 * dt), r=one(4), v_leak=one(0), v_threshold=one(1), v_reset=one(0)),
             "output": nir.Output(output_type={"output": np.array([1])})}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    if recurrent:
        nodes["rec"] = nir.Linear(weight=np.array([[-0.25]]))
        edges += [("lif", "rec"), ("rec", "lif")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@pytest.mark.parametrize(("kind", "recurrent", "inputs", "why"), [
    ("CubaLIF", False, "64 inputs (a core takes 64 per step)",
     "it is CubaLIF (its partial sums would add to the membrane, not to the synaptic current: MERGE, "
     "docs/spec.md §4.8)"),
    ("LIF", True, "65 inputs (1 of them over the recurrent edge; a core takes 64 per step)",
     "it has a recurrent edge from itself (a recurrent layer is not split, docs/spec.md §11)"),
])
def test_a_bias_axon_refusal_says_why_the_layer_cannot_be_split(tmp_path, capsys, kind, recurrent, inputs, why):
    # A fresh user's fault: the refusal said the neurons read N inputs, not that (and why) the layer cannot split.
    path, out = tmp_path / "model.nir", tmp_path / "prog.bin"
    nir.write(path, _bias_after_a_full_core(kind, recurrent))
    # --coarse-inputs: the 64 inputs alone fill the events (with the default input twins the layer reads 128)
    assert main(["compile", str(path), "--dt", "1e-4", "--chip", "cores=4", "--coarse-inputs", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and not out.exists()
    assert (f"layer 'lif' ({kind} 'lif'): its bias current needs 1 bias axon, but its neurons already read {inputs} "
            f"and the layer cannot be split over its fan-in: {why}; a chip with deeper buffers holds it: ") in err
