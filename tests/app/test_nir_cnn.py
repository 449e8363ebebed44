"""The NIR paper's Sinabs CNN structure (issue 13) with fan-in splitting on a board.

The published graph (neuromorphs/NIR, paper/02_cnn/cnn_sinabs.nir) is rebuilt here with the ``nir`` package
(tests cannot download): Input 2x34x34 -> Conv2d 2->16 5x5 stride 2 padding 1 -> IF -> Conv2d 16->16 3x3
padding 1 -> IF -> SumPool2d 2 -> Conv2d 16->8 3x3 padding 1 -> IF -> SumPool2d 2 -> Flatten -> Affine 128->256
-> IF -> Affine 256->10 -> IF -> Output; every IF r = 1, v_threshold = 1, v_reset = 0, every bias 0 (as
Sinabs exports them). Weights are seeded normal draws of the published weights' scale (their standard
deviation is 0.17..0.24; here 2/sqrt(fan-in) of the composed layer). A smaller CNN of the same structure
(2x10x10 input, 4 channels, 32 hidden) carries the exactness tests.
"""

from __future__ import annotations

import itertools

import nir
import numpy as np
import pytest

from spikecore.app.nir_compare import compare, random_spikes
from spikecore.app.nir_runtime import reference_nir, run_nir
from spikecore.compiler.conv_order import position_major, reorder_convolutions
from spikecore.compiler.frontends.nir import from_nir
from spikecore.compiler.pipeline import compile_nir
from spikecore.config import parse_chip

#: The issue's board for the full-size CNN (see docs/nir.md "Fan-in splitting"): 4 chips x 128 cores of 4096 weight
#: bytes, whose event buffers and fan-out tables follow the weight memory (docs/spec.md §1.1: 1024 and 256 entries;
#: a 3x3 convolution over 16 channels reads 144 sources per position, more than the product's 64 events).
FULL_CHIP = "chips=4 weight_bytes=4096"
#: Small cores on two chips: the small CNN's first and second convolution and its pooled convolution are split
#: (with the input twins, the default, 83 cores: 32 per chip are too few).
SPLIT_CHIP = "cores=64 chips=2 weight_bytes=256 event_depth=32"
#: Cores large enough that nothing is split (4096 weight bytes give 1024-entry event buffers, docs/spec.md §1.1).
WHOLE_CHIP = "weight_bytes=4096"


def sinabs_cnn(side: int = 34, channels: tuple[int, int, int] = (16, 16, 8), hidden: int = 256,
               seed: int = 0) -> nir.NIRGraph:
    rng = np.random.default_rng(seed)
    c1, c2, c3 = channels
    s1 = (side + 2 - 5) // 2 + 1          # conv 5x5 stride 2 padding 1
    s3, s4 = s1 // 2, s1 // 4             # after each SumPool2d 2

    def weight(*shape: int, fan: int) -> np.ndarray:
        return (rng.normal(0, 1, shape) * 2.0 / np.sqrt(fan)).astype(np.float32)

    def neurons(shape: tuple[int, ...]) -> nir.IF:
        return nir.IF(r=np.ones(shape, np.float32), v_threshold=np.ones(shape, np.float32),
                      v_reset=np.zeros(shape, np.float32))

    def conv(w: np.ndarray, size: int, stride: int) -> nir.Conv2d:
        return nir.Conv2d(input_shape=np.array([size, size]), weight=w, stride=np.array([stride, stride]),
                          padding=np.array([1, 1]), dilation=np.array([1, 1]), groups=1,
                          bias=np.zeros(w.shape[0], np.float32))

    pool = {"kernel_size": np.array([2, 2]), "stride": np.array([2, 2]), "padding": np.array([0, 0])}
    chain = [nir.Input(input_type={"input": np.array([2, side, side])}),
             conv(weight(c1, 2, 5, 5, fan=50), side, 2), neurons((c1, s1, s1)),
             conv(weight(c2, c1, 3, 3, fan=c1 * 9), s1, 1), neurons((c2, s1, s1)),
             nir.SumPool2d(**pool),
             conv(weight(c3, c2, 3, 3, fan=c2 * 36), s3, 1), neurons((c3, s3, s3)),
             nir.SumPool2d(**pool),
             nir.Flatten(start_dim=0, end_dim=-1, input_type={"input": np.array([c3, s4, s4])}),
             nir.Affine(weight=weight(hidden, c3 * s4 * s4, fan=c3 * s4 * s4 * 4), bias=np.zeros(hidden, np.float32)),
             neurons((hidden,)),
             nir.Affine(weight=weight(10, hidden, fan=hidden), bias=np.zeros(10, np.float32)), neurons((10,)),
             nir.Output(output_type={"output": np.array([10])})]
    names = ["input", *[str(i) for i in range(len(chain) - 2)], "output"]
    return nir.NIRGraph(nodes=dict(zip(names, chain, strict=True)), edges=list(itertools.pairwise(names)))


