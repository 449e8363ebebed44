"""Placement over a board (docs/spec.md §13): a model larger than one chip compiles for 2..4 chips, runs on
the golden board equal to the compiler's integer reference, keeps traffic on a chip where it can, reports
per-chip use and links, and a model too big for 16 chips is refused in one line."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from spikecore.compiler.pipeline import compile_model
from spikecore.compiler.report import link_traffic
from spikecore.config import ChipConfig, parse_chip
from spikecore.errors import SpikeCoreError
from spikecore.golden.board import FunctionalBoard, run_board
from spikecore.image import decode_image, encode_image
from spikecore.isa import TraceKind

# 4 cores of 1024 weight bytes: 64 -> 48 needs 64 rows x 16 neurons per core = 3 cores; 48 -> 32: 21 neurons per
# core -> 2 cores; 32 -> 10: 1 core. 6 cores: more than one chip of 4.
CHIP = "cores=4 neurons=32 weight_bytes=1024 event_depth=64"


def _mlp(sizes: tuple[int, ...], seed: int = 0, dense: bool = False) -> nn.Module:
    """A ReLU MLP; ``dense``: every weight 0.5 .. 1 in magnitude, so none quantises to 0 (every input is read)."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
        if dense:
            with torch.no_grad():
                w = layers[-2].weight
                w.copy_(torch.sign(torch.randn_like(w)) * (0.5 + 0.5 * torch.rand_like(w)))
    return nn.Sequential(*layers[:-1]).eval()


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 1, size=(24, 64)).astype(np.float32)


def _logits_on_board(compiled, x: np.ndarray, cycle_accurate: bool = False) -> tuple[np.ndarray, list]:
    logits, traces = [], []
    for sample in x:
        stim = compiled.stimulus(sample)
        board, trace = run_board(compiled.image, {s: stim.at(s) for s in range(compiled.steps)}, compiled.steps,
                                 cycle_accurate)
        logits.append(compiled.io.read_outputs(board.membranes))
        traces.append(trace)
    return np.array(logits), traces


