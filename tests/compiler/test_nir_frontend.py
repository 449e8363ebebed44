"""NIR import: every supported node alone and in a chain (float reference vs golden vs integer reference),
and one clear error for everything else."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikecore.app.nir_compare import compare
from spikecore.compiler.frontends.nir import from_nir
from spikecore.compiler.pipeline import compile_nir
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError

CHIP = ChipConfig(cores=16)
DT = 1e-3


def dyadic(rng, shape, scale=0.5, bits=5):
    """Random weights on a 2^-bits grid (exactly representable, so only LEAK rounds)."""
    return np.round(rng.normal(0, scale, shape) * 2 ** bits) / 2 ** bits


def spikes(rng, steps, shape, rate=0.3):
    return (rng.random((steps, *shape)) < rate).astype(np.float64)


def full(n, value):
    return np.full(n, float(value))


def graph(nodes, edges=None):
    g = nir.NIRGraph.from_list(*nodes, type_check=False) if edges is None else \
        nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    g.metadata = {"dt": DT}
    return g


def neuron(kind, n):
    """Neurons whose input gain is 1 at dt = 1 ms (R = tau/dt for leaky ones, 1/dt otherwise)."""
    if kind == "LIF":
        return nir.LIF(tau=full(n, 8e-3), r=full(n, 8.0), v_leak=full(n, 0), v_threshold=full(n, 1), v_reset=full(n, 0))
    if kind == "LI":
        return nir.LI(tau=full(n, 4e-3), r=full(n, 4.0), v_leak=full(n, 0.25))
    if kind == "IF":
        return nir.IF(r=full(n, 1e3), v_threshold=full(n, 1), v_reset=full(n, 0))
    if kind == "I":
        return nir.I(r=full(n, 1e3))
    return nir.Threshold(full(n, 0.5))


ALONE = {
    "Affine": lambda rng: ([nir.Affine(dyadic(rng, (3, 4)), dyadic(rng, 3))], (4,)),
    "Linear": lambda rng: ([nir.Linear(dyadic(rng, (3, 4)))], (4,)),
    "Scale": lambda rng: ([nir.Scale(np.array([0.5, -0.25, 1.0, 0.75]))], (4,)),
    "IF": lambda rng: ([neuron("IF", 4)], (4,)),
    "LIF": lambda rng: ([neuron("LIF", 4)], (4,)),
    "LI": lambda rng: ([neuron("LI", 4)], (4,)),
    "I": lambda rng: ([neuron("I", 4)], (4,)),
    "Threshold": lambda rng: ([neuron("Threshold", 4)], (4,)),
    "Conv2d": lambda rng: ([nir.Conv2d((4, 4), dyadic(rng, (2, 1, 3, 3)), 1, 1, 1, 1, dyadic(rng, 2))], (1, 4, 4)),
    "SumPool2d": lambda rng: ([nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0]))], (2, 4, 4)),
    "AvgPool2d": lambda rng: ([nir.AvgPool2d(np.array([2, 2]), np.array([1, 1]), np.array([0, 0]))], (1, 3, 3)),
}


@pytest.mark.parametrize("kind", sorted(ALONE))
def test_each_node_alone(kind):
    rng = np.random.default_rng(sorted(ALONE).index(kind))
    nodes, shape = ALONE[kind](rng)
    g = graph([nir.Input(np.array(shape)), *nodes])
    x = spikes(rng, 40, shape)
    result = compare(g, x, config=CHIP)
    assert result.golden_equals_integer
    assert result.steps == 40
    if kind in ("IF", "LIF", "Threshold"):
        (layer,) = result.layers
        assert layer.reference_spikes > 0 and layer.agreement == 1.0
    else:   # exact weights: only LEAK (LI) rounds, by at most half an LSB per step
        assert result.output_error <= (1e-3 if kind == "LI" else 1e-9)


def test_chain_of_every_node_type():
    """Input (1,4,4) -> Conv2d -> IF -> SumPool2d -> Flatten -> Affine -> LIF -> Scale -> Linear -> Threshold
    -> Linear -> I -> Output, plus a second run ending in LI. (SumPool2d, Flatten and Affine fold into one
    32 -> 6 matrix: the LIF layer reads the 32 IF neurons.)"""
    rng = np.random.default_rng(7)
    conv = nir.Conv2d((4, 4), np.abs(dyadic(rng, (2, 1, 3, 3), 0.6)), 1, 1, 1, 1, np.zeros(2))
    pool = nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0]))
    tail = [nir.Affine(dyadic(rng, (6, 8), 0.5) + 0.25, dyadic(rng, 6, 0.05)), neuron("LIF", 6),
            nir.Scale(np.array([1.0, 0.5, 0.75, 1.0, 0.5, 1.0])), nir.Linear(dyadic(rng, (5, 6), 0.8) + 0.25),
            neuron("Threshold", 5), nir.Linear(dyadic(rng, (3, 5), 0.5))]
    for last in ("I", "LI"):
        g = graph([nir.Input(np.array([1, 4, 4])), conv, neuron("IF", 2 * 4 * 4), pool,
                   nir.Flatten(input_type=None, start_dim=0, end_dim=-1), *tail, neuron(last, 3)])
        compiled = compile_nir(g, config=CHIP)
        assert [layer.neuron.kind for layer in compiled.quant.layers] == ["IF", "LIF", "Threshold", last]
        result = compare(g, spikes(rng, 60, (1, 4, 4), 0.4), config=CHIP)
        assert result.golden_equals_integer
        assert all(layer.reference_spikes > 0 for layer in result.layers)
        assert result.raster_agreement >= 0.99, result.text()


def test_neurons_keep_their_names_and_linear_nodes_fold():
    rng = np.random.default_rng(1)
    g = graph([nir.Input(np.array([4])), nir.Linear(dyadic(rng, (3, 4))), nir.Scale(np.array([2.0, 1.0, 0.5])),
               neuron("IF", 3), neuron("LIF", 3)])
    fg = from_nir(g)
    assert [layer.name for layer in fg.layers] == ["if", "lif"]
    assert fg.layers[0].origin == "Linear 'linear' + Scale 'scale' + IF 'if'"
    # Scale folds into the matrix: rows scaled by 2, 1, 0.5; a neuron right after a neuron reads the identity
    np.testing.assert_array_equal(fg.layers[0].weight, np.diag([2.0, 1.0, 0.5]) @ g.nodes["linear"].weight)
    np.testing.assert_array_equal(fg.layers[1].weight, np.eye(3))


def _lif_graph_with(extra_nodes: dict, extra_edges: list, chain_end: str = "lif"):
    nodes = {"input": nir.Input(np.array([2])), "fc": nir.Linear(np.eye(2)), "lif": neuron("LIF", 2),
             "output": nir.Output(np.array([2])), **extra_nodes}
    edges = [("input", "fc"), ("fc", "lif"), (chain_end, "output"), *extra_edges]
    return graph(nodes, edges)


@pytest.mark.parametrize("node, kind", [
    (nir.Delay(full(2, 1e-3)), "Delay"),
    (nir.CubaLI(tau_syn=full(2, 1e-3), tau_mem=full(2, 2e-3), r=full(2, 1), v_leak=full(2, 0)), "CubaLI"),
])
def test_unsupported_node_is_named(node, kind):
    g = _lif_graph_with({"odd": node}, [("lif", "odd")], chain_end="odd")
    with pytest.raises(SpikeCoreError, match=f"^node 'odd' of type {kind} is not supported; supported node types: "
                                             "Input, Output, Affine"):
        compile_nir(g, config=CHIP)


def test_subgraph_recurrent_edge_branch_and_hidden_li_are_refused():
    sub = nir.NIRGraph(nodes={"i": nir.Input(np.array([2])), "o": nir.Output(np.array([2]))}, edges=[("i", "o")],
                       type_check=False)
    with pytest.raises(SpikeCoreError, match=r"node 'rleaky' of type NIRGraph \(a nested subgraph: flatten it into "
                                             r"the graph, as snnTorch's export with nirtorch 2 writes recurrent "
                                             r"layers\) is not supported"):
        compile_nir(_lif_graph_with({"rleaky": sub}, [("lif", "rleaky")], "rleaky"), config=CHIP)
    # a recurrent edge from a later layer into an earlier one compiles: two chip steps per input step (spec §11)
    back = graph([nir.Input(np.array([2])), nir.Linear(np.eye(2)), neuron("LIF", 2), nir.Linear(np.eye(2)),
                  neuron("IF", 2)])
    back = nir.NIRGraph(nodes={**back.nodes, "w_back": nir.Linear(np.eye(2))},
                        edges=[*back.edges, ("if", "w_back"), ("w_back", "lif")], type_check=False, metadata={"dt": DT})
    assert compile_nir(back, config=CHIP).quant.period == 2
    li = graph([nir.Input(np.array([2])), nir.Linear(np.eye(2)), neuron("LI", 2)])
    li = nir.NIRGraph(nodes={**li.nodes, "w_rec": nir.Linear(np.eye(2))},
                      edges=[*li.edges, ("li", "w_rec"), ("w_rec", "li")], type_check=False, metadata={"dt": DT})
    with pytest.raises(SpikeCoreError, match=r"^recurrent edge 'w_rec' -> 'li' \(Linear -> LI\): LI neurons emit no "
                                             "spikes to feed back"):
        compile_nir(li, config=CHIP)
    into_linear = _lif_graph_with({"w_rec": nir.Linear(np.eye(2))}, [("lif", "w_rec"), ("w_rec", "fc")])
    with pytest.raises(SpikeCoreError, match=r"^recurrent edge 'w_rec' -> 'fc' \(Linear -> Linear\): it ends at a "
                                             "Linear node"):
        compile_nir(into_linear, config=CHIP)
    branch = _lif_graph_with({"side": nir.Linear(np.eye(2)), "o2": nir.Output(np.array([2]))},
                             [("lif", "side"), ("side", "o2")])
    with pytest.raises(SpikeCoreError, match="1 Input and 2 Output nodes"):
        compile_nir(branch, config=CHIP)
    fork = _lif_graph_with({"side": nir.Linear(np.eye(2))}, [("lif", "side"), ("side", "output")])
    with pytest.raises(SpikeCoreError, match=r"^node 'lif' \(LIF\) feeds 2 nodes \('output', 'side'\)"):
        compile_nir(fork, config=CHIP)
    hidden_li = graph([nir.Input(np.array([2])), nir.Linear(np.eye(2)), neuron("LI", 2), nir.Linear(np.eye(2)),
                       neuron("LIF", 2)])
    with pytest.raises(SpikeCoreError, match=r"layer 'li' .* feeds another layer, but its LI neurons emit no spikes"):
        compile_nir(hidden_li, config=CHIP)
    with pytest.raises(SpikeCoreError, match="no layers between its Input and Output"):
        compile_nir(graph([nir.Input(np.array([1, 2, 2])), nir.Flatten(input_type=None, start_dim=0)]), config=CHIP)
    with pytest.raises(SpikeCoreError, match=r"Linear 'linear' takes 3 inputs, its input has 2 features"):
        compile_nir(graph([nir.Input(np.array([2])), nir.Linear(np.ones((2, 3)))]), config=CHIP)


def test_conv_that_does_not_fit_the_chip_is_refused_by_placement():
    rng = np.random.default_rng(3)
    conv = nir.Conv2d((16, 16), dyadic(rng, (4, 1, 3, 3)), 1, 1, 1, 1, np.zeros(4))
    g = graph([nir.Input(np.array([1, 16, 16])), conv, neuron("IF", 4 * 16 * 16)])
    big = ChipConfig(cores=64)      # 2048 neuron slots: the 1024 conv neurons pass the size check from shapes
    with pytest.raises(SpikeCoreError, match=r"a spiking output layer has at most 256 neurons .* this one has 1024"):
        compile_nir(g, config=big)
    # 1024 neurons on 16 cores x 32: refused from the shapes, before any matrix is built
    with pytest.raises(SpikeCoreError, match=r"^layer 'if' \(Conv2d 'conv2d' \+ IF 'if'\) has 1024 neurons, the chip "
                                             r"holds 512 \(16 cores x 32 neurons\)"):
        compile_nir(g, config=CHIP)
    with pytest.raises(SpikeCoreError, match=r"Linear 'linear' reads shape \(4, 16, 16\); add a Flatten before it"):
        compile_nir(graph([nir.Input(np.array([1, 16, 16])), conv, neuron("IF", 4 * 16 * 16),
                           nir.Linear(np.ones((1, 1024)))]), config=big)
    g = graph([nir.Input(np.array([1, 16, 16])), conv, neuron("IF", 4 * 16 * 16),
               nir.Flatten(input_type=None, start_dim=0), nir.Linear(np.ones((1, 1024)))])
    # a NIR output layer is split over its fan-in (docs/spec.md §4.8): its 1024 inputs in groups of at most 64 (the
    # event buffer) take 16 partial-sum cores and a merging core, which with the conv's cores exceed 64 cores
    with pytest.raises(SpikeCoreError, match=r"^model needs \d+ cores \(if: \d+, linear: 16 partial-sum \+ 1 merging\) "
                                             r"and \d+ weight bytes, the chip has 64 cores of 256 bytes; "
                                             r'a board of 2 chips holds it: pass --chip "cores=64 chips=2"$'):
        compile_nir(g, config=big)
    # 1024 IF neurons need far more than 32 cores (each core holds at most 32, fewer with wide receptive fields)
    g = graph([nir.Input(np.array([1, 16, 16])), conv, neuron("IF", 4 * 16 * 16),
               nir.Flatten(input_type=None, start_dim=0), nir.Linear(np.ones((1, 1024)) * (np.arange(1024) < 64))])
    with pytest.raises(SpikeCoreError, match=r"^model needs \d+ cores \(if: \d+, linear: 1\) and \d+ weight bytes, "
                                             r"the chip has 40 cores"):
        compile_nir(g, config=ChipConfig(cores=40))


def test_missing_file_and_garbage_file(tmp_path):
    with pytest.raises(SpikeCoreError, match=r"NIR file .*nope\.nir: not found"):
        compile_nir(tmp_path / "nope.nir")
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(SpikeCoreError, match=r"NIR file .*bad\.nir: cannot read"):
        compile_nir(bad)
