"""A recurrent CubaLIF layer compiled from NIR (docs/spec.md §4.6, §11): its integers derived by hand from §11,
its run on the golden model equal to a naive loop of the §3/§4 integer semantics written here, and its spikes
equal to the float reference."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikecore.app.nir_compare import compare
from spikecore.app.nir_runtime import nir_stimulus
from spikecore.compiler.pipeline import compile_nir
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import CycleChip
from spikecore.isa import HOST_CORE, FanoutEntry, Opcode

DT = 1e-4


def one_neuron(w: float, w_rec: float, tau_syn: float = 2 * DT, tau_mem: float = 4 * DT,
               recurrent_node=None) -> nir.NIRGraph:
    """input -> Linear [[w]] -> CubaLIF (r = tau_mem/dt, w_in = tau_syn/dt: gain 1) -> output, with
    Linear [[w_rec]] from the neuron back into it."""
    one = lambda v: np.array([float(v)])  # noqa: E731
    nodes = {"input": nir.Input(input_type={"input": np.array([1])}), "fc": nir.Linear(weight=np.array([[w]])),
             "lif": nir.CubaLIF(tau_syn=one(tau_syn), tau_mem=one(tau_mem), r=one(tau_mem / DT), v_leak=one(0),
                                v_threshold=one(1), v_reset=one(0), w_in=one(tau_syn / DT)),
             "rec": recurrent_node if recurrent_node is not None else nir.Linear(weight=np.array([[w_rec]])),
             "output": nir.Output(output_type={"output": np.array([1])})}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def round_shift16(v: int) -> int:
    return (v + (1 << 15)) >> 16


def test_recurrent_cubalif_integers_by_hand_and_golden_equals_a_naive_loop():
    compiled = compile_nir(one_neuron(1.0, -0.25), dt=DT, config=ChipConfig(cores=4))
    (layer,) = compiled.quant.layers
    # §11: alpha = 1 - dt/tau_syn = 0.5, beta = 1 - dt/tau_mem = 0.75 in Q0.16; gain (dt/tau_syn) w_in
    # (dt r/tau_mem) = 1. Input spikes carry 127 (e_in = 1/127); the layer's own spikes too (thresholds >= 127),
    # so the row is [1/127, -0.25/127] per payload unit, no power of two holds it: unit = (1/127)/127.
    assert layer.neuron.decays.tolist() == [49152] and layer.neuron.syn_decays.tolist() == [32768]
    assert layer.weight.tolist() == [[127]] and layer.recurrent.tolist() == [[-32]]   # -0.25 * 127 = -31.75
    assert layer.neuron.thresholds.tolist() == [127 * 127 + 1]                              # floor(1 / unit) + 1
    (core,) = compiled.placed.cores
    assert [ins.opcode for ins in core.program] == [Opcode.LEAK, Opcode.SACC, Opcode.SYN, Opcode.FIRE, Opcode.HALT]
    assert core.axons == (0, 1)   # the input, then the neuron itself
    assert list(core.fanout) == [FanoutEntry(HOST_CORE, 0), FanoutEntry(0, 1)]

    x = np.array([1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 0, 0], dtype=float)[:, None]
    # naive loop: u := round(u beta); s += 127 w x_t + 127 w_rec z_{t-1}; u += s; s := round(s alpha); fire
    u = s = z = 0
    want_u, want_z = [], []
    for x_t in x[:, 0]:
        u = round_shift16(u * 49152)
        s += 127 * 127 * int(x_t) - 32 * 127 * z
        u += s
        s = round_shift16(s * 32768)
        z = int(u >= 127 * 127 + 1)
        u = 0 if z else u
        want_u.append(u)
        want_z.append(z)
    assert 3 <= sum(want_z) <= 15   # it fires, and the recurrence has spikes to carry

    chip = CycleChip(compiled.image)
    chip.reset_state()
    stimulus, steps = nir_stimulus(compiled, x)
    got_u = []
    for step in range(steps):
        for event in stimulus.at(step):
            chip.inject(*event)
        chip.step()
        got_u.append(int(chip.membranes[0, 0]))
    got_z = [0] * steps
    for out in chip.outputs:
        got_z[out.step] = 1
    assert got_u == want_u and got_z == want_z

    result = compare(one_neuron(1.0, -0.25), x, dt=DT, config=ChipConfig(cores=4))
    assert result.layers[0].agreement == 1.0 and result.layers[0].reference_spikes == sum(want_z)


def test_recurrent_affine_bias_counts_from_the_first_step():
    """A recurrent Affine's bias is input current from step 0 on (spikes before step 0 are zeros): here it is
    the only input, and the neuron fires the same steps on the chip as in the float reference."""
    rec = nir.Affine(weight=np.array([[-0.5]]), bias=np.array([0.375]))
    graph = one_neuron(1.0, 0.0, recurrent_node=rec)
    x = np.zeros((30, 1))
    result = compare(graph, x, dt=DT, config=ChipConfig(cores=4))
    assert result.layers[0].reference_spikes >= 3 and result.layers[0].agreement == 1.0, result.text()


def test_unsupported_recurrence_is_one_line():
    graph = one_neuron(1.0, 0.0, recurrent_node=nir.Delay(delay=np.array([DT])))
    with pytest.raises(SpikeCoreError, match=r"^node 'rec' of type Delay is not supported"):
        compile_nir(graph, dt=DT)
    # a recurrent layer emits on 8-bit axons into itself: at most 256 neurons
    wide = 300
    nodes = {"input": nir.Input(input_type={"input": np.array([wide])}), "fc": nir.Linear(weight=np.eye(wide)),
             "lif": nir.LIF(tau=np.full(wide, 1e-3), r=np.full(wide, 10.0), v_leak=np.zeros(wide),
                            v_threshold=np.ones(wide), v_reset=np.zeros(wide)),
             "rec": nir.Linear(weight=np.eye(wide)), "output": nir.Output(output_type={"output": np.array([wide])})}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    with pytest.raises(SpikeCoreError, match=r"^LIF 'lif': a recurrent layer of 300 neurons"):
        compile_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=DT)


def test_listing_of_a_recurrent_cubalif_program_assembles_to_its_image():
    from spikecore.compiler.asm import assemble
    from spikecore.image import encode_image
    from tests.compiler.test_nir_braille import CHIP, braille_graph

    compiled = compile_nir(braille_graph("bias_zero"), dt=DT, config=CHIP, fine_weights=True)
    assert encode_image(assemble(compiled.listing)) == encode_image(compiled.image)
    assert "sacc" in compiled.listing.lower() and "syn_decay=" in compiled.listing
    assert "lif1.lif[0] (recurrent: its spike of the previous step)" in compiled.listing
