"""A fresh user's findings on the NIR compiler's input checks: each wrong input is refused in one line."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikecore.compiler.frontends.nir import CHIP_KEY
from spikecore.compiler.pipeline import compile_nir
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError

CHIP = ChipConfig(cores=4)


def small_graph(weight=None, tau=8e-3, threshold=1.0):
    """Linear 'fc' (3 <- 4) into LIF 'lif'; ``weight`` defaults to a 2^-3 grid."""
    w = np.full((3, 4), 0.125) if weight is None else weight
    n = 3
    nodes = {"input": nir.Input(input_type={"input": np.array([4])}), "fc": nir.Linear(w),
             "lif": nir.LIF(tau=np.full(n, tau), r=np.full(n, 8.0), v_leak=np.zeros(n),
                            v_threshold=np.full(n, threshold), v_reset=np.zeros(n)),
             "output": nir.Output(output_type={"output": np.array([n])})}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    g.metadata = {"dt": 1e-3}
    return g


def test_bools_still_compile():
    for value in (None, False, True):
        compile_nir(small_graph(), config=CHIP, fine_weights=value)


@pytest.mark.parametrize("value", ["no", "false", 1, 2.5, 0])
def test_fine_weights_not_a_bool_is_refused(value):
    with pytest.raises(SpikeCoreError, match=r"^fine_weights must be True, False or None, not " + repr(value)):
        compile_nir(small_graph(), config=CHIP, fine_weights=value)


def nan_weight():
    w = np.full((3, 4), 0.125)
    w[1, 2] = np.nan
    return w


@pytest.mark.parametrize("kwargs, message", [
    (dict(weight=nan_weight()), "Linear 'fc': field weight holds NaN"),
    (dict(weight=np.full((3, 4), np.inf)), "Linear 'fc': field weight holds infinity"),
    (dict(threshold=np.nan), "LIF 'lif': field v_threshold holds NaN"),
    (dict(tau=np.nan), "LIF 'lif': field tau holds NaN"),
])
def test_nan_names_the_nir_node_and_field(kwargs, message):
    with pytest.raises(SpikeCoreError) as err:
        compile_nir(small_graph(**kwargs), config=CHIP)
    assert str(err.value) == message


@pytest.mark.parametrize("tau, shown", [(0.0, "found 0 "), (-0.5, "found -0.5 ")])
def test_bad_tau_is_printed_as_a_plain_number(tau, shown):
    with pytest.raises(SpikeCoreError, match=r"^layer 'lif' \(LIF 'lif'\): tau must be finite and positive, ") as err:
        compile_nir(small_graph(tau=tau), config=CHIP)
    assert shown in str(err.value) and "np." not in str(err.value)


def one_core_graph(hidden: int):
    """Linear 'fc1' (hidden <- 4), IF 'if1', Linear 'fc2' (3 <- hidden), IF 'if2', for the chip cores=1 in
    the graph's metadata."""
    nodes = {"input": nir.Input(input_type={"input": np.array([4])}), "fc1": nir.Linear(np.full((hidden, 4), 0.125)),
             "if1": nir.IF(r=np.ones(hidden), v_threshold=np.ones(hidden), v_reset=np.zeros(hidden)),
             "fc2": nir.Linear(np.full((3, hidden), 0.125)),
             "if2": nir.IF(r=np.ones(3), v_threshold=np.ones(3), v_reset=np.zeros(3)),
             "output": nir.Output(output_type={"output": np.array([3])})}
    edges = [("input", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", "if2"), ("if2", "output")]
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    g.metadata = {"dt": 1.0, CHIP_KEY: "cores=1"}
    return g


def test_one_core_is_singular():
    # 40 neurons > 1 core x 32 neurons (the default neurons per core).
    with pytest.raises(SpikeCoreError, match=r"the chip holds 32 \(1 core x 32 neurons\); ") as err:
        compile_nir(one_core_graph(40))
    assert "1 cores" not in str(err.value)
    # Two layers of <= 32 neurons: one core each, the chip has one.
    with pytest.raises(SpikeCoreError, match=r"model needs 2 cores .* the chip has 1 core of \d+ bytes") as err:
        compile_nir(one_core_graph(8))
    assert "1 cores" not in str(err.value)
