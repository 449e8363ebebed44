"""Running a compiled NIR program: a time series in, spike rasters and output traces out (aligned to input time).

A NIR program takes one input vector per step. Layer ``k`` sees the spikes layer ``k-1`` emitted one
step earlier (docs/spec.md §2), so it works on input time ``t`` in chip step ``t D + k``, and a run of
``T`` input steps takes ``(T - 1) D + L`` chip steps for ``L`` layers; ``D = quant.period`` is 1 unless the
graph has a recurrent edge into an earlier layer (then layer ``k`` runs only in the chip steps ``t D + k``,
docs/spec.md §11). A layer whose fan-in placement split (``QuantGraph.merged``, docs/spec.md §4.8; only with
``D = 1``) emits one step later than it receives, and so do all later layers: in general layer ``k`` receives
input time ``t`` in step ``t D + lag(k)`` and emits it in step ``t D + emit_lag(k)``
(:meth:`~spikecore.compiler.ir.QuantGraph.emit_lag`), and a run takes ``(T - 1) D + emit_lag(L - 1) + 1`` chip
steps. The host, per chip step ``s``:

    inject input x[s / D] (non-zero payloads, features ascending)      if s = t D, t < T
      and, with fine weights, their twin payloads (io.fine_inputs)
    inject layer k's bias events (io.bias_events)                       if s = t D + lag(k), t < T
    step
    read the output layer's membranes -> output time t                 if s = t D + E, E = emit_lag(L - 1)

Rasters are indexed by the layer's neurons in the NIR graph's order, also for a convolution layer the
compiler placed in position-major order (:mod:`~spikecore.compiler.conv_order`).

:func:`run_nir` does that on a golden chip and returns everything re-indexed by input time;
:func:`reference_nir` returns the same from the integer reference (:mod:`~spikecore.compiler.reference`),
which the golden model must equal bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spikecore.compiler.ir import SPIKING_KINDS
from spikecore.compiler.pipeline import CompiledModel
from spikecore.compiler.reference import run_reference
from spikecore.errors import SpikeCoreError
from spikecore.isa import TraceKind
from spikecore.stimulus import Stimulus


@dataclass
class NirRun:
    """One run of ``T`` input steps, indexed by input time.

    ``rasters[name]``: ``(T, out)`` bool, which neurons of spiking layer ``name`` fired (``None`` when the
    chip model does not report hidden spikes: the functional model only sees the output layer's).
    ``output``: ``(T, out)`` float, the output layer in NIR units: 0/1 spikes of a spiking output layer, or
    the membrane ``v = u * unit + offset`` of an LI, I or Affine output. ``output_int``: the same as
    integers (spikes, or raw membranes). ``cycles``: array cycles of the run (0 for the reference).
    ``inputs_clipped``: input values outside the compiled input range (``±input_max``), injected clamped to
    payload -128/127 (0 when ``x`` was given as payloads).
    """

    rasters: dict[str, np.ndarray | None]
    output: np.ndarray
    output_int: np.ndarray
    steps: int
    cycles: int
    inputs_clipped: int = 0


def _check(compiled: CompiledModel) -> None:
    if compiled.encoding != "nir":
        raise SpikeCoreError(f"this is a {compiled.encoding}-mode program; the NIR runtime runs programs compiled from "
                             "NIR graphs")


def input_payloads(compiled: CompiledModel, x: Any) -> np.ndarray:
    """``(T, features)`` int payloads of a float time series ``x`` of shape ``(T, *input_shape)``."""
    _check(compiled)
    x = np.asarray(x, dtype=np.float64)
    features = compiled.quant.input.features
    if x.ndim < 2 or x[0].size != features:
        shape = compiled.quant.input.shape
        raise SpikeCoreError(f"NIR input of shape {x.shape} does not match the graph input {shape} "
                             f"(expected (T, {', '.join(map(str, shape))}))")
    return compiled.quant.input.quantize(x.reshape(len(x), features))


def nir_stimulus(compiled: CompiledModel, x: Any, quantized: bool = False) -> tuple[Stimulus, int]:
    """The host's injections for a time series ``x`` (float, or int payloads ``(T, features)`` when
    ``quantized``) and the number of chip steps to run."""
    q = np.asarray(x, dtype=np.int64) if quantized else input_payloads(compiled, x)
    length = len(q)
    tables = [(compiled.io.inputs, q)]
    if compiled.io.fine_inputs:   # every feature's twin payload, after all the coarse events
        tables.append((compiled.io.fine_inputs, compiled.quant.input.fine_payloads(q)))
    period = compiled.quant.period
    events: dict[int, list[tuple[int, int, int]]] = {}
    for t in range(length):
        events[t * period] = [(core, axon, p) for table, payloads in tables
                              for p, pairs in zip(payloads[t].tolist(), table, strict=True) if p
                              for core, axon in pairs]
    for first, core, axon, payload in compiled.io.bias_events:   # first = the layer's index (its first step)
        for step in range(first, first + length * period, period):
            events.setdefault(step, []).append((core, axon, payload))
    return Stimulus({s: e for s, e in events.items() if e}), chip_steps(compiled, length)


def chip_steps(compiled: CompiledModel, length: int) -> int:
    """Chip steps a run of ``length`` input steps takes: ``(length - 1) D + emit_lag(L - 1) + 1`` (module
    docstring)."""
    return (length - 1) * compiled.quant.period + _depth(compiled)


def input_time(compiled: CompiledModel, step: int, layer: int) -> int | None:
    """The input time whose spikes (or membranes) layer ``layer`` emits in chip step ``step``, or None when it
    emits none then (module docstring)."""
    t, rest = divmod(step - compiled.quant.emit_lag(layer), compiled.quant.period)
    return t if rest == 0 and t >= 0 else None


def _depth(compiled: CompiledModel) -> int:
    """Chip steps from an input to the output layer's result, plus one: ``L`` without merged layers."""
    quant = compiled.quant
    return quant.emit_lag(len(quant.layers) - 1) + 1


