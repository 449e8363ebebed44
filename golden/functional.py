"""The functional golden model: the same chip as :class:`~spikecore.golden.cycle.CycleChip`, without a trace.

:class:`FunctionalChip` computes each instruction's final effect only (an ACC is one vector-matrix
product instead of ``events x count`` records), so it is the path for long runs and large evaluations.
It still counts array cycles, with the same timing table (docs/spec.md §5): an instruction's work
cycles depend only on the events buffered and on which neurons fire, both of which it knows.

Its membranes, drop counters, outputs, spike counts and cycle counter must equal the cycle-accurate
model's after every step; ``tests/test_golden_equivalence.py`` checks that on random programs.
"""

from __future__ import annotations

import numpy as np

from spikecore.golden.cycle import (
    ChipState,
    Queue,
    apply_reset,
    fire_payloads,
    integrate_currents,
    mac_reach,
    merge_sums,
)
from spikecore.isa import (
    ACC_BITS,
    ACC_MAX,
    ACC_MIN,
    FANOUT_CYCLES,
    ISSUE_CYCLES,
    MAC_CYCLES,
    NEURON_CYCLES,
    Instruction,
    Opcode,
    leak,
    saturate,
    weight_address,
)


class FunctionalChip(ChipState):
    """Fast SpikeCore model with the host interface of :class:`~spikecore.golden.cycle.CycleChip`.

    ``step()`` runs one timestep and returns ``None`` (no trace records).
    """

    def step(self) -> None:
        exec_cycles, _, queues = self.exec_phase(self.cycle)
        self._barrier()
        source = self._route(queues)[0]
        self._end_step(exec_cycles, len(source))

    def exec_phase(self, start: int) -> tuple[int, None, list[Queue]]:
        """EXEC of one step: ``(E_t, None, the out-queue pushes)`` (no records; as ``CycleChip.exec_phase``)."""
        queues: list[Queue] = []
        exec_cycles = 1   # a step in which no core runs still has one EXEC cycle (§2)
        runs = self.loaded.runs(self.schedule_step)
        for core, program in enumerate(self.loaded.programs):
            if not runs[core]:
                continue
            cycles = 0
            for ins in program:
                cycles += ISSUE_CYCLES
                if ins.opcode == Opcode.ACC:
                    cycles += self._acc(core, ins)
                elif ins.opcode == Opcode.FIRE:
                    cycles += self._fire(core, ins, queues)
                elif ins.opcode == Opcode.LEAK:
                    cycles += self._leak(core, ins)
                elif ins.opcode == Opcode.SACC:
                    cycles += self._acc(core, ins, self.currents)
                elif ins.opcode == Opcode.SYN:
                    cycles += self._syn(core, ins)
                elif ins.opcode == Opcode.MERGE:
                    cycles += self._merge(core, ins)
            exec_cycles = max(exec_cycles, cycles)
        return exec_cycles, None, queues

    def _acc(self, core: int, ins: Instruction, target: np.ndarray | None = None) -> int:
        """ACC into the membranes, or SACC into ``target`` = the synaptic currents (same arithmetic, §4.5)."""
        target = self.membranes if target is None else target
        events = int(self.buffer_fill[core])
        if events == 0:
            return 0
        axon = self.buffer_axon[core, :events, None]
        payload = self.buffer_payload[core, :events]
        address = weight_address(ins.wbase, axon, ins.count, np.arange(ins.count), self.config.weight_bytes)
        block = self.loaded.weights[core][address]                    # (events, count), row = event
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        start = target[core, neurons]
        total = start + payload @ block
        # A neuron that starts within events x max|product| of an int32 limit might saturate on some MAC;
        # only those are accumulated one MAC at a time, in buffer order.
        reach = mac_reach(payload)
        for j in np.flatnonzero((start - reach < ACC_MIN) | (start + reach > ACC_MAX)):
            value = int(start[j])
            for product in (payload * block[:, j]).tolist():
                value = saturate(value + product, ACC_BITS)
            total[j] = value
        target[core, neurons] = total
        self.synops[core] += events * ins.count
        return events * ins.count * MAC_CYCLES

    def _fire(self, core: int, ins: Instruction, queues: list[Queue]) -> int:
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        membrane = self.membranes[core, neurons].copy()
        threshold = self.loaded.threshold[core, neurons]
        fired = membrane >= threshold
        self.neuron_updates[core] += ins.count
        self.membranes[core, neurons] = apply_reset(ins.reset, membrane, threshold,
                                                    self.loaded.reset[core, neurons], fired)[0]
        fired_neurons = np.flatnonzero(fired) + ins.neuron
        if len(fired_neurons) == 0:
            return ins.count * NEURON_CYCLES
        self.spike_counts[core] += len(fired_neurons)
        payload = fire_payloads(ins, membrane[fired])
        pushes = self._fanout_pushes(core, fired_neurons, payload)
        if pushes is not None:
            queues.append(pushes)
        fanout = int(self.loaded.fanout_count[core, fired_neurons].sum())
        return ins.count * NEURON_CYCLES + fanout * FANOUT_CYCLES

    def _merge(self, core: int, ins: Instruction) -> int:
        """MERGE (§4.7): each buffered event in the range adds its payload to the membrane its axon names."""
        events = int(self.buffer_fill[core])
        axons = self.buffer_axon[core, :events]
        inside = np.flatnonzero((axons >= ins.neuron) & (axons < ins.neuron + ins.count))
        if len(inside):
            final = merge_sums(self.membranes[core], axons[inside], self.buffer_payload[core, inside])[1]
            self.membranes[core, list(final)] = list(final.values())
            self.synops[core] += len(inside)
        return events * MAC_CYCLES

    def _leak(self, core: int, ins: Instruction) -> int:
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        self.membranes[core, neurons] = leak(self.membranes[core, neurons], self.loaded.decay[core, neurons])
        self.neuron_updates[core] += ins.count
        return ins.count * NEURON_CYCLES

    def _syn(self, core: int, ins: Instruction) -> int:
        neurons = slice(ins.neuron, ins.neuron + ins.count)
        self.membranes[core, neurons], self.currents[core, neurons] = integrate_currents(
            self.membranes[core, neurons], self.currents[core, neurons], self.loaded.syn_decay[core, neurons])
        return ins.count * NEURON_CYCLES
