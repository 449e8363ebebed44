"""IF/LIF/LI dynamics on SpikeCore against the float NIR reference: exact cases by hand, random networks."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikecore import isa
from spikecore.app.nir_compare import compare
from spikecore.app.nir_runtime import delivery_orders, nir_stimulus, reference_nir, run_nir
from spikecore.compiler.nir.reference import simulate_float
from spikecore.compiler.pipeline import compile_nir
from spikecore.compiler.reference import run_reference, saturating_accumulate
from spikecore.config import ChipConfig
from spikecore.golden.cycle import CycleChip

CHIP = ChipConfig(cores=16)


def full(n, value):
    return np.full(n, float(value))


def with_dt(g, dt=1e-3):
    g.metadata = {"dt": dt}
    return g


def single(neuron, weight):
    return with_dt(nir.NIRGraph.from_list(nir.Linear(np.array([[weight]])), neuron))


def spike_times(raster):
    return np.flatnonzero(np.asarray(raster).reshape(len(raster), -1)[:, 0]).tolist()


def test_if_reset_modes_by_hand():
    """IF, weight 0.75, threshold 1, input spike every step (dt R = 1)."""
    node = lambda: nir.IF(r=full(1, 1e3), v_threshold=full(1, 1), v_reset=full(1, 0))  # noqa: E731
    x = np.ones((8, 1))
    # value:    0.75 | 1.5 > 1 spike -> 0 | 0.75 | 1.5 spike | ...           spikes at 1, 3, 5, 7
    # subtract: 0.75 | 1.5 spike -> 0.5 | 1.25 spike -> 0.25 | 1.0 (not > 1) | 1.75 spike -> 0.75 | 1.5 spike
    #           -> 0.5 | 1.25 spike -> 0.25 | 1.0                             spikes at 1, 2, 4, 5, 6
    for reset, expected in (("value", [1, 3, 5, 7]), ("subtract", [1, 2, 4, 5, 6])):
        compiled = compile_nir(single(node(), 0.75), reset=reset, config=CHIP)
        assert spike_times(run_nir(compiled, x).output) == expected
        assert spike_times(simulate_float(single(node(), 0.75), x, 1e-3, reset).output) == expected


def test_single_lif_exact_parameters_identical_spike_times():
    """LIF with tau = 8 dt (decay 0.875 = 57344/65536), R = tau/dt, weight 0.375, threshold 1: all exactly
    representable. The chip only rounds in LEAK (at most 1/2 LSB per step, so at most 1/2 / (1 - 0.875) = 4
    LSBs of accumulated error; 1 LSB = 2^-8/127 here). Wherever the float membrane stays farther than that
    from the threshold, the spike times must be identical; the seeds below are checked to do so."""
    lsb = 2.0 ** -8 / 127            # weight 0.375 = 96 steps of 2^-8; input payload 127
    checked = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        x = (rng.random((200, 1)) < 0.5).astype(float)
        node = lambda: nir.LIF(tau=full(1, 8e-3), r=full(1, 8.0), v_leak=full(1, 0), v_threshold=full(1, 1),  # noqa
                               v_reset=full(1, 0))
        ref = simulate_float(single(node(), 0.375), x, 1e-3)
        v, before_fire, expected = 0.0, [], []     # the same neuron by hand: v := 0.875 v + 0.375 x; v > 1 fires
        for t, spike in enumerate(x[:, 0]):
            v = 0.875 * v + 0.375 * spike
            before_fire.append(v)
            if v > 1:
                expected.append(t)
                v = 0.0
        assert spike_times(ref.output) == expected
        if np.abs(np.array(before_fire) - 1.0).min() <= 4 * lsb:
            continue
        compiled = compile_nir(single(node(), 0.375), config=CHIP)
        assert compiled.image.cores[0].neurons[0].decay == 57344 and compiled.image.cores[0].weights == [96]
        chip = run_nir(compiled, x)
        assert spike_times(chip.output) == expected and len(expected) > 5
        checked += 1
    assert checked >= 4


def test_li_output_is_decoded_to_volts():
    """LI readout with v_leak = 0.25: the membrane register holds v - 0.25; the host adds the offset back.
    tau = 2 dt (decay 0.5), R = tau/dt: v_1 = 0.25 + 0.5 * (0 - 0) + 0.5 * 2 * 0.5 * ... computed below by hand:
    input spike at step 0 only, weight 0.5: u_0 = 0.5 * 0 + 0.5 * (R=2) * 0.5 = 0.5, u_1 = 0.25, u_2 = 0.125."""
    node = nir.LI(tau=full(1, 2e-3), r=full(1, 2.0), v_leak=full(1, 0.25))
    compiled = compile_nir(single(node, 0.5), config=CHIP)
    x = np.array([[1.0], [0.0], [0.0], [0.0]])
    out = run_nir(compiled, x).output[:, 0]
    np.testing.assert_allclose(out, [0.75, 0.5, 0.375, 0.3125], atol=1e-12)


def random_network(seed: int, sizes: list[int], kinds: list[str], mean: float = 0.1, gain: float = 2.5):
    """A random feed-forward chain: Affine (small bias) + LIF/IF per layer, thresholds 1, time constants 3..20 dt.

    Weights ~ N(mean, 0.5) / sqrt(fan_in), times ``gain`` after the first layer (its inputs are sparser): with
    input spikes at rate 0.15 every layer fires at 2..6 % of its steps, the sparse activity of typical SNNs.
    """
    rng = np.random.default_rng(seed)
    nodes = []
    for k, (fan_in, fan_out, kind) in enumerate(zip(sizes, sizes[1:], kinds, strict=False)):
        weight = rng.normal(mean, 0.5, (fan_out, fan_in)) * (1.0 if k == 0 else gain) / np.sqrt(fan_in)
        nodes.append(nir.Affine(weight, rng.normal(0, 0.02, fan_out)))
        if kind == "LIF":
            tau = rng.uniform(3e-3, 20e-3, fan_out)
            nodes.append(nir.LIF(tau=tau, r=tau / 1e-3, v_leak=np.zeros(fan_out), v_threshold=np.ones(fan_out),
                                 v_reset=np.zeros(fan_out)))
        else:
            nodes.append(nir.IF(r=full(fan_out, 1e3), v_threshold=np.ones(fan_out), v_reset=np.zeros(fan_out)))
    return with_dt(nir.NIRGraph.from_list(*nodes))


NETWORKS = [
    (0, [8, 16, 4], ["LIF", "LIF"], "value"),
    (1, [20, 32, 10], ["LIF", "IF"], "subtract"),
    (2, [16, 24, 24, 6], ["IF", "LIF", "LIF"], "value"),
    (3, [12, 40, 8], ["LIF", "LIF"], "subtract"),
    (4, [30, 48, 16], ["LIF", "LIF"], "value"),
    (5, [10, 20, 20, 5], ["LIF", "IF", "LIF"], "subtract"),
]


@pytest.mark.parametrize("seed, sizes, kinds, reset", NETWORKS)
def test_random_networks_agree_with_the_float_reference(seed, sizes, kinds, reset):
    g = random_network(seed, sizes, kinds)
    x = (np.random.default_rng(100 + seed).random((100, sizes[0])) < 0.15).astype(float)
    result = compare(g, x, reset=reset, config=CHIP)
    assert len(result.layers) == len(kinds)
    assert all(layer.reference_spikes >= 10 for layer in result.layers), result.text()   # never a silent layer
    assert result.raster_agreement >= 0.99, result.text()
    assert result.golden_equals_integer


@pytest.mark.parametrize("seed", [1, 3])
def test_strongly_driven_networks_differ_only_by_int8_weights(seed):
    """At 10..30 % firing, int8 weights alone move some spikes (agreement ~98 %): the float model whose weights are
    the chip's int8 weights (the exported graph) matches the chip's every spike."""
    from spikecore.compiler.nir.export import export_compiled

    _, sizes, kinds, reset = NETWORKS[seed]
    g = random_network(seed, sizes, kinds, mean=0.2, gain=2.5)
    x = (np.random.default_rng(100 + seed).random((100, sizes[0])) < 0.2).astype(float)
    # int8 in every layer on purpose (no input twins): what this test is about
    compiled = compile_nir(g, reset=reset, config=CHIP, fine_inputs=False)
    quantized = export_compiled(compiled)
    original = compare(g, x, reset=reset, config=CHIP, fine_inputs=False)
    rounded = compare(quantized, x, config=CHIP)
    assert original.raster_agreement < 0.995 and sum(layer.reference_spikes for layer in original.layers) > 300
    assert rounded.raster_agreement == 1.0, rounded.text()


#: Strongly driven versions of NETWORKS (weight mean, input rate), every one firing at 10..30 % of its cells.
DENSE = [(0, 0.15, 0.3), (1, 0.2, 0.2), (1, 0.15, 0.3), (2, 0.2, 0.2), (2, 0.15, 0.3), (3, 0.2, 0.2),
         (3, 0.15, 0.3), (4, 0.2, 0.2), (4, 0.15, 0.3), (5, 0.2, 0.2), (5, 0.15, 0.3)]
#: Fine weights double a layer's axons and its source neurons: a chip with room for them.
ROOMY = ChipConfig(cores=64, neurons=64, weight_bytes=4096, event_depth=128, fanout_depth=128)


@pytest.mark.parametrize("seed, mean, rate", DENSE)
def test_fine_weights_reach_99_percent_on_densely_firing_networks(seed, mean, rate):
    """Issue 6's target at 10..30 % firing: int8 weights give 94..100 % here (a moved threshold crossing
    cascades through the layers); fine weights (~15 bits, exact biases) give >= 99 % on every network."""
    _, sizes, kinds, reset = NETWORKS[seed]
    g = random_network(seed, sizes, kinds, mean=mean)
    x = (np.random.default_rng(100 + seed).random((100, sizes[0])) < rate).astype(float)
    fine = compare(g, x, reset=reset, config=ROOMY, fine_weights=True)
    firing = sum(layer.reference_spikes for layer in fine.layers) / sum(layer.cells for layer in fine.layers)
    assert 0.10 <= firing <= 0.30, f"firing rate {firing:.1%} is outside the band this test is about"
    assert fine.raster_agreement >= 0.99, fine.text()
    assert fine.golden_equals_integer
    assert fine.raster_agreement >= compare(g, x, reset=reset, config=ROOMY).raster_agreement


def test_saturating_sums_follow_the_delivery_order():
    """With twins a layer's sources arrive out of ascending order; a sum that saturates depends on the order.
    Membrane ACC_MAX - 10, events of payload 1 on sources 0 (weight 20) and 1 (weight -20):
    ascending: ACC_MAX - 10 + 20 saturates to ACC_MAX, then - 20 = ACC_MAX - 20;
    order [1, 0]: ACC_MAX - 30, then + 20 = ACC_MAX - 10."""
    start, sent, payload = np.array([[isa.ACC_MAX - 10]]), np.array([[True, True]]), np.array([[1, 1]])
    weight = np.array([[20, -20]])
    assert saturating_accumulate(start, sent, payload, weight).tolist() == [[isa.ACC_MAX - 20]]
    assert saturating_accumulate(start, sent, payload, weight, np.array([1, 0])).tolist() == [[isa.ACC_MAX - 10]]


def test_twins_saturating_membranes_golden_equals_reference():
    """End to end: an IF readout that starts 2^31 - 283648 below zero (v_reset far above 0) and is driven down by
    twin-carrying hidden spikes saturates at ACC_MIN; its membrane then depends on the order the sources arrive
    in (4 hidden cores, each sending its neurons, then its twins). The reference in delivery order equals the
    cycle model's membrane every step; in ascending source order it does not."""
    rng = np.random.default_rng(0)
    readout = -rng.uniform(0.3, 1.0, (1, 8))
    readout[0, [1, 5]] = [0.77, 0.93]
    unit = np.abs(readout).max() / 127 ** 2                   # the readout's membrane unit (one input spike = 127)
    g = with_dt(nir.NIRGraph.from_list(
        nir.Linear(np.eye(8)), nir.IF(r=full(8, 1e3), v_threshold=full(8, 0.5), v_reset=full(8, 0)),
        nir.Linear(readout), nir.IF(r=full(1, 1e3), v_threshold=full(1, 1), v_reset=full(1, 2.1472e9 * unit))))
    compiled = compile_nir(g, config=ChipConfig(cores=8, neurons=4), fine_weights=True)
    assert [pc.twins for pc in compiled.placed.cores] == [True] * 4 + [False]
    x = (rng.random((60, 8)) < 0.7).astype(float)
    stimulus, steps = nir_stimulus(compiled, x)
    chip = CycleChip(compiled.image)
    chip.reset_state()
    membrane = []
    for step in range(steps):
        for core, axon, payload in stimulus.at(step):
            chip.inject(core, axon, payload)
        chip.step()
        membrane.append(int(chip.membranes[4, 0]))
    q = compiled.quant.input.quantize(x)[None]
    ordered = run_reference(compiled.quant, q, delivery_orders(compiled)).trace[1][0, :, 0]
    ascending = run_reference(compiled.quant, q).trace[1][0, :, 0]
    assert min(membrane) < isa.ACC_MIN + 1000                  # it did saturate
    assert membrane == ordered.tolist() and membrane != ascending.tolist()


def test_golden_equals_integer_reference_bit_exactly_on_membranes():
    """Beyond spikes: an LI readout's raw membranes every step, golden (cycle and functional) vs integer reference."""
    g = random_network(5, [10, 20], ["LIF"])
    g = with_dt(nir.NIRGraph.from_list(*[n for name, n in g.nodes.items() if name not in ("input", "output")],
                                       nir.Linear(np.random.default_rng(5).normal(0, 0.5, (3, 20))),
                                       nir.LI(tau=full(3, 5e-3), r=full(3, 5.0), v_leak=full(3, -0.1))))
    compiled = compile_nir(g, config=CHIP)
    x = (np.random.default_rng(6).random((60, 10)) < 0.3).astype(float)
    integer = reference_nir(compiled, x)
    for chip in ("cycle", "functional"):
        golden = run_nir(compiled, x, chip=chip)
        np.testing.assert_array_equal(golden.output_int, integer.output_int)
    assert np.abs(integer.output_int).max() > 1000     # the membranes moved: not a comparison of zeros
    assert np.array_equal(run_nir(compiled, x).rasters["lif"], integer.rasters["lif"])