@pytest.mark.parametrize("chips", [2, 3, 4])
def test_a_model_larger_than_a_chip_runs_on_the_board_equal_to_the_reference(data, chips: int) -> None:
    model = _mlp((64, 48, 32, 10), dense=True)
    with pytest.raises(SpikeCoreError,
                       match=r"^model needs 6 cores \(.*\) and \d+ weight bytes, the chip has 4 cores of 1024 bytes; "
                             r'a board of 2 chips with deeper buffers holds it: pass --chip "cores=4 weight_bytes=1024 '
                             r'event_depth=256 chips=2"$'):
        compile_model(model, data[:1], data, config=parse_chip(CHIP))
    compiled = compile_model(model, data[:1], data, config=parse_chip(f"{CHIP} chips={chips}"))
    assert len(compiled.image.cores) == 6 and compiled.image.config.chips == chips
    assert decode_image(encode_image(compiled.image)) == compiled.image
    logits, _ = _logits_on_board(compiled, data)
    ref = compiled.reference(data)
    assert logits.shape == (24, 10) and np.abs(ref.logits).sum() > 0
    np.testing.assert_array_equal(logits, ref.logits)
    # cores numbered forwards (spec §13): chip 0 holds cores 0..3 (layer 0's 3 and layer 1's first), chip 1 the rest
    by_layer = [sorted({pc.core // 4 for pc in compiled.placed.cores if pc.layer_index == k}) for k in range(3)]
    assert by_layer == [[0], [0, 1], [1]]
    # only layer 0 -> layer 1's second core and layer 1's first core -> layer 2 cross: 3 + 1 cores' entries, 0 -> 1
    traffic = link_traffic(compiled.placed)
    assert list(traffic) == [(0, 1)]
    # dense weights, even slices: layer 0 = cores 0..2 (16 neurons each), layer 1 = cores 3, 4 (16 each, each reading
    # all 48), layer 2 = core 5. Crossing: every layer-0 neuron -> core 4 (48 entries), core 3's 16 neurons -> core 5.
    assert traffic[(0, 1)] == 48 + 16
    report = compiled.report()
    assert "links used      1 of" in report and "link 0->1" in report


def test_cycle_board_equals_functional_board_on_a_compiled_model(data) -> None:
    from spikecore.app.runtime import run_batch

    compiled = compile_model(_mlp((64, 48, 32, 10)), data[:1], data, config=parse_chip(f"{CHIP} chips=2"))
    fast, _ = _logits_on_board(compiled, data[:3])
    slow, traces = _logits_on_board(compiled, data[:3], cycle_accurate=True)
    np.testing.assert_array_equal(fast, slow)
    # the model runtime drives the board like a chip ("batch" runs BatchFunctionalBoard on a board image)
    for chip in ("batch", "cycle"):
        result = run_batch(compiled, data[:3], chip=chip)
        np.testing.assert_array_equal(result.logits, compiled.reference(data[:3]).logits)
        assert result.cycles.min() > 0 and not result.drops.any()
    links = sum(int((t["kind"] == int(TraceKind.LINK)).sum()) for t in traces)
    assert links > 0


def test_a_model_too_big_for_16_chips_is_refused_in_one_line() -> None:
    # 200 inputs per hidden neuron (no zero weight), 256 weight bytes: one neuron per core, so 256 hidden cores,
    # plus 1 output core (1 neuron x 256 rows = 256 B): 257 cores, 200 x 256 + 256 = 51456 weight bytes,
    # ceil(257 / 4) = 65 chips; numbered forwards, hidden chips 0..63 each send to the output's chip 64: 64 links.
    # The board: 16 x 4 cores, 64 x 256 = 16384 B, 16 x 15 = 240 links.
    x = np.random.default_rng(2).uniform(0, 1, size=(4, 200)).astype(np.float32)
    config = ChipConfig(cores=4, weight_bytes=256, event_depth=256, chips=16)
    with pytest.raises(SpikeCoreError) as info:
        compile_model(_mlp((200, 256, 1), dense=True), x[:1], x, config=config)
    assert str(info.value) == (
        "model needs 257 cores (linear: 256, linear_1: 1), the board has 64 (16 chips x 4); weight bytes: needs 51456, "
        "16384 available; chips: needs 65 with 64 links, 16 available with 240 links")


def test_functional_board_host_view_reads_like_one_chip() -> None:
    board = FunctionalBoard(compile_model(_mlp((8, 4)), np.zeros((1, 8)), np.ones((2, 8)),
                                          config=ChipConfig(cores=2, chips=2)).image)
    assert board.membranes.shape == (4, 32)


def test_a_nir_network_over_three_chips_compares_like_on_one_chip() -> None:
    # 16 -> 24 (IF) -> 24 (LIF) -> 6 (LIF) on chips of 2 cores x 16 neurons: 2 + 2 + 1 cores -> chips 0, 1, 2
    # (layer lif's cores 2, 3 on chip 1, the output's core 5 on chip 2): every layer boundary but one is a link.
    from spikecore.app.nir_compare import compare
    from tests.compiler.test_nir_dynamics import random_network

    g = random_network(2, [16, 24, 24, 6], ["IF", "LIF", "LIF"])
    x = (np.random.default_rng(102).random((100, 16)) < 0.15).astype(float)
    config = ChipConfig(cores=2, neurons=16, chips=3)
    # int8 first layer (no input twins): the layout above; with the twins the IF layer reads 32 axons and the
    # model needs 8 cores, refused with the --coarse-inputs hint
    result = compare(g, x, reset="value", config=config, fine_inputs=False)
    assert result.golden_equals_integer
    assert result.raster_agreement >= 0.99
    assert all(layer.reference_spikes >= 10 for layer in result.layers)
