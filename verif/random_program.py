"""Seeded constrained-random SpikeCore images: the shared stimulus generator of every verification suite.

``random_image(seed, config)`` returns an :class:`~spikecore.image.Image` that passes every
loader rule of docs/spec.md §7, a :class:`~spikecore.stimulus.Stimulus` that never injects into
a full buffer, and a number of steps. The same seed and config always give the same triple, so a
failing seed is a complete bug report.

The generator aims at the corners, not at plausible networks:

- every opcode, every reset mode, binary, graded and wide (24-bit, §4.2) FIRE, shifts 0 and 31, neuron
  ranges that start at 0, end at the last neuron or cover the whole core, ``wbase`` at 0 and at the last
  weight byte (ACC addresses wrap), ``HALT`` as the first instruction, valid words after ``HALT``, partial sections;
- weights and payloads at -128, -1, 0, 1, 127; membranes initialised at and near the int32 limits, so
  ACC saturates (and comes back), LEAK rounds negatives and graded payloads clamp to int8;
- thresholds chosen equal to the membrane a neuron really has when its first FIRE evaluates it (a small
  scalar model of step 0, below), so ``v == threshold`` fires;
- empty buffers, buffers filled by the host to ``event_depth``, and "flood" images where several cores
  fire into one victim core so that deliveries are dropped; fan-out tables that reach every core and the
  host;
- (v2) in about a third of the images, some sections with a period of 2..4 steps and a random phase (§2),
  so cores skip steps while their buffers keep accumulating routed events.

Sizes are kept small: a static worst-case bound of the run's array cycles must stay within
``cycle_budget``; an image over budget is redrawn (same seed, smaller knobs), so a 4-core image runs a
few hundred cycles.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import Image
from spikecore.isa import (
    ACC_BITS,
    ACC_MAX,
    ACC_MIN,
    AXON_MAX,
    DECAY_MAX,
    HOST_CORE,
    PAYLOAD_MAX,
    PAYLOAD_MIN,
    SHIFT_MAX,
    WEIGHT_MAX,
    WEIGHT_MIN,
    CoreImage,
    FanoutEntry,
    Instruction,
    NeuronParams,
    Opcode,
    ResetMode,
    encode,
    leak,
    saturate,
    weight_address,
)
from spikecore.stimulus import Stimulus

_U8_MAX = 255          # fanout_start / fanout_count are u8 (§7)
_ATTEMPTS = 8          # redraws with shrinking knobs before the smallest draw is returned


@dataclass(frozen=True)
class Knobs:
    """What :func:`random_image` may generate; every field is a keyword of ``random_image``.

    max_steps:       steps of the run are drawn from 1..max_steps.
    max_program_len: words per program up to and including HALT (capped by imem_depth).
    density:         0..1, how often weights are non-zero and cores receive host events.
    active_cores:    at most this many cores get a section (the rest run HALT).
    max_count:       usual largest neuron range of an ACC (whole-core ranges still appear).
    max_events:      largest host injection per core and step, apart from deliberately full buffers.
    cycle_budget:    upper bound on the run's worst-case array cycles (static estimate).
    """

    max_steps: int = 4
    max_program_len: int = 8
    density: float = 0.5
    active_cores: int = 6
    max_count: int = 8
    max_events: int = 8
    cycle_budget: int = 2500

    def check(self) -> None:
        for name in ("max_steps", "max_program_len", "active_cores", "max_count", "max_events", "cycle_budget"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpikeCoreError(f"random_image: {name} must be a positive integer, not {value!r}")
        if not isinstance(self.density, int | float) or not 0.0 <= self.density <= 1.0:
            raise SpikeCoreError(f"random_image: density must be a number from 0 to 1, not {self.density!r}")

    def shrunk(self) -> Knobs:
        """Smaller knobs for a redraw."""
        return replace(self, max_steps=max(1, self.max_steps - 1), max_program_len=max(2, self.max_program_len // 2),
                       active_cores=max(1, self.active_cores // 2), max_count=max(1, self.max_count // 2),
                       max_events=max(1, self.max_events // 2))


def random_image(seed: int, config: ChipConfig, **knobs: object) -> tuple[Image, Stimulus, int]:
    """A valid random image for ``config``, its stimulus and its number of steps; see :class:`Knobs`."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SpikeCoreError(f"random_image: seed must be an integer, not {seed!r}")
    unknown = set(knobs) - set(Knobs.__dataclass_fields__)
    if unknown:
        raise SpikeCoreError(f"random_image: unknown knob {sorted(unknown)[0]!r}; knobs are "
                             f"{', '.join(Knobs.__dataclass_fields__)}")
    settings = Knobs(**knobs)  # type: ignore[arg-type]
    settings.check()
    rng = random.Random(seed)
    for attempt in range(_ATTEMPTS):
        draw = _Draw(rng, config, settings, corners=attempt < _ATTEMPTS // 2)
        if draw.worst_case_cycles() <= settings.cycle_budget or attempt == _ATTEMPTS - 1:
            return _with_periods(seed, draw.image(), draw.stimulus, draw.steps)
        settings = settings.shrunk()
    raise AssertionError("unreachable")


def _with_periods(seed: int, image: Image, stimulus: Stimulus, steps: int) -> tuple[Image, Stimulus, int]:
    """About a third of the images give some sections a period D of 2..4 and a random phase (docs/spec.md §2).

    Drawn from a generator of their own, so every other draw of ``seed`` is what it was before periods
    existed. Such a core's buffer keeps its events across the steps it skips, so the host injects into it
    only in step 0 (when every buffer is empty): a later injection could find the buffer full.
    """
    rng = random.Random(f"period:{seed}")
    if rng.random() >= 0.35 or not image.cores:
        return image, stimulus, steps
    periodic = set()
    for core_id, section in image.cores.items():
        if rng.random() < 0.6:
            section.period = rng.randint(2, 4)
            section.phase = rng.randrange(section.period)
            periodic.add(core_id)
    kept = Stimulus()
    for step in sorted(stimulus.events):
        for core, axon, payload in stimulus.at(step):
            if step == 0 or core not in periodic:
                kept.add(step, core, axon, payload)
    return image, kept, steps


# --- value pickers: edges on purpose ------------------------------------------------------------------


def _pick_weight(rng: random.Random, density: float) -> int:
    if rng.random() > density:
        return 0
    if rng.random() < 0.25:
        return rng.choice((WEIGHT_MIN, WEIGHT_MAX, -1, 1))
    return rng.randint(WEIGHT_MIN, WEIGHT_MAX)


def _pick_payload(rng: random.Random) -> int:
    if rng.random() < 0.3:
        return rng.choice((PAYLOAD_MIN, PAYLOAD_MAX, -1, 0, 1))
    return rng.randint(PAYLOAD_MIN, PAYLOAD_MAX)


def _pick_axon(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.1:
        return rng.choice((0, AXON_MAX))
    return rng.randint(0, 7) if r < 0.8 else rng.randint(0, AXON_MAX)


def _pick_membrane(rng: random.Random) -> int:
    """An init / reset value: usually small, often at or near an int32 limit (so ACC saturates)."""
    r = rng.random()
    if r < 0.3:
        return 0
    if r < 0.6:
        return rng.randint(-64, 64)
    if r < 0.75:
        return ACC_MAX - rng.randint(0, 4000)
    if r < 0.9:
        return ACC_MIN + rng.randint(0, 4000)
    return rng.choice((ACC_MAX, ACC_MIN))


def _pick_threshold(rng: random.Random, membrane: int, fire_bias: float) -> int:
    """A threshold for a neuron whose membrane is ``membrane`` when FIRE first evaluates it."""
    r = rng.random()
    if r < 0.3:
        return membrane                                            # v == threshold: must fire
    if r < 0.3 + 0.5 * fire_bias:
        return max(ACC_MIN, membrane - rng.randint(1, 200))         # fires
    if r < 0.75:
        return min(ACC_MAX, membrane + rng.randint(1, 200))         # just misses
    return rng.choice((ACC_MAX, ACC_MIN, 0, 1, rng.randint(-1000, 1000)))


def _pick_range(rng: random.Random, neurons: int, max_count: int) -> tuple[int, int]:
    r = rng.random()
    if r < 0.08:
        return 0, neurons                                          # the whole core
    if r < 0.16:
        return neurons - 1, 1                                      # the last neuron
    if r < 0.24:
        return 0, 1
    count = rng.randint(1, min(max_count, neurons))
    return rng.randint(0, neurons - count), count


# --- one draw --------------------------------------------------------------------------------------------


class _Draw:
    """One attempt: programs, memories and stimulus for a few active cores."""

    def __init__(self, rng: random.Random, config: ChipConfig, knobs: Knobs, corners: bool) -> None:
        self.rng, self.config, self.knobs = rng, config, knobs
        self.steps = rng.randint(1, knobs.max_steps)
        count = rng.randint(1, min(config.cores, knobs.active_cores))
        self.active = sorted(rng.sample(range(config.cores), count))
        # Scenarios that each exercise one corner of the chip; cheap enough to combine.
        self.flood_victim = rng.randrange(config.cores) if corners and rng.random() < 0.3 else None
        self.full_core = rng.choice(self.active) if corners and rng.random() < 0.3 else None
        self.sections: dict[int, CoreImage] = {}
        self.bodies: dict[int, list[Instruction]] = {}          # the instructions before HALT
        for core in self.active:
            self._draw_core(core)
        self.routed = self._routed_bound()
        self.stimulus = self._draw_stimulus()
        for core in self.active:
            self._draw_thresholds(core)

    # programs and memories

    def _draw_instruction(self, opcode: Opcode) -> Instruction:
        rng, cfg = self.rng, self.config
        if opcode in (Opcode.NOP, Opcode.HALT):
            return Instruction(opcode)
        mac = opcode in (Opcode.ACC, Opcode.SACC)
        neuron, count = _pick_range(rng, cfg.neurons, self.knobs.max_count if mac else cfg.neurons)
        if mac:
            wbase = rng.choice((0, cfg.weight_bytes - 1, rng.randrange(cfg.weight_bytes)))
            return Instruction(opcode, neuron=neuron, count=count, wbase=wbase)
        if opcode == Opcode.FIRE:
            shift = rng.choice((0, SHIFT_MAX, rng.randint(0, 4), rng.randint(0, SHIFT_MAX)))
            graded = rng.random() < 0.5
            return Instruction(opcode, neuron=neuron, count=count, shift=shift,
                               reset=ResetMode(rng.randrange(len(ResetMode))), graded=graded,
                               wide=graded and rng.random() < 0.35)   # a 24-bit payload (partial sum, §4.2)
        return Instruction(opcode, neuron=neuron, count=count)

    def _draw_core(self, core: int) -> None:
        rng, cfg = self.rng, self.config
        if rng.random() < 0.02:
            self.sections[core], self.bodies[core] = CoreImage(), []   # an explicit but empty section
            return
        longest = min(self.knobs.max_program_len, cfg.imem_depth)
        length = 1 if longest == 1 or rng.random() < 0.04 else rng.randint(2, longest)   # 1: HALT first
        flooding = self.flood_victim is not None and rng.random() < 0.7
        weights = {Opcode.NOP: 1, Opcode.ACC: 3, Opcode.FIRE: 5 if flooding else 3, Opcode.LEAK: 2,
                   Opcode.SACC: 2, Opcode.SYN: 2, Opcode.MERGE: 2}
        opcodes = rng.choices(list(weights), weights=list(weights.values()), k=length - 1)
        body = [self._draw_instruction(op) for op in opcodes]
        program = [*body, Instruction(Opcode.HALT)]
        spare = cfg.imem_depth - len(program)
        if spare and rng.random() < 0.15:  # words after HALT never run, but must still be valid
            extra = rng.randint(1, min(2, spare))
            program += [self._draw_instruction(rng.choice((Opcode.NOP, Opcode.ACC, Opcode.LEAK, Opcode.HALT,
                                                           Opcode.SACC, Opcode.SYN, Opcode.MERGE)))
                        for _ in range(extra)]

        n_weights = cfg.weight_bytes if rng.random() < 0.7 else rng.randint(0, cfg.weight_bytes)
        weight_list = [_pick_weight(rng, self.knobs.density) for _ in range(n_weights)]
        fanout = self._draw_fanout_table(flooding)
        n_neurons = cfg.neurons if rng.random() < 0.7 else rng.randint(0, cfg.neurons)
        neurons = [NeuronParams(threshold=0, reset=_pick_membrane(rng), init=_pick_membrane(rng),
                                decay=rng.choice((0, DECAY_MAX, 1 << 15, 1, rng.randint(0, DECAY_MAX))),
                                syn_decay=rng.choice((0, DECAY_MAX, 1 << 15, rng.randint(0, DECAY_MAX))),
                                syn_init=_pick_membrane(rng) if rng.random() < 0.3 else 0)
                   for _ in range(n_neurons)]
        neurons = self._assign_fanout(body, neurons, len(fanout), flooding)
        self.sections[core] = CoreImage(program=[encode(i) for i in program], weights=weight_list,
                                        neurons=neurons, fanout=fanout)
        self.bodies[core] = body

    def _draw_fanout_table(self, flooding: bool) -> list[FanoutEntry]:
        rng, cfg = self.rng, self.config
        every_core = [*range(cfg.cores), HOST_CORE]
        if flooding:
            size = cfg.fanout_depth
            return [FanoutEntry(self.flood_victim if rng.random() < 0.9 else HOST_CORE, _pick_axon(rng))
                    for _ in range(size)]
        if rng.random() < 0.15 and len(every_core) <= cfg.fanout_depth:   # one entry for every core and the host
            return [FanoutEntry(c, _pick_axon(rng)) for c in every_core]
        r = rng.random()
        size = 0 if r < 0.15 else cfg.fanout_depth if r < 0.25 else rng.randint(1, min(8, cfg.fanout_depth))

        def destination() -> int:
            d = rng.random()
            return HOST_CORE if d < 0.25 else rng.choice(self.active) if d < 0.75 else rng.randrange(cfg.cores)

        return [FanoutEntry(destination(), _pick_axon(rng)) for _ in range(size)]

    def _assign_fanout(self, body: list[Instruction], neurons: list[NeuronParams], table: int,
                       flooding: bool) -> list[NeuronParams]:
        """Give listed neurons fan-out ranges, keeping Σ_FIRE Σ_n fanout_count ≤ fanout_depth (§1.2)."""
        rng = self.rng
        fires = [0] * self.config.neurons   # how many FIREs evaluate each neuron per step
        for ins in body:
            if ins.opcode == Opcode.FIRE:
                for n in ins.neurons:
                    fires[n] += 1
        budget = self.config.fanout_depth
        order = list(range(len(neurons)))
        rng.shuffle(order)
        for n in order:
            largest = min(_U8_MAX, table, budget // fires[n] if fires[n] else table)
            if largest == 0 or (not flooding and rng.random() < 0.4):
                continue
            count = largest if flooding or rng.random() < 0.2 else rng.randint(1, largest)
            start = rng.randint(0, table - count)
            budget -= fires[n] * count
            neurons[n] = replace(neurons[n], fanout_start=start, fanout_count=count)
        return neurons

    # stimulus

    def _routed_bound(self) -> dict[int, int]:
        """The most deliveries each core can receive in one step: every FIRE firing every neuron."""
        bound: dict[int, int] = {}
        for core, section in self.sections.items():
            for ins in self.bodies[core]:
                if ins.opcode != Opcode.FIRE:
                    continue
                for n in ins.neurons:
                    if n < len(section.neurons):
                        p = section.neurons[n]
                        for entry in section.fanout[p.fanout_start: p.fanout_start + p.fanout_count]:
                            bound[entry.core] = bound.get(entry.core, 0) + 1
        return bound

    def _draw_stimulus(self) -> Stimulus:
        rng, cfg, routed = self.rng, self.config, self.routed
        stimulus = Stimulus()
        targets = [*self.active, rng.randrange(cfg.cores)]          # sometimes a core that only runs HALT
        for step in range(self.steps):
            for core in dict.fromkeys(targets):
                # Step 0 starts with empty buffers; later steps may already hold up to `routed` deliveries.
                room = cfg.event_depth - (routed.get(core, 0) if step else 0)
                if room <= 0:
                    continue
                if step == 0 and core == self.full_core:
                    count = room
                elif rng.random() < self.knobs.density:
                    count = rng.randint(1, min(room, self.knobs.max_events))
                else:
                    continue
                for _ in range(count):
                    stimulus.add(step, core, _pick_axon(rng), _pick_payload(rng))
        return stimulus

    # thresholds: a scalar model of step 0

    def _draw_thresholds(self, core: int) -> None:
        """Choose thresholds while replaying step 0 of ``core``, so that some equal the membrane FIRE sees.

        In step 0 a buffer holds only the host's events, and a neuron's membrane before its first FIRE
        depends on ACC and LEAK only, so the value can be known here, before the threshold is chosen.
        """
        section = self.sections[core]
        rng, cfg = self.rng, self.config
        listed = section.neurons
        params = [*listed, *[NeuronParams()] * (cfg.neurons - len(listed))]
        acc = [p.init for p in params]
        syn = [p.syn_init for p in params]      # synaptic currents (version 2)
        chosen: dict[int, int] = {}
        fire_bias = 0.9 if self.flood_victim is not None else 0.4
        events = self.stimulus.at(0)
        events = [(a, p) for c, a, p in events if c == core]
        for ins in self.bodies[core]:
            neurons = ins.neurons
            if ins.opcode in (Opcode.ACC, Opcode.SACC):
                target = acc if ins.opcode == Opcode.ACC else syn
                for axon, payload in events:
                    for j, n in enumerate(neurons):
                        address = weight_address(ins.wbase, axon, ins.count, j, cfg.weight_bytes)
                        weight = section.weights[address] if address < len(section.weights) else 0
                        target[n] = saturate(target[n] + payload * weight, ACC_BITS)
            elif ins.opcode == Opcode.MERGE:    # each event in the range adds its payload to neuron = axon
                for axon, payload in events:
                    if axon in neurons:
                        acc[axon] = saturate(acc[axon] + payload, ACC_BITS)
            elif ins.opcode == Opcode.SYN:
                for n in neurons:
                    acc[n] = saturate(acc[n] + syn[n], ACC_BITS)
                    syn[n] = leak(syn[n], params[n].syn_decay)
            elif ins.opcode == Opcode.LEAK:
                for n in neurons:
                    acc[n] = leak(acc[n], params[n].decay)
            elif ins.opcode == Opcode.FIRE:
                for n in neurons:
                    if n < len(listed) and n not in chosen:
                        chosen[n] = _pick_threshold(rng, acc[n], fire_bias)
                    threshold = chosen.get(n, params[n].threshold)
                    fired = acc[n] >= threshold
                    if ins.reset == ResetMode.ALWAYS or (fired and ins.reset == ResetMode.VALUE):
                        acc[n] = params[n].reset
                    elif fired and ins.reset == ResetMode.SUB:
                        acc[n] = saturate(acc[n] - threshold, ACC_BITS)
        for n in range(len(listed)):
            if n not in chosen:
                chosen[n] = _pick_threshold(rng, listed[n].init, fire_bias)
        section.neurons = [replace(p, threshold=chosen[n]) for n, p in enumerate(listed)]

    # size

    def worst_case_cycles(self) -> int:
        """An upper bound of the run's array cycles: every event kept, every FIRE firing every neuron."""
        cfg = self.config
        injected: dict[tuple[int, int], int] = {}
        for step, events in self.stimulus.events.items():
            for core, _, _ in events:
                injected[step, core] = injected.get((step, core), 0) + 1
        deliveries = sum(self.routed.values())
        total = 0
        for step in range(self.steps):
            longest = 1
            for core, body in self.bodies.items():
                neurons = self.sections[core].neurons
                held = min(cfg.event_depth, injected.get((step, core), 0) + (self.routed.get(core, 0) if step else 0))
                cycles = 1  # HALT
                for ins in body:
                    cycles += 1
                    if ins.opcode in (Opcode.ACC, Opcode.SACC):
                        cycles += held * ins.count
                    elif ins.opcode == Opcode.FIRE:
                        cycles += ins.count + sum(neurons[n].fanout_count for n in ins.neurons if n < len(neurons))
                    elif ins.opcode in (Opcode.LEAK, Opcode.SYN):
                        cycles += ins.count
                    elif ins.opcode == Opcode.MERGE:
                        cycles += held
                longest = max(longest, cycles)
            total += longest + 1 + deliveries
        return total

    def image(self) -> Image:
        return Image(self.config, dict(sorted(self.sections.items())))
