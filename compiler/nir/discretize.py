"""Discretisation of NIR neurons: continuous time to SpikeCore steps, float to fixed point (docs/spec.md §11).

Input: the float IR of a NIR graph (:func:`~spikecore.compiler.frontends.nir.from_nir`), the step ``dt``
in seconds and the largest input magnitude. Output: a :class:`QuantGraph` of encoding ``nir`` that placement
and codegen lay out exactly like a PyTorch model.

Forward Euler, one chip step per ``dt``
---------------------------------------
For a neuron with input current ``I = W x + b`` (``x``: what the previous layer emitted this step):

========= =============================================== =========================== ==============
kind      update per step                                 SpikeCore schedule          origin ``o``
========= =============================================== =========================== ==============
LIF       ``v += dt/τ (v_leak − v) + dt/τ R I``           LEAK, ACC, FIRE             ``v_leak``
LI        the same, no spike                              LEAK, ACC                   ``v_leak``
IF        ``v += dt R I``                                 ACC, FIRE                   ``v_reset``
I         ``v += dt R I``                                 ACC                         0
CubaLIF   ``i += dt/τs (w_in I − i)``; ``v += dt/τm       LEAK, SACC, SYN, FIRE       ``v_leak``
          (v_leak − v + R i)``
Threshold ``z = [W x + b > θ]`` (stateless)               ACC, FIRE reset=always      0
Affine    ``y = W x + b`` (a last linear node)            FIRE reset=always, ACC      0
========= =============================================== =========================== ==============

The membrane register holds ``u = (v − o) / unit``. With ``o = v_leak`` the LIF update is
``u := (1 − dt/τ) u + (dt/τ R / unit) I``: LEAK with ``decay = round((1 − dt/τ) · 2^16)`` (Q0.16), then ACC
with the weights ``c W`` (``c = dt R/τ``, or ``dt R`` without leak). A spike is checked after the update
(FIRE) and resets at once: ``value`` mode ``v := v_reset``; ``subtract`` mode ``v := v − (v_thr − v_reset)``
(snnTorch's reset-by-subtraction, which it exports as ``v_reset = 0``).

A CubaLIF layer's synaptic current register holds ``(dt R/τm) i / unit``: SACC adds the input with the gain
``c = (dt/τs) w_in (dt R/τm)``, SYN adds the register to the membrane and decays it by ``syn_decay = round((1 −
dt/τs) · 2^16)``. A recurrent layer (``DenseNode.recurrent``) reads its own spikes of the previous step after
its bias axons, with weights ``c W_rec e_self / unit`` (``e_self``: what one payload unit of its own spikes
is worth); with fine weights and payload-127 spikes, split ``127 a + b`` over its neurons and their twins.

Fixed point
-----------
- Every event carries an int8 payload. A hidden spiking layer emits payload 127 when every threshold
  register is at least 127: FIRE ``graded=1, shift=0`` then emits ``saturate8(v) = 127`` for any
  ``v ≥ threshold``, a binary spike worth 127 input units (7 more bits of membrane resolution than payload
  1). Otherwise it emits payload 1. Inputs are injected as ``round(x / (input_max/127))``.
- Per neuron ``j``, the weight LSB ``σ_j = max_i |c W_ji| / 127`` (or the power of two that represents
  every weight of the row exactly, when there is one); the membrane LSB is ``unit_j = σ_j e_in`` where
  ``e_in`` is the value of one input payload unit, so an input spike adds ``payload × w_int`` LSBs.
- ``threshold = floor((v_thr − o) / unit) + 1``: FIRE tests ``u ≥ threshold``, which on integers is
  exactly NIR's strict ``v > v_thr``. ``reset = round((v_reset − o) / unit)``. In ``subtract`` mode FIRE
  subtracts that threshold register, i.e. up to one LSB more than ``v_thr − v_reset``.
- The state starts at rest: ``v = v_leak`` (LIF, LI; so ``u = 0`` and LEAK keeps it there while the
  layer waits for its first input) or ``v = 0`` (IF, I).
- A per-step bias current ``c b`` (an Affine bias), ``B = round(c b / unit)`` units, is host events on *bias
  axons* each step: exactly, ``B = 127 w + r`` on a payload-127 and a payload-1 axon, whenever a core has both
  axons (else one axon of payload ``P``, int8 weights ``≈ B / P``, as rate mode does); a neuron whose bias
  would not fit them at the unit of its weights gets a coarser unit, ``|c b| / 16129``. A stateless layer
  (Threshold, Affine) holds its bias exactly in its reset value instead.

Fine weights (``fine_weights=True``)
------------------------------------
int8 weights are the accuracy limit of densely firing networks: a spike of payload 127 adds ``127 w``
membrane units, so the effective weight moves in steps of 127 units (1/127 of the row's largest weight),
and a network firing at 10–30 % amplifies those errors into moved spikes. With fine weights a synapse is
``ω = round(127 c W e_in / unit)`` units per spike (up to ``127²``), delivered as ``127 a + b``:
``a = round(ω / 127)`` on the spike (payload 127) and ``b = ω − 127 a`` (``|b| ≤ 63``) on a *twin* spike of
payload 1. The source layer gets twins (``QuantDense.twins``: same parameters and weights, FIRE
``graded=0``), the host injects each input's twin payload ``round(q/127)`` (exact for spikes), and the bias
gets a second axon of payload 1 carrying ``B − P w`` (``P = 127``), so the bias current is exact too. Only
sources whose fine weights are not all zero need twins; a layer whose weights are exact in int8 (the
power-of-two rule) compiles as without the option. It costs twice the axons and source neurons.

Timing: a spike emitted in step ``t`` reaches the next layer in step ``t + 1`` (docs/spec.md §2), so layer
``k`` works on input time ``t`` in chip step ``t + k``; the host injects input ``x_t`` before step ``t`` and
layer ``k``'s bias event before steps ``k .. k+T−1``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from spikecore import isa
from spikecore.compiler.frontends.nir import DEFAULT_INPUT_MAX
from spikecore.compiler.ir import (
    SPIKING_KINDS,
    BiasAxon,
    CubaLifNeuron,
    DenseNode,
    FineWeights,
    FloatGraph,
    NirNeuron,
    QuantDense,
    QuantGraph,
    QuantInput,
)
from spikecore.compiler.place import DeeperChipNeeded, deeper_chip
from spikecore.compiler.quantize import bias_current
from spikecore.compiler.rounding import round_rows
from spikecore.compiler.saturation import SaturationPolicy
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.isa import ResetMode

LEVELS = isa.WEIGHT_MAX                  # int8 weights use -127..127
SPIKE_PAYLOAD = isa.PAYLOAD_MAX          # saturated graded spike: payload 127
FINE_LEVELS = LEVELS * SPIKE_PAYLOAD     # fine weights ω = 127 a + b: the largest weight of a row is 127 x 127
#: Membrane units per step one bias axon carries (payload 127 x weight 127), and the two of fine weights (+ 63).
BIAS_CAPACITY = LEVELS * SPIKE_PAYLOAD
BIAS_CAPACITY_FINE = LEVELS * SPIKE_PAYLOAD + LEVELS // 2
SCHEDULE = {"LIF": ("LEAK", "ACC", "FIRE"), "LI": ("LEAK", "ACC"), "IF": ("ACC", "FIRE"), "I": ("ACC",),
            "Threshold": ("ACC", "FIRE"), "Affine": ("FIRE", "ACC"), "CubaLIF": ("LEAK", "SACC", "SYN", "FIRE")}


def decay_factor(dt: float, tau: np.ndarray, what: str, precision: float = 1e-12,
                 policy: SaturationPolicy | None = None, layer: str = "") -> np.ndarray:
    """The Q0.16 LEAK factors ``round((1 - dt/τ) · 2^16)``; refused where forward Euler or Q0.16 cannot hold them.

    ``precision``: the relative precision of ``tau`` as stored (float32: 2**-23); ``dt/τ`` up to two of its
    steps above 1 is τ = dt rounded by the file's dtype (snnTorch's ``beta = 0`` in float32), i.e. decay 0.
    """
    if not (np.isfinite(tau) & (tau > 0)).all():
        bad = tau[~(np.isfinite(tau) & (tau > 0))][0]
        raise SpikeCoreError(f"{what}: tau must be finite and positive, found {float(bad):g}"
                             " (tau = inf needs r = inf too: snnTorch's beta = 1 export, compiled as IF)")
    ratio = dt / tau
    if (ratio > 1 + max(2 * precision, 1e-12)).any():
        raise SpikeCoreError(f"{what}: tau = {tau.min():g} s is shorter than dt = {dt:g} s; forward Euler needs "
                             "dt <= tau (use a smaller --dt)")
    decay = np.rint(np.clip(1.0 - ratio, 0.0, 1.0) * (1 << isa.DECAY_FRAC_BITS)).astype(np.int64)
    if policy is not None:
        return policy.fit(layer, "the LEAK factor", decay, 0, isa.DECAY_MAX, "/65536",
                          "Q0.16 (tau > 65536 dt: use IF for a neuron that does not leak)")
    if (decay > isa.DECAY_MAX).any():
        raise SpikeCoreError(f"{what}: decay 1 - dt/tau = {1 - ratio.min():.7f} rounds to 1.0, but the LEAK factor "
                             f"is at most {isa.DECAY_MAX}/65536 (tau <= {1 << isa.DECAY_FRAC_BITS} dt); use IF "
                             "for a neuron that does not leak")
    return decay


def weight_lsb(row: np.ndarray, fallback: float) -> float:
    """Value of one int8 weight step for a neuron whose effective weights are ``row``.

    ``max|row| / 127``, unless a power of two represents every weight exactly within int8 (then that power
    of two, so exactly representable networks compute exactly). ``fallback`` for a neuron without inputs.

    >>> weight_lsb(np.array([0.5, -0.25]), 1.0), weight_lsb(np.array([0.3]), 1.0) == 0.3 / 127
    (0.0078125, True)
    """
    largest = float(np.abs(row).max(initial=0.0))
    if largest == 0:
        return fallback
    power = 2.0 ** math.ceil(math.log2(largest / LEVELS))
    steps = row / power
    if np.allclose(steps, np.rint(steps), rtol=0, atol=1e-6):
        return power
    return largest / LEVELS


def _int32(values: np.ndarray, what: str, policy: SaturationPolicy, layer: str) -> np.ndarray:
    """``values`` as int64 inside the int32 membrane register (refused, or clipped when the policy allows)."""
    return policy.fit(layer, what, values, isa.ACC_MIN, isa.ACC_MAX, "membrane units",
                      "the int32 membrane (too large for the weight resolution)").astype(np.int64)


def _without_leak(neuron, where: str) -> bool:
    """Whether a LIF/LI node is snnTorch's ``beta = 1`` export: ``tau = inf`` and ``r = inf`` on every neuron.

    ``tau = inf`` on only some neurons, or with a finite ``r`` (no input ever reaches the membrane), is refused.
    """
    tau_inf = np.isposinf(neuron.tau)
    if not tau_inf.any():
        return False
    if not tau_inf.all():
        raise SpikeCoreError(f"{where}: tau = inf on {int(tau_inf.sum())} of {tau_inf.size} neurons; a layer either "
                             "leaks or not (split it, or give every neuron tau = inf and r = inf)")
    if not np.isposinf(neuron.r).all():
        raise SpikeCoreError(f"{where}: tau = inf with finite r gives the input no effect (gain dt*r/tau = 0); "
                             "snnTorch's beta = 1 export has tau = r = inf (an IF neuron), or use IF")
    return True


class _Neurons:
    """Per-neuron continuous parameters of one layer, in the membrane's frame ``u = v - origin``."""

    def __init__(self, layer: DenseNode, dt: float, policy: SaturationPolicy | None = None) -> None:
        neuron = layer.neuron
        n = layer.out_features
        self.kind, self.where = neuron.kind, f"layer '{layer.name}' ({neuron.kind} '{neuron.node}')"
        zeros = np.zeros(n)
        self.decay = None
        self.syn_decay = None          # CubaLIF: the synaptic current's Q0.16 factor
        self.gain = np.ones(n)        # c: input current -> membrane change per step
        self.origin = zeros
        self.start = zeros             # v(0) - origin
        self.threshold = None          # v_thr - origin
        self.reset = zeros             # v_reset - origin
        self.subtract = neuron.reset == "subtract"
        no_leak = self.kind in ("LIF", "LI") and _without_leak(neuron, self.where)
        for name in ("r", "v_threshold", "v_reset", "v_leak", "w_in"):
            value = getattr(neuron, name)
            if value is not None and not np.isfinite(value).all() and not (no_leak and name == "r"):
                raise SpikeCoreError(f"{self.where}: {name} must be finite")
        if no_leak:
            # tau = r = inf (snnTorch's beta = 1, r = tau/dt): v += dt r/tau I = I per step, no leak: an IF (or
            # I) with gain 1 that starts at rest, v = v_leak.
            self.kind = "IF" if self.kind == "LIF" else "I"
            self.where = f"{self.where[:-1]}, tau = r = inf: compiled as {self.kind})"
            self.origin = neuron.v_reset if self.kind == "IF" else zeros
            self.start = neuron.v_leak - self.origin
        elif self.kind in ("LIF", "LI"):
            self.decay = decay_factor(dt, neuron.tau, self.where, neuron.precision, policy, layer.name)
            self.gain = dt * neuron.r / neuron.tau
            self.origin = neuron.v_leak
        elif self.kind == "CubaLIF":
            # i += dt/tau_syn (w_in I - i); v += dt/tau_mem (v_leak - v + r i): the current register holds
            # (dt r/tau_mem) i / unit, so SYN adds exactly the membrane's gain from i (docs/spec.md §11)
            self.decay = decay_factor(dt, neuron.tau, f"{self.where} tau_mem", neuron.precision, policy, layer.name)
            self.syn_decay = decay_factor(dt, neuron.tau_syn, f"{self.where} tau_syn", neuron.precision, policy,
                                          layer.name)
            self.gain = (dt / neuron.tau_syn) * neuron.w_in * (dt * neuron.r / neuron.tau)
            self.origin = neuron.v_leak
        elif self.kind in ("IF", "I"):
            self.gain = dt * neuron.r
            self.origin = neuron.v_reset if self.kind == "IF" else zeros
            self.start = -self.origin
        if self.kind in ("LIF", "IF", "Threshold", "CubaLIF"):
            self.threshold = neuron.v_threshold - self.origin
        if self.kind in ("LIF", "IF", "CubaLIF"):
            self.reset = neuron.v_reset - self.origin
            if self.subtract and self.kind in ("LIF", "CubaLIF") and not np.allclose(neuron.v_reset, neuron.v_leak):
                raise SpikeCoreError(f"{self.where}: reset by subtraction needs v_reset = v_leak (LEAK decays towards "
                                     "the level the subtraction is measured from)")

    @property
    def stateless(self) -> bool:
        return self.kind in ("Threshold", "Affine")


