"""The cycle-accurate golden model: docs/spec.md §2-§6 as executable code.

:class:`CycleChip` runs an :class:`~spikecore.image.Image` one timestep at a time and returns,
for every step, the trace records (§6) the RTL must reproduce cycle for cycle. Read it beside the spec:

- :func:`unpack_image` applies the loader rules (§7) to an in-memory image and lays it out as numpy arrays.
- :class:`ChipState` is what the host sees (§2, "Host"): membranes, input buffers, drop counters, the
  output list, and ``inject`` / ``reset_state``. It also holds the router (§2, DELIVER), because the
  functional model (:mod:`spikecore.golden.functional`) routes exactly the same way.
- :class:`CycleChip` adds EXEC: one method per instruction (§4), each computing its records' cycles
  arithmetically from the timing table (§5).

Speed comes from doing each instruction's work as whole numpy arrays (an ACC over ``E`` events and
``count`` neurons is one ``E x count`` cumulative sum), and from sorting each step's records once.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import Image, validate_image
from spikecore.isa import (
    ACC_BITS,
    ACC_MAX,
    ACC_MIN,
    AXON_MAX,
    BARRIER_CYCLES,
    BINARY_PAYLOAD,
    DELIVERY_CYCLES,
    FANOUT_CYCLES,
    HOST_CORE,
    ISSUE_CYCLES,
    MAC_CYCLES,
    NEURON_CYCLES,
    NEURON_FIELDS,
    PAYLOAD_MAX,
    PAYLOAD_MIN,
    WEIGHT_MIN,
    WIDE_PAYLOAD_MAX,
    WIDE_PAYLOAD_MIN,
    CoreImage,
    Instruction,
    NeuronParams,
    Opcode,
    ResetMode,
    TraceKind,
    decode,
    encode,
    leak,
    round_shift,
    saturate,
    weight_address,
)
from spikecore.trace import TRACE_DTYPE, empty_trace

#: The largest |payload x weight| one MAC with an int8 payload can add (a host event or a FIRE wide=0 spike).
MAX_ABS_PRODUCT = -PAYLOAD_MIN * -WEIGHT_MIN


def mac_reach(payloads: np.ndarray) -> int:
    """The most ``len(payloads)`` MACs over these payloads can move a membrane: Σ |payload| x 128.

    A routed event may carry a 24-bit payload (FIRE wide=1, docs/spec.md §4.2), so the bound is taken from the
    payloads actually buffered rather than from the int8 range."""
    return int(np.abs(payloads).sum()) * -WEIGHT_MIN


class OutSpike(NamedTuple):
    """A spike delivered to the host: fired in ``step`` by ``core``, on fan-out axon ``axon``."""

    step: int
    core: int
    axon: int
    payload: int


# --- loading (§7): validate an in-memory image, lay it out as arrays ------------------------------------


@dataclass(frozen=True)
class LoadedImage:
    """An image as the chip holds it after loading: every memory at full size, defaults filled in.

    ``programs[c]`` is the part of core ``c``'s program that runs: address 0 up to and including the
    first ``HALT``; ``words[c]`` are the same instructions as encoded words. Per-neuron arrays are
    ``(cores, neurons)``, fan-out arrays ``(cores, fanout_depth)``, all int64 so that arithmetic on them
    never wraps.
    """

    config: ChipConfig
    programs: tuple[tuple[Instruction, ...], ...]
    words: tuple[tuple[int, ...], ...]
    weights: np.ndarray
    threshold: np.ndarray
    reset: np.ndarray
    init: np.ndarray
    decay: np.ndarray
    fanout_start: np.ndarray
    fanout_count: np.ndarray
    syn_decay: np.ndarray
    flags: np.ndarray
    syn_init: np.ndarray
    fanout_core: np.ndarray
    fanout_axon: np.ndarray
    fanout_chip: np.ndarray | None = None   # a board's chip of each fan-out entry (docs/spec.md §13)
    period: np.ndarray | None = None        # (cores,) each core's schedule period D and phase (§2, v2)
    phase: np.ndarray | None = None

    def runs(self, step: int) -> np.ndarray:
        """``(cores,)`` bool: the cores that run their program in chip step ``step`` (``step % D == phase``)."""
        if self.period is None:
            return np.ones(self.config.cores, dtype=bool)
        return step % self.period == self.phase




def _integer(value: object, low: int, high: int, what: str) -> int:
    """``value`` as an int if it is one in ``low .. high``; otherwise a one-line :class:`SpikeCoreError`."""
    if type(value) is int and low <= value <= high:  # the common case, checked cheaply
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise SpikeCoreError(f"{what} must be an integer {low}..{high}, not {value!r}")
    return int(value)


def _running_part(program: list[int]) -> tuple[Instruction, ...]:
    """The instructions a core runs each step: address 0 up to and including the first HALT."""
    running = []
    for word in program:
        running.append(decode(int(word)))
        if running[-1].opcode == Opcode.HALT:
            break
    return tuple(running)


def unpack_image(image: Image, chip: int | None = None) -> LoadedImage:
    """Check ``image`` against the loader rules of §7 and lay it out as arrays.

    The rules are :func:`spikecore.image.validate_image`'s (one place for them); a broken image
    raises its one-line :class:`SpikeCoreError`. Cores without a section run ``HALT`` with zero weights
    and default neurons; weights and neurons past those a section lists take their defaults.

    ``chip``: lay out that chip of a board image (§13; ``config`` is then one chip's, ``fanout_chip`` the
    chip of each fan-out entry). Without it a board image (``chips > 1``) is refused: the single-chip models
    run one chip.
    """
    validate_image(image)
    if chip is None and image.config.chips > 1:
        raise SpikeCoreError(f"image is a board of {image.config.chips} chips; the single-chip models run one chip "
                             "(use spikecore.golden.board)")
    sections = image.cores if chip is None else image.chip_sections(chip)
    config = image.config.one_chip
    cores, neurons = config.cores, config.neurons
    programs = [_running_part(CoreImage().program)] * cores
    weights = np.zeros((cores, config.weight_bytes), dtype=np.int64)
    default_neuron = np.array([getattr(NeuronParams(), f) for f in NEURON_FIELDS], dtype=np.int64)
    per_neuron = np.tile(default_neuron, (cores, neurons, 1))          # (cores, neurons, fields)
    fanout_core = np.zeros((cores, config.fanout_depth), dtype=np.int64)
    fanout_axon = np.zeros((cores, config.fanout_depth), dtype=np.int64)
    fanout_chip = np.zeros((cores, config.fanout_depth), dtype=np.int64)
    period = np.ones(cores, dtype=np.int64)
    phase = np.zeros(cores, dtype=np.int64)
    for core, section in sections.items():
        programs[core] = _running_part(section.program)
        period[core], phase[core] = section.period, section.phase
        weights[core, : len(section.weights)] = section.weights
        for n, params in enumerate(section.neurons):
            per_neuron[core, n] = [getattr(params, f) for f in NEURON_FIELDS]
        for index, entry in enumerate(section.fanout):
            fanout_core[core, index], fanout_axon[core, index] = entry.core, entry.axon
            fanout_chip[core, index] = entry.chip
    columns = {name: np.ascontiguousarray(per_neuron[:, :, i]) for i, name in enumerate(NEURON_FIELDS)}
    words = tuple(tuple(encode(ins) for ins in program) for program in programs)
    return LoadedImage(config=config, programs=tuple(programs), words=words, weights=weights, fanout_core=fanout_core,
                       fanout_axon=fanout_axon, fanout_chip=fanout_chip,
                       period=period, phase=phase, **columns)


# --- small cached index arrays: instruction ranges repeat every step -------------------------------------


@functools.lru_cache(maxsize=4096)
def _span(start: int, stop: int) -> np.ndarray:
    """``np.arange(start, stop)``, cached and read-only."""
    span = np.arange(start, stop, dtype=np.int64)
    span.flags.writeable = False
    return span


@functools.lru_cache(maxsize=1024)
def _mac_neurons(neuron: int, count: int, events: int) -> np.ndarray:
    """The neuron of every MAC of an ACC, in MAC order: ``neuron .. neuron+count-1``, once per event."""
    neurons = np.tile(_span(neuron, neuron + count), events)
    neurons.flags.writeable = False
    return neurons


# --- integer semantics (§3) on arrays; the scalar versions are spikecore.isa's helpers ---------------------


def graded_payloads(membranes: np.ndarray, shift: int, wide: bool = False) -> np.ndarray:
    """``isa.graded_payload`` elementwise: ``saturate8(round_shift(v, shift))``; with ``wide`` (FIRE wide=1)
    ``isa.wide_payload``: saturated to 24 bits instead."""
    low, high = (WIDE_PAYLOAD_MIN, WIDE_PAYLOAD_MAX) if wide else (PAYLOAD_MIN, PAYLOAD_MAX)
    return np.minimum(np.maximum(round_shift(membranes, shift), low), high)


def fire_payloads(ins: Instruction, membranes: np.ndarray) -> np.ndarray:
    """The payloads FIRE ``ins`` emits for the membranes of the neurons that fired (§4.2)."""
    if ins.graded:
        return graded_payloads(membranes, ins.shift, ins.wide)
    return np.full(len(membranes), BINARY_PAYLOAD, dtype=np.int64)


def merge_sums(start: np.ndarray, axons: np.ndarray, payloads: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """MERGE (§4.7) over the buffered events whose axon lies in the instruction's range, in buffer order.

    ``start`` is the core's membranes ``(neurons,)`` (not modified), ``axons``/``payloads`` those events. Returns
    the membrane after each add (saturated to int32 after every add, int64 array) and every written neuron's
    final membrane.
    """
    values = np.empty(len(axons), dtype=np.int64)
    final: dict[int, int] = {}
    for e, (axon, payload) in enumerate(zip(axons.tolist(), payloads.tolist(), strict=True)):
        final[axon] = values[e] = saturate(final.get(axon, int(start[axon])) + payload, ACC_BITS)
    return values, final


def saturating_partial_sums(start: np.ndarray, products: np.ndarray) -> np.ndarray:
    """The membrane after every MAC of an ACC: ``out[e, j]`` = neuron ``j`` after event ``e``.

    ``start`` is ``(count,)``, ``products`` is ``(events, count)`` (payload x weight). Each MAC saturates
    to int32 (§3). While no running sum leaves int32 a plain cumulative sum is exact; a neuron whose
    running sum does leave it is redone one MAC at a time.
    """
    partial = np.cumsum(products, axis=0)
    partial += start
    reach = int(np.abs(products).max(axis=1, initial=0).sum())   # the most any one neuron can move
    if start.min() - reach >= ACC_MIN and start.max() + reach <= ACC_MAX:
        return partial  # no running sum can leave int32: the common case, decided without scanning
    outside = ((partial < ACC_MIN) | (partial > ACC_MAX)).any(axis=0)
    for j in np.flatnonzero(outside):
        value = int(start[j])
        for e, product in enumerate(products[:, j].tolist()):
            value = saturate(value + product, ACC_BITS)
            partial[e, j] = value
    return partial


def apply_reset(mode: ResetMode, membranes: np.ndarray, threshold: np.ndarray, reset_value: np.ndarray,
                fired: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FIRE's reset (§4.2): the new membranes and which of them were written (each write is an ACC record)."""
    if mode == ResetMode.NONE:
        return membranes, np.zeros(len(membranes), dtype=bool)
    if mode == ResetMode.VALUE:
        return np.where(fired, reset_value, membranes), fired
    if mode == ResetMode.SUB:
        return np.where(fired, np.minimum(membranes - threshold, ACC_MAX), membranes), fired  # v >= thr: no low end
    return reset_value.copy(), np.ones(len(membranes), dtype=bool)  # ALWAYS: fired or not


