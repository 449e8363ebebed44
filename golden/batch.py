"""The functional golden model over a batch: ``B`` independent chips stepped together, one numpy call per
instruction for the whole batch.

:class:`BatchFunctionalChip` holds ``B`` copies of the state of
:class:`~spikecore.golden.functional.FunctionalChip` (membranes, input buffers, drop and spike counters,
cycle counters, host outputs) along a leading sample axis, and runs every sample's step with the same
semantics (docs/spec.md §2-§5):

- the input buffers are kept as one list of events in arrival order (sample, core, axon, payload); a
  buffer's fill is counted per sample and core, an injection into a full buffer is refused and a routed
  event beyond ``event_depth`` is a drop, exactly as in the per-sample model;
- an ACC is a matrix product: each sample's buffered payloads (summed per axon) times the weight row
  each axon reads. A neuron that could saturate on some MAC (it starts within
  ``events x max|product|`` of an int32 limit) is redone one MAC at a time in buffer order; SACC
  (version 2) is the same product into the synaptic currents, and SYN adds each current into its membrane
  (saturating) and then decays the current (§4.5, §4.6);
- FIRE pushes fan-out entries in neuron order; DELIVER routes source cores ascending, in push order,
  into the buffers the barrier emptied.

Every sample shares the image; samples differ only in what the host injects. It is the path for
evaluating a compiled model on many samples (:func:`spikecore.app.runtime.run_batch` with
``chip="batch"``); ``tests/golden/test_golden_batch.py`` holds it equal to the per-sample
:class:`~spikecore.golden.functional.FunctionalChip` on compiled models (graded and rate mode) and on
random programs with saturation and drops.
"""

from __future__ import annotations

import itertools

import numpy as np

from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import (
    LoadedImage,
    OutSpike,
    apply_reset,
    fire_payloads,
    integrate_currents,
    merge_sums,
    unpack_image,
)
from spikecore.image import Image
from spikecore.isa import (
    ACC_BITS,
    ACC_MAX,
    ACC_MIN,
    AXON_MAX,
    BARRIER_CYCLES,
    DELIVERY_CYCLES,
    FANOUT_CYCLES,
    HOST_CORE,
    ISSUE_CYCLES,
    MAC_CYCLES,
    NEURON_CYCLES,
    PAYLOAD_MAX,
    PAYLOAD_MIN,
    WEIGHT_MIN,
    Instruction,
    Opcode,
    leak,
    saturate,
    weight_address,
)

_AXONS = AXON_MAX + 1
_EMPTY = np.zeros(0, dtype=np.int64)


