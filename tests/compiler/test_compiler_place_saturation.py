"""The output layer's fan-in split and its saturation guard, at the exact bound (docs/compiler.md "Placement").

A 64-32-10 graded MLP on the product chip: the output layer reads 32 hidden neurons, 10 x 32 = 320 weight
bytes > 256, so it is either split over its fan-in (two cores of 10 neurons x 16 sources, partial sums
added by the host) or sliced by neurons (two cores of 5 neurons x 32 sources). The split is only allowed
when no membrane, partial or whole, can leave int32: the host adds partial sums without saturation, while
the chip saturates at every MAC, so the two would disagree.

Bound by hand: every output weight quantises to +-127 (all float weights +-1, one scale per layer); a
hidden layer emits graded payloads of at most 127; one step (graded clears the membrane every step). So
the whole neuron can move |init| + 127 x (32 x 127) = |init| + 516128, which must be <= ACC_MAX = 2147483647:
init up to 2147483647 - 516128 = 2146967519.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from spikecore.compiler.ir import DenseNode, FloatGraph, InputNode, QuantGraph
from spikecore.compiler.place import place
from spikecore.compiler.quantize import quantize
from spikecore.compiler.reference import run_reference
from spikecore.config import ChipConfig
from spikecore.golden.functional import FunctionalChip

PRODUCT = ChipConfig()
LIMIT = 2_147_483_647 - 127 * 32 * 127


def graph_with_output_init(init: int) -> QuantGraph:
    rng = np.random.default_rng(3)
    hidden = DenseNode("h", "x", rng.uniform(0.3, 1.0, (32, 64)).astype(np.float32), np.zeros(32, np.float32),
                       relu=True, origin="Linear 'h'")
    signs = np.where(np.arange(320).reshape(10, 32) % 3 == 0, -1.0, 1.0).astype(np.float32)
    out = DenseNode("o", "h", signs, np.zeros(10, np.float32), relu=False, origin="Linear 'o'")
    graph = quantize(FloatGraph(InputNode("x", (64,)), [hidden, out]), rng.uniform(0, 1, (16, 64)), "graded")
    o = graph.layers[1]
    assert np.abs(o.weight).min() == 127                     # the premise of the bound above
    starts = np.full(10, init, dtype=np.int64)
    neuron = dataclasses.replace(o.neuron, init=starts, reset=starts)
    graph.layers[1] = dataclasses.replace(o, neuron=neuron, bias=starts)
    return graph


def output_cores(graph: QuantGraph) -> list[tuple[int, int, bool]]:
    placed = place(graph, PRODUCT)
    return [(pc.count, len(pc.axons), pc.partial) for pc in placed.cores if pc.layer_index == 1]


def test_split_allowed_exactly_at_the_bound():
    assert output_cores(graph_with_output_init(LIMIT)) == [(10, 16, True), (10, 16, True)]
    assert output_cores(graph_with_output_init(-LIMIT)) == [(10, 16, True), (10, 16, True)]


def test_split_refused_one_past_the_bound():
    assert output_cores(graph_with_output_init(LIMIT + 1)) == [(5, 32, False), (5, 32, False)]
    assert output_cores(graph_with_output_init(-LIMIT - 1)) == [(5, 32, False), (5, 32, False)]


def test_a_membrane_that_saturates_reads_back_saturated():
    """Near the limit the chip's saturating sum is what the host reads: no split may hide it.

    Output neuron 0 starts at ACC_MAX - 100; the hidden layer's positive weights and inputs of 1 make its
    graded payloads positive, and neuron 0's weights from sources 1, 2 are +127: the first positive MAC
    already passes ACC_MAX. The golden chip, the integer reference and the host's read-out must all give
    ACC_MAX for it (the unsplit placement; a split would add a partial sum past ACC_MAX).
    """
    graph = graph_with_output_init(2_147_483_647 - 100)
    placed = place(graph, PRODUCT)
    from spikecore.compiler.codegen import codegen

    image, _ = codegen(placed)
    chip = FunctionalChip(image)
    x = np.ones((1, 64))
    q = graph.input.quantize(x)
    for feature, targets in enumerate(placed.io.inputs):
        for core, axon in targets:
            if q[0, feature]:
                chip.inject(core, axon, int(q[0, feature]))
    for _ in range(graph.steps):
        chip.step()
    outputs = placed.io.read_outputs(chip.membranes)
    reference = run_reference(graph, q).membranes[0]
    assert outputs.tolist() == reference.tolist()
    assert outputs[0] == 2_147_483_647
