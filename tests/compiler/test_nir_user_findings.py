"""A fresh user's findings on the NIR compiler's input checks: each wrong input is refused in one line."""

from __future__ import annotations

import nir
import numpy as np
import pytest

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
