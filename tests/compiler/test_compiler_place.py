"""Placement: every core fits its memories, every fan-out entry reaches a real neuron's axon, clear refusals."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from spikecore import isa
from spikecore.compiler.asm import assemble
from spikecore.compiler.codegen import codegen
from spikecore.compiler.ir import DenseNode, FloatGraph, InputNode
from spikecore.compiler.place import place
from spikecore.compiler.quantize import quantize
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import encode_image

PRODUCT = ChipConfig()
SMALL = ChipConfig(cores=32, neurons=8, weight_bytes=128, imem_depth=8, event_depth=32, fanout_depth=16)


def float_mlp(sizes: tuple[int, ...], seed: int = 0, names: str = "hijklmn") -> FloatGraph:
    """Random MLP whose weights are all well away from 0 (so none quantises to 0 and drops its axon)."""
    rng = np.random.default_rng(seed)
    layers, source = [], "x"
    for k, (a, b) in enumerate(itertools.pairwise(sizes)):
        weight = rng.uniform(0.3, 1.0, (b, a)) * rng.choice([-1, 1], (b, a))
        bias = rng.uniform(-0.2, 0.5, b).astype(np.float32)
        layers.append(DenseNode(names[k], source, weight.astype(np.float32), bias, relu=k < len(sizes) - 2,
                                origin=f"Linear '{names[k]}'"))
        source = names[k]
    return FloatGraph(InputNode("x", (sizes[0],)), layers)


def placed_for(sizes, config, mode="graded", T=None, seed=0):
    graph = float_mlp(sizes, seed)
    calib = np.random.default_rng(seed + 1).uniform(0, 1, (64, sizes[0]))
    return place(quantize(graph, calib, mode, T, config=config), config)


CASES = [((64, 32, 10), PRODUCT, "graded"), ((64, 32, 10), PRODUCT, "rate"), ((24, 20, 12, 5), SMALL, "graded"),
         ((24, 20, 12, 5), SMALL, "rate"), ((30, 40, 3), SMALL, "graded")]


@pytest.mark.parametrize(("sizes", "config", "mode"), CASES)
def test_every_core_fits_and_every_fanout_entry_reaches_a_real_axon(sizes, config, mode):
    placed = placed_for(sizes, config, mode, T=8 if mode == "rate" else None)
    layers = placed.quant.layers
    by_id = {pc.core: pc for pc in placed.cores}
    assert len(by_id) == len(placed.cores) and max(by_id) < config.cores
    for pc in placed.cores:
        assert pc.count <= config.neurons
        assert pc.weights.size == len(pc.axons) * pc.count <= config.weight_bytes
        assert len(pc.axons) <= min(config.event_depth, isa.AXON_MAX + 1)
        assert len(pc.fanout) <= config.fanout_depth
        assert sum(p.fanout_count for p in pc.neurons) <= config.outq_depth     # out-queue bound (spec §1.2)
        assert len(pc.program) <= config.imem_depth
        for j, params in enumerate(pc.neurons):
            for entry in pc.fanout[params.fanout_start:params.fanout_start + params.fanout_count]:
                dest = by_id[entry.core]
                assert dest.layer_index == pc.layer_index + 1
                assert entry.axon < len(dest.axons) and dest.axons[entry.axon] == pc.start + j
    # Every axon of a non-first layer is fed by exactly one fan-out entry of its source neuron.
    for dest in placed.cores:
        if dest.layer_index == 0:
            continue
        for axon, source in enumerate(dest.axons):
            if source == layers[dest.layer_index].in_features:     # bias axon: fed by the host
                assert (dest.core, axon) in {(c, a) for _, c, a, _ in placed.io.bias_events}
                continue
            src_core = next(pc for pc in placed.cores
                            if pc.layer_index == dest.layer_index - 1 and pc.start <= source < pc.start + pc.count)
            params = src_core.neurons[source - src_core.start]
            entries = src_core.fanout[params.fanout_start:params.fanout_start + params.fanout_count]
            assert sum(e == isa.FanoutEntry(dest.core, axon) for e in entries) == 1
    # The cores' weight blocks put back together are the layer's integer weights, each weight exactly once.
    for k, layer in enumerate(layers):
        rebuilt = np.zeros_like(layer.weight_rows())
        for pc in placed.cores:
            if pc.layer_index == k:
                rebuilt[pc.start:pc.start + pc.count, list(pc.axons)] += pc.weights.T
        np.testing.assert_array_equal(rebuilt, layer.weight_rows())
    # Every input feature enters every first-layer core that reads it.
    for feature, pairs in enumerate(placed.io.inputs):
        readers = {pc.core for pc in placed.cores if pc.layer_index == 0 and feature in pc.axons}
        assert {core for core, _ in pairs} == readers
    image, listing = codegen(placed)
    assert encode_image(assemble(listing)) == encode_image(image)   # the listing is the image, and it loads


def test_output_fan_in_split_and_partial_sums():
    placed = placed_for((64, 32, 10), PRODUCT)
    out_cores = [pc for pc in placed.cores if pc.layer_index == 1]
    # 10 outputs x 32 sources = 320 bytes > 256: split into two groups of 16 sources, all 10 neurons each.
    assert [(pc.count, len(pc.axons), pc.partial) for pc in out_cores] == [(10, 16, True), (10, 16, True)]
    # Only the first group starts from the bias.
    layer = placed.quant.layers[1]
    assert [p.init for p in out_cores[0].neurons] == layer.neuron.init.tolist()
    assert all(p.init == 0 and p.reset == 0 for p in out_cores[1].neurons)
    # Each hidden neuron now feeds exactly one output core.
    assert all(p.fanout_count == 1 for pc in placed.cores if pc.layer_index == 0 for p in pc.neurons)
    membranes = np.zeros((PRODUCT.cores, PRODUCT.neurons), dtype=np.int64)
    membranes[out_cores[0].core, 3], membranes[out_cores[1].core, 3] = 5, 7
    assert placed.io.read_outputs(membranes).tolist() == [0, 0, 0, 12, 0, 0, 0, 0, 0, 0]
    # A small output layer stays whole.
    small = placed_for((8, 6, 3), PRODUCT)
    assert [(pc.count, pc.partial) for pc in small.cores if pc.layer_index == 1] == [(3, False)]


def test_hidden_slices_are_balanced():
    placed = placed_for((64, 30, 10), PRODUCT)
    # 64 inputs x count <= 256 bytes -> at most 4 neurons per core -> 8 cores; 30 over 8 = 4,4,4,3,4,4,4,3.
    counts = [pc.count for pc in placed.cores if pc.layer_index == 0]
    assert len(counts) == 8 and sum(counts) == 30 and max(counts) - min(counts) <= 1


def test_a_layer_that_does_not_fit_gives_the_clear_error():
    # 300 inputs: split over partial-sum cores on the product chip (docs/spec.md §4.8) ...
    assert placed_for((300, 4, 2), PRODUCT).quant.merged == (0,)
    # ... but with event_depth 2 a merging core takes at most 2 partial sums: 2 groups of 150 inputs, 150 events
    with pytest.raises(SpikeCoreError) as err:
        placed_for((300, 4, 2), ChipConfig(event_depth=2))
    assert str(err.value) == (
        "layer 'h' (Linear 'h') does not fit a core: neuron 0 alone needs 300 weight bytes (300 inputs x 1 neurons), "
        "a core has 256 (it reads 300 inputs); split over partial-sum cores, one neuron still needs up to 150 input "
        "events per step in one core, event_depth is 2")


def test_a_conv2d_that_does_not_fit_gives_the_clear_error():
    import torch
    from torch import nn

    from spikecore.compiler.frontends.torch import from_torch

    def conv_graph(channels: int, kernel: int, size: int):
        model = nn.Sequential(nn.Conv2d(channels, 2, kernel), nn.ReLU(), nn.Flatten(),
                              nn.Linear(2 * (size - kernel + 1) ** 2, 4))
        with torch.no_grad():   # weights well away from 0, so every input of the kernel keeps its axon
            model[0].weight.copy_(torch.rand_like(model[0].weight) * 0.7 + 0.3)
        return from_torch(model, torch.rand(1, channels, size, size)), channels * size * size

    # 2 channels x 9x9 kernel = 162 inputs per neuron: more than 128 weight bytes, so the layer is split over
    # partial-sum cores (docs/spec.md §4.8); with event_depth 1 no merging core can take two partial sums.
    small = ChipConfig(weight_bytes=128, event_depth=256)
    graph, features = conv_graph(2, 9, 10)
    calib = np.random.default_rng(0).random((8, features))
    assert place(quantize(graph, calib), small).quant.merged == (0,)
    with pytest.raises(SpikeCoreError) as err:
        place(quantize(graph, calib), ChipConfig(weight_bytes=128, event_depth=1))
    assert str(err.value) == (
        "layer 'conv2d' (Conv2d '0') does not fit a core: neuron 0 alone needs 162 weight bytes (162 inputs x 1 "
        "neurons), a core has 128 (it reads 162 inputs); split over partial-sum cores, one neuron still needs "
        "up to 81 input events per step in one core, event_depth is 1")
    # ... and it fits unsplit the chip that has the bytes.
    assert place(quantize(graph, calib), ChipConfig(weight_bytes=256, event_depth=256)).quant.merged == ()
    # 3 x 10x10 = 300 inputs: beyond what 8-bit axons can address, so split; the groups of neuron 0's slice are
    # disjoint and hold at least its 300 inputs (the slice's union, up to all 3 x 12 x 12 = 432 features).
    graph, features = conv_graph(3, 10, 12)
    placed = place(quantize(graph, np.random.default_rng(0).random((8, features))),
                   ChipConfig(weight_bytes=512, event_depth=256))
    assert placed.quant.merged == (0,)
    first = [pc.axons for pc in placed.cores if pc.partial and pc.start == 0]
    assert len(first) >= 2 and all(len(axons) <= 256 for axons in first)
    assert sum(len(axons) for axons in first) == len(set().union(*first)) >= 300


def test_too_many_cores_and_too_few_events_are_refused():
    # weight bytes: h 64 x 32 = 2048, i 32 x 10 = 320 (every weight non-zero)
    with pytest.raises(SpikeCoreError, match=r"^model needs 10 cores \(h: 8, i: 2\) and 2368 weight bytes, the chip "
                                             r"has 4 cores of 256 bytes$"):
        placed_for((64, 32, 10), ChipConfig(cores=4))
    # 64 events per step do not fit event_depth 32: split in groups of 32; with event_depth 1 even two groups
    # of 32 do not fit
    assert placed_for((64, 8, 2), ChipConfig(event_depth=32)).quant.merged == (0,)
    with pytest.raises(SpikeCoreError, match=r"up to 64 input events per step, event_depth is 1 \(it reads 64 "
                                             r"inputs\); split over partial-sum cores, one neuron still needs up to 32 "
                                             r"input events per step in one core, event_depth is 1$"):
        placed_for((64, 8, 2), ChipConfig(event_depth=1))
    with pytest.raises(SpikeCoreError, match="program words, imem_depth is 2"):
        placed_for((4, 3, 2), ChipConfig(imem_depth=2))


def test_check_catches_a_fanout_entry_to_the_wrong_axon():
    placed = placed_for((8, 6, 3), PRODUCT)
    first = placed.cores[0]
    wrong = dataclasses.replace(first, fanout=tuple(isa.FanoutEntry(e.core, e.axon + 1) for e in first.fanout))
    placed.cores[0] = wrong
    with pytest.raises(SpikeCoreError, match="does not reach an axon fed by h"):
        placed.check()
