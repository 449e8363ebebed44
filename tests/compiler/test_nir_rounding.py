"""Sum-preserving rounding of weight rows (compiler/rounding.py) and what it changes for an IF neuron."""

from __future__ import annotations

import itertools

import nir
import numpy as np
import pytest

from spikecore.app.nir_runtime import reference_nir, run_nir
from spikecore.compiler.nir.reference import simulate_float
from spikecore.compiler.pipeline import compile_nir
from spikecore.compiler.rounding import round_rows


def best_rounding(row: np.ndarray, limit: float) -> float:
    """Naive reference: the least squared error over every choice of a neighbouring integer per value (an
    integer keeps its value) whose error sum is at most 1/2 in magnitude."""
    choices = [(v,) if v == np.rint(v) else (np.floor(v), np.ceil(v)) for v in row]
    best = np.inf
    for pick in itertools.product(*choices):
        q = np.array(pick)
        if np.abs(q).max() <= limit and abs((q - row).sum()) <= 0.5 + 1e-9:
            best = min(best, float(((q - row) ** 2).sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_rows_sum_to_half_a_step_with_the_least_squared_error(seed):
    rng = np.random.default_rng(seed)
    rows = rng.uniform(-127, 127, (20, 8)) * rng.uniform(0.01, 1, (20, 1))
    rows[:, 0] = np.rint(rows[:, 0])        # values on the grid never move
    rows[rng.random(rows.shape) < 0.2] = 0.0
    got = round_rows(rows, 127)
    np.testing.assert_array_equal(got, np.rint(got))
    assert (np.abs(got - rows) < 1).all()                  # a neighbouring integer
    np.testing.assert_array_equal(got[:, 0], rows[:, 0])
    np.testing.assert_array_equal(got[rows == 0], 0)
    errors = (got - rows).sum(axis=1)
    assert (np.abs(errors) <= 0.5 + 1e-9).all()
    for row, q in zip(rows, got, strict=True):
        assert float(((q - row) ** 2).sum()) == pytest.approx(best_rounding(row, 127), abs=1e-9)
    # rounding to nearest, the old rule, leaves sums of up to 2 steps on these rows
    assert np.abs((np.rint(rows) - rows).sum(axis=1)).max() > 1


def test_a_value_is_never_moved_past_the_limit():
    # nearest 127 and 0, errors -0.3 each (sum -0.6): the sum asks for one value up, which only 0.3 may take
    np.testing.assert_array_equal(round_rows(np.array([[127.3, 0.3]]), 127), [[127, 1]])
    np.testing.assert_array_equal(round_rows(np.array([[127.3, 127.3]]), 127), [[127, 127]])   # none may


def if_neuron_graph(threshold: float) -> nir.NIRGraph:
    """11 inputs -> one IF neuron (r = 1, v_reset = 0): input 0 has weight 1 (the row's largest: 127 steps),
    inputs 1..10 have 10.4 steps each (10.4/127)."""
    weight = np.array([[1.0] + [10.4 / 127] * 10], dtype=np.float32)
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([11])}), "syn": nir.Linear(weight=weight),
               "lif": nir.IF(r=np.ones(1, np.float32), v_threshold=np.full(1, threshold, np.float32),
                             v_reset=np.zeros(1, np.float32)),
               "output": nir.Output(output_type={"output": np.array([1])})},
        edges=[("input", "syn"), ("syn", "lif"), ("lif", "output")])


def test_if_neuron_without_leak_does_not_drift_with_the_rounded_row():
    """Inputs 1..10 spike every step: the float membrane rises by 10 x 10.4/127 = 0.819 per step and crosses
    v_threshold = 20 in step 25 (24.4 steps), then again 25 steps after each reset. Rounded to nearest, every
    weight is 10 steps (sum error -4 steps, 4 %): 0.787 per step crosses in step 26 and the neuron drifts a
    step later per spike. Rounded so that the row's errors sum to 0, four weights are 11: exactly 104 steps."""
    steps = 100
    x = np.zeros((steps, 11))
    x[:, 1:] = 1.0
    graph = if_neuron_graph(20.0)
    compiled = compile_nir(graph, dt=1.0, fine_inputs=False)   # int8 rows (input twins would make them exact)
    weights = np.array(compiled.quant.layers[0].weight[0])
    assert sorted(weights.tolist()) == [10] * 6 + [11] * 4 + [127]

    def naive(per_step: float) -> np.ndarray:   # IF: v += input; spike when v > 20, then v = 0
        v, raster = 0.0, np.zeros(steps, dtype=bool)
        for t in range(steps):
            v += per_step
            if v > 20.0:
                raster[t], v = True, 0.0
        return raster

    exact, nearest = naive(10 * 10.4 / 127), naive(10 * 10 / 127)
    assert np.flatnonzero(exact).tolist() == [24, 49, 74, 99]
    assert np.flatnonzero(nearest).tolist() == [25, 51, 77]   # what the old rounding fired
    golden = run_nir(compiled, x)
    np.testing.assert_array_equal(golden.rasters["lif"][:, 0], exact)
    np.testing.assert_array_equal(reference_nir(compiled, x).rasters["lif"][:, 0], exact)
    np.testing.assert_array_equal(simulate_float(graph, x, 1.0).outputs["lif"][:, 0] > 0, exact)
