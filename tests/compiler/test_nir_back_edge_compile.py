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
from spikecore.image import encode_image
from tests.compiler.test_nir_back_edge_reference import DT, back_edge_graph

CHIP = ChipConfig(cores=4)


def round_shift16(v: np.ndarray) -> np.ndarray:
    """(v + 2^15) >> 16, spec §3 (numpy's >> on int64 is arithmetic)."""
    return (v + (1 << 15)) >> 16


def naive(compiled, q: np.ndarray) -> list[np.ndarray]:
    """Integer rasters of every layer over input steps, from the compiled weights, units and decays (spec §3,
    §4): at input step t layer k reads what layer k - 1 (or the input) emitted at step t, its bias, and its
    recurrence source's spikes of step t - 1 (itself or a later layer). LIF runs LEAK, ACC, FIRE; CubaLIF
    LEAK, SACC, SYN, FIRE. A graded spike carries payload 127, a binary one 1."""
    layers = compiled.quant.layers
    v = [np.array(layer.neuron.init, dtype=np.int64) for layer in layers]
    i = [np.zeros(layer.out_features, dtype=np.int64) for layer in layers]
    z = [np.zeros(layer.out_features, dtype=np.int64) for layer in layers]   # payloads of the last input step
    rasters = [[] for _ in layers]
    for row in q:
        before = [zk.copy() for zk in z]
        sent = row
        for k, layer in enumerate(layers):
            cell = layer.neuron
            current = layer.weight @ sent + layer.bias
            if layer.recurrent is not None:
                src = k if layer.recurrent_source is None else layer.recurrent_source
                current = current + layer.recurrent @ before[src]
            v[k] = round_shift16(v[k] * cell.decays)
            if cell.kind == "CubaLIF":
                i[k] = i[k] + current
                v[k] = v[k] + i[k]
                i[k] = round_shift16(i[k] * cell.syn_decays)
            else:
                v[k] = v[k] + current
            fired = v[k] >= cell.thresholds
            if cell.reset_mode.name == "SUB":
                v[k] = np.where(fired, v[k] - cell.thresholds, v[k])
            else:
                v[k] = np.where(fired, cell.reset, v[k])
            assert max(abs(v[k]).max(), abs(i[k]).max()) < 2 ** 31   # nothing saturates
            z[k] = fired * (127 if cell.graded else 1)
            rasters[k].append(fired)
            sent = z[k]
    return [np.array(r, dtype=bool) for r in rasters]


def three_layer_graph(seed: int) -> nir.NIRGraph:
    """Input -> l0 -> l1 (recurrent into itself) -> l2 -> Output, and l2 -> back (Affine) -> l0: D = 3."""
    rng = np.random.default_rng(seed)

    def lif(n: int) -> nir.LIF:
        return nir.LIF(tau=rng.uniform(3, 6, n) * DT, r=rng.uniform(3, 6, n), v_leak=np.zeros(n),
                       v_threshold=np.full(n, 0.8), v_reset=np.zeros(n))

    n_in, a, b, c = 4, 6, 5, 4
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
             "fc0": nir.Linear(weight=rng.normal(0.5, 0.5, (a, n_in))), "l0": lif(a),
             "fc1": nir.Linear(weight=rng.normal(0.4, 0.6, (b, a))), "l1": lif(b),
             "self1": nir.Linear(weight=rng.normal(0, 0.3, (b, b))),
             "fc2": nir.Linear(weight=rng.normal(0.4, 0.6, (c, b))), "l2": lif(c),
             "back": nir.Affine(weight=rng.normal(-0.2, 0.5, (a, c)), bias=rng.normal(0.05, 0.05, a)),
             "output": nir.Output(output_type={"output": np.array([c])})}
    edges = [("input", "fc0"), ("fc0", "l0"), ("l0", "fc1"), ("fc1", "l1"), ("l1", "self1"), ("self1", "l1"),
             ("l1", "fc2"), ("fc2", "l2"), ("l2", "output"), ("l2", "back"), ("back", "l0")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


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
    assert compiled.quant.layers[0].recurrent_source == 1
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


def test_three_chip_steps_per_input_step_with_a_self_loop_inside_the_long_one():
    """l2 -> l0 spans three layers (D = 3); l1's recurrence into itself then arrives three chip steps later, at
    its next run: still its spikes of the previous input step."""
    x = (np.random.default_rng(9).random((80, 4)) < 0.3).astype(float)
    graph = three_layer_graph(3)
    compiled = compile_nir(graph, dt=DT, config=CHIP, calibration_data=x)
    assert compiled.quant.period == 3
    assert {(s.period, s.phase) for s in compiled.image.cores.values()} == {(3, 0), (3, 1), (3, 2)}
    want = naive(compiled, input_payloads(compiled, x))
    assert all(w.sum() > 10 for w in want)
    golden = run_nir(compiled, x, chip="cycle")
    for layer, raster in zip(("l0", "l1", "l2"), want, strict=True):
        np.testing.assert_array_equal(golden.rasters[layer], raster)


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
    with pytest.raises(SpikeCoreError, match=r"^layer 'lif0': fine input weights with a recurrent edge from a "
                                             r"later layer \('lif1'\) are not supported; compile without fine "
                                             r"input weights$"):
        compile_nir(graph, dt=DT, config=CHIP, fine_inputs=True)
    # the default input twins are off for such a graph (docs/spec.md §11): the same program as without them
    default, coarse = compile_nir(graph, dt=DT, config=CHIP), compile_nir(graph, dt=DT, config=CHIP, fine_inputs=False)
    assert not default.quant.input.twins and not default.io.fine_inputs
    assert encode_image(default.image) == encode_image(coarse.image)


def test_nir_export_of_a_periodic_image_is_one_line():
    from spikecore.compiler.nir.export import export_image

    graph, _ = back_edge_graph(np.random.default_rng(0))
    compiled = compile_nir(graph, dt=DT, config=CHIP)
    with pytest.raises(SpikeCoreError, match=r"^core 0 runs every 2 steps \(period 2, phase 0: a recurrent edge "
                                             r"into an earlier layer\); NIR export supports"):
        export_image(compiled.image, dt=DT)
