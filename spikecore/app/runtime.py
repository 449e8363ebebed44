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
from spikecore.golden.batch import BatchFunctionalChip
from spikecore.golden.batch_board import BatchFunctionalBoard, flatten_board
from spikecore.golden.board import golden_model
from spikecore.golden.cycle import CycleChip, LoadedImage, unpack_image
from spikecore.golden.functional import FunctionalChip

CHIP_CLASSES = {"functional": FunctionalChip, "cycle": CycleChip}
#: Chips :func:`run_batch` accepts: the per-sample models above, and ``batch`` (every sample at once on
#: :class:`~spikecore.golden.batch.BatchFunctionalChip`, same results as ``functional``).
BATCH_CHIPS = (*CHIP_CLASSES, "batch")
#: Samples stepped together on the batch chip (bounds its memory: ~B x cores x event_depth x 16 bytes).
BATCH_CHUNK = 4096


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
    # a board (docs/spec.md §13): events sent and stall cycles per link a -> b, (chips, chips) int64, summed over
    # the batch; None on one chip
    link_events: np.ndarray | None = None
    link_stalls: np.ndarray | None = None


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


def _merged_groups(placed, core: int) -> int:
    """The partial-sum cores that send to merging core ``core`` (a global id; a fan-out entry names its chip)."""
    cores = placed.config.cores
    return sum(1 for other in placed.cores if other.partial and other.fanout
               and not other.fanout[0].to_host and other.fanout[0].chip * cores + other.fanout[0].core == core)


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
    merged = set(compiled.quant.merged)
    for pc in placed.cores:
        events = ref.events[pc.layer_index][:, :, list(pc.axons)].sum(axis=2)       # (n, steps)
        macs = events * pc.count
        fired = ref.fired[pc.layer_index][:, :, pc.start:pc.start + pc.count]       # (n, steps, count)
        if pc.merge:    # MERGE: one add per partial sum, every partial-sum neuron fires every step (spec §4.8)
            groups = _merged_groups(placed, pc.core)
            macs = np.full((n, steps), groups * pc.count, dtype=np.int64)
            macs[:, 0] = 0                                                           # nothing formed before step 0
        elif pc.partial and pc.layer_index in merged:
            fired = np.ones_like(fired)
        fanout = np.array([p.fanout_count for p in pc.neurons], dtype=np.int64)
        pushes = fired.astype(np.int64) @ fanout                                      # (n, steps)
        cycles = np.zeros((n, steps), dtype=np.int64)
        for ins in pc.program:
            cycles += isa.ISSUE_CYCLES
            if ins.opcode in (isa.Opcode.ACC, isa.Opcode.MERGE):
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


def run_batch(compiled: CompiledModel, x: Any, chip: str = "functional", quantized: bool = False,
              reference: ReferenceResult | None = None) -> BatchResult:
    """Run every sample of ``x`` (float ``(N, ...)``, or int payloads when ``quantized``) on a golden chip:
    ``functional`` or ``cycle`` sample by sample, ``batch`` all samples at once (same results as
    ``functional``, tens of times faster on large batches; a board image on
    :class:`~spikecore.golden.batch_board.BatchFunctionalBoard`).

    Synaptic operations come from the integer reference of the same batch; pass ``reference`` when the
    caller has already run it. Raises :class:`SpikeCoreError` for an unknown ``chip`` or a sample with
    the wrong number of features."""
    if chip not in BATCH_CHIPS:
        raise SpikeCoreError(f"chip must be one of {', '.join(BATCH_CHIPS)}, not {chip!r}")
    q = np.asarray(x, dtype=np.int64) if quantized else compiled.quantize_input(x)
    if q.ndim != 2 or q.shape[1] != len(compiled.io.inputs):
        raise SpikeCoreError(f"samples have shape {q.shape[1:]}, the model takes {len(compiled.io.inputs)} features")
    n = len(q)
    logits = np.zeros((n, len(compiled.io.outputs)), dtype=np.int64)
    cycles, spikes, drops = (np.zeros(n, dtype=np.int64) for _ in range(3))
    board = compiled.image.config.chips > 1
    chips = compiled.image.config.chips
    link_events, link_stalls = (np.zeros((chips, chips), dtype=np.int64) for _ in range(2))
    if chip == "batch":
        # one chip: BatchFunctionalChip; a board (docs/spec.md §13): BatchFunctionalBoard, its DELIVER the board's
        loaded = flatten_board(compiled.image) if board else unpack_image(compiled.image)
        for first in range(0, n, BATCH_CHUNK):
            part = slice(first, first + BATCH_CHUNK)
            logits[part], cycles[part], spikes[part], drops[part], links = _run_chunk(compiled, loaded, q[part])
            if links is not None:
                link_events += links[0]
                link_stalls += links[1]
    model = golden_model(compiled.image, chip) if chip != "batch" else None
    for i in range(n if model is not None else 0):
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
        if board:   # (the board's link counters restart at each state reset)
            link_events += model.link_events
            link_stalls += model.link_stalls
    if compiled.quant.layers[-1].relu:
        logits = np.maximum(logits, 0)
    reference = reference if reference is not None else compiled.reference(q, quantized=True)
    synops = activity(compiled, reference).synops
    clipped = 0 if quantized else compiled.quant.input.warn_clipped(np.asarray(x, dtype=np.float64))
    return BatchResult(logits, np.argmax(logits, axis=1), cycles, spikes, synops, drops, chip, int(cycles.sum()),
                       clipped, link_events if board else None, link_stalls if board else None)