SMALL = {"side": 10, "channels": (4, 4, 4), "hidden": 32}


def test_position_major_order_is_the_hwc_transpose_and_keeps_the_function():
    # (C, H, W) = (2, 1, 2): row-major indices c*2 + w; position-major visits (w=0: c=0, 1), (w=1: c=0, 1)
    assert position_major((2, 1, 2)).tolist() == [0, 2, 1, 3]
    graph = from_nir(sinabs_cnn(**SMALL))
    reordered = reorder_convolutions(graph)
    first, second = graph.layers[0], reordered.layers[0]
    assert second.out_shape == (4, 4, 4) and first.out_shape == (4, 4, 4)      # (C, H, W) -> (H, W, C)
    assert second.order is not None and reordered.layers[-1].order is None
    # the same function: every layer's output, put back in the graph's order, equals the original's
    x = np.random.default_rng(1).random((3, graph.input.features))
    for layer, before, after in zip(reordered.layers, graph.forward(x), reordered.forward(x), strict=True):
        back = np.empty_like(after)
        back[:, layer.order if layer.order is not None else np.arange(after.shape[1])] = after
        np.testing.assert_allclose(back, before, rtol=1e-12, atol=1e-12)


def test_split_cnn_on_a_board_spikes_as_the_unsplit_one_and_as_the_integer_reference():
    graph = sinabs_cnn(**SMALL)
    x = random_spikes((2, 10, 10), 12, 0.3, 5)
    split = compile_nir(graph, dt=1.0, config=parse_chip(SPLIT_CHIP))
    whole = compile_nir(graph, dt=1.0, config=parse_chip(WHOLE_CHIP))
    assert whole.quant.merged == ()
    merged = [split.quant.layers[k].name for k in split.quant.merged]
    # a neuron reads more than event_depth = 32 sources in the first conv (up to 2 x 2 x 5 x 5 = 100 with the
    # input twins), the second
    # (4 x 3 x 3 = 36) and the pooled third (4 x 6 x 6 = 144); the Affine reads 4 x 2 x 2 = 16, the readout 32
    assert merged == ["1", "3", "6"] and split.image.config.chips == 2
    assert {pc.core // 64 for pc in split.placed.cores} == {0, 1}     # both chips hold cores
    assert split.quant.input.twins and whole.quant.input.twins         # the default, whatever the chip
    # one step later per merged layer: 12 input steps + 5 layers - 1 + 3 merging steps
    assert split.quant.emit_lag(4) == 7
    golden = run_nir(split, x, chip="cycle")
    unsplit = run_nir(whole, x, chip="cycle")
    integer = reference_nir(split, x)
    assert golden.steps == 12 + 7
    spikes = 0
    for name in ("1", "3", "6", "10", "12"):
        # merging adds the whole partial sums: every spike of every layer is the unsplit layer's
        np.testing.assert_array_equal(golden.rasters[name], unsplit.rasters[name], err_msg=name)
        np.testing.assert_array_equal(golden.rasters[name], integer.rasters[name], err_msg=name)
        spikes += int(golden.rasters[name].sum())
    assert golden.rasters["10"].sum() > 0 and spikes > 100     # not a comparison of empty rasters


def test_split_cnn_compare_against_the_float_reference():
    result = compare(sinabs_cnn(**SMALL), random_spikes((2, 10, 10), 20, 0.3, 1), dt=1.0,
                     config=parse_chip(SPLIT_CHIP))
    assert result.golden_equals_integer
    assert [layer.name for layer in result.layers] == ["1", "3", "6", "10", "12"]
    assert all(layer.reference_spikes > 0 for layer in result.layers)
    # the default: input twins give the first layer ~14-bit weights, the deeper layers are int8 (1/127 of each
    # neuron's largest weight) and inherit the flipped spikes of the layers before (measured: 100, 99.92, 98.44,
    # 96.09, 95.00 %, 98.90 % of all cells, as unsplit; with --coarse-inputs 99.45, 99.53, 94.06, 91.25,
    # 90.00 %, 97.10 %)
    assert result.layers[0].agreement == 1.0
    assert result.raster_agreement >= 0.985


def test_input_twins_make_the_first_layer_exact_and_the_cnn_agree_closer():
    graph = sinabs_cnn(**SMALL)
    x = random_spikes((2, 10, 10), 20, 0.3, 1)
    config = parse_chip(WHOLE_CHIP)
    compiled = compile_nir(graph, dt=1.0, config=config, fine_inputs=True)
    # the host's twins only: every layer keeps its neurons, the first reads each input twice (2 x 2 x 10 x 10)
    assert compiled.quant.input.twins and not any(layer.twins for layer in compiled.quant.layers)
    assert compiled.quant.layers[0].weight.shape == (64, 400) and compiled.io.fine_inputs
    coarse = compare(graph, x, dt=1.0, config=config, fine_inputs=False)
    fine = compare(graph, x, dt=1.0, config=config, fine_inputs=True)
    default = compare(graph, x, dt=1.0, config=config)       # the input twins are the default
    assert [layer.agreement for layer in default.layers] == [layer.agreement for layer in fine.layers]
    assert fine.golden_equals_integer and coarse.golden_equals_integer
    # measured: int8 99.45, 99.53, 94.06, 91.25, 90.00 % (97.10 % of all cells); with the input twins 100, 99.92,
    # 98.44, 96.09, 95.00 % (98.90 %; 99.57 % on average over 40 seeds): the deeper layers' flips came mostly
    # from the first layer's rounding
    assert fine.layers[0].agreement == 1.0 > coarse.layers[0].agreement
    assert fine.raster_agreement >= 0.985 > coarse.raster_agreement


#: Four chips of 64 small cores: the small CNN with fine-weight twins, split where it must be.
FINE_SPLIT_CHIP = "cores=64 chips=4 weight_bytes=256 event_depth=32"


def test_split_cnn_with_fine_weights_agrees_with_the_float_reference_on_every_layer():
    graph = sinabs_cnn(**SMALL)
    x = random_spikes((2, 10, 10), 20, 0.3, 1)
    config = parse_chip(FINE_SPLIT_CHIP)
    compiled = compile_nir(graph, dt=1.0, config=config, fine_weights=True)
    # twins double every hidden layer's neurons and sources: now the readout (2 x 32 sources) is split too
    assert [compiled.quant.layers[k].name for k in compiled.quant.merged] == ["1", "3", "6", "12"]
    assert any(pc.merge and pc.twins for pc in compiled.placed.cores)
    result = compare(graph, x, dt=1.0, config=config, fine_weights=True)
    assert result.golden_equals_integer
    for layer in result.layers:   # measured: 100 % on every layer (222, 51, 23, 66 and 11 reference spikes)
        assert layer.reference_spikes > 0 and layer.agreement >= 0.99, layer.line()
    assert result.output_kind == "spikes" and result.output_agreement >= 0.9


def test_full_size_cnn_compiles_for_four_chips_and_golden_equals_integer_reference(tmp_path, capsys):
    """Full size (about 1 M synapses once the poolings fold into the next layer): ``spikecore compile --dt 1
    --chip "chips=4 weight_bytes=4096"`` and the same compile in Python, each about 5-35 s, three steps on the
    cycle-accurate board about 15 s and on the functional one about 3 s on this machine."""
    from spikecore.app.cli import main
    from spikecore.image import encode_image, load_image

    graph = sinabs_cnn()
    path, out = tmp_path / "cnn.nir", tmp_path / "cnn.bin"
    nir.write(path, graph)
    assert main(["compile", str(path), "--dt", "1", "--chip", FULL_CHIP, "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""
    image = load_image(out)
    # 128 cores per chip of 4096 weight bytes, 1024-entry event buffers and 256-entry fan-out tables (§1.1)
    assert image.config.as_dict() == {"cores": 128, "neurons": 32, "weight_bytes": 4096, "imem_depth": 64,
                                      "event_depth": 1024, "fanout_depth": 256}
    compiled = compile_nir(graph, dt=1.0, config=parse_chip(FULL_CHIP))
    assert encode_image(compiled.image) == out.read_bytes()
    layers = [layer.name for layer in compiled.quant.layers]
    assert layers == ["1", "3", "6", "10", "12"]
    # the pooled convolution (576 inputs per neuron) and the pooled Affine (512) are split; the rest fit a core
    assert [layers[k] for k in compiled.quant.merged] == ["6", "10"]
    cores = compiled.placed.cores
    assert 400 < len(cores) <= 512 and max(pc.core for pc in cores) // 128 == 3
    synapses = sum(int(np.count_nonzero(pc.weights)) for pc in cores)
    assert synapses > 900_000
    x = random_spikes((2, 34, 34), 3, 0.2, 1)
    golden = run_nir(compiled, x, chip="cycle")
    integer = reference_nir(compiled, x)
    assert sum(int(r.sum()) for r in integer.rasters.values()) > 1000
    for name in layers:
        np.testing.assert_array_equal(golden.rasters[name], integer.rasters[name], err_msg=name)
    # the functional board (what batch runs use) reports the read-out: the same spikes
    functional = run_nir(compiled, x, chip="functional")
    np.testing.assert_array_equal(functional.output_int, integer.output_int)


@pytest.mark.parametrize(("chip", "short", "hint"), [
    # two chips: the cores the four-chip board uses (more than 256), and that board is named
    ("chips=2 weight_bytes=4096", "the board has 256 (2 chips x 128)", "a board of 4 chips holds it"),
    # the product's 64-entry buffers given explicitly: a core reads at most 64 sources, so far more cores
    # (docs/nir.md, "Fan-in splitting"); the hint names the deeper event buffer and fan-out table it needs
    ("chips=4 weight_bytes=4096 event_depth=64 fanout_depth=64", "fanout_depth is 64",
     "a chip with deeper buffers holds it"),
    ("chips=4 weight_bytes=4096 event_depth=64", "the board has 512 (4 chips x 128)",
     "a chip with deeper buffers holds it")])
def test_full_size_cnn_on_a_board_too_small_is_refused_naming_the_chip_that_holds_it(chip, short, hint, tmp_path,
                                                                                      capsys):
    from spikecore.app.cli import main

    path = tmp_path / "cnn.nir"
    nir.write(path, sinabs_cnn())
    out = tmp_path / "cnn.bin"
    assert main(["compile", str(path), "--dt", "1", "--chip", chip, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"spikecore: error: NIR file {path}: ")
    assert short in err and f"; {hint}: pass --chip " in err
    named = err.rstrip().rpartition("pass --chip ")[2]
    assert named.startswith('"') and named.endswith('"')
    # the chip named is the one the test above compiles the graph for (its depths written out where the user's
    # were smaller, so the hint names them)
    assert parse_chip(named.strip('"')) == parse_chip(FULL_CHIP)
    assert ("event_depth=1024" in named) == ("event_depth" in chip)
    assert not out.exists()


def test_split_program_is_refused_by_nir_export_in_one_line(tmp_path, capsys):
    from spikecore.app.cli import main

    path, image, back = tmp_path / "cnn.nir", tmp_path / "cnn.bin", tmp_path / "back.nir"
    nir.write(path, sinabs_cnn(**SMALL))
    assert main(["compile", str(path), "--dt", "1", "--chip", SPLIT_CHIP, "--out", str(image)]) == 0
    capsys.readouterr()
    assert main(["export", str(image), "--nir", str(back), "--dt", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "runs MERGE or FIRE wide=1 (a layer split over its fan-in" in err
    assert not back.exists()


def test_batch_runs_on_a_board_equal_the_integer_reference_and_compare_cli_runs_sequences(tmp_path, capsys):
    from spikecore.app.cli import main
    from spikecore.app.nir_runtime import run_nir_batch

    graph = sinabs_cnn(**SMALL)
    compiled = compile_nir(graph, dt=1.0, config=parse_chip(SPLIT_CHIP))
    xs = np.stack([random_spikes((2, 10, 10), 10, 0.4, seed) for seed in (2, 3)])
    outputs = run_nir_batch(compiled, xs)        # a board image: one sequence after the other
    assert outputs.shape == (2, 10, 10)
    for x, output in zip(xs, outputs, strict=True):
        np.testing.assert_array_equal(output, reference_nir(compiled, x).output)
    assert outputs.sum() > 0

    path = tmp_path / "cnn.nir"
    nir.write(path, graph)
    assert main(["compare", str(path), "--dt", "1", "--chip", SPLIT_CHIP, "--steps", "20", "--rate", "0.4",
                 "--sequences", "4"]) == 0
    out = capsys.readouterr().out
    assert "golden model == integer reference (every spike, every output): yes" in out
    line = next(text for text in out.splitlines() if "readout class" in text)
    assert ": same on " in line and "random input sequences" in line     # some sequences have no tie


def test_split_lif_layer_and_li_readout_equal_the_unsplit_program():
    """A leaky hidden layer (LEAK; MERGE; FIRE) and a membrane read-out (LI: LEAK; MERGE) split over their fan-in:
    the membranes the host reads are the unsplit program's, one step later per split layer."""
    rng = np.random.default_rng(4)
    graph = nir.NIRGraph.from_list(
        nir.Affine(rng.normal(0.1, 0.5, (120, 90)), rng.normal(0.0, 0.2, 120)),
        nir.LIF(tau=np.full(120, 4e-3), r=np.full(120, 4.0), v_leak=np.zeros(120), v_threshold=np.ones(120),
                v_reset=np.zeros(120)),
        nir.Linear(rng.normal(0.0, 0.3, (4, 120))),
        nir.LI(tau=np.full(4, 5e-3), r=np.full(4, 5.0), v_leak=np.zeros(4)))
    x = random_spikes((90,), 15, 0.3, 6)
    split = compile_nir(graph, dt=1e-3, config=parse_chip("cores=64 event_depth=64 weight_bytes=1024"))
    whole = compile_nir(graph, dt=1e-3, config=parse_chip("cores=32 event_depth=256 weight_bytes=4096"))
    # 90 inputs (180 with their twins) plus the bias axon and 120 hidden spikes exceed 64 events: both layers
    # split, none unsplit
    assert split.quant.merged == (0, 1) and whole.quant.merged == ()
    golden, unsplit = run_nir(split, x, chip="cycle"), run_nir(whole, x, chip="cycle")
    assert golden.steps == unsplit.steps + 2
    np.testing.assert_array_equal(golden.rasters["lif"], unsplit.rasters["lif"])
    np.testing.assert_array_equal(golden.output_int, unsplit.output_int)
    np.testing.assert_array_equal(golden.output_int, reference_nir(split, x).output_int)
    assert golden.rasters["lif"].sum() > 20 and np.abs(golden.output_int).max() > 0
