"""NIR discretisation (docs/spec.md §11): registers computed by hand, dt handling, reset modes, clear errors."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikecore import isa
from spikecore.app.nir_runtime import reference_nir, run_nir
from spikecore.compiler.frontends.nir import from_nir
from spikecore.compiler.nir.discretize import discretize
from spikecore.compiler.pipeline import compile_nir
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.isa import HOST_CORE, FanoutEntry, Opcode, ResetMode, decode

CHIP = ChipConfig(cores=8)


def lif(n, tau, r, v_thr=1.0, v_reset=0.0, v_leak=0.0, **kw):
    full = lambda v: np.full(n, float(v))  # noqa: E731
    return nir.LIF(tau=full(tau), r=full(r), v_leak=full(v_leak), v_threshold=full(v_thr), v_reset=full(v_reset), **kw)


def graph(*nodes, dt=1e-3):
    g = nir.NIRGraph.from_list(*nodes)
    if dt is not None:
        g.metadata = {"dt": dt}
    return g


def test_lif_registers_by_hand():
    # dt = 1 ms, tau = 4 ms, R = 4: input gain c = dt R / tau = 1; decay = (1 - dt/tau) * 2^16 = 0.75 * 65536 = 49152.
    # Weights [0.5, -0.25]: max 0.5 -> the power of two 2^ceil(log2(0.5/127)) = 2^-7 holds both exactly: 64, -32.
    # Input spikes are payload 127, so one membrane LSB is 2^-7 / 127 and v_thr = 1 is 128 * 127 = 16256 LSBs;
    # FIRE tests u >= threshold, so NIR's strict v > 1 is threshold 16256 + 1 = 16257. Reset 0, rest (init) 0.
    compiled = compile_nir(graph(nir.Affine(np.array([[0.5, -0.25]]), np.zeros(1)), lif(1, 4e-3, 4.0)), config=CHIP)
    core = compiled.image.cores[0]
    assert core.weights == [64, -32]
    n = core.neurons[0]
    assert (n.threshold, n.reset, n.init, n.decay) == (16257, 0, 0, 49152)
    assert [decode(w).opcode for w in core.program] == [Opcode.LEAK, Opcode.ACC, Opcode.FIRE, Opcode.HALT]
    fire = decode(core.program[2])
    # every threshold >= 127, so the spike is FIRE graded=1 shift=0: payload saturate8(v) = 127 for v >= 16257
    assert (fire.shift, fire.reset, fire.graded) == (0, ResetMode.VALUE, True)
    # a spiking output layer sends its spikes to the host, axon = neuron index
    assert core.fanout == [FanoutEntry(HOST_CORE, 0)]
    # an input of 1.0 is payload round(1.0 / (1/127)) = 127
    assert compiled.quant.input.quantize(np.array([[1.0, 0.5]])).tolist() == [[127, 64]]


def test_if_offsets_by_hand():
    # IF, dt = 1 ms, R = 1000: c = dt R = 1. The membrane origin is v_reset = -0.5, so the register holds
    # u = (v + 0.5) / unit: threshold v_thr = 0.5 is 1.0 above the origin and v(0) = 0 is 0.5 above it.
    # Weight 0.25 = 64 steps of 2^-8 (the finest power of two with at most 127 steps); unit = 2^-8 / 127.
    # threshold = 1.0 / unit + 1 = 256 * 127 + 1 = 32513; init = 0.5 / unit = 128 * 127 = 16256; reset = 0.
    node = nir.IF(r=np.array([1000.0]), v_threshold=np.array([0.5]), v_reset=np.array([-0.5]))
    compiled = compile_nir(graph(nir.Linear(np.array([[0.25]])), node), config=CHIP)
    n = compiled.image.cores[0].neurons[0]
    assert compiled.image.cores[0].weights == [64]
    assert (n.threshold, n.init, n.reset, n.decay) == (32513, 16256, 0, 0)
    assert [decode(w).opcode for w in compiled.image.cores[0].program] == [Opcode.ACC, Opcode.FIRE, Opcode.HALT]


def test_stateless_layers_hold_their_bias_exactly():
    # Threshold: z = [W x + b > 0.5], W = [[0.5]], b = 0.25: unit 2^-7/127 (as above), bias 0.25 = 32 * 127 = 4064,
    # threshold 0.5 -> 64 * 127 + 1 = 8129; FIRE reset=always to the bias, init = bias (stateless).
    thr = graph(nir.Affine(np.array([[0.5]]), np.array([0.25])), nir.Threshold(np.array([0.5])))
    n = compile_nir(thr, config=CHIP).image.cores[0].neurons[0]
    assert (n.threshold, n.init, n.reset) == (8129, 4064, 4064)
    # A graph ending in Affine: the host reads W x + b; FIRE reset=always (threshold ACC_MAX) then ACC, per step.
    out = compile_nir(graph(nir.Affine(np.array([[0.5]]), np.array([0.25]))), config=CHIP)
    core = out.image.cores[0]
    assert [decode(w).opcode for w in core.program] == [Opcode.FIRE, Opcode.ACC, Opcode.HALT]
    assert (core.neurons[0].threshold, core.neurons[0].init, core.neurons[0].reset) == (isa.ACC_MAX, 4064, 4064)


def test_lif_bias_becomes_a_bias_axon_fed_every_step():
    # b = 0.25 per step (c = 1): 4064 LSBs (unit 2^-7/127). The exact bias (spec §11, "Bias"): B = 127 w + r with
    # w = round(4064/127) = 32 on the payload-127 axon and r = 4064 - 4064 = 0, so no payload-1 axon is needed.
    compiled = compile_nir(graph(nir.Affine(np.array([[0.5]]), np.array([0.25])), lif(1, 4e-3, 4.0)), config=CHIP)
    layer = compiled.quant.layers[0]
    assert (layer.bias_axon.payload, layer.bias_axon.weight.tolist(), layer.fine_bias) == (127, [32], None)
    assert compiled.io.bias_events == ((0, 0, 1, 127),)     # step of the layer's first input, core, axon, payload
    assert compiled.image.cores[0].weights == [64, 32]


def test_small_thresholds_fall_back_to_binary_spikes():
    # Weight 1.0 = 64 steps of 2^-6 (the finest power of two with at most 127 steps), unit = 2^-6 / 127;
    # threshold 0.001 = 0.001 * 64 * 127 = 8.128 LSBs -> floor + 1 = 9 < 127: a saturated graded payload would
    # need a membrane of 127, so the layer emits binary payload 1.
    g = graph(nir.Linear(np.array([[1.0]])), lif(1, 4e-3, 4.0, v_thr=0.001), nir.Linear(np.array([[1.0]])))
    compiled = compile_nir(g, config=CHIP)
    assert compiled.quant.layers[0].neuron.thresholds.tolist() == [9] and not compiled.quant.layers[0].neuron.graded
    assert compiled.quant.layers[1].input_scale == 1.0   # the next layer counts one spike as one input unit


def test_dt_from_metadata_flag_or_error():
    nodes = (nir.Linear(np.array([[0.5]])), lif(1, 4e-3, 4.0))
    assert compile_nir(graph(*nodes, dt=1e-3), config=CHIP).quant.dt == 1e-3
    assert compile_nir(graph(*nodes, dt=None), dt=2e-3, config=CHIP).quant.dt == 2e-3
    # dt = 2 ms, tau = 4 ms: decay 0.5 -> 32768 (the flag changes the program)
    assert compile_nir(graph(*nodes, dt=None), dt=2e-3, config=CHIP).image.cores[0].neurons[0].decay == 32768
    with pytest.raises(SpikeCoreError, match="no 'dt' in its metadata: give the step with --dt"):
        compile_nir(graph(*nodes, dt=None), config=CHIP)
    with pytest.raises(SpikeCoreError, match=r"--dt 0\.002 contradicts the graph's metadata dt 0\.001"):
        compile_nir(graph(*nodes, dt=1e-3), dt=2e-3, config=CHIP)
    with pytest.raises(SpikeCoreError, match="shorter than dt"):
        compile_nir(graph(*nodes, dt=None), dt=5e-3, config=CHIP)
    with pytest.raises(SpikeCoreError, match=r"the LEAK factor needs 65536 /65536, the largest representable in Q0"):
        compile_nir(graph(nodes[0], lif(1, 1e3, 1e6), dt=1e-3), config=CHIP)


def test_reset_modes_flag_metadata_and_conflicts():
    nodes = lambda meta: (nir.Linear(np.array([[0.5]])), lif(1, 4e-3, 4.0, metadata=meta))  # noqa: E731
    fire = lambda c: decode(c.image.cores[0].program[2])  # noqa: E731
    assert fire(compile_nir(graph(*nodes({})), config=CHIP)).reset == ResetMode.VALUE        # NIR's definition
    assert fire(compile_nir(graph(*nodes({})), reset="subtract", config=CHIP)).reset == ResetMode.SUB
    assert fire(compile_nir(graph(*nodes({"reset": "subtract"})), config=CHIP)).reset == ResetMode.SUB
    with pytest.raises(SpikeCoreError, match="--reset value contradicts LIF 'lif' metadata reset subtract"):
        compile_nir(graph(*nodes({"reset": "subtract"})), reset="value", config=CHIP)
    bad = graph(nir.Linear(np.array([[0.5]])), lif(1, 4e-3, 4.0, v_reset=-0.5))
    with pytest.raises(SpikeCoreError, match="reset by subtraction needs v_reset = v_leak"):
        compile_nir(bad, reset="subtract", config=CHIP)


def test_neuron_firing_at_rest_is_refused():
    g = graph(nir.Linear(np.array([[0.5]])), lif(1, 4e-3, 4.0, v_thr=-0.1))
    with pytest.raises(SpikeCoreError, match="layer 'lif' \\(LIF 'lif'\\): neuron 0 fires without input"):
        compile_nir(g, config=CHIP)


def test_fine_weights_by_hand():
    """Fine weights (docs/spec.md §11): a synapse is ω = round(c W / unit) membrane units per spike, sent as 127 a + b.

    Weights [1.0, 0.3] (c = dt R = 1): no power of two holds 0.3, so σ = 1/127 and unit = σ/127 = 1/16129.
    ω = round(16129 W) = [16129, round(4838.7) = 4839] -> a = round(ω/127) = [127, 38], b = ω - 127 a = [0, 13].
    Bias 0.01: B = round(161.29) = 161 -> 127 x 1 (payload 127) + 34 (payload 1). int8 weights give
    38 x 127 = 4826 for the 0.3 weight (12.7 units short) and the same exact bias (its second axon fits)."""
    single = graph(nir.Affine(np.array([[1.0, 0.3]]), np.array([0.01])), nir.I(r=np.full(1, 1e3)))
    compiled = compile_nir(single, config=CHIP, fine_weights=True)
    # dense input: axons 0, 1 = features, 2, 3 = their twins (payload round(q/127): 1 for a spike), 4, 5 = bias
    assert compiled.image.cores[0].weights == [127, 38, 0, 13, 1, 34]
    assert compiled.io.fine_inputs == (((0, 2),), ((0, 3),))
    assert sorted({(axon, payload) for _, _, axon, payload in compiled.io.bias_events}) == [(4, 127), (5, 1)]
    x = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    # t0: 127*38 + 1*13 + 127*1 + 34 = 5000; t1: + 127*127 + 0 + 4839 + 161 = 26129; t2: + 161 = 26290
    assert run_nir(compiled, x).output_int[:, 0].tolist() == [5000, 26129, 26290]
    assert reference_nir(compiled, x).output_int[:, 0].tolist() == [5000, 26129, 26290]
    # by default (input twins, no fine bias) the same words: the bias is exact on two axons anyway (spec §11)
    assert compile_nir(single, config=CHIP).image.cores[0].weights == [127, 38, 0, 13, 1, 34]
    coarse = compile_nir(single, config=CHIP, fine_inputs=False)
    assert coarse.image.cores[0].weights == [127, 38, 1, 34] and not coarse.io.fine_inputs   # 127 x 1 + 34 = 161

    # A hidden layer gets twins: IF(eye) fires whenever its input spikes (weight 1 = 64 x 2^-6, exact, so the
    # input needs no twins: u = 127 x 64 = 8128 >= floor(0.5 x 64 x 127) + 1 = 4065), and the readout weighs
    # it as above. Only the twin of neuron 1 has a non-zero fine weight, so only it fans out.
    deep = graph(nir.Linear(np.eye(2)), nir.IF(r=np.full(2, 1e3), v_threshold=np.full(2, 0.5), v_reset=np.zeros(2)),
                 nir.Linear(np.array([[1.0, 0.3]])), nir.I(r=np.full(1, 1e3)))
    compiled = compile_nir(deep, config=CHIP, fine_weights=True)
    hidden, readout = compiled.image.cores[0], compiled.image.cores[1]
    assert [(i.opcode, i.neuron, i.count, i.graded) for i in map(decode, hidden.program)][:4] == [
        (Opcode.ACC, 0, 2, False), (Opcode.ACC, 2, 2, False), (Opcode.FIRE, 0, 2, True), (Opcode.FIRE, 2, 2, False)]
    assert hidden.weights == [64, 0, 0, 64] and not compiled.quant.input.twins
    assert readout.weights == [127, 38, 13]                      # axons: neuron 0, neuron 1, the twin of neuron 1
    assert [n.fanout_count for n in hidden.neurons] == [1, 1, 0, 1]
    assert hidden.fanout[hidden.neurons[3].fanout_start] == FanoutEntry(1, 2)
    # t0: neuron 1 spikes: 127*38 + 13 = 4839; t1: both: + 127*127 + 4839 = 25807; t2: nothing
    assert run_nir(compiled, x).output_int[:, 0].tolist() == [4839, 25807, 25807]
    assert run_nir(compiled, x).rasters["if"].tolist() == [[False, True], [True, True], [False, False]]


def test_fine_weights_flag_and_metadata():
    g = graph(nir.Affine(np.array([[1.0, 0.3]]), np.array([0.01])), nir.I(r=np.full(1, 1e3)))
    g.metadata["spikecore_fine_weights"] = True
    assert compile_nir(g, config=CHIP).quant.input.twins          # the metadata says so
    with pytest.raises(SpikeCoreError, match="fine_weights=False contradicts the graph's metadata "
                                             "spikecore_fine_weights=True"):
        compile_nir(g, config=CHIP, fine_weights=False)
    with pytest.raises(SpikeCoreError, match="fine_weights must be True or False"):
        discretize(from_nir(g), 1e-3, fine_weights="yes")