def split_weights(omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fine weights ``ω`` (membrane units per spike of payload 127) as ``(a, b)`` with ``ω = 127 a + b``.

    ``a = round(ω / 127)`` (half up) rides on the spike, ``b`` (``|b| ≤ 63``) on its payload-1 twin.

    >>> split_weights(np.array([16129, 200, -200, 63, 64]))
    (array([127,   2,  -2,   0,   1]), array([  0, -54,  54,  63, -63]))
    """
    omega = np.asarray(omega, dtype=np.int64)
    coarse = np.floor_divide(2 * omega + SPIKE_PAYLOAD, 2 * SPIKE_PAYLOAD)
    return coarse, omega - SPIKE_PAYLOAD * coarse


def _quantize_layer(layer: DenseNode, index: int, count: int, dt: float, in_unit: float,
                    config: ChipConfig, fine_bias: bool = False, fine_sources: bool = False,
                    policy: SaturationPolicy | None = None, fine_recurrent: bool = False,
                    rec_source: tuple[int, int] | None = None) -> tuple[QuantDense, int, np.ndarray | None]:
    """One NIR layer in integers; returns it, the payload its spikes carry (0 for a non-spiking layer) and,
    when ``fine_sources``, the fine weights ``b`` of its sources' twins (the layer's ``weight`` holds ``a``).
    ``fine_bias``: the bias current on two axons (payload 127 and 1), exactly. ``policy``: what to do with a
    value that leaves its chip field (default: refuse). ``fine_recurrent``: a recurrent hidden layer whose spikes
    carry payload 127 weighs its own spikes with fine weights too (its ``recurrent`` then has the twins' columns,
    and the caller gives it twins). ``rec_source``: ``(index, payload)`` of the later layer whose spikes
    ``layer.recurrent`` weighs (a recurrent edge into this earlier layer), the payload its spikes carry."""
    policy = policy if policy is not None else SaturationPolicy()
    cells = _Neurons(layer, dt, policy)
    role = "output" if index == count - 1 else "hidden"
    weight = cells.gain[:, None] * layer.weight.astype(np.float64)
    current = cells.gain * layer.bias.astype(np.float64)
    recurrent = None if layer.recurrent is None else cells.gain[:, None] * layer.recurrent.astype(np.float64)
    hint = layer.neuron.membrane_unit
    if hint is not None:
        unit = hint.astype(np.float64)
    else:
        scale_of = np.abs(np.stack([current, cells.start, cells.reset,
                                    cells.threshold if cells.threshold is not None else cells.reset])).max(axis=0)
        unit = np.array([weight_lsb(row, (big or 1.0) / LEVELS) for row, big in zip(weight, scale_of, strict=True)])
        unit = unit * in_unit
        # A stateful layer's bias current c b rides on its bias axons, which carry at most BIAS_CAPACITY units per
        # step: a neuron whose bias is large next to its weights gets a coarser unit (its weights then use fewer
        # of the int8 steps), so that the bias fits instead of being refused (docs/spec.md §11, "Bias").
        capacity = BIAS_CAPACITY_FINE if fine_bias else BIAS_CAPACITY
        bias_unit = np.zeros_like(unit) if cells.stateless else np.abs(current) / capacity
        if recurrent is not None:
            # The row also holds the weights from the layer's own spikes: payload 127 (worth 1/127 each) when
            # every threshold register comes out >= 127, else payload 1 (a larger unit, so smaller thresholds).
            for own_unit in (1.0 / SPIKE_PAYLOAD, 1.0) if rec_source is None else (1.0 / rec_source[1],):
                unit = np.array([weight_lsb(np.concatenate([row * in_unit, rec * own_unit]), (big or 1.0) / LEVELS
                                            * in_unit) for row, rec, big in zip(weight, recurrent, scale_of,
                                                                                strict=True)])
                unit = np.maximum(unit, bias_unit)
                if np.floor(np.round(cells.threshold / unit, 6)).min() + 1 >= SPIKE_PAYLOAD:
                    break
        unit = np.maximum(unit, bias_unit)
    w_fine = None
    if fine_sources:   # ω = 127 a + b: a on the payload-127 spike, b on its payload-1 twin (module docstring)
        w_int, w_fine = split_weights(round_rows(SPIKE_PAYLOAD * weight * in_unit / unit[:, None], FINE_LEVELS))
    else:   # each row's rounding errors sum to at most half a step (compiler/rounding.py)
        w_int = round_rows(weight * in_unit / unit[:, None], LEVELS)
    name = layer.name
    w_int = policy.fit(name, "a weight", w_int, -LEVELS, LEVELS, "weight steps",
                       "int8 (of the metadata membrane unit)").astype(np.int64)
    where = cells.where
    bias_int = _int32(np.rint(current / unit), "the bias current", policy, name)
    init = _int32(np.rint(cells.start / unit), "the initial membrane", policy, name)
    reset = _int32(np.rint(cells.reset / unit), "the reset value", policy, name)
    threshold: np.ndarray | int = isa.ACC_MAX
    if cells.threshold is not None:
        threshold = _int32(np.floor(np.round(cells.threshold / unit, 6)) + 1, "the threshold", policy, name)
    bias_payload, bias_weight, bias_fine = 0, None, None
    axons = 0
    if not cells.stateless and bias_int.any():   # the axons a core has left for the bias after the layer's inputs
        reads = np.concatenate([w for w in (w_int, w_fine, recurrent) if w is not None], axis=1)
        rows = int(np.count_nonzero(reads, axis=1).max(initial=0))
        per_step = min(config.event_depth, isa.AXON_MAX + 1)
        room = min(per_step, config.weight_bytes) - rows
        # The exact bias (two axons) is the default whenever a core has the second axon: one axon rounds the
        # current to P/2 units per step, which a neuron held near threshold by its bias (a readout) turns into
        # moved spikes (docs/compiler.md, "NIR accuracy"). With fine weights it is required.
        axons = 2 if fine_bias or room >= 2 else 1
        # A layer placement cannot split over its fan-in (recurrent, CubaLIF; docs/spec.md §4.8) must take its
        # bias axons in one core; any other layer's bias axon is one more source of a partial-sum group.
        unsplittable = recurrent is not None or cells.kind == "CubaLIF"
        if room < axons and unsplittable:
            busiest = int(np.argmax(np.count_nonzero(reads, axis=1)))
            back = int(np.count_nonzero(recurrent[busiest])) if recurrent is not None else 0
            why = [f"it has a recurrent edge from {'a later layer' if rec_source is not None else 'itself'} (a "
                   "recurrent layer is not split, docs/spec.md §11)"] if recurrent is not None else []
            why += ["it is CubaLIF (its partial sums would add to the membrane, not to the synaptic current: MERGE, "
                    "docs/spec.md §4.8)"] if cells.kind == "CubaLIF" else []
            reason = (f"{where}: its bias current needs {axons} bias axon{'s' * (axons > 1)}, but its neurons "
                      f"already read {rows} inputs ({f'{back} of them over the recurrent edge; ' if back else ''}"
                      f"a core takes {per_step} per step) and the layer cannot be split over its fan-in: "
                      f"{' and '.join(why)}")
            need = 1 << math.ceil(math.log2(rows + axons))
            chip = deeper_chip(config, event_depth=need) if rows + axons <= min(isa.AXON_MAX + 1,
                                                                                config.weight_bytes) else None
            raise SpikeCoreError(reason) if chip is None else DeeperChipNeeded(reason, config, chip)
    if cells.stateless:
        init = reset = bias_int
    elif bias_int.any() and axons == 2:   # B = 127 w + r: the coarse axon (payload 127) and the remainder (payload 1)
        most = BIAS_CAPACITY_FINE
        bias_int = policy.fit(name, "the bias current", bias_int, -most, most, "membrane units per step",
                              "two bias axons (127 x 127 + 63)")
        bias_weight, remainder = split_weights(bias_int)
        bias_payload = SPIKE_PAYLOAD
        bias_fine = remainder if remainder.any() else None
    elif bias_int.any():
        bias_payload, bias_weight = bias_current(current / unit, policy, name)   # rounded once, from the exact value
    spiking = cells.kind in SPIKING_KINDS
    if spiking and role == "output" and layer.out_features > isa.AXON_MAX + 1:
        raise SpikeCoreError(f"{where}: a spiking output layer has at most {isa.AXON_MAX + 1} neurons (the host tells "
                             f"them apart by the 8-bit axon of their spikes), this one has {layer.out_features}")
    if spiking:
        fires_at_rest = np.flatnonzero(init >= threshold)
        if fires_at_rest.size:
            j = int(fires_at_rest[0])
            raise SpikeCoreError(f"{where}: neuron {j} fires without input (its rest state is not below "
                                 "v_threshold); SpikeCore needs neurons that rest below threshold")
    graded = spiking and int(np.min(threshold)) >= SPIKE_PAYLOAD
    payload = (SPIKE_PAYLOAD if graded else isa.BINARY_PAYLOAD) if spiking else 0
    w_rec = None
    if recurrent is not None:   # weights of the layer's own spikes (payload `payload`), or of the source layer's
        carried = payload if rec_source is None else rec_source[1]
        omega = round_rows(recurrent / carried / unit[:, None], LEVELS)
        if fine_recurrent and graded and role == "hidden" and rec_source is None:   # ω = 127 a + b, b on the twins
            coarse, fine = split_weights(round_rows(SPIKE_PAYLOAD * recurrent / payload / unit[:, None], FINE_LEVELS))
            omega = np.concatenate([coarse, fine], axis=1) if fine.any() else coarse
        w_rec = policy.fit(name, "a recurrent weight", omega, -LEVELS, LEVELS, "weight steps",
                           "int8 (of the metadata membrane unit)").astype(np.int64)
    reset_mode = {"LIF": ResetMode.SUB if cells.subtract else ResetMode.VALUE,
                  "IF": ResetMode.SUB if cells.subtract else ResetMode.VALUE,
                  "CubaLIF": ResetMode.SUB if cells.subtract else ResetMode.VALUE,
                  "Threshold": ResetMode.ALWAYS, "Affine": ResetMode.ALWAYS}.get(cells.kind, ResetMode.NONE)
    out_scale = 1.0 / payload if spiking else float(unit.max())
    common = dict(threshold=threshold, init=init, reset=reset, shift=0, reset_mode=reset_mode, graded=graded,
                  schedule=SCHEDULE[cells.kind], kind=cells.kind, decay=cells.decay,
                  to_host=spiking and role == "output", membrane_unit=unit,
                  membrane_offset=cells.origin.astype(np.float64))
    neuron = CubaLifNeuron(**common, syn_decay=cells.syn_decay) if cells.kind == "CubaLIF" else NirNeuron(**common)
    fine_twins = w_rec is not None and w_rec.shape[1] > layer.out_features   # fine recurrent weights
    quant = QuantDense(layer.name, layer.source, layer.origin, role, w_int, bias_int, in_unit,
                       float((unit / in_unit).max()), out_scale, neuron, relu=False, out_shape=layer.out_shape,
                       bias_axon=BiasAxon(bias_payload, bias_weight) if bias_weight is not None else None,
                       fine=FineWeights(twins=fine_twins, bias=bias_fine) if bias_fine is not None or fine_twins
                       else None,
                       recurrent=w_rec, recurrent_source=None if rec_source is None else rec_source[0])
    return quant, payload, w_fine


def discretize(graph: FloatGraph, dt: float, input_max: float = DEFAULT_INPUT_MAX,
               config: ChipConfig | None = None, fine_weights: bool = False,
               allow_saturation: bool = False, fine_inputs: bool | None = False) -> QuantGraph:
    """The integer program of a NIR float graph at step ``dt`` seconds (see the module docstring).

    ``input_max``: the largest input magnitude (1 for spike inputs); an input ``x`` is injected as payload
    ``round(127 x / input_max)``. ``config`` only decides whether a bias axon still fits a core.
    ``fine_weights``: ~15-bit weights and exact biases through payload-1 twins (module docstring).
    ``allow_saturation``: clip a value that leaves its chip field and record it in ``saturations`` of the
    result, instead of refusing the graph (:mod:`~spikecore.compiler.saturation`).
    ``fine_inputs``: fine weights on the first layer only (the host's input twins; no hidden twins, no fine
    bias); included in ``fine_weights``; like it, refused with a recurrent edge into an earlier layer. ``None``:
    :func:`input_twins_by_default` (what :func:`~spikecore.compiler.pipeline.compile_nir` passes by default).
    """
    config = config if config is not None else ChipConfig()
    if not (isinstance(dt, float | int) and math.isfinite(dt) and dt > 0):
        raise SpikeCoreError(f"dt must be a finite positive number of seconds, not {dt!r}")
    if not (isinstance(input_max, float | int) and math.isfinite(input_max) and input_max > 0):
        raise SpikeCoreError(f"input_max must be a finite positive number, not {input_max!r}")
    if any(layer.neuron is None for layer in graph.layers):
        raise SpikeCoreError("discretize takes the float graph of a NIR model (every layer has a neuron model)")
    if not isinstance(fine_weights, bool):
        raise SpikeCoreError(f"fine_weights must be True or False, not {fine_weights!r}")
    names = {layer.name: k for k, layer in enumerate(graph.layers)}
    cross = {k: names[layer.recurrent_source] for k, layer in enumerate(graph.layers)
             if layer.recurrent_source is not None}
    if fine_inputs is None:
        fine_inputs = input_twins_by_default(graph)
    if not isinstance(fine_inputs, bool):
        raise SpikeCoreError(f"fine_inputs must be True, False or None, not {fine_inputs!r}")
    fine_inputs = fine_inputs and not fine_weights
    if cross and (fine_weights or fine_inputs):
        k, what = min(cross), "fine weights" if fine_weights else "fine input weights"
        raise SpikeCoreError(f"layer '{graph.layers[k].name}': {what} with a recurrent edge from a later layer "
                             f"('{graph.layers[cross[k]].name}') are not supported; compile without {what}")
    # The payload the source of each such edge emits is known only once that later layer is quantised: guess
    # 127 (graded) and quantise again with the payload it came out with (it depends on its own thresholds).
    guess = dict.fromkeys(cross.values(), SPIKE_PAYLOAD)
    for _ in range(3):
        qgraph, payloads = _discretize_layers(graph, dt, input_max, config, fine_weights, allow_saturation, cross,
                                              guess, fine_inputs)
        actual = {m: payloads[m] for m in guess}
        if actual == guess:
            break
        guess = actual
    else:
        raise SpikeCoreError("the spike payloads of the layers feeding recurrent edges into earlier layers do not "
                             "settle")
    if cross:   # layer m's spikes reach layer k < m within one input step: m - k + 1 chip steps per input step
        period = max(m - k + 1 for k, m in cross.items())
        if period > isa.PERIOD_MAX:
            raise SpikeCoreError(f"a recurrent edge spans {period} layers; a core's period is at most "
                                 f"{isa.PERIOD_MAX} chip steps (docs/spec.md §2)")
        qgraph = dataclasses.replace(qgraph, period=period)
        qgraph.check()
    return qgraph


def input_twins_by_default(graph: FloatGraph) -> bool:
    """Whether a NIR compile gives the first layer fine weights from the host's input twins when not told
    (docs/spec.md §11, "Fine weights"): from the graph alone, never from the chip, so that a graph's program
    does not depend on the chip it is compiled for.

    Yes when the first layer reads the graph's input (it always does: a layer chain starts at the input, and
    its spikes or graded values come from the host, which can send twins) and no recurrent edge enters an
    earlier layer (fine input weights are not supported there). A first layer whose weights are int8-exact
    gets no twins either way (twins exist only when some fine part is non-zero).
    """
    return all(layer.recurrent_source is None for layer in graph.layers)


def _discretize_layers(graph: FloatGraph, dt: float, input_max: float, config: ChipConfig, fine_weights: bool,
                       allow_saturation: bool, cross: dict[int, int], guess: dict[int, int],
                       fine_inputs: bool = False) -> tuple[QuantGraph, list[int]]:
    """:func:`discretize` with the payload of every recurrent edge's later source layer given (``guess``)."""
    in_unit = float(input_max) / isa.PAYLOAD_MAX
    q_input = QuantInput(graph.input.name, graph.input.shape, in_unit)
    layers: list[QuantDense] = []
    payloads: list[int] = []
    twins_possible = True          # the host can send twins; a layer can when its spikes carry payload 127
    policy = SaturationPolicy(allow=bool(allow_saturation))
    for index, layer in enumerate(graph.layers):
        quant, payload, w_fine = _quantize_layer(layer, index, len(graph.layers), float(dt), in_unit, config,
                                                 fine_weights, (fine_weights or (fine_inputs and index == 0))
                                                 and twins_possible, policy,
                                                 fine_recurrent=fine_weights,
                                                 rec_source=(cross[index], guess[cross[index]]) if index in cross
                                                 else None)
        payloads.append(payload)
        source_twins = q_input.twins if index == 0 else layers[-1].twins
        if w_fine is not None and w_fine.any():   # the sources get twins; this layer reads them after the sources
            quant = dataclasses.replace(quant, weight=np.concatenate([quant.weight, w_fine], axis=1))
            if index == 0:
                q_input = dataclasses.replace(q_input, twins=True)
            else:
                source_bias = layers[-1].fine_bias
                layers[-1] = dataclasses.replace(layers[-1], fine=FineWeights(twins=True, bias=source_bias))
        elif source_twins:   # the source has twins for its own recurrence: this layer reads them with weight 0
            quant = dataclasses.replace(quant, weight=np.concatenate([quant.weight, np.zeros_like(quant.weight)],
                                                                     axis=1))
        layers.append(quant)
        in_unit = 1.0 / payload if payload else in_unit
        twins_possible = payload == SPIKE_PAYLOAD and index < len(graph.layers) - 1
    qgraph = QuantGraph("nir", 1, q_input, layers, dt=float(dt), dense_input=True,
                        saturations=tuple(policy.events))
    qgraph.check()
    return qgraph, payloads


