"""Running a compiled model on the golden chip: inputs in, integer logits and cost counters out.

One inference (what the host does, and what an RTL testbench replays with :meth:`CompiledModel.stimulus`)::

    chip.reset_state()                           # membranes := init (the biases), buffers emptied
    for step in range(compiled.steps):
        for core, axon, payload in stimulus.at(step):
            chip.inject(core, axon, payload)
        chip.step()
    logits = compiled.io.read_outputs(chip.membranes)   # adds partial sums of a split output layer

:func:`run_batch` does that for a batch on :class:`FunctionalChip` (fast) or :class:`CycleChip` (with the
trace) and reports cycles and spikes per inference as the chip counted them; :func:`run_stream` pipelines a
graded-mode batch (one new sample per step, possible because graded layers are stateless). Synaptic operations (one per
event per neuron of the receiving core's ACC) are not visible from the host, so :func:`activity` derives
them, exactly, from the integer reference's events and the placement; it also predicts every step's
cycles from the timing table (docs/spec.md §5), which the tests hold equal to the golden count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spikecore import isa
from spikecore.compiler.pipeline import CompiledModel
from spikecore.compiler.reference import ReferenceResult
from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import CycleChip
from spikecore.golden.functional import FunctionalChip

CHIPS = {"functional": FunctionalChip, "cycle": CycleChip}


@dataclass
class BatchResult:
    """Per-inference results of a batch of ``N`` samples on the golden chip."""

    logits: np.ndarray        # (N, outputs) int64: output membranes (ReLU applied if the model ends in one)
    predictions: np.ndarray   # (N,) argmax of logits
    cycles: np.ndarray        # (N,) array cycles of the inference (all its steps)
    spikes: np.ndarray        # (N,) neurons fired
    synops: np.ndarray        # (N,) synaptic operations (ACC multiply-accumulates)
    drops: np.ndarray         # (N,) events dropped (always 0 for a correctly placed program)
    chip: str
    total_cycles: int         # array cycles of the whole batch
    inputs_clipped: int = 0   # input values beyond the calibrated range, injected clamped to payload -128/127


@dataclass
class Activity:
    """Costs of each inference derived from the reference run and the placement (docs/spec.md §5).

    ``cycles`` is the predicted array cycle count; ``lower_bound`` is Σ over steps of (the busiest core's
    MACs × MAC_CYCLES + the fixed per-step cost: the longest program's issue cycles and the barrier) —
    what a step must take even with free FIRE, fan-out and routing.
    """

    synops: np.ndarray
    spikes: np.ndarray
    deliveries: np.ndarray
    cycles: np.ndarray
    lower_bound: np.ndarray


def activity(compiled: CompiledModel, ref: ReferenceResult) -> Activity:
    """Synaptic operations, spikes, deliveries, predicted cycles and the cycle lower bound per inference."""
    placed = compiled.placed
    n = len(ref.membranes)
    steps = compiled.steps
    longest = max(len(pc.program) for pc in placed.cores)
    # A core without a section runs HALT only: one issue cycle.
    idle = isa.ISSUE_CYCLES if len(placed.cores) < placed.config.cores else 0
    exec_cycles = np.full((n, steps), idle, dtype=np.int64)
    busiest_macs = np.zeros((n, steps), dtype=np.int64)
    synops = np.zeros(n, dtype=np.int64)
    spikes = np.zeros(n, dtype=np.int64)
    deliveries = np.zeros((n, steps), dtype=np.int64)
    for pc in placed.cores:
        events = ref.events[pc.layer_index][:, :, list(pc.axons)].sum(axis=2)       # (n, steps)
        macs = events * pc.count
        fired = ref.fired[pc.layer_index][:, :, pc.start:pc.start + pc.count]       # (n, steps, count)
        fanout = np.array([p.fanout_count for p in pc.neurons], dtype=np.int64)
        pushes = fired.astype(np.int64) @ fanout                                      # (n, steps)
        cycles = np.zeros((n, steps), dtype=np.int64)
        for ins in pc.program:
            cycles += isa.ISSUE_CYCLES
            if ins.opcode == isa.Opcode.ACC:
                cycles += macs * isa.MAC_CYCLES
            elif ins.opcode == isa.Opcode.FIRE:
                cycles += pc.count * isa.NEURON_CYCLES + pushes * isa.FANOUT_CYCLES
        exec_cycles = np.maximum(exec_cycles, cycles)
        busiest_macs = np.maximum(busiest_macs, macs)
        synops += macs.sum(axis=1)
        spikes += fired.sum(axis=(1, 2))
        deliveries += pushes
    step_cycles = exec_cycles + isa.BARRIER_CYCLES + deliveries * isa.DELIVERY_CYCLES
    fixed = longest * isa.ISSUE_CYCLES + isa.BARRIER_CYCLES
    lower = (busiest_macs * isa.MAC_CYCLES + fixed).sum(axis=1)
    return Activity(synops, spikes, deliveries.sum(axis=1), step_cycles.sum(axis=1), lower)


def run_batch(compiled: CompiledModel, x: Any, chip: str = "functional", quantized: bool = False) -> BatchResult:
    """Run every sample of ``x`` (float ``(N, ...)``, or int payloads when ``quantized``) on a golden chip."""
    if chip not in CHIPS:
        raise SpikeCoreError(f"chip must be one of {', '.join(CHIPS)}, not {chip!r}")
    q = np.asarray(x, dtype=np.int64) if quantized else compiled.quantize_input(x)
    model = CHIPS[chip](compiled.image)
    n = len(q)
    logits = np.zeros((n, len(compiled.io.outputs)), dtype=np.int64)
    cycles, spikes, drops = (np.zeros(n, dtype=np.int64) for _ in range(3))
    for i in range(n):
        stimulus = compiled.stimulus(q[i], quantized=True)
        model.reset_state()
        start = model.cycle
        for step in range(compiled.steps):
            for core, axon, payload in stimulus.at(step):
                model.inject(core, axon, payload)
            model.step()
        logits[i] = compiled.io.read_outputs(model.membranes)
        cycles[i] = model.cycle - start
        spikes[i] = model.spike_counts.sum()
        drops[i] = model.drops.sum()
    if compiled.quant.layers[-1].relu:
        logits = np.maximum(logits, 0)
    synops = activity(compiled, compiled.reference(q, quantized=True)).synops
    clipped = 0 if quantized else compiled.quant.input.warn_clipped(np.asarray(x, dtype=np.float64))
    return BatchResult(logits, np.argmax(logits, axis=1), cycles, spikes, synops, drops, chip, int(cycles.sum()),
                       clipped)


def run_stream(compiled: CompiledModel, x: Any, chip: str = "functional", quantized: bool = False) -> BatchResult:
    """Graded mode, pipelined: sample ``s`` is injected before step ``s`` and read after step ``s + steps - 1``.

    Graded hidden layers are stateless (FIRE resets every membrane to its bias every step) and output
    layers clear to the bias before accumulating, so layer ``k`` can work on sample ``s - k`` while layer 0
    takes sample ``s``: ``N`` inferences take ``N + steps - 1`` steps, with no state reset. Per-sample
    ``cycles`` and ``spikes`` are those of the step that took the sample in (the drain steps are added to
    the last sample), so they sum to the batch totals; ``synops`` counts each sample's own MACs.
    """
    if compiled.mode != "graded":
        raise SpikeCoreError("run_stream: only graded-mode programs are stateless and can be pipelined")
    if chip not in CHIPS:
        raise SpikeCoreError(f"chip must be one of {', '.join(CHIPS)}, not {chip!r}")
    q = np.asarray(x, dtype=np.int64) if quantized else compiled.quantize_input(x)
    model = CHIPS[chip](compiled.image)
    n, latency = len(q), compiled.steps - 1
    logits = np.zeros((n, len(compiled.io.outputs)), dtype=np.int64)
    cycles, spikes, drops = (np.zeros(n, dtype=np.int64) for _ in range(3))
    stimulus = compiled.stream_stimulus(q, quantized=True)
    model.reset_state()
    start = model.cycle
    for step in range(n + latency):
        before_cycle, before_spikes = model.cycle, int(model.spike_counts.sum())
        for core, axon, payload in stimulus.at(step):
            model.inject(core, axon, payload)
        model.step()
        slot = min(step, n - 1)
        cycles[slot] += model.cycle - before_cycle
        spikes[slot] += int(model.spike_counts.sum()) - before_spikes
        if step >= latency:
            logits[step - latency] = compiled.io.read_outputs(model.membranes)
    drops[-1] = model.drops.sum()
    if compiled.quant.layers[-1].relu:
        logits = np.maximum(logits, 0)
    ref = compiled.reference(q, quantized=True)
    synops = np.zeros(n, dtype=np.int64)
    for pc in compiled.placed.cores:  # each layer's events of its own sample, in its own step
        k = pc.layer_index
        synops += ref.events[k][:, k][:, list(pc.axons)].sum(axis=1) * pc.count
    clipped = 0 if quantized else compiled.quant.input.warn_clipped(np.asarray(x, dtype=np.float64))
    return BatchResult(logits, np.argmax(logits, axis=1), cycles, spikes, synops, drops, chip,
                       int(model.cycle - start), clipped)


def stream_lower_bound(compiled: CompiledModel, ref: ReferenceResult) -> int:
    """Cycle lower bound of :func:`run_stream` over the batch of ``ref``: Σ over steps of (the busiest core's
    MACs + the fixed per-step cost), counting each layer's MACs on its own sample only."""
    n, latency = len(ref.membranes), compiled.steps - 1
    busiest = np.zeros(n + latency, dtype=np.int64)
    for pc in compiled.placed.cores:
        k = pc.layer_index
        macs = ref.events[k][:, k][:, list(pc.axons)].sum(axis=1) * pc.count   # sample s, at step s + k
        busiest[k:k + n] = np.maximum(busiest[k:k + n], macs)
    fixed = max(len(pc.program) for pc in compiled.placed.cores) * isa.ISSUE_CYCLES + isa.BARRIER_CYCLES
    return int((busiest * isa.MAC_CYCLES + fixed).sum())