class BatchFunctionalChip:
    """``batch`` functional chips loaded with one ``image`` (or its :class:`LoadedImage`), stepped together.

    Host view (int64): :attr:`membranes` ``(B, cores, neurons)``, ``buffer_fill``, ``drops`` and
    ``spike_counts`` ``(B, cores)``, ``cycle (B,)``; ``outputs[b]`` is sample ``b``'s list of
    :class:`~spikecore.golden.cycle.OutSpike`. Raises :class:`SpikeCoreError` for a broken image (the
    loader's one-line message) or a batch size below 1.
    """

    def __init__(self, image: Image | LoadedImage, batch: int) -> None:
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise SpikeCoreError(f"BatchFunctionalChip: batch must be a positive integer, not {batch!r}")
        self.loaded = image if isinstance(image, LoadedImage) else unpack_image(image)
        self.config = self.loaded.config
        self.batch = batch
        cores = self.config.cores
        # Only cores whose program does more than HALT keep per-sample membranes: a 128-core chip running
        # a 10-core model holds 10 cores' membranes per sample, not 128.
        programs = self.loaded.programs
        self._stateful = [c for c, program in enumerate(programs) if any(i.opcode != Opcode.HALT for i in program)]
        self._state_slot = {core: i for i, core in enumerate(self._stateful)}
        self._idle_cycles = max((len(p) * ISSUE_CYCLES for c, p in enumerate(programs) if c not in self._state_slot),
                                default=0)                     # cores that only HALT: their issue cycles
        self._v = np.broadcast_to(self.loaded.init[self._stateful],
                                  (batch, len(self._stateful), self.config.neurons)).copy()
        self._i = np.broadcast_to(self.loaded.syn_init[self._stateful],
                                  (batch, len(self._stateful), self.config.neurons)).copy()
        self._rows = {}
        self.buffer_fill = np.zeros((batch, cores), dtype=np.int64)
        self.drops = np.zeros((batch, cores), dtype=np.int64)
        self.spike_counts = np.zeros((batch, cores), dtype=np.int64)
        self.cycle = np.zeros(batch, dtype=np.int64)
        self.step_index = 0
        self.schedule_step = 0     # steps since the last state reset (period/phase, §2)
        self.outputs: list[list[OutSpike]] = [[] for _ in range(batch)]
        # This step's buffered events, chunks in arrival order: ("sparse", sample, core, axon, payload) from
        # inject() and routing, ("dense", core, axons, payloads) from inject_dense().
        self._arrived: list[tuple] = []
        self._by_core: dict[int, tuple[np.ndarray, ...]] | None = None

    @property
    def membranes(self) -> np.ndarray:
        """Every sample's membranes, ``(B, cores, neurons)`` int64 (a new array)."""
        full = np.broadcast_to(self.loaded.init, (self.batch, *self.loaded.init.shape)).copy()
        full[:, self._stateful] = self._v
        return full

    @property
    def currents(self) -> np.ndarray:
        """Every sample's synaptic currents, ``(B, cores, neurons)`` int64 (a new array)."""
        full = np.broadcast_to(self.loaded.syn_init, (self.batch, *self.loaded.syn_init.shape)).copy()
        full[:, self._stateful] = self._i
        return full

    def core_membranes(self, core: int) -> np.ndarray:
        """Core ``core``'s membranes in every sample, ``(B, neurons)`` int64 (a new array)."""
        slot = self._state_slot.get(core)
        if slot is None:
            return np.broadcast_to(self.loaded.init[core], (self.batch, self.config.neurons)).copy()
        return self._v[:, slot].copy()

    def buffered_events(self, sample: int, core: int) -> list[tuple[int, int]]:
        """The ``(axon, payload)`` events in sample ``sample``'s core ``core`` buffer, in arrival order."""
        events: list[tuple[int, int]] = []
        for chunk in self._arrived:
            if chunk[0] == "dense":
                _, c, axons, payloads = chunk
                if c == core:
                    sent = payloads[sample] != 0
                    events += zip(axons[sent].tolist(), payloads[sample][sent].tolist(), strict=True)
            else:
                _, s, c, a, p = chunk
                mine = (s == sample) & (c == core)
                events += zip(a[mine].tolist(), p[mine].tolist(), strict=True)
        return events

    def reset_state(self) -> None:
        """Every sample's host state reset: membranes := init, synaptic currents := syn_init; buffers, drop and
        spike counters emptied."""
        self._v[:] = self.loaded.init[self._stateful]
        self._i[:] = self.loaded.syn_init[self._stateful]
        self._empty_buffers(np.ones(self.config.cores, dtype=bool))
        self.schedule_step = 0
        self.drops[:] = 0
        self.spike_counts[:] = 0

    def inject(self, sample: np.ndarray, core: np.ndarray, axon: np.ndarray, payload: np.ndarray) -> None:
        """Append host events: event ``i`` goes to sample ``sample[i]``'s core ``core[i]``; one sample's events
        arrive in the order given (after the events already buffered).

        All four are int arrays of one length. Raises :class:`SpikeCoreError` (nothing injected) for an id or
        payload out of range, or when an event would not fit its input buffer.
        """
        sample, core, axon, payload = (np.asarray(a, dtype=np.int64).reshape(-1)
                                       for a in (sample, core, axon, payload))
        if not len(sample):
            return
        limits = ((sample, 0, self.batch - 1, "sample"), (core, 0, self.config.cores - 1, "core"),
                  (axon, 0, AXON_MAX, "axon"), (payload, PAYLOAD_MIN, PAYLOAD_MAX, "payload"))
        for values, low, high, what in limits:
            if values.min() < low or values.max() > high:
                bad = values[(values < low) | (values > high)][0]
                raise SpikeCoreError(f"inject: {what} must be an integer {low}..{high}, not {bad}")
        fill = self.buffer_fill + self._counts(sample, core)
        if fill.max() > self.config.event_depth:
            b, c = np.argwhere(fill > self.config.event_depth)[0]
            raise SpikeCoreError(f"inject: sample {b} core {c} input buffer is full ({self.config.event_depth} events)")
        self.buffer_fill = fill
        self._arrive(sample, core, axon, payload)

    def inject_dense(self, core: int, axons: np.ndarray, payloads: np.ndarray) -> None:
        """Append host events to core ``core`` of every sample at once: sample ``b`` gets an event on
        ``axons[k]`` with payload ``payloads[b, k]`` for every non-zero ``payloads[b, k]``, in column order
        (after the events already buffered). The host's feature injections in this form skip the per-event
        bookkeeping of :meth:`inject`.

        ``axons`` is ``(k,)``, ``payloads`` ``(B, k)``, both int. Raises :class:`SpikeCoreError` (nothing
        injected) for a core, axon or payload out of range, or when an event would not fit its buffer.
        """
        axons = np.asarray(axons, dtype=np.int64).reshape(-1)
        payloads = np.asarray(payloads, dtype=np.int64)
        if payloads.shape != (self.batch, len(axons)):
            raise SpikeCoreError(f"inject_dense: payloads must have shape ({self.batch}, {len(axons)}), "
                                 f"not {payloads.shape}")
        if isinstance(core, bool) or not isinstance(core, int | np.integer) or not 0 <= core < self.config.cores:
            raise SpikeCoreError(f"inject: core must be an integer 0..{self.config.cores - 1}, not {core!r}")
        if not len(axons):
            return
        for values, low, high, what in ((axons, 0, AXON_MAX, "axon"), (payloads, PAYLOAD_MIN, PAYLOAD_MAX, "payload")):
            if values.min() < low or values.max() > high:
                bad = values[(values < low) | (values > high)][0]
                raise SpikeCoreError(f"inject: {what} must be an integer {low}..{high}, not {bad}")
        fill = self.buffer_fill[:, core] + np.count_nonzero(payloads, axis=1)
        if fill.max() > self.config.event_depth:
            b = int(np.argmax(fill > self.config.event_depth))
            raise SpikeCoreError(f"inject: sample {b} core {core} input buffer is full ({self.config.event_depth} "
                                 f"events)")
        self.buffer_fill[:, core] = fill
        self._arrived.append(("dense", int(core), axons, payloads))

    def step(self) -> None:
        """One timestep on every sample: EXEC, BARRIER, DELIVER; each sample's cycle counter advances by its
        own ``E_t + 1 + D_t`` (docs/spec.md §5)."""
        queues: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        runs = self.loaded.runs(self.schedule_step)
        if runs.all():
            idle_cycles = self._idle_cycles
        else:   # a core whose period/phase skips this step runs nothing (§2)
            idle_cycles = max((len(p) * ISSUE_CYCLES for c, p in enumerate(self.loaded.programs)
                               if c not in self._state_slot and runs[c]), default=0)
        exec_cycles = np.full(self.batch, max(idle_cycles, 1), dtype=np.int64)
        for core in self._stateful:
            if not runs[core]:
                continue
            cycles = np.zeros(self.batch, dtype=np.int64)
            for ins in self.loaded.programs[core]:
                cycles += ISSUE_CYCLES
                if ins.opcode == Opcode.ACC:
                    cycles += self._acc(core, ins)
                elif ins.opcode == Opcode.FIRE:
                    cycles += self._fire(core, ins, queues)
                elif ins.opcode == Opcode.LEAK:
                    self._leak(core, ins)
                    cycles += ins.count * NEURON_CYCLES
                elif ins.opcode == Opcode.SACC:
                    cycles += self._acc(core, ins, self._i)
                elif ins.opcode == Opcode.SYN:
                    self._syn(core, ins)
                    cycles += ins.count * NEURON_CYCLES
                elif ins.opcode == Opcode.MERGE:
                    self._merge(core, ins)
                    cycles += self.buffer_fill[:, core] * MAC_CYCLES
            np.maximum(exec_cycles, cycles, out=exec_cycles)
        self._empty_buffers(runs)     # BARRIER: the events of the cores that ran are consumed
        deliveries = self._route(queues)
        self.cycle += exec_cycles + BARRIER_CYCLES + deliveries * DELIVERY_CYCLES
        self.step_index += 1
        self.schedule_step += 1

    # --- buffers ------------------------------------------------------------------------------------

    def _counts(self, sample: np.ndarray, core: np.ndarray) -> np.ndarray:
        cells = self.batch * self.config.cores
        return np.bincount(sample * self.config.cores + core, minlength=cells).reshape(self.batch, self.config.cores)

    def _arrive(self, sample: np.ndarray, core: np.ndarray, axon: np.ndarray, payload: np.ndarray) -> None:
        self._arrived.append(("sparse", sample, core, axon, payload))
        self._by_core = None

    def _empty_buffers(self, runs: np.ndarray) -> None:
        """Empty the input buffers of the cores in the ``(cores,)`` bool mask ``runs``; the others keep theirs."""
        self.buffer_fill[:, runs] = 0
        if runs.all():
            self._arrived = []
        else:
            kept = []
            for chunk in self._arrived:
                if chunk[0] == "dense":
                    if not runs[chunk[1]]:
                        kept.append(chunk)
                    continue
                keep = ~runs[chunk[2]]
                if keep.any():
                    kept.append(("sparse", *(part[keep] for part in chunk[1:])))
            self._arrived = kept
        self._by_core = None

    def _sparse_events_of(self, core: int) -> tuple[np.ndarray, ...]:
        """This step's events of ``core`` that arrived one by one, in arrival order: (sample, axon, payload)."""
        if self._by_core is None:
            sparse = [chunk[1:] for chunk in self._arrived if chunk[0] == "sparse"]
            sample, core_ids, axon, payload = (np.concatenate([chunk[i] for chunk in sparse])
                                               if sparse else _EMPTY for i in range(4))
            order = np.argsort(core_ids.astype(np.uint16), kind="stable")   # radix sort; keeps arrival order
            bounds = np.searchsorted(core_ids[order], np.arange(self.config.cores + 1))
            sample, axon, payload = sample[order], axon[order], payload[order]
            self._by_core = {c: (sample[lo:hi], axon[lo:hi], payload[lo:hi])
                             for c, (lo, hi) in enumerate(itertools.pairwise(bounds)) if hi > lo}
        return self._by_core.get(core, (_EMPTY, _EMPTY, _EMPTY))

    def _abs_payload_sums(self, core: int) -> np.ndarray:
        """``(B,)`` int64: Σ |payload| over each sample's buffered events of ``core`` (bounds every sum)."""
        sample, _, payload = self._sparse_events_of(core)
        total = np.bincount(sample, weights=np.abs(payload).astype(np.float64), minlength=self.batch)
        for chunk in self._arrived:
            if chunk[0] == "dense" and chunk[1] == core:
                total += np.abs(chunk[3]).sum(axis=1)
        return total.astype(np.int64)

    def _weighted_sum(self, core: int, rows: np.ndarray) -> np.ndarray:
        """``(B, count)`` float64: Σ over each sample's buffered events of ``core`` of payload x ``rows[axon]``.

        float64 is exact here: every partial sum stays below 2^31 x 256, far inside its 2^53 integers."""
        sample, axon, payload = self._sparse_events_of(core)
        if len(sample):    # payloads summed per axon, (B, 256), times each axon's row
            per_axon = np.bincount(sample * _AXONS + axon, weights=payload.astype(np.float64),
                                   minlength=self.batch * _AXONS).reshape(self.batch, _AXONS)
            total = per_axon @ rows
        else:
            total = np.zeros((self.batch, rows.shape[1]))
        for chunk in self._arrived:
            if chunk[0] == "dense" and chunk[1] == core:   # zero payloads add nothing: no masking needed
                total += chunk[3].astype(np.float64) @ rows[chunk[2]]
        return total

    # --- EXEC ---------------------------------------------------------------------------------------

    def _acc(self, core: int, ins: Instruction, target: np.ndarray | None = None) -> np.ndarray:
        """ACC into the membranes, or SACC into ``target`` = the synaptic currents (same arithmetic, §4.5)."""
        events = self.buffer_fill[:, core]
        if not events.any():
            return np.zeros(self.batch, dtype=np.int64)
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        v = (self._v if target is None else target)[:, self._state_slot[core]]
        start = v[:, neurons]
        rows = self._weight_rows(core, ins.wbase, ins.count)
        total = start + np.rint(self._weighted_sum(core, rows)).astype(np.int64)
        # A neuron that starts within Σ|payload| x 128 of an int32 limit might saturate on some MAC; only
        # those are accumulated one MAC at a time, in buffer order.
        reach = (self._abs_payload_sums(core) * -WEIGHT_MIN)[:, None]
        near = (start - reach < ACC_MIN) | (start + reach > ACC_MAX)
        if near.any():
            weights = self.loaded.weights[core]
            for b, j in zip(*np.nonzero(near), strict=True):
                value = int(start[b, j])
                for a, p in self.buffered_events(int(b), core):
                    address = weight_address(ins.wbase, a, ins.count, int(j), self.config.weight_bytes)
                    value = saturate(value + p * int(weights[address]), ACC_BITS)
                total[b, j] = value
        v[:, neurons] = total
        return events * ins.count * MAC_CYCLES

    def _weight_rows(self, core: int, wbase: int, count: int) -> np.ndarray:
        """``(256, count)`` float64: the weight row every axon reads in an ACC at ``wbase`` over ``count``."""
        key = (core, wbase, count)
        if key not in self._rows:
            address = weight_address(wbase, np.arange(_AXONS)[:, None], count, np.arange(count),
                                     self.config.weight_bytes)
            self._rows[key] = self.loaded.weights[core][address].astype(np.float64)
        return self._rows[key]

    def _fire(self, core: int, ins: Instruction, queues: list) -> np.ndarray:
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        v = self._v[:, self._state_slot[core]]
        membrane = v[:, neurons].copy()
        threshold = self.loaded.threshold[core, neurons]
        fired = membrane >= threshold
        v[:, neurons] = apply_reset(ins.reset, membrane, threshold, self.loaded.reset[core, neurons], fired)[0]
        self.spike_counts[:, core] += fired.sum(axis=1)
        fanout_count = self.loaded.fanout_count[core, neurons]
        b, j = np.nonzero(fired & (fanout_count > 0))            # sample-major, neuron order within a sample
        if len(b):
            payload = fire_payloads(ins, membrane[b, j])
            count = fanout_count[j]
            before = np.cumsum(count) - count
            first = self.loaded.fanout_start[core, neurons][j]
            entry = np.repeat(first - before, count) + np.arange(int(count.sum()))
            queues.append((core, np.repeat(b, count), self.loaded.fanout_core[core, entry],
                           self.loaded.fanout_axon[core, entry], np.repeat(payload, count)))
        pushes = fired.astype(np.int64) @ fanout_count
        return ins.count * NEURON_CYCLES + pushes * FANOUT_CYCLES

    def _merge(self, core: int, ins: Instruction) -> None:
        """MERGE (§4.7): every buffered event whose axon is in the range adds its payload to that membrane.

        One sum per (sample, axon) when no membrane can saturate (it starts more than Σ|payload| from the
        int32 limits); otherwise that sample is redone one add at a time in buffer order."""
        if not self.buffer_fill[:, core].any():
            return
        v = self._v[:, self._state_slot[core]]
        lo, hi = ins.neuron, ins.neuron + ins.count
        reach = self._abs_payload_sums(core)
        sample, axon, payload = self._sparse_events_of(core)
        added = np.zeros((self.batch, _AXONS), dtype=np.int64)
        np.add.at(added, (sample, axon), payload)
        for chunk in self._arrived:
            if chunk[0] == "dense" and chunk[1] == core:
                added[:, chunk[2]] += chunk[3]
        start = v[:, lo:hi]
        near = ((start.min(axis=1) - reach < ACC_MIN) | (start.max(axis=1) + reach > ACC_MAX))
        total = start + added[:, lo:hi]
        for b in np.flatnonzero(near).tolist():
            events = np.array(self.buffered_events(b, core), dtype=np.int64).reshape(-1, 2)
            inside = (events[:, 0] >= lo) & (events[:, 0] < hi)
            final = merge_sums(v[b], events[inside, 0], events[inside, 1])[1]
            total[b] = v[b, lo:hi]
            for n, value in final.items():
                total[b, n - lo] = value
        v[:, lo:hi] = total

    def _leak(self, core: int, ins: Instruction) -> None:
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        v = self._v[:, self._state_slot[core]]
        v[:, neurons] = leak(v[:, neurons], self.loaded.decay[core, neurons])

    def _syn(self, core: int, ins: Instruction) -> None:
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        slot = self._state_slot[core]
        self._v[:, slot, neurons], self._i[:, slot, neurons] = integrate_currents(
            self._v[:, slot, neurons], self._i[:, slot, neurons], self.loaded.syn_decay[core, neurons])

    # --- DELIVER ------------------------------------------------------------------------------------

    def _route(self, queues: list) -> np.ndarray:
        """Deliver every sample's out-queue entries (source cores ascending, push order); returns the
        deliveries per sample (events, drops and host outputs alike)."""
        if not queues:
            return np.zeros(self.batch, dtype=np.int64)
        # Queues were collected core by core in program order; a stable sort by sample keeps that order.
        source = np.concatenate([np.full(len(q[1]), q[0], dtype=np.int64) for q in queues])
        sample, dest, axon, payload = (np.concatenate([q[i] for q in queues]) for i in (1, 2, 3, 4))
        order = np.argsort(sample, kind="stable")
        source, sample, dest, axon, payload = (a[order] for a in (source, sample, dest, axon, payload))

        to_core = dest != HOST_CORE
        s, d, a, p = sample[to_core], dest[to_core], axon[to_core], payload[to_core]
        counts = self._counts(s, d)
        if (counts + self.buffer_fill).max() > self.config.event_depth:
            # Some buffer overflows: a delivery's slot is the events its buffer holds (a core that did not
            # run keeps them) + the deliveries to its buffer before it.
            kept = _rank_in_group(s * self.config.cores + d) + self.buffer_fill[s, d] < self.config.event_depth
            self.drops += self._counts(s[~kept], d[~kept])
            s, d, a, p = s[kept], d[kept], a[kept], p[kept]
            counts = self._counts(s, d)
        self.buffer_fill += counts
        self._arrive(s, d, a, p)

        host = np.flatnonzero(~to_core)
        for b, src, ax, pay in zip(sample[host].tolist(), source[host].tolist(), axon[host].tolist(),
                                   payload[host].tolist(), strict=True):
            self.outputs[b].append(OutSpike(self.step_index, src, ax, pay))
        return np.bincount(sample, minlength=self.batch)


def _rank_in_group(key: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements share its key (its slot in arrival order)."""
    order = np.argsort(key, kind="stable")
    grouped = key[order]
    rank = np.empty(len(key), dtype=np.int64)
    rank[order] = np.arange(len(key)) - np.searchsorted(grouped, grouped, side="left")
    return rank
