"""The float NIR reference on a recurrent edge into an *earlier* layer (docs/spec.md §11, "Recurrent edges").

The chip compiles such a graph (tests/compiler/test_nir_back_edge_compile.py); the float reference, which the
compiled program is checked against, runs it here: the edge carries its source's
output of the previous step, so layer 0's input at step t is ``W0 x_t + W_back z1_{t-1} + b_back``
(``z1_{-1} = 0``: the Affine's bias is current from step 0 on). Checked here against a forward-Euler loop
written out by hand from NIR's equations.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikecore.compiler.nir.reference import recurrent_edges, simulate_float
from spikecore.compiler.pipeline import compile_nir
from spikecore.errors import SpikeCoreError

DT = 1e-4


def back_edge_graph(rng: np.random.Generator, n_in: int = 4, n0: int = 6, n1: int = 5) -> tuple[nir.NIRGraph, dict]:
    """Input -> fc0 -> lif0 (CubaLIF) -> fc1 -> lif1 (LIF) -> Output, and lif1 -> w_back (Affine) -> lif0."""
    p = {"w0": rng.normal(0.5, 0.5, (n0, n_in)), "w1": rng.normal(0.4, 0.6, (n1, n0)),
         "wb": rng.normal(-0.2, 0.7, (n0, n1)), "bb": rng.normal(0.05, 0.1, n0),
         "tau_syn": rng.uniform(2, 4, n0) * DT, "tau_mem": rng.uniform(4, 8, n0) * DT, "r0": rng.uniform(4, 8, n0),
         "w_in": rng.uniform(2, 3, n0), "thr0": np.full(n0, 1.0), "tau1": rng.uniform(3, 6, n1) * DT,
         "r1": rng.uniform(3, 6, n1), "thr1": np.full(n1, 0.8)}
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}), "fc0": nir.Linear(weight=p["w0"]),
             "lif0": nir.CubaLIF(tau_syn=p["tau_syn"], tau_mem=p["tau_mem"], r=p["r0"], v_leak=np.zeros(n0),
                                 v_threshold=p["thr0"], v_reset=np.zeros(n0), w_in=p["w_in"]),
             "fc1": nir.Linear(weight=p["w1"]),
             "lif1": nir.LIF(tau=p["tau1"], r=p["r1"], v_leak=np.zeros(n1), v_threshold=p["thr1"],
                             v_reset=np.zeros(n1)),
             "w_back": nir.Affine(weight=p["wb"], bias=p["bb"]),
             "output": nir.Output(output_type={"output": np.array([n1])})}
    edges = [("input", "fc0"), ("fc0", "lif0"), ("lif0", "fc1"), ("fc1", "lif1"), ("lif1", "output"),
             ("lif1", "w_back"), ("w_back", "lif0")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), p


def by_hand(p: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward Euler of NIR's CubaLIF and LIF, reset to zero, the back edge one step late (module docstring)."""
    i0 = np.zeros(len(p["thr0"]))
    v0 = np.zeros_like(i0)
    v1 = np.zeros(len(p["thr1"]))
    z1 = np.zeros_like(v1)
    raster0, raster1 = [], []
    for row in x:
        current = p["w0"] @ row + p["wb"] @ z1 + p["bb"]
        i0 = i0 + DT / p["tau_syn"] * (p["w_in"] * current - i0)
        v0 = v0 + DT / p["tau_mem"] * (0.0 - v0 + p["r0"] * i0)
        z0 = (v0 > p["thr0"]).astype(float)
        v0 = np.where(z0 > 0, 0.0, v0)
        v1 = v1 + DT / p["tau1"] * (0.0 - v1 + p["r1"] * (p["w1"] @ z0))
        z1 = (v1 > p["thr1"]).astype(float)
        v1 = np.where(z1 > 0, 0.0, v1)
        raster0.append(z0)
        raster1.append(z1)
    return np.array(raster0), np.array(raster1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float_reference_runs_a_recurrent_edge_into_an_earlier_layer_as_written_by_hand(seed):
    rng = np.random.default_rng(seed)
    graph, p = back_edge_graph(rng)
    assert recurrent_edges(graph) == [("w_back", "lif0")]
    x = (rng.random((80, 4)) < 0.3).astype(float)
    trace = simulate_float(graph, x, DT)
    want0, want1 = by_hand(p, x)
    # both layers fire, and the back edge matters: without it layer 0 spikes differently
    assert 0 < want0.sum() < 0.8 * want0.size and 0 < want1.sum() < 0.8 * want1.size
    np.testing.assert_array_equal(trace.outputs["lif0"], want0)
    np.testing.assert_array_equal(trace.outputs["lif1"], want1)
    cut = nir.NIRGraph(nodes={k: v for k, v in graph.nodes.items() if k != "w_back"},
                       edges=[e for e in graph.edges if "w_back" not in e], type_check=False)
    assert not np.array_equal(simulate_float(cut, x, DT).outputs["lif0"], want0)


def test_a_back_edge_from_a_non_spiking_layer_is_refused_in_one_line():
    """The chip compiles the edge (tests/compiler/test_nir_back_edge_compile.py) when its source spikes; an LI
    readout has no spikes to send back."""
    graph, p = back_edge_graph(np.random.default_rng(0))
    nodes = dict(graph.nodes)
    n1 = len(p["thr1"])
    nodes["lif1"] = nir.LI(tau=p["tau1"], r=p["r1"], v_leak=np.zeros(n1))
    with pytest.raises(SpikeCoreError, match=r"^recurrent edge 'w_back' -> 'lif0' \(Affine -> CubaLIF\): it "
                                             r"carries the output of 'lif1' \(LI\) into another neuron node") as err:
        compile_nir(nir.NIRGraph(nodes=nodes, edges=graph.edges, type_check=False), dt=DT)
    assert "\n" not in str(err.value)
