"""QuantDense's parts: each validates its own fields, named in one line, and a layer takes only the right parts."""

from __future__ import annotations

import numpy as np
import pytest

from spikecore import isa
from spikecore.compiler.ir import (
    BiasAxon,
    CubaLifNeuron,
    FineWeights,
    GradedNeuron,
    NirNeuron,
    QuantDense,
    RateNeuron,
)
from spikecore.errors import SpikeCoreError
from spikecore.isa import ResetMode

ZEROS = np.zeros(2, np.int64)


def layer(neuron, role="hidden", **parts) -> QuantDense:
    return QuantDense("h", "x", "test", role, np.ones((2, 3), np.int64), ZEROS, 1.0, 1.0, 1.0, neuron, relu=False,
                      **parts)


def rate(threshold=10) -> RateNeuron:
    return RateNeuron(threshold, ZEROS, ZEROS, 0, ResetMode.SUB, False, ("ACC", "FIRE"))


NIR_BASE = dict(threshold=np.array([5, 6]), init=ZEROS, reset=ZEROS, shift=0, reset_mode=ResetMode.VALUE,
                graded=True, schedule=("LEAK", "ACC", "FIRE"), kind="LIF", decay=np.array([100, 200]))


def nir_neuron(**fields) -> NirNeuron:
    return NirNeuron(**{**NIR_BASE, **fields})


def test_a_cubalif_layer_has_synaptic_factors_and_recurrent_sources_after_its_bias_axon():
    cuba = CubaLifNeuron(**{**NIR_BASE, "kind": "CubaLIF", "schedule": ("LEAK", "SACC", "SYN", "FIRE")},
                         syn_decay=np.array([7, 8]))
    rec = layer(cuba, bias_axon=BiasAxon(3, np.array([1, 2])), recurrent=np.array([[4, 5], [6, 7]]))
    assert cuba.syn_decays.tolist() == [7, 8] and nir_neuron().syn_decays.tolist() == [0, 0]
    # sources: 3 inputs, the bias axon (source 3), the layer's own neurons 0 and 1 (sources 4 and 5)
    assert (rec.sources, rec.recurrent_base, [rec.is_bias_source(s) for s in range(6)]) == (
        6, 4, [False, False, False, True, False, False])
    assert rec.weight_rows().tolist() == [[1, 1, 1, 1, 4, 5], [1, 1, 1, 2, 6, 7]]


def test_per_neuron_thresholds_and_decays_only_for_nir_neurons():
    assert layer(nir_neuron()).neuron.thresholds.tolist() == [5, 6]
    assert layer(nir_neuron()).neuron.decays.tolist() == [100, 200]
    assert layer(rate()).neuron.thresholds.tolist() == [10, 10]       # the scalar, once per neuron
    assert layer(rate()).neuron.decays.tolist() == [0, 0]             # no LEAK
    with pytest.raises(SpikeCoreError, match=r"^QuantDense 'h': field threshold must be an integer"):
        layer(rate(np.array([5, 6])))


def test_the_sources_count_the_bias_axons_and_the_rows_carry_their_weights():
    plain = layer(nir_neuron())
    assert (plain.sources, plain.bias_payloads(), plain.weight_rows().shape) == (3, (), (2, 3))
    coarse = BiasAxon(127, np.array([2, -3]))
    both = layer(nir_neuron(), bias_axon=coarse, fine=FineWeights(twins=True, bias=np.array([1, 0])))
    assert (both.sources, both.bias_payloads(), both.twins, both.emits) == (5, (127, 1), True, 4)
    assert both.weight_rows().tolist() == [[1, 1, 1, 2, 1], [1, 1, 1, -3, 0]]


@pytest.mark.parametrize("build, message", [
    (lambda: layer("not a neuron"), "field neuron must be a GradedNeuron, RateNeuron or NirNeuron, not str"),
    (lambda: layer(nir_neuron(kind="CubaLI")),
     "field neuron.kind must be one of IF, LIF, LI, I, Threshold, CubaLIF, Affine, not 'CubaLI'"),
    (lambda: layer(nir_neuron(kind="CubaLIF", schedule=("LEAK", "SACC", "SYN", "FIRE"))),
     "field neuron must be a CubaLifNeuron exactly when the schedule has SYN"),
    (lambda: layer(CubaLifNeuron(**{**NIR_BASE, "kind": "CubaLIF"}, syn_decay=np.array([1, 1]))),
     "field neuron.schedule of a CubaLIF layer must contain SYN"),
    (lambda: layer(nir_neuron(), recurrent=np.ones((2, 3), np.int64)), "field recurrent must have shape"),
    (lambda: layer(nir_neuron(decay=np.array([0, isa.DECAY_MAX + 1]))), "field decay must lie in 0..65535"),
    (lambda: layer(rate(), bias_axon=BiasAxon(0, np.array([1, 1]))), "field bias_axon.payload must be an integer 1"),
    (lambda: layer(rate(), bias_axon=(1, np.array([1, 1]))), "field bias_axon must be a BiasAxon or None, not tuple"),
    (lambda: layer(nir_neuron(), fine=FineWeights(bias=np.array([1, 1]))), "field fine.bias needs a coarse bias"),
    (lambda: layer(rate(), fine=FineWeights(twins=True)), "field fine.twins needs a hidden layer with graded"),
    (lambda: layer(GradedNeuron(1, ZEROS, ZEROS, 0, ResetMode.ALWAYS, True, ("ACC",))),
     "field schedule of a hidden layer must contain FIRE"),
])
def test_a_bad_part_is_refused_naming_the_layer_and_the_field(build, message):
    with pytest.raises(SpikeCoreError, match=r"^QuantDense 'h': " + message.replace("(", r"\(")):
        build()
