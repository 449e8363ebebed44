"""A recurrent edge into an *earlier* layer compiles (docs/spec.md §2 period/phase, §11).

Graph (tests/compiler/test_nir_back_edge_reference.py): Input -> fc0 -> lif0 (CubaLIF) -> fc1 -> lif1 (LIF) ->
Output, and lif1 -> w_back (Affine) -> lif0. The loop lif0 -> lif1 -> lif0 takes two chip steps, so the program
runs D = 2 chip steps per input step: lif0's cores in even chip steps, lif1's in odd ones.

The golden model is checked against a naive loop written here over *input* steps (no chip steps, no buffers):
from the compiled integers, lif0 at input step t reads the input of step t and lif1's spikes of step t - 1, as
NIR's discrete-time recurrence says. Against the float reference the rasters agree >= 99 % on the seeds used
(int8 weights perturb the float dynamics; the loop amplifies it, so other seeds agree less: docs/compiler.md).
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikecore.app.nir_compare import compare
from spikecore.app.nir_runtime import input_payloads, reference_nir, run_nir, run_nir_batch
from spikecore.compiler.pipeline import compile_nir
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from tests.compiler.test_nir_back_edge_reference import DT, back_edge_graph

CHIP = ChipConfig(cores=4)


def round_shift16(v: np.ndarray) -> np.ndarray:
    """(v + 2^15) >> 16, spec §3 (numpy's >> on int64 is arithmetic)."""
    return (v + (1 << 15)) >> 16


def naive(compiled, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer rasters of lif0, lif1 over input steps, from the compiled weights, units and decays (spec §3, §4):
    lif0 (LEAK, SACC, SYN, FIRE) reads the payloads of step t, its bias and lif1's spikes of step t - 1; lif1
    (LEAK, ACC, FIRE) reads lif0's spikes of step t. Graded spikes carry payload 127 (thresholds >= 127)."""
    l0, l1 = compiled.quant.layers
    assert l0.recurrent_source == 1 and l0.neuron.graded and l1.neuron.graded
    v0 = np.array(l0.neuron.init, dtype=np.int64)
    i0 = np.zeros_like(v0)
    v1 = np.array(l1.neuron.init, dtype=np.int64)
    z1 = np.zeros(l1.out_features, dtype=np.int64)
    out0, out1 = [], []
    for row in q:
        v0 = round_shift16(v0 * l0.neuron.decays)
        i0 = i0 + l0.weight @ row + l0.recurrent @ (127 * z1) + l0.bias
        v0 = v0 + i0
        i0 = round_shift16(i0 * l0.neuron.syn_decays)
        z0 = (v0 >= l0.neuron.thresholds).astype(np.int64)
        v0 = np.where(z0 > 0, l0.neuron.reset, v0)
        v1 = round_shift16(v1 * l1.neuron.decays)
        v1 = v1 + l1.weight @ (127 * z0)
        z1 = (v1 >= l1.neuron.thresholds).astype(np.int64)
        v1 = np.where(z1 > 0, l1.neuron.reset, v1)
        assert max(abs(v0).max(), abs(i0).max(), abs(v1).max()) < 2 ** 31   # nothing saturates
        out0.append(z0)
        out1.append(z1)
    return np.array(out0, dtype=bool), np.array(out1, dtype=bool)


def test_the_program_runs_two_chip_steps_per_input_step():
    graph, _ = back_edge_graph(np.random.default_rng(2))
    compiled = compile_nir(graph, dt=DT, config=CHIP)
    assert compiled.quant.period == 2
    schedule = {}
    for pc in compiled.placed.cores:
        section = compiled.image.cores[pc.core]
        schedule.setdefault(pc.layer, set()).add((section.period, section.phase))
    assert schedule == {"lif0": {(2, 0)}, "lif1": {(2, 1)}}
    # lif1's neurons fan out to the host (axon = neuron) and to lif0's cores
    lif1 = [pc for pc in compiled.placed.cores if pc.layer == "lif1"]
    assert all(len(pc.fanout) > pc.count for pc in lif1)


@pytest.mark.parametrize("seed", [0, 2])
def test_golden_equals_a_naive_loop_over_input_steps(seed):
    rng = np.random.default_rng(seed)
    graph, _ = back_edge_graph(rng)
    x = (rng.random((60, 4)) < 0.3).astype(float)
    compiled = compile_nir(graph, dt=DT, config=CHIP, calibration_data=x)
    want0, want1 = naive(compiled, input_payloads(compiled, x))
    assert want0.sum() > 10 and want1.sum() > 10
    golden = run_nir(compiled, x, chip="cycle")
    assert golden.steps == 59 * 2 + 2
    np.testing.assert_array_equal(golden.rasters["lif0"], want0)
    np.testing.assert_array_equal(golden.rasters["lif1"], want1)
    reference = reference_nir(compiled, x)
    np.testing.assert_array_equal(reference.rasters["lif0"], want0)
    np.testing.assert_array_equal(reference.output_int, golden.output_int)
    functional = run_nir(compiled, x, chip="functional")
    np.testing.assert_array_equal(functional.output_int, golden.output_int)
    batch = run_nir_batch(compiled, np.stack([x, x[::-1]]))
    np.testing.assert_array_equal(batch[0], golden.output)
    np.testing.assert_array_equal(batch[1] > 0, naive(compiled, input_payloads(compiled, x[::-1]))[1])


@pytest.mark.parametrize("seed", [2, 4])
def test_compare_agrees_with_the_float_reference(seed):
    rng = np.random.default_rng(seed)
    graph, _ = back_edge_graph(rng)
    x = (rng.random((300, 4)) < 0.3).astype(float)
    result = compare(graph, x, dt=DT, config=CHIP)
    assert result.golden_equals_integer
    assert all(layer.reference_spikes > 100 for layer in result.layers), result.text()
    assert all(layer.agreement >= 0.99 for layer in result.layers), result.text()


def test_a_layer_with_recurrence_from_two_nodes_is_one_line():
    graph, p = back_edge_graph(np.random.default_rng(0))
    nodes = dict(graph.nodes)
    nodes["self"] = nir.Linear(weight=np.eye(len(p["thr0"])))
    edges = [*graph.edges, ("lif0", "self"), ("self", "lif0")]
    with pytest.raises(SpikeCoreError, match=r"^CubaLIF 'lif0': recurrent edges from 'lif0' and 'lif1'; SpikeCore "
                                             r"compiles the recurrence of a layer from one neuron node") as err:
        compile_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=DT, config=CHIP)
    assert "\n" not in str(err.value)


def test_fine_weights_with_a_back_edge_are_one_line():
    graph, _ = back_edge_graph(np.random.default_rng(0))
    with pytest.raises(SpikeCoreError, match=r"^layer 'lif0': fine weights with a recurrent edge from a later layer "
                                             r"\('lif1'\) are not supported"):
        compile_nir(graph, dt=DT, config=CHIP, fine_weights=True)


def test_nir_export_of_a_periodic_image_is_one_line():
    from spikecore.compiler.nir.export import export_image

    graph, _ = back_edge_graph(np.random.default_rng(0))
    compiled = compile_nir(graph, dt=DT, config=CHIP)
    with pytest.raises(SpikeCoreError, match=r"^core 0 runs every 2 steps \(period 2, phase 0: a recurrent edge "
                                             r"into an earlier layer\); NIR export supports"):
        export_image(compiled.image, dt=DT)