def _run_chunk(compiled: CompiledModel, loaded: LoadedImage, q: np.ndarray) -> tuple[np.ndarray, ...]:
    """One inference of each row of ``q`` (int payloads) on :class:`BatchFunctionalChip`: the host's
    injections of :meth:`CompiledModel.stimulus`, built for every sample at once. Returns the output
    membranes (no ReLU), cycles, spikes and drops per sample, and on a board the link events and stalls
    ``(chips, chips)`` summed over the samples (else ``None``)."""
    n = len(q)
    chip = BatchFunctionalBoard(compiled.image, n, loaded) if compiled.image.config.chips > 1 else \
        BatchFunctionalChip(loaded, n)
    io = compiled.io
    # The host injects features ascending, each on its (core, axon) pairs: per core, a column per pair.
    columns: dict[int, list[tuple[int, int]]] = {}
    for feature, targets in enumerate(io.inputs):
        for core, axon in targets:
            columns.setdefault(core, []).append((feature, axon))
    bias: dict[int, list[tuple[int, int, int]]] = {}
    for step, c, a, p in io.bias_events:
        bias.setdefault(step, []).append((c, a, p))
    chip.reset_state()
    everyone = np.arange(n, dtype=np.int64)
    for step in range(compiled.steps):
        if step in io.inject_steps:
            for core, pairs in columns.items():
                chip.inject_dense(core, np.array([a for _, a in pairs]), q[:, [f for f, _ in pairs]])
        for c, a, p in bias.get(step, []):
            chip.inject(everyone, np.full(n, c), np.full(n, a), np.full(n, p))
        chip.step()
    per_core = {c: chip.core_membranes(c) for targets in io.outputs for c, _ in targets}
    logits = np.stack([sum(per_core[c][:, j] for c, j in targets) for targets in io.outputs], axis=1)
    links = (chip.link_events.sum(axis=0), chip.link_stalls.sum(axis=0)) if isinstance(chip, BatchFunctionalBoard) \
        else None
    return logits, chip.cycle, chip.spike_counts.sum(axis=1), chip.drops.sum(axis=1), links


def run_stream(compiled: CompiledModel, x: Any, chip: str = "functional", quantized: bool = False) -> BatchResult:
    """Graded mode, pipelined: sample ``s`` is injected before step ``s`` and read after step ``s + steps - 1``.

    Graded hidden layers are stateless (FIRE resets every membrane to its bias every step) and output
    layers clear to the bias before accumulating, so layer ``k`` can work on sample ``s - k`` while layer 0
    takes sample ``s``: ``N`` inferences take ``N + steps - 1`` steps, with no state reset. Per-sample
    ``cycles`` and ``spikes`` are those of the step that took the sample in (the drain steps are added to
    the last sample), so they sum to the batch totals; ``synops`` counts each sample's own MACs.
    """
    if compiled.encoding != "graded":
        raise SpikeCoreError("run_stream: only graded-mode programs are stateless and can be pipelined")
    if chip not in CHIP_CLASSES:
        raise SpikeCoreError(f"chip must be one of {', '.join(CHIP_CLASSES)}, not {chip!r}")
    q = np.asarray(x, dtype=np.int64) if quantized else compiled.quantize_input(x)
    model = golden_model(compiled.image, chip)
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
        at = compiled.quant.lag(k)             # layer k works on sample s at step s + lag (its partial sums)
        if pc.merge:                           # ... and merges them one step later (docs/spec.md §4.8)
            groups = _merged_groups(compiled.placed, pc.core)
            macs, at = np.full(n, groups * pc.count, dtype=np.int64), at + 1
        else:
            macs = ref.events[k][:, at][:, list(pc.axons)].sum(axis=1) * pc.count
        busiest[at:at + n] = np.maximum(busiest[at:at + n], macs)
    fixed = max(len(pc.program) for pc in compiled.placed.cores) * isa.ISSUE_CYCLES + isa.BARRIER_CYCLES
    return int((busiest * isa.MAC_CYCLES + fixed).sum())