def nir_order(compiled: CompiledModel, name: str, raster: np.ndarray) -> np.ndarray:
    """``raster`` ``(..., neurons)`` of layer ``name`` in chip order, re-indexed in the NIR graph's neuron order
    (the identity unless the compiler reordered the layer, :mod:`~spikecore.compiler.conv_order`)."""
    order = next((layer.order for layer in compiled.float_graph.layers if layer.name == name), None)
    if order is None:
        return raster
    out = np.zeros_like(raster)
    out[..., order] = raster
    return out


def _decode(compiled: CompiledModel, values: np.ndarray) -> np.ndarray:
    layer = compiled.quant.layers[-1]
    if layer.to_host:
        return values.astype(np.float64)
    return values * layer.neuron.membrane_unit + layer.neuron.membrane_offset


def run_nir(compiled: CompiledModel, x: Any, chip: str = "cycle", quantized: bool = False) -> NirRun:
    """Run a time series on the golden model (``cycle``: every layer's raster; ``functional``: faster, output only)."""
    from spikecore.golden.board import MODELS, golden_model

    if chip not in MODELS:
        raise SpikeCoreError(f"chip must be one of {', '.join(MODELS)}, not {chip!r}")
    stimulus, steps = nir_stimulus(compiled, x, quantized)
    layers = compiled.quant.layers
    depth, length = len(layers), len(x)
    where = {pc.core: pc for pc in compiled.placed.cores}
    rasters: dict[str, np.ndarray | None] = {
        layer.name: np.zeros((length, layer.out_features), dtype=bool) if "FIRE" in layer.neuron.schedule and
        (chip == "cycle" or layer.to_host) else None
        for layer in layers if layer.neuron.kind in SPIKING_KINDS}
    last = layers[-1]
    output_int = np.zeros((length, last.out_features), dtype=np.int64)
    model = golden_model(compiled.image, chip)   # one chip, or a board (docs/spec.md §13)
    cores = compiled.image.config.cores
    model.reset_state()
    start = model.cycle
    for step in range(steps):
        for core, axon, payload in stimulus.at(step):
            model.inject(core, axon, payload)
        records = model.step()
        if records is not None:
            board = "chip" in records.dtype.names   # a board trace: global core id = chip * cores + core
            for rec in records[records["kind"] == TraceKind.SPIKE]:
                pc = where[(int(rec["chip"]) * cores if board else 0) + int(rec["core"])]
                t = input_time(compiled, step, pc.layer_index)
                # (not a twin, not a partial sum of a split layer)
                if pc.layer in rasters and t is not None and t < length and int(rec["index"]) < pc.count \
                        and not pc.partial:
                    rasters[pc.layer][t, pc.start + int(rec["index"])] = True
        t = input_time(compiled, step, depth - 1)
        if t is not None and t < length and not last.to_host:
            output_int[t] = compiled.io.read_outputs(model.membranes)
    if last.to_host:
        spikes = np.zeros((length, last.out_features), dtype=bool)
        for out in model.outputs:
            t = input_time(compiled, out.step, depth - 1)
            if t is not None and t < length:
                spikes[t, out.axon] = True
        rasters[last.name] = spikes
        output_int = spikes.astype(np.int64)
    rasters = {name: None if raster is None else nir_order(compiled, name, raster) for name, raster in rasters.items()}
    clipped = 0 if quantized else compiled.quant.input.warn_clipped(np.asarray(x, dtype=np.float64))
    return NirRun(rasters, _decode(compiled, output_int), output_int, steps, int(model.cycle - start), clipped)


