"""Integer numpy reference of a quantised network: what the chip must compute, step by step.

:func:`run_reference` runs a :class:`QuantGraph` on a batch of integer inputs with the chip's integer
semantics (docs/spec.md §3–§4) at the level of *layers* rather than cores: per step, every layer runs its
schedule (ACC of the events its sources emitted in the previous step, FIRE with the layer's threshold,
shift and reset), and what it fires becomes the next layer's events in the next step. That is exactly
what the placed program does, because

- every core of a layer runs the same schedule on its slice of neurons, and a neuron's events are those
  of its sources (placement gives each core exactly the axons its neurons' non-zero weights read; events
  on other sources would multiply zero weights),
- events reach a core in ascending source order (source cores ascend, each FIRE pushes in neuron order,
  the host injects features in ascending order), which is the order this module accumulates in when a
  sum could saturate (the only case where the order matters),
- the host injects the non-zero quantised inputs before each step of ``inject_steps``, and a rate-mode
  hidden layer's bias event (after its routed events) before each step of its window.

So in graded mode the golden model's output membranes must equal :attr:`ReferenceResult.membranes`
exactly, and the same holds in rate mode. Besides the outputs the result records every step's events,
spikes and membranes, from which the runtime counts synaptic operations and the benchmark derives cycle
bounds.

A layer whose fan-in placement split (``QuantGraph.merged``, docs/spec.md §4.8) forms its weighted sum in
the step its inputs arrive (the partial-sum cores) and adds it in the next step (the merging core's MERGE, in
place of ACC in its schedule); the sum is exact because placement splits only where no running sum can
leave int32, so it is one matrix product here, clipped once.

NIR programs (encoding ``nir``) take a different input per step: ``inputs`` of shape ``(N, T, features)``
runs ``T + layers - 1`` steps (one more per merged layer), injecting ``inputs[:, t]`` before step ``t`` and
layer ``k``'s bias event before each of steps ``lag(k) .. lag(k)+T-1`` (the steps in which that layer, or its
partial-sum cores when merged, sees input times ``0 .. T-1``; ``lag(k)`` is ``k`` without merged layers).
With fine weights a layer with ``twins`` emits every spike twice, as source ``i`` (its payload) and
source ``out + i`` (payload 1), and the input's twins carry :meth:`QuantInput.fine_payloads`. A core
delivers its neurons' events before its twins', so the order in which a layer receives its sources is not
ascending; where a sum could saturate, pass that order (``orders``, see :func:`run_reference`).
A recurrent layer (``QuantDense.recurrent``) also reads its own spikes of the previous step, as the sources
after its bias axons; a CubaLIF layer keeps a synaptic current per neuron (SACC, SYN; it starts at 0).
With ``QuantGraph.period`` D > 1 (a recurrent edge from a later layer ``m = recurrent_source``) layer ``k``
runs only in the steps ``s`` with ``s mod D = k mod D`` (docs/spec.md §2) and reads every event delivered
since it last ran: ``inputs[:, t]`` is injected before step ``t D``, layer ``k``'s bias before ``t D + k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikecore import isa
from spikecore.compiler.ir import QuantDense, QuantGraph
from spikecore.errors import SpikeCoreError
from spikecore.isa import ResetMode


@dataclass
class ReferenceResult:
    """Outputs and activity of a batch of ``N`` inferences.

    ``membranes``: ``(N, outputs)`` output-layer membranes after the last step; ``logits`` the same with
    the output ReLU applied when the model has one (what the host reports). ``events[k]``:
    ``(N, steps, sources_k)`` bool, whether source ``i`` of layer ``k`` delivered an event to it in that
    step (the last columns are the bias axons when the layer has them).
    ``fired[k]``: ``(N, steps, out_k)`` bool, which neurons of layer ``k`` fired (all False for a layer
    without FIRE). ``payloads[k]``: ``(N, steps, out_k)`` the payloads they emitted (0 when not fired).
    ``trace[k]``: ``(N, steps, out_k)`` int64, layer ``k``'s membranes at the end of each step.
    """

    membranes: np.ndarray
    logits: np.ndarray
    events: list[np.ndarray]
    fired: list[np.ndarray]
    payloads: list[np.ndarray]
    trace: list[np.ndarray] | None = None

    @property
    def predictions(self) -> np.ndarray:
        return np.argmax(self.logits, axis=1)


def saturating_accumulate(start: np.ndarray, sent: np.ndarray, payload: np.ndarray, weight: np.ndarray,
                          order: np.ndarray | None = None) -> np.ndarray:
    """``start + Σ_i payload_i * weight[:, i]`` over the sources that ``sent``, saturating after every MAC.

    ``start`` is ``(N, out)``, ``sent``/``payload`` ``(N, in)``, ``weight`` ``(out, in)``. Sums that cannot
    leave int32 (|start| + Σ|p w| within range) are one matrix product; the rest are redone one MAC at a
    time in the order the chip receives the sources: ``order`` (a permutation of the sources), by default
    ascending.
    """
    p = np.where(sent, payload, 0).astype(np.int64)
    w = weight.astype(np.int64)
    total = start + p @ w.T
    reach = np.abs(p) @ np.abs(w).T
    for n, j in zip(*np.nonzero((start - reach < isa.ACC_MIN) | (start + reach > isa.ACC_MAX)), strict=True):
        value = int(start[n, j])
        for i in (np.flatnonzero(sent[n]) if order is None else order[sent[n][order]]).tolist():
            value = isa.saturate(value + int(p[n, i]) * int(w[j, i]), isa.ACC_BITS)
        total[n, j] = value
    return total


def leak(layer: QuantDense, v: np.ndarray) -> np.ndarray:
    """LEAK over a whole layer: ``round_shift(v * decay, 16)`` (docs/spec.md §4.3); never overflows."""
    return isa.leak(v, layer.neuron.decays)


def syn(layer: QuantDense, v: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SYN over a whole layer (docs/spec.md §4.6): ``(new membranes, decayed currents)``."""
    after = np.clip(v + current, isa.ACC_MIN, isa.ACC_MAX)
    return after, isa.leak(current, layer.neuron.syn_decays)


