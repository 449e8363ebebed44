"""The float NIR reference for CubaLIF and recurrent edges (docs/spec.md §11, compiler/nir/reference.py).

Checked three ways: a one-neuron example worked by hand; a recurrent network against a naive loop written
here (spikes of step t reach the recurrent input at step t + 1); and feed-forward CubaLIF graphs inside the
limits of snnTorch's NIR importer (dt = 1e-4, v_leak = 0, r = tau_mem/dt, w_in = tau_syn/dt, one threshold,
reset to zero) against snnTorch's own ``Synaptic`` neuron, spike for spike.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikecore.compiler.nir.reference import recurrent_edges, simulate_float, spiking_nodes

DT = 1e-4


def cubalif(n: int, tau_syn: float, tau_mem: float, threshold: float, w_in: float | None = None,
            r: float | None = None, v_leak: float = 0.0) -> nir.CubaLIF:
    full = lambda v: np.full(n, float(v))  # noqa: E731
    return nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / DT if r is None else r),
                       v_leak=full(v_leak), v_threshold=full(threshold), v_reset=full(0.0),
                       w_in=full(tau_syn / DT if w_in is None else w_in))


def chain(n_in: int, weight: np.ndarray, neuron, recurrent: np.ndarray | None = None) -> nir.NIRGraph:
    n = weight.shape[0]
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}), "fc": nir.Linear(weight=weight),
             "lif": neuron, "output": nir.Output(output_type={"output": np.array([n])})}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    if recurrent is not None:
        nodes["rec"] = nir.Linear(weight=recurrent)
        edges += [("lif", "rec"), ("rec", "lif")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def test_one_cubalif_neuron_by_hand():
    # tau_syn = 4 dt (alpha = 0.75), tau_mem = 2 dt (beta = 0.5), r = tau_mem/dt = 2, w_in = tau_syn/dt = 4:
    # i += (1/4)(4 x - i) = 0.75 i + x;  v += (1/2)(0 - v + 2 i) = 0.5 v + i (the new i); spike if v > 1.5.
    # x = 1, 1, 0, 0:  t0 i = 1, v = 1;  t1 i = 1.75, v = 2.25 > 1.5 spike -> 0;  t2 i = 1.3125, v = 1.3125;
    # t3 i = 0.984375, v = 0.65625 + 0.984375 = 1.640625 > 1.5 spike -> 0
    graph = chain(1, np.ones((1, 1)), cubalif(1, 4 * DT, 2 * DT, 1.5))
    trace = simulate_float(graph, np.array([[1.0], [1.0], [0.0], [0.0]]), DT)
    assert trace.outputs["lif"][:, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert trace.membranes["lif"][:, 0].tolist() == [1.0, 0.0, 1.3125, 0.0]
    assert spiking_nodes(graph) == ["lif"]


def naive_recurrent(x, w_in, w_rec, alpha, beta, r_gain, threshold, subtract=False):
    """i_t = alpha i + W x_t + W_rec z_{t-1};  v_t = beta v + r_gain i_t;  z_t = v_t > threshold; reset."""
    n = w_in.shape[0]
    i, v, z = np.zeros(n), np.zeros(n), np.zeros(n)
    out = []
    for row in x:
        i = alpha * i + (1 - alpha) * (w_in @ row + w_rec @ z)
        v = beta * v + r_gain * i
        z = (v > threshold).astype(float)
        v = np.where(z > 0, v - threshold if subtract else 0.0, v)
        out.append(z)
    return np.array(out)


@pytest.mark.parametrize("reset", ["value", "subtract"])
def test_recurrent_edge_delivers_the_previous_step(reset):
    rng = np.random.default_rng(3)
    n_in, n = 4, 6
    w_in, w_rec = rng.normal(0.4, 0.5, (n, n_in)), rng.normal(0.0, 0.6, (n, n))
    # w_in = 1: i += dt/tau_syn (x - i), so the input enters with weight 1 - alpha; r = 1: v gains dt/tau_mem i
    graph = chain(n_in, w_in, cubalif(n, 5 * DT, 4 * DT, 0.05, w_in=1.0, r=1.0), recurrent=w_rec)
    assert recurrent_edges(graph) == [("rec", "lif")]
    x = (rng.random((60, n_in)) < 0.4).astype(float)
    got = simulate_float(graph, x, DT, reset=reset).outputs["lif"]
    want = naive_recurrent(x, w_in, w_rec, alpha=0.8, beta=0.75, r_gain=0.25, threshold=0.05,
                           subtract=reset == "subtract")
    assert got.sum() > 20 and (got == 0).sum() > 20          # neither silent nor saturated
    np.testing.assert_array_equal(got, want)
    # without the recurrent edge the raster differs: the recurrence is really in use
    plain = simulate_float(chain(n_in, w_in, cubalif(n, 5 * DT, 4 * DT, 0.05, w_in=1.0, r=1.0)), x, DT,
                           reset=reset).outputs["lif"]
    assert not np.array_equal(plain, got)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feed_forward_cubalif_equals_snntorch_synaptic(seed):
    torch = pytest.importorskip("torch")
    pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    from snntorch.import_nir import import_from_nir

    rng = np.random.default_rng(seed)
    n_in, n = 5, 7
    weight = rng.normal(0.3, 0.4, (n, n_in))

    def build():   # snnTorch's importer rewrites the graph it is given: each side gets its own
        return chain(n_in, weight, cubalif(n, (3 + seed) * DT, 8 * DT, 1.0))

    x = (rng.random((40, n_in)) < 0.4).astype(np.float32)
    net = import_from_nir(build())
    spikes, state = [], None
    with torch.no_grad():
        for row in x:
            out, state = net(torch.tensor(row)[None], state)
            spikes.append(out[0].numpy())
    ours = simulate_float(build(), x, DT).outputs["lif"]
    assert ours.sum() > 10
    np.testing.assert_array_equal(np.array(spikes).astype(bool), ours.astype(bool))
