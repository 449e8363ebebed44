"""The ``--chip`` a refusal names holds the whole graph, or no chip is named (docs/compiler.md, "NIR accuracy" and
"Board"; docs/spec.md §1.1 for the depths a chip's weight memory gives)."""

from __future__ import annotations

import re

import nir
import numpy as np
import pytest

from spikecore.compiler.pipeline import compile_nir
from spikecore.config import parse_chip
from spikecore.errors import SpikeCoreError
from tests.compiler.test_nir_braille import BRAILLE, braille_graph


def wide_layer() -> nir.NIRGraph:
    """200 inputs -> 8 IF neurons, no bias: every neuron reads 200 sources."""
    rng = np.random.default_rng(3)
    return nir.NIRGraph.from_list(
        nir.Affine(rng.normal(0.0, 0.3, (8, 200)).astype(np.float32), np.zeros(8, np.float32)),
        nir.IF(r=np.ones(8, np.float32), v_threshold=np.ones(8, np.float32)))


def test_shallow_buffers_given_on_a_board_are_refused_naming_the_default_depths_that_hold_it():
    # 4 cores of 1024 weight bytes with 32-entry event buffers given: a neuron's 200 sources need >= 7 partial-sum
    # cores per neuron slice, more than the 4 cores. With the 256 events 1024 bytes give (spec §1.1) a core reads
    # all 200: 8 x 200 = 1600 bytes > 1024, so 2 cores of 4 neurons (800 bytes) hold the layer.
    # int8 first layer (fine_inputs=False): 200 sources; the default's input twins would make them 400
    chip = "cores=2 chips=2 weight_bytes=1024 event_depth=32"
    with pytest.raises(SpikeCoreError) as info:
        compile_nir(wide_layer(), dt=1.0, config=parse_chip(chip), fine_inputs=False)
    message = str(info.value)
    assert "\n" not in message and "the board has 4 (2 chips x 2)" in message
    assert message.endswith('; a chip with deeper buffers holds it: pass --chip "cores=2 weight_bytes=1024 '
                            'event_depth=256 chips=2"')
    compiled = compile_nir(wide_layer(), dt=1.0, config=parse_chip("cores=2 weight_bytes=1024 chips=2"),
                           fine_inputs=False)
    assert len(compiled.placed.cores) == 2 and compiled.quant.merged == ()
    assert compiled.image.config.event_depth == 256


def test_a_chip_only_deeper_buffers_cannot_make_hold_the_graph_names_the_board_that_does():
    # braille fine weights: the product chip's refusal names event_depth=128 fanout_depth=128
    # (test_nir_braille); on 16 cores that chip needs more cores than 16, so the hint names the board of such chips
    # that holds them (one chip's refusal may name a board), and that board compiles the graph
    name = "bias_zero"
    with pytest.raises(SpikeCoreError) as info:
        compile_nir(braille_graph(name), dt=1e-4, reset=BRAILLE[name][2], config=parse_chip("cores=16"),
                    fine_weights=True)
    message = str(info.value)
    hint = re.search(r'; a board of (\d+) chips with deeper buffers holds it: pass --chip "(cores=16 event_depth=128 '
                     r'fanout_depth=128 chips=\d+)"$', message)
    assert "\n" not in message and hint is not None, message
    compiled = compile_nir(braille_graph(name), dt=1e-4, reset=BRAILLE[name][2], config=parse_chip(hint.group(2)),
                           fine_weights=True)
    # more than one chip's 16 cores, and the fewest chips: one chip fewer would not hold them
    assert 16 * (int(hint.group(1)) - 1) < len(compiled.placed.cores) <= 16 * int(hint.group(1))