def discretisation_report(graph: QuantGraph) -> str:
    """Per layer: the NIR neuron, its LEAK factors, units, thresholds, reset and what its spikes carry."""
    lines = [f"NIR discretisation: dt = {graph.dt:g} s per step, input payload unit {graph.input.scale:.6g} "
             f"(payload 127 = {graph.input.scale * isa.PAYLOAD_MAX:g})"]
    if graph.input.twins:
        lines.append("  the host injects every input's payload-1 twin too (fine weights on the first layer)")
    if graph.period > 1:
        lines.append(f"  {graph.period} chip steps per input step: layer k runs in chip steps t*{graph.period} + k "
                     "(a recurrent edge into an earlier layer, docs/spec.md §11)")
    for index, layer in enumerate(graph.layers):
        cell = layer.neuron
        parts = [f"  {layer.name:<14} {cell.kind:<9} {layer.out_features:>4} neurons, lags input by {index}"]
        if cell.decay is not None:
            parts.append(f"decay {_spread(cell.decays)}/65536")
        if "SYN" in cell.schedule:
            parts.append(f"syn_decay {_spread(cell.syn_decays)}/65536")
        if layer.recurrent is not None:
            whose = ("its own spikes" if layer.recurrent_source is None
                     else f"the spikes of '{graph.layers[layer.recurrent_source].name}'")
            parts.append(f"recurrent weights {_spread(layer.recurrent)} from {whose} of the previous input step")
        parts.append(f"membrane unit {cell.membrane_unit.min():.4g}..{cell.membrane_unit.max():.4g}")
        if "FIRE" in cell.schedule and cell.kind != "Affine":
            payload = "127 (saturated graded)" if cell.graded else "1"
            parts.append(f"threshold {_spread(cell.thresholds)} (v > v_threshold), reset "
                         f"{cell.reset_mode.name.lower()}, spike payload {payload}"
                         f"{' to the host' if layer.to_host else ''}")
        if layer.twins:
            parts.append("twins (payload 1) for fine weights")
        if layer.bias_axon is not None:
            parts.append(f"bias axon payload {layer.bias_axon.payload}, weights {_spread(layer.bias_axon.weight)}")
        if layer.fine_bias is not None:
            parts.append(f"fine bias axon payload 1, weights {_spread(layer.fine_bias)}")
        lines.append(", ".join(parts))
    return "\n".join(lines)


def _spread(values: np.ndarray) -> str:
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}..{high}"
