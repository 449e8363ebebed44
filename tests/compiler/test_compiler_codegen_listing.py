"""The assembly listing's text, pinned for the hand-worked 2-2-1 network of test_compiler_quantize.py.

Numbers by hand (test_compiler_quantize.py::test_graded_quantisation_of_a_hand_network): hidden weights
116, 58 / -116, 29, bias 1478 and 0, shift 7, threshold 2^6 = 64; output weights 127, -127, bias 0.
Layout (docs/compiler.md): core 0 holds h (2 axons from x, row-major axon x count, so axon 0's row
116 -116 at address 0 and axon 1's 58 29 at 2), core 1 holds o; h[j] fans out to core 1 axon j. Every
comment follows the statement padded to 55 characters and " ; " (its ";" in column 57), or " ; " after a longer one.
"""

from __future__ import annotations

import numpy as np

from spikecore.compiler.asm import assemble
from spikecore.compiler.codegen import codegen
from spikecore.compiler.ir import DenseNode, FloatGraph, InputNode
from spikecore.compiler.place import place
from spikecore.compiler.quantize import quantize
from spikecore.config import ChipConfig
from spikecore.image import encode_image

CFG = ChipConfig(cores=2, neurons=4, weight_bytes=8, imem_depth=4, event_depth=4, fanout_depth=4)


def hand_network() -> FloatGraph:
    hidden = DenseNode("h", "x", np.array([[1.0, 0.5], [-1.0, 0.25]], np.float32), np.array([0.1, 0.0], np.float32),
                       relu=True, origin="Linear 'h'")
    out = DenseNode("o", "h", np.array([[1.0, -1.0]], np.float32), np.zeros(1, np.float32), relu=False,
                    origin="Linear 'o'")
    return FloatGraph(InputNode("x", (2,)), [hidden, out])


def c(statement: str, comment: str) -> str:
    return f"{statement.ljust(55)} ; {comment}"


GRADED = [
    "; SpikeCore program: model, graded mode, 2 layers on 2 cores",
    "; 2 steps per inference; the host resets state, injects input events before steps 0 and reads the output "
    "membranes after the last step",
    ".chip cores=2 neurons=4 weight_bytes=8 imem_depth=4 event_depth=4 fanout_depth=4",
    "",
    c(".core 0", "layer h [Linear 'h'] (hidden): neurons 0..1, 2 axons from x"),
    c("    acc neuron=0, count=2, wbase=0", "h[0..1] += payload x weight[axon] for every buffered event"),
    c("    fire neuron=0, count=2, shift=7, reset=always, graded=1",
      "ReLU, payload = clamp(round(v / 2^7), 0, 127); membrane := bias"),
    c("    halt", "end of this core's step"),
    c(".weights 0: 116 -116", "axon 0 <- x[0]"),
    c(".weights 2: 58 29", "axon 1 <- x[1]"),
    c(".neuron 0 threshold=64 reset=1478 init=1478 decay=0 fanout_start=0 fanout_count=1", "h[0]"),
    c(".neuron 1 threshold=64 reset=0 init=0 decay=0 fanout_start=1 fanout_count=1", "h[1]"),
    c(".fanout 0: 1:0", "h[0] -> o"),
    c(".fanout 1: 1:1", "h[1] -> o"),
    "",
    c(".core 1", "layer o [Linear 'o'] (output): neurons 0..0, 2 axons from h"),
    c("    fire neuron=0, count=1, shift=0, reset=always, graded=0",
      "clear o[0..0] to the bias each step (threshold never reached, nothing emitted)"),
    c("    acc neuron=0, count=1, wbase=0", "o[0..0] += payload x weight[axon] for every buffered event"),
    c("    halt", "end of this core's step"),
    c(".weights 0: 127", "axon 0 <- h[0]"),
    c(".weights 1: -127", "axon 1 <- h[1]"),
    c(".neuron 0 threshold=2147483647 reset=0 init=0 decay=0 fanout_start=0 fanout_count=0", "o[0]"),
]


def test_graded_listing_by_hand() -> None:
    graph = quantize(hand_network(), np.array([[1.0, 0.0], [0.0, 1.0]]), "graded", config=CFG)
    image, text = codegen(place(graph, CFG))
    assert text.splitlines() == GRADED
    assert encode_image(assemble(text)) == encode_image(image)


def test_rate_listing_header_and_neuron_comments() -> None:
    # T = 5: 5 + 2 - 1 = 6 steps, inputs before steps 0..4 (the header names the first three, then "...");
    # threshold round(1.1 * 16129) = 17742 (test_rate_quantisation_of_a_hand_network); bias axon payload 13.
    graph = quantize(hand_network(), np.array([[1.0, 0.0], [0.0, 1.0]]), "rate", T=5, config=CFG)
    _, text = codegen(place(graph, CFG))
    lines = text.splitlines()
    assert lines[0] == "; SpikeCore program: model, rate mode (T=5), 2 layers on 2 cores"
    assert lines[1] == ("; 6 steps per inference; the host resets state, injects input events before steps 0, 1, 2, "
                        "... and reads the output membranes after the last step")
    assert c("    fire neuron=0, count=2, shift=0, reset=sub, graded=0",
             "integrate-and-fire: spike (payload 1) when v >= 17742, then v -= 17742") in lines
    assert c(".weights 4: 124 0", "axon 2 <- bias current (host, payload 13)") in lines
    assert c(".core 0", "layer h [Linear 'h'] (hidden): neurons 0..1, 3 axons from x") in lines
    assert c(".core 1", "layer o [Linear 'o'] (output): neurons 0..0, 2 axons from h") in lines


def test_three_input_steps_are_listed_without_dots() -> None:
    graph = quantize(hand_network(), np.array([[1.0, 0.0], [0.0, 1.0]]), "rate", T=3, config=CFG)
    _, text = codegen(place(graph, CFG))
    assert text.splitlines()[1] == ("; 4 steps per inference; the host resets state, injects input events before "
                                    "steps 0, 1, 2 and reads the output membranes after the last step")