def fire(layer: QuantDense, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FIRE over a whole layer: ``(fired, payloads, new membranes)`` (docs/spec.md §4.2)."""
    cell = layer.neuron
    threshold = cell.thresholds
    fired = v >= threshold
    if cell.graded:
        payload = np.clip(isa.round_shift(v, cell.shift), isa.PAYLOAD_MIN, isa.PAYLOAD_MAX)
    else:
        payload = np.full_like(v, isa.BINARY_PAYLOAD)
    payload = np.where(fired, payload, 0)
    reset_mode = cell.reset_mode
    if reset_mode == ResetMode.NONE:
        after = v
    elif reset_mode == ResetMode.VALUE:
        after = np.where(fired, cell.reset, v)
    elif reset_mode == ResetMode.SUB:
        after = np.where(fired, np.clip(v - threshold, isa.ACC_MIN, isa.ACC_MAX), v)
    else:
        after = np.broadcast_to(cell.reset, v.shape).copy()
    return fired, payload, after


def run_reference(graph: QuantGraph, inputs: np.ndarray, orders: list[np.ndarray | None] | None = None
                  ) -> ReferenceResult:
    """Run ``graph`` on int payloads ``inputs`` of shape ``(N, features)`` (see :meth:`QuantInput.quantize`),
    or ``(N, T, features)`` for one input vector per step (NIR programs; see the module docstring).

    ``orders[k]``: the order in which layer ``k`` receives its sources (bias axons last), when it is not
    ascending; it only matters to a sum that saturates."""
    q = np.asarray(inputs)
    features = graph.input.features
    if q.ndim not in (2, 3) or q.shape[-1] != features or q.dtype.kind not in "iu":
        raise SpikeCoreError(f"reference inputs must be an integer array (N, {features}) or (N, T, {features}), "
                             f"not {q.dtype} {q.shape}")
    if q.size and (q.min() < isa.PAYLOAD_MIN or q.max() > isa.PAYLOAD_MAX):
        raise SpikeCoreError("reference inputs must be int8 payloads")
    q = q.astype(np.int64)
    period = graph.period
    if q.ndim == 3:   # one input vector per step: layer k works on input time t in step t * period + k
        per_step, length = q, q.shape[1]
        steps = (length - 1) * period + graph.emit_lag(len(graph.layers) - 1) + 1
        windows = [range(graph.lag(k), graph.lag(k) + length * period, period) for k in range(len(graph.layers))]
    else:
        per_step = np.repeat(q[:, None], len(graph.inject_steps), axis=1)
        steps, windows = graph.steps, [graph.window(k) for k in range(len(graph.layers))]
    inject = {step: i for i, step in enumerate(windows[0])}
    n = len(q)
    membranes = [np.broadcast_to(layer.neuron.init, (n, layer.out_features)).astype(np.int64) for layer in graph.layers]
    currents = [np.zeros((n, layer.out_features), dtype=np.int64) for layer in graph.layers]   # syn_init = 0
    events = [np.zeros((n, steps, layer.sources), dtype=bool) for layer in graph.layers]
    fired = [np.zeros((n, steps, layer.out_features), dtype=bool) for layer in graph.layers]
    payloads = [np.zeros((n, steps, layer.out_features), dtype=np.int64) for layer in graph.layers]
    trace = [np.zeros((n, steps, layer.out_features), dtype=np.int64) for layer in graph.layers]
    # merged layers: the partial sums formed last step, which this step's MERGE adds (none before step 0)
    pending = {k: np.zeros((n, graph.layers[k].out_features), dtype=np.int64) for k in graph.merged}
    for t in range(steps):
        for k, layer in enumerate(graph.layers):
            if period > 1 and t % period != k % period:   # not this layer's step: its events wait in the buffer
                trace[k][:, t] = membranes[k]
                continue
            if k == 0:
                payload = per_step[:, inject[t]] if t in inject else np.zeros((n, features), dtype=np.int64)
                if graph.input.twins:   # each feature's fine twin, after every coarse event
                    payload = np.concatenate([payload, graph.input.fine_payloads(payload)], axis=1)
                sent = payload != 0
            else:  # what the source layer fired in the previous step (this step's values are not delivered yet)
                source = graph.layers[k - 1]
                sent = fired[k - 1][:, t - 1] if t > 0 else np.zeros((n, source.out_features), dtype=bool)
                payload = payloads[k - 1][:, t - 1] if t > 0 else np.zeros((n, source.out_features), dtype=np.int64)
                if source.twins:        # every spike again from its twin, payload 1
                    sent = np.concatenate([sent, sent], axis=1)
                    payload = np.concatenate([payload, sent[:, source.out_features:].astype(np.int64)], axis=1)
            bias = layer.bias_payloads()
            if bias:  # the host's bias events, injected after the routed events
                sent = np.concatenate([sent, np.full((n, len(bias)), t in windows[k])], axis=1)
                payload = np.concatenate([payload, np.broadcast_to(np.array(bias, dtype=np.int64), (n, len(bias)))],
                                         axis=1)
            if layer.recurrent is not None:   # its own (or a later layer's) spikes since it last ran, after the bias
                src = k if layer.recurrent_source is None else layer.recurrent_source
                size = graph.layers[src].out_features
                since = slice(max(0, t - period), t)   # the source runs in exactly one of these steps
                own_sent = fired[src][:, since].any(axis=1) if t > 0 else np.zeros((n, size), dtype=bool)
                own = payloads[src][:, since].sum(axis=1) if t > 0 else np.zeros((n, size), dtype=np.int64)
                if layer.recurrent.shape[1] > size:   # its twins' spikes too, payload 1
                    own = np.concatenate([own, own_sent.astype(np.int64)], axis=1)
                    own_sent = np.concatenate([own_sent, own_sent], axis=1)
                sent, payload = np.concatenate([sent, own_sent], axis=1), np.concatenate([payload, own], axis=1)
            events[k][:, t] = sent
            v = membranes[k]
            order = orders[k] if orders is not None else None
            if k in pending:    # partial-sum cores now, merging core next step
                formed = saturating_accumulate(np.zeros_like(v), sent, payload, layer.weight_rows(), order)
            for op in layer.neuron.schedule:
                if op == "ACC" and k in pending:
                    v = np.clip(v + pending[k], isa.ACC_MIN, isa.ACC_MAX)
                elif op == "ACC":
                    v = saturating_accumulate(v, sent, payload, layer.weight_rows(), order)
                elif op == "SACC":
                    currents[k] = saturating_accumulate(currents[k], sent, payload, layer.weight_rows(), order)
                elif op == "SYN":
                    v, currents[k] = syn(layer, v, currents[k])
                elif op == "LEAK":
                    v = leak(layer, v)
                else:
                    fired[k][:, t], payloads[k][:, t], v = fire(layer, v)
            membranes[k] = trace[k][:, t] = v
            if k in pending:
                pending[k] = formed
    out = membranes[-1]
    logits = np.maximum(out, 0) if graph.layers[-1].relu else out.copy()
    return ReferenceResult(out.copy(), logits, events, fired, payloads, trace)