def integrate_currents(membranes: np.ndarray, currents: np.ndarray,
                       syn_decay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SYN (§4.6) elementwise: ``(saturate32(v + i), round_shift(i x syn_decay, 16))``, int64 arrays."""
    return np.clip(membranes + currents, ACC_MIN, ACC_MAX), leak(currents, syn_decay)


# --- the host's view of the chip, and the router -------------------------------------------------------


Queue = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""Out-queue pushes of one FIRE: (source core, destination cores, axons, payloads, destination chips), in push
order (the chips are all 0 on one chip; a board's router sends the others over links, §13)."""


class ChipState:
    """Chip state the host sees, the host interface (§2 "Host") and the router (§2 DELIVER).

    :class:`CycleChip` and :class:`~spikecore.golden.functional.FunctionalChip` add EXEC on top.
    """

    def __init__(self, image: Image, chip: int | None = None) -> None:
        self.loaded = unpack_image(image, chip)
        self.config = self.loaded.config
        cores, depth = self.config.cores, self.config.event_depth
        self.membranes = self.loaded.init.copy()
        self.currents = self.loaded.syn_init.copy()      # synaptic currents (version 2, §1.2)
        self.drops = np.zeros(cores, dtype=np.int64)
        self.spike_counts = np.zeros(cores, dtype=np.int64)
        # Event counters (docs/spec.md §8.3 STATUS 4..6; spikes and drops are the two arrays above):
        # MACs, FIRE/LEAK neuron evaluations, and router deliveries by source core. ``routes[s, d]`` counts
        # deliveries from core s to core d (column ``cores`` = the host), for the energy model's hops.
        self.synops = np.zeros(cores, dtype=np.int64)
        self.neuron_updates = np.zeros(cores, dtype=np.int64)
        self.deliveries = np.zeros(cores, dtype=np.int64)
        self.routes = np.zeros((cores, cores + 1), dtype=np.int64)
        self.outputs: list[OutSpike] = []
        # Input event buffers: core c holds events buffer_*[c, :buffer_fill[c]], in arrival order.
        self.buffer_axon = np.zeros((cores, depth), dtype=np.int64)
        self.buffer_payload = np.zeros((cores, depth), dtype=np.int64)
        self.buffer_fill = np.zeros(cores, dtype=np.int64)
        self.cycle = 0
        self.step_index = 0
        self.schedule_step = 0     # steps since the last state reset: the s of the period/phase rule (§2)
        self.step_starts: list[int] = []

    def inject(self, core: int, axon: int, payload: int) -> None:
        """Append a host event to ``core``'s input buffer (after the routed events already there)."""
        core = _integer(core, 0, self.config.cores - 1, "inject: core")
        axon = _integer(axon, 0, AXON_MAX, f"inject into core {core}: axon")
        payload = _integer(payload, PAYLOAD_MIN, PAYLOAD_MAX, f"inject into core {core}: payload")
        fill = int(self.buffer_fill[core])
        if fill >= self.config.event_depth:
            raise SpikeCoreError(f"inject: core {core} input buffer is full ({self.config.event_depth} events)")
        self.buffer_axon[core, fill] = axon
        self.buffer_payload[core, fill] = payload
        self.buffer_fill[core] = fill + 1

    def reset_state(self) -> None:
        """Host state reset: membranes := init, synaptic currents := syn_init; buffers, out-queues, drop and
        spike counters emptied.

        The cycle counter, the step index and the host's output list are kept; the period/phase step count
        starts again at 0 (§2).
        """
        self.membranes[:] = self.loaded.init
        self.currents[:] = self.loaded.syn_init
        self.buffer_fill[:] = 0
        self.schedule_step = 0
        self.drops[:] = 0
        self.spike_counts[:] = 0
        for counter in (self.synops, self.neuron_updates, self.deliveries, self.routes):
            counter[:] = 0

    def event_counts(self) -> np.ndarray:
        """Every core's event counters since the last state reset, ``(cores, len(EVENT_KINDS))`` int64.

        Columns in :data:`spikecore.golden.counters.EVENT_KINDS` order: synaptic ops, neuron updates,
        spikes, deliveries, drops (the RTL's STATUS registers, docs/spec.md §8.3).
        """
        return np.stack([self.synops, self.neuron_updates, self.spike_counts, self.deliveries, self.drops], axis=1)

    def buffered_events(self, core: int) -> list[tuple[int, int]]:
        """The ``(axon, payload)`` events in ``core``'s input buffer, in arrival order."""
        fill = int(self.buffer_fill[core])
        return list(zip(self.buffer_axon[core, :fill].tolist(), self.buffer_payload[core, :fill].tolist(),
                        strict=True))

    def _fanout_pushes(self, core: int, fired_neurons: np.ndarray, payloads: np.ndarray) -> Queue | None:
        """The out-queue entries of the neurons that fired: each neuron's fan-out entries in table order."""
        start = self.loaded.fanout_start[core, fired_neurons]
        count = self.loaded.fanout_count[core, fired_neurons]
        total = int(count.sum())
        if total == 0:
            return None
        # Entry k of the flattened list belongs to neuron i: start[i] + (k - entries before neuron i).
        before = np.cumsum(count) - count
        entry = np.repeat(start - before, count) + np.arange(total)
        loaded = self.loaded
        return (core, loaded.fanout_core[core, entry], loaded.fanout_axon[core, entry], np.repeat(payloads, count),
                loaded.fanout_chip[core, entry])

    def _barrier(self) -> None:
        """BARRIER: the events of this step have been consumed; the input buffer of every core that ran in this
        step is emptied (a core that did not run keeps accumulating, §2)."""
        self.buffer_fill[self.loaded.runs(self.schedule_step)] = 0

    def _route(self, queues: list[Queue]) -> tuple[np.ndarray, ...]:
        """DELIVER: deliver every out-queue entry (source cores ascending, push order), one per cycle.

        Updates input buffers, drop counters and the host's outputs. Returns, per delivery in delivery
        order, ``(source, destination, axon, payload, kind)`` where kind is EVENT, DROP or OUT.
        """
        if not queues:
            nothing = np.zeros(0, dtype=np.int64)
            return nothing, nothing, nothing, nothing, nothing
        queues = sorted(queues, key=lambda q: q[0])  # stable: a core's FIREs stay in program order
        source = np.concatenate([np.full(len(q[1]), q[0], dtype=np.int64) for q in queues])
        dest, axon, payload = (np.concatenate([q[i] for q in queues]) for i in (1, 2, 3))
        kind = np.full(len(dest), int(TraceKind.OUT), dtype=np.int64)

        to_core = np.flatnonzero(dest != HOST_CORE)
        # The slot a delivery takes in its destination's buffer = the events the buffer still holds (none
        # after the barrier, unless the core did not run this step) + deliveries to that core before it;
        # slots past event_depth are drops.
        order = np.argsort(dest[to_core], kind="stable")
        grouped = dest[to_core][order]
        slot = np.empty(len(to_core), dtype=np.int64)
        slot[order] = np.arange(len(to_core)) - np.searchsorted(grouped, grouped, side="left")
        slot += self.buffer_fill[dest[to_core]]
        kept = slot < self.config.event_depth
        kind[to_core] = np.where(kept, int(TraceKind.EVENT), int(TraceKind.DROP))

        written = to_core[kept]
        self.buffer_axon[dest[written], slot[kept]] = axon[written]
        self.buffer_payload[dest[written], slot[kept]] = payload[written]
        self.buffer_fill += np.bincount(dest[written], minlength=self.config.cores)
        self.drops += np.bincount(dest[to_core[~kept]], minlength=self.config.cores)

        self.deliveries += np.bincount(source, minlength=self.config.cores)
        np.add.at(self.routes, (source, np.where(dest == HOST_CORE, self.config.cores, dest)), 1)
        to_host = np.flatnonzero(dest == HOST_CORE)
        host = zip(source[to_host].tolist(), axon[to_host].tolist(), payload[to_host].tolist(), strict=True)
        self.outputs.extend(OutSpike(self.step_index, s, a, p) for s, a, p in host)
        return source, dest, axon, payload, kind

    def _end_step(self, exec_cycles: int, deliveries: int) -> None:
        """``C_{t+1} = C_t + E_t + 1 + D_t``."""
        self.step_starts.append(self.cycle)
        self.cycle += exec_cycles + BARRIER_CYCLES + deliveries * DELIVERY_CYCLES
        self.step_index += 1
        self.schedule_step += 1


# --- EXEC with trace records ---------------------------------------------------------------------------


_KIND_BITS = 3  # EXEC emits ACC (0), SPIKE (1) and SYN (5) records
assert max(TraceKind) < 1 << _KIND_BITS


class _ExecRecords:
    """The EXEC records of one step, collected instruction by instruction and sorted once.

    A record is stored as a sort key ``cycle_in_step : core : kind`` (bit fields, most significant first)
    plus its index and value; sorting the keys is sorting by (cycle, core, kind), the trace order of §6.
    Keys are unique because a core emits at most one record of each kind per cycle. Each ``add`` is
    already in cycle order, so a stable (run-merging) sort is fast.
    """

    def __init__(self, cores: int) -> None:
        self.core_bits = max(1, (cores - 1).bit_length())
        self.keys: list[np.ndarray] = []
        self.index: list[np.ndarray] = []
        self.value: list[np.ndarray] = []

    def add(self, cycles: np.ndarray, core: int, kind: TraceKind, index: np.ndarray, value: np.ndarray) -> None:
        """Records of one core and kind at step-relative ``cycles`` (increasing), with their indices and values."""
        self.keys.append((cycles << (self.core_bits + _KIND_BITS)) | ((core << _KIND_BITS) | int(kind)))
        self.index.append(index)
        self.value.append(value)

    def sorted(self, step_start: int) -> np.ndarray:
        if not self.keys:
            return empty_trace()
        keys = np.concatenate(self.keys)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        records = np.empty(len(keys), dtype=TRACE_DTYPE)
        records["cycle"] = (keys >> (self.core_bits + _KIND_BITS)) + step_start
        records["core"] = (keys >> _KIND_BITS) & ((1 << self.core_bits) - 1)
        records["kind"] = keys & ((1 << _KIND_BITS) - 1)
        records["index"] = np.concatenate(self.index)[order]
        records["value"] = np.concatenate(self.value)[order]
        return records


class CycleChip(ChipState):
    """Cycle-accurate SpikeCore: ``step()`` runs one timestep and returns its trace records, sorted (§6).

    ``last_issue_log`` lists ``(issue cycle, core, pc, word)`` of every instruction the last step issued,
    core by core in program order: it lets a scoreboard name the instruction behind a mismatching record.

    >>> from spikecore.config import ChipConfig
    >>> from spikecore.image import Image
    >>> chip = CycleChip(Image(ChipConfig(cores=1)))     # one core, running HALT only
    >>> chip.step().size, chip.cycle                      # HALT's issue cycle, then the barrier
    (0, 2)
    """

    last_issue_log: list[tuple[int, int, int, int]]

    def step(self) -> np.ndarray:
        start = self.cycle
        exec_cycles, exec_records, queues = self.exec_phase(start)
        self._barrier()
        source, dest, axon, payload, kind = self._route(queues)
        deliveries = np.empty(len(dest), dtype=TRACE_DTYPE)
        deliveries["cycle"] = start + exec_cycles + BARRIER_CYCLES + np.arange(len(dest)) * DELIVERY_CYCLES
        deliveries["core"] = np.where(kind == int(TraceKind.OUT), source, dest)  # OUT names the source
        deliveries["kind"] = kind
        deliveries["index"] = axon
        deliveries["value"] = payload

        self._end_step(exec_cycles, len(dest))
        return np.concatenate([exec_records, deliveries]) if len(deliveries) else exec_records

    def exec_phase(self, start: int) -> tuple[int, np.ndarray, list[Queue]]:
        """EXEC of one step starting on cycle ``start``: ``(E_t, its records sorted, the out-queue pushes)``.

        Shared by :meth:`step` and the board (``spikecore.golden.board``), whose chips run EXEC in lock-step.
        """
        log = _ExecRecords(self.config.cores)
        queues: list[Queue] = []
        self.last_issue_log = []
        # EXEC: all cores start on C_t; the phase lasts as long as the longest program.
        exec_cycles = 1   # a step in which no core runs still has one EXEC cycle (§2)
        runs = self.loaded.runs(self.schedule_step)
        for core, program in enumerate(self.loaded.programs):
            if not runs[core]:
                continue    # not this core's step (period/phase, §2): no instruction, no record
            issue = 0  # issue cycle of the current instruction, relative to C_t
            for pc, ins in enumerate(program):
                self.last_issue_log.append((start + issue, core, pc, self.loaded.words[core][pc]))
                if ins.opcode == Opcode.ACC:
                    work = self._acc(core, ins, issue, log)
                elif ins.opcode == Opcode.FIRE:
                    work = self._fire(core, ins, issue, log, queues)
                elif ins.opcode == Opcode.LEAK:
                    work = self._leak(core, ins, issue, log)
                elif ins.opcode == Opcode.SACC:
                    work = self._acc(core, ins, issue, log, self.currents, TraceKind.SYN)
                elif ins.opcode == Opcode.SYN:
                    work = self._syn(core, ins, issue, log)
                elif ins.opcode == Opcode.MERGE:
                    work = self._merge(core, ins, issue, log)
                else:
                    work = 0  # NOP, HALT: the issue cycle only
                issue += ISSUE_CYCLES + work
            exec_cycles = max(exec_cycles, issue)
        return exec_cycles, log.sorted(start), queues

    def _acc(self, core: int, ins: Instruction, issue: int, log: _ExecRecords, target: np.ndarray | None = None,
             kind: TraceKind = TraceKind.ACC) -> int:
        """ACC (§4.1): MAC of event e into neuron j on cycle issue + 1 + e * count + j.

        SACC (§4.5) is the same into ``target`` = the synaptic currents, with ``SYN`` records.
        """
        target = self.membranes if target is None else target
        events = int(self.buffer_fill[core])
        if events == 0:
            return 0
        count = ins.count
        axon = self.buffer_axon[core, :events, None]
        payload = self.buffer_payload[core, :events, None]
        address = weight_address(ins.wbase, axon, count, _span(0, count), self.config.weight_bytes)
        products = payload * self.loaded.weights[core][address]                     # (events, count)
        neurons = slice(ins.neuron, ins.neuron + count)
        after = saturating_partial_sums(target[core, neurons], products)
        target[core, neurons] = after[-1]
        macs = events * count
        self.synops[core] += macs
        cycles = issue + ISSUE_CYCLES + MAC_CYCLES * _span(0, macs)                  # row-major = MAC order
        log.add(cycles, core, kind, _mac_neurons(ins.neuron, count, events), after.ravel())
        return macs * MAC_CYCLES

    def _fire(self, core: int, ins: Instruction, issue: int, log: _ExecRecords, queues: list[Queue]) -> int:
        """FIRE (§4.2): neuron j on f_j = f_{j-1} + 1 + (pushes of neuron j-1); SPIKE then ACC records on f_j."""
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        index = _span(ins.neuron, ins.neuron + ins.count)
        membrane = self.membranes[core, neurons].copy()
        threshold = self.loaded.threshold[core, neurons]
        fired = membrane >= threshold
        self.neuron_updates[core] += ins.count
        new, written = apply_reset(ins.reset, membrane, threshold, self.loaded.reset[core, neurons], fired)
        evaluated = issue + ISSUE_CYCLES + NEURON_CYCLES * _span(0, ins.count)       # f_j while nothing fires
        pushes = 0
        if fired.any():
            push_cycles = np.where(fired, self.loaded.fanout_count[core, neurons], 0) * FANOUT_CYCLES
            pushes = int(push_cycles.sum())
            evaluated = evaluated + np.cumsum(push_cycles) - push_cycles              # + pushes of neurons < j
            payload = fire_payloads(ins, membrane[fired])
            log.add(evaluated[fired], core, TraceKind.SPIKE, index[fired], payload)
            self.spike_counts[core] += len(payload)
            queue = self._fanout_pushes(core, index[fired], payload)
            if queue is not None:
                queues.append(queue)
        if written.any():
            log.add(evaluated[written], core, TraceKind.ACC, index[written], new[written])
            self.membranes[core, neurons] = new
        return ins.count * NEURON_CYCLES + pushes

    def _merge(self, core: int, ins: Instruction, issue: int, log: _ExecRecords) -> int:
        """MERGE (§4.7): event e on cycle issue + 1 + e adds its payload to the membrane its axon names, when that
        neuron is in the range (one ACC record and one synaptic op); an event outside the range only takes its cycle."""
        events = int(self.buffer_fill[core])
        axons = self.buffer_axon[core, :events]
        inside = np.flatnonzero((axons >= ins.neuron) & (axons < ins.neuron + ins.count))
        if len(inside):
            values, final = merge_sums(self.membranes[core], axons[inside], self.buffer_payload[core, inside])
            self.membranes[core, list(final)] = list(final.values())
            self.synops[core] += len(inside)
            log.add(issue + ISSUE_CYCLES + MAC_CYCLES * inside, core, TraceKind.ACC, axons[inside], values)
        return events * MAC_CYCLES

    def _leak(self, core: int, ins: Instruction, issue: int, log: _ExecRecords) -> int:
        """LEAK (§4.3): neuron j := round_shift(v x decay, 16) on cycle issue + 1 + j."""
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        new = leak(self.membranes[core, neurons], self.loaded.decay[core, neurons])
        self.neuron_updates[core] += ins.count
        self.membranes[core, neurons] = new
        cycles = issue + ISSUE_CYCLES + NEURON_CYCLES * _span(0, ins.count)
        log.add(cycles, core, TraceKind.ACC, _span(ins.neuron, ins.neuron + ins.count), new)
        return ins.count * NEURON_CYCLES

    def _syn(self, core: int, ins: Instruction, issue: int, log: _ExecRecords) -> int:
        """SYN (§4.6): neuron j on cycle issue + 1 + j: v += i (saturating), then i decays; ACC and SYN records."""
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        index = _span(ins.neuron, ins.neuron + ins.count)
        membrane, current = integrate_currents(self.membranes[core, neurons], self.currents[core, neurons],
                                               self.loaded.syn_decay[core, neurons])
        self.membranes[core, neurons], self.currents[core, neurons] = membrane, current
        cycles = issue + ISSUE_CYCLES + NEURON_CYCLES * _span(0, ins.count)
        log.add(cycles, core, TraceKind.ACC, index, membrane)
        log.add(cycles, core, TraceKind.SYN, index, current)
        return ins.count * NEURON_CYCLES