def delivery_orders(compiled: CompiledModel) -> list[np.ndarray | None]:
    """Per layer, the order its sources arrive in (docs/spec.md §2: routed events first, source cores
    ascending, each core's neurons before its twins, a recurrent layer's own spikes after the previous
    layer's; then the host's inputs and bias events), or ``None`` when that is ascending."""
    placed, layers = compiled.placed, compiled.quant.layers
    orders: list[np.ndarray | None] = []
    for k, layer in enumerate(layers):
        if k == 0 or not layers[k - 1].twins:
            routed = list(range(layer.in_features))
        else:
            source = layers[k - 1]
            # (a merged source layer's partial-sum cores send their sums to its merging cores, not to this layer)
            routed = [pc.source_of(j, source.out_features) for pc in sorted(placed.layer_cores(source.name),
                                                                            key=lambda pc: pc.core)
                      if not pc.partial for j in range(len(pc.neurons))]
        src = layers[k if layer.recurrent_source is None else layer.recurrent_source]
        own = [layer.recurrent_base + pc.source_of(j, src.out_features)   # source cores: neurons, then twins
               for pc in sorted(placed.layer_cores(src.name), key=lambda pc: pc.core)
               for j in range(len(pc.neurons))] if layer.recurrent is not None else []
        own = [source for source in own if source < layer.sources]   # (twins with no recurrent weights of their own)
        bias = list(range(layer.in_features, layer.recurrent_base))
        # The host injects a first layer's inputs after the routed events (its own spikes); recurrent spikes
        # delivered in an earlier chip step than the previous layer's (the source runs m - k < D - 1 steps after
        # this layer, docs/spec.md §11) come first.
        lag = layers.index(src) - k
        earlier = layer.recurrent is not None and lag < compiled.quant.period - 1
        order = own + routed + bias if k == 0 or earlier else routed + own + bias
        orders.append(None if order == sorted(order) else np.array(order, dtype=np.int64))
    return orders


def reference_nir(compiled: CompiledModel, x: Any, quantized: bool = False) -> NirRun:
    """The integer reference of the same run (what the golden model must equal exactly)."""
    q = np.asarray(x, dtype=np.int64) if quantized else input_payloads(compiled, x)
    layers = compiled.quant.layers
    length, period = len(q), compiled.quant.period
    ref = run_reference(compiled.quant, q[None], delivery_orders(compiled))
    lags = [compiled.quant.emit_lag(k) for k in range(len(layers))]
    rasters: dict[str, np.ndarray | None] = {
        layer.name: nir_order(compiled, layer.name, ref.fired[k][0, lags[k]:lags[k] + length * period:period].copy())
        for k, layer in enumerate(layers) if layer.neuron.kind in SPIKING_KINDS}
    last = layers[-1]
    if last.to_host:
        output_int = rasters[last.name].astype(np.int64)
    else:
        output_int = ref.trace[-1][0, lags[-1]:lags[-1] + length * period:period].copy()
    clipped = 0 if quantized else compiled.quant.input.clipped(np.asarray(x, dtype=np.float64))
    return NirRun(rasters, _decode(compiled, output_int), output_int, chip_steps(compiled, length), 0, clipped)


def run_nir_batch(compiled: CompiledModel, xs: Any) -> np.ndarray:
    """The output layer of ``N`` independent runs on the batched functional golden model
    (:class:`~spikecore.golden.batch.BatchFunctionalChip`; a board image runs them one after the other on the
    functional board), ``xs`` float ``(N, T, *input_shape)``.

    Returns ``(N, T, out)`` float indexed by input time, as :attr:`NirRun.output`: 0/1 spikes of a spiking
    output layer, or the membranes ``v = u * unit + offset`` of an LI, I or Affine output."""
    from spikecore.golden.batch import BatchFunctionalChip

    xs = np.asarray(xs, dtype=np.float64)
    if xs.ndim < 3:
        raise SpikeCoreError(f"NIR batch input of shape {xs.shape} must be (N, T, *input_shape)")
    if compiled.image.config.chips > 1:   # the batched model is one chip's: a board runs one sequence at a time
        return np.stack([run_nir(compiled, x, chip="functional").output for x in xs]) if len(xs) else np.zeros(
            (0, xs.shape[1], compiled.quant.layers[-1].out_features))
    runs = [nir_stimulus(compiled, x) for x in xs]
    steps = runs[0][1]
    depth, length = len(compiled.quant.layers), len(xs[0])
    last = compiled.quant.layers[-1]
    chip = BatchFunctionalChip(compiled.image, len(xs))
    chip.reset_state()
    output_int = np.zeros((len(xs), length, last.out_features), dtype=np.int64)
    for step in range(steps):
        events = [(b, *event) for b, (stimulus, _) in enumerate(runs) for event in stimulus.at(step)]
        if events:
            chip.inject(*np.array(events, dtype=np.int64).T)
        chip.step()
        t = input_time(compiled, step, depth - 1)
        if t is not None and t < length and not last.to_host:
            membranes = chip.membranes
            output_int[:, t] = [compiled.io.read_outputs(m) for m in membranes]
    if last.to_host:
        for b, outs in enumerate(chip.outputs):
            for out in outs:
                t = input_time(compiled, out.step, depth - 1)
                if t is not None and t < length:
                    output_int[b, t, out.axon] = 1
    return np.stack([_decode(compiled, values) for values in output_int])
