"""Recurrent NIR graphs and snnTorch, both ways (docs/nir.md, "Recurrent graphs and snnTorch").

- **Import.** snnTorch's ``import_from_nir`` (snnTorch 1.0 with nirtorch 2.6) simulates a recurrent graph
  ``fc -> neuron <-> rec`` as ``neuron(rec(fc(x_t) + z_{t-1}))``: it applies the recurrent node to the
  input current as well. That is the documented difference: the float reference on the graph whose input
  weights are ``W_rec W`` (the same recurrent edge) must equal snnTorch's import of the original graph
  spike for spike, inside the importer's limits (dt = 1e-4, v_leak = 0, r = tau_mem/dt, w_in = tau_syn/dt,
  one threshold, reset to zero). A recurrent Affine's bias counts from the first step in both.
- **Export.** A network of ``RSynaptic``/``RLeaky`` layers exported with ``export_to_nir`` compiles with
  ``dt = 1e-4`` and agrees with the float reference (every spiking layer's raster, the readout's class).
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

snn = pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")
torch = pytest.importorskip("torch")

from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

from spikecore.app.nir_compare import class_agreement, compare, random_spikes  # noqa: E402
from spikecore.compiler.nir.reference import simulate_float  # noqa: E402
from spikecore.compiler.pipeline import compile_nir  # noqa: E402
from spikecore.config import parse_chip  # noqa: E402

DT = 1e-4
CHIP = parse_chip("event_depth=128 fanout_depth=128")


def recurrent_graph(kind: str, fc: np.ndarray, rec: np.ndarray, rec_bias: np.ndarray | None) -> nir.NIRGraph:
    n, n_in = fc.shape
    full = lambda v: np.full(n, float(v))  # noqa: E731
    if kind == "CubaLIF":
        neuron = nir.CubaLIF(tau_syn=full(3 * DT), tau_mem=full(8 * DT), r=full(8), v_leak=full(0),
                             v_threshold=full(1), v_reset=full(0), w_in=full(3))
    else:
        neuron = nir.LIF(tau=full(5 * DT), r=full(5), v_leak=full(0), v_threshold=full(1), v_reset=full(0))
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}), "fc": nir.Linear(weight=fc),
             "lif": neuron,
             "rec": nir.Linear(weight=rec) if rec_bias is None else nir.Affine(weight=rec, bias=rec_bias),
             "output": nir.Output(output_type={"output": np.array([n])})}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


@pytest.mark.parametrize("kind, bias", [("CubaLIF", False), ("CubaLIF", True), ("LIF", True)])
def test_float_reference_equals_snntorch_import_of_a_recurrent_graph(kind, bias):
    rng = np.random.default_rng(4)
    n_in, n = 5, 6
    fc, rec = rng.normal(0.3, 0.4, (n, n_in)), rng.normal(0.0, 0.5, (n, n))
    rec_bias = rng.normal(0.1, 0.2, n) if bias else None
    x = (rng.random((60, n_in)) < 0.4).astype(np.float32)
    net = import_from_nir(recurrent_graph(kind, fc, rec, rec_bias))   # (the importer rewrites its graph)
    spikes, state = [], None
    with torch.no_grad():
        for row in x:
            out, state = net(torch.tensor(row)[None], state)
            spikes.append(out[0].numpy())
    snntorch = np.array(spikes).astype(bool)
    ours = simulate_float(recurrent_graph(kind, rec @ fc, rec, rec_bias), x, DT).outputs["lif"].astype(bool)
    assert 20 < ours.sum() < 0.8 * ours.size
    np.testing.assert_array_equal(ours, snntorch)
    # the difference is real: the graph as written spikes differently
    as_written = simulate_float(recurrent_graph(kind, fc, rec, rec_bias), x, DT).outputs["lif"].astype(bool)
    assert not np.array_equal(as_written, snntorch)


@pytest.mark.parametrize("kind, gain", [("RSynaptic", 3), ("RLeaky", 3), ("RSynaptic", 1), ("RLeaky", 1)])
def test_snntorch_exported_recurrent_network_compiles_and_agrees(tmp_path, kind, gain):
    # gain 1: torch's default nn.Linear (with bias); its bias currents exceed the bias axons at the unit of the
    # weights for some neurons, which then get a coarser unit (docs/spec.md §11, "Bias")
    torch.manual_seed(0)
    n_in, n_h, n_out = 12, 10, 4
    fc1, fc2 = torch.nn.Linear(n_in, n_h), torch.nn.Linear(n_h, n_out)
    with torch.no_grad():
        fc1.weight.mul_(gain)
        fc2.weight.mul_(gain)
    common = dict(reset_mechanism="zero", init_hidden=True)
    if kind == "RSynaptic":
        hidden = snn.RSynaptic(alpha=torch.full((n_h,), 0.5), beta=torch.full((n_h,), 0.8), linear_features=n_h,
                               threshold=torch.ones(n_h), **common)
        out = snn.Synaptic(alpha=torch.full((n_out,), 0.5), beta=torch.full((n_out,), 0.75),
                           threshold=torch.ones(n_out), output=True, **common)
    else:
        hidden = snn.RLeaky(beta=torch.full((n_h,), 0.8), linear_features=n_h, threshold=torch.ones(n_h), **common)
        out = snn.Leaky(beta=torch.full((n_out,), 0.75), threshold=torch.ones(n_out), output=True, **common)
    path = tmp_path / "recurrent.nir"
    nir.write(path, export_to_nir(torch.nn.Sequential(fc1, hidden, fc2, out), torch.zeros(n_in)))
    graph = nir.read(path)
    assert sum(type(node).__name__ == "Affine" for node in graph.nodes.values()) == 3   # fc1, w_rec, fc2
    x = random_spikes((n_in,), 100, 0.3, 1)
    result = compare(graph, x, dt=DT, reset="value", config=CHIP, fine_weights=True)
    assert result.golden_equals_integer and len(result.layers) == 2, result.text()
    for layer in result.layers:
        assert layer.reference_spikes > 0 and layer.agreement >= 0.99, result.text()
    compiled = compile_nir(graph, dt=DT, reset="value", config=CHIP, fine_weights=True)
    xs = np.stack([random_spikes((n_in,), 60, 0.3, 10 + i) for i in range(20)])
    classes = class_agreement(graph, compiled, xs, "value")
    assert classes.agreement >= 0.99, classes.line()
