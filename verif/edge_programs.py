"""Edge-biased program variants on top of :func:`spikecore.verif.random_program.random_image`.

``random_image`` already aims at corners; each variant here pushes one corner to its limit, seeded and
reproducible (same seed, config and variant → the same image, stimulus and steps):

===================  ==========================================================================================
``plain``            ``random_image`` unchanged
``extreme_weights``  every non-zero weight becomes -128 or +127 (its sign kept)
``threshold_equal``  every FIRE-evaluated neuron's threshold := the membrane its first FIRE of step 0 compares
``saturate``         membranes start at the int32 limits, weights and host payloads are extreme, thresholds
                     negative, so ACC clips, FIRE reset=sub clips and graded payloads clamp
``full_buffers``     the host tops every core's input buffer up to ``event_depth`` before every step
``empty_buffers``    no host events at all: ACC runs over empty buffers unless the router delivers
``dense_fanout``     every neuron of every programmed FIRE gets as many fan-out entries as the out-queue bound
                     allows, spread over every core and the host, and fires (threshold ACC_MIN): contention,
                     fan-in, drops
``all_fire``         every core of the chip runs the same FIRE of threshold-ACC_MIN neurons first, so all
                     cores spike on the same cycles, then the random program
===================  ==========================================================================================

Thresholds and stimuli that depend on the membranes a neuron really has are read from the golden model
(:class:`~spikecore.golden.cycle.CycleChip`), not re-derived, so they are exact by construction.
:func:`program_for_seed` picks the variant from the seed, so a regression over seeds 0..N-1 mixes them and
``seed`` alone reproduces a run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import CycleChip
from spikecore.golden.run import run
from spikecore.image import Image, out_queue_bound, validate_image
from spikecore.isa import (
    ACC_MAX,
    ACC_MIN,
    AXON_MAX,
    HALT_WORD,
    HOST_CORE,
    PAYLOAD_MAX,
    PAYLOAD_MIN,
    WEIGHT_MAX,
    WEIGHT_MIN,
    CoreImage,
    FanoutEntry,
    Instruction,
    NeuronParams,
    Opcode,
    ResetMode,
    decode,
    encode,
)
from spikecore.stimulus import Stimulus
from spikecore.verif.array_fill import fill_knobs
from spikecore.verif.random_program import random_image

Program = tuple[Image, Stimulus, int]


def _copy(image: Image) -> Image:
    cores = {c: CoreImage(program=list(s.program), weights=list(s.weights), neurons=list(s.neurons),
                          fanout=list(s.fanout)) for c, s in image.cores.items()}
    return Image(image.config, cores)


def _with_neuron(section: CoreImage, n: int, neurons: int, **changes: int) -> None:
    """Set fields of neuron ``n``, listing default neurons up to it if the section stops short."""
    if n >= len(section.neurons):
        section.neurons += [NeuronParams()] * (n + 1 - len(section.neurons))
    section.neurons[n] = replace(section.neurons[n], **changes)
    assert len(section.neurons) <= neurons


# --- variants ------------------------------------------------------------------------------------------------


def extreme_weights(rng: random.Random, program: Program) -> Program:
    image, stimulus, steps = program
    image = _copy(image)
    for section in image.cores.values():
        section.weights = [0 if w == 0 else WEIGHT_MAX if w > 0 else WEIGHT_MIN for w in section.weights]
    return image, stimulus, steps


def first_fire_membranes(image: Image, stimulus: Stimulus) -> dict[tuple[int, int], int]:
    """The membrane each FIRE-evaluated neuron holds when its first FIRE of step 0 compares it.

    Independent of every threshold: in step 0 the buffers hold host events only, and before its first
    FIRE a neuron is written only by ACC (once per buffered event) and LEAK (once). So if ``k`` writes
    precede that FIRE, the value is the neuron's ``k``-th ACC record of the golden step-0 trace (its init
    value for ``k = 0``), whatever the thresholds and the cycles are.
    """
    chip = CycleChip(image)
    for core, axon, payload in stimulus.at(0):
        chip.inject(core, axon, payload)
    fills = [len(chip.buffered_events(core)) for core in range(image.config.cores)]
    init = chip.membranes.copy()
    records = chip.step()
    writes = records[records["kind"] == 0]
    values: dict[tuple[int, int], int] = {}
    for core, program in enumerate(chip.loaded.programs):
        before = [0] * image.config.neurons        # writes to each neuron so far
        for ins in program:
            if ins.opcode == Opcode.ACC:
                for n in ins.neurons:
                    before[n] += fills[core]
            elif ins.opcode in (Opcode.LEAK, Opcode.SYN):   # SYN writes the membrane once per neuron too
                for n in ins.neurons:
                    before[n] += 1
            elif ins.opcode == Opcode.FIRE:
                for n in ins.neurons:
                    if (core, n) in values:
                        continue
                    mine = writes[(writes["core"] == core) & (writes["index"] == n)]["value"]
                    values[core, n] = int(mine[before[n] - 1]) if before[n] else int(init[core, n])
    return values


def threshold_equal(rng: random.Random, program: Program) -> Program:
    image, stimulus, steps = program
    image = _copy(image)
    for (core, n), v in first_fire_membranes(image, stimulus).items():
        _with_neuron(image.cores[core], n, image.config.neurons, threshold=v)
    return image, stimulus, steps


def saturated_membranes(rng: random.Random, program: Program) -> Program:
    image, stimulus, steps = program
    image = _copy(image)
    cfg = image.config
    for section in image.cores.values():
        section.weights = [rng.choice((WEIGHT_MIN, WEIGHT_MAX)) for _ in range(cfg.weight_bytes)]
        limits = (ACC_MAX, ACC_MIN, ACC_MAX - rng.randint(0, 3000), ACC_MIN + rng.randint(0, 3000))
        for n in range(cfg.neurons):
            _with_neuron(section, n, cfg.neurons, init=rng.choice(limits), reset=rng.choice(limits),
                         threshold=rng.choice((-rng.randint(1, 1 << 20), ACC_MIN, 0)))
    loud = Stimulus()
    for step, events in stimulus.events.items():
        for core, axon, _ in events:
            loud.add(step, core, axon, rng.choice((PAYLOAD_MIN, PAYLOAD_MAX)))
    return image, loud, steps


def _topped_up(image: Image, stimulus: Stimulus, steps: int, rng: random.Random, fill: bool) -> Stimulus:
    """``fill``: every core's buffer topped up to event_depth before every step (room read from the golden
    model, so no injection is refused); otherwise no host events at all."""
    if not fill:
        return Stimulus()
    chip = CycleChip(image)
    out = Stimulus()
    for step in range(steps):
        for core in range(image.config.cores):
            room = image.config.event_depth - len(chip.buffered_events(core))
            for _ in range(room if core in image.cores or rng.random() < 0.2 else 0):
                axon = rng.choice((0, 1, 2, 3, AXON_MAX, rng.randrange(AXON_MAX + 1)))
                payload = rng.choice((1, -1, PAYLOAD_MAX, PAYLOAD_MIN, rng.randint(PAYLOAD_MIN, PAYLOAD_MAX)))
                out.add(step, core, axon, payload)
                chip.inject(core, axon, payload)
        chip.step()
    return out


def full_buffers(rng: random.Random, program: Program) -> Program:
    image, stimulus, steps = program
    return image, _topped_up(image, stimulus, steps, rng, fill=True), steps


def empty_buffers(rng: random.Random, program: Program) -> Program:
    image, _, steps = program
    return image, Stimulus(), steps


def dense_fanout(rng: random.Random, program: Program) -> Program:
    image, stimulus, steps = program
    image = _copy(image)
    cfg = image.config
    destinations = [*range(cfg.cores), HOST_CORE]
    for section in image.cores.values():
        section.fanout = [FanoutEntry(rng.choice(destinations), rng.randrange(8)) for _ in range(cfg.fanout_depth)]
        section.neurons = [replace(p, fanout_count=0, fanout_start=0) for p in section.neurons]
        evaluations: dict[int, int] = {}
        for word in section.program:
            ins = decode(word)
            if ins.opcode == Opcode.HALT:
                break
            if ins.opcode == Opcode.FIRE:
                for n in ins.neurons:
                    evaluations[n] = evaluations.get(n, 0) + 1
        budget = cfg.fanout_depth
        for n, times in evaluations.items():
            count = min(255, budget // times, cfg.fanout_depth)
            if count == 0:
                break
            _with_neuron(section, n, cfg.neurons, fanout_start=rng.randint(0, cfg.fanout_depth - count),
                         fanout_count=count, threshold=ACC_MIN)
            budget -= count * times
    return image, stimulus, steps


def all_fire(rng: random.Random, program: Program) -> Program:
    image, stimulus, steps = program
    image = _copy(image)
    cfg = image.config
    count = rng.randint(1, min(4, cfg.neurons))
    graded = rng.random() < 0.5
    head = encode(Instruction(Opcode.FIRE, neuron=0, count=count, shift=rng.randint(0, 3),
                              reset=ResetMode(rng.randrange(len(ResetMode))), graded=graded))
    for core in range(cfg.cores):
        section = image.cores.setdefault(core, CoreImage())
        program = section.program[:section.program.index(HALT_WORD) + 1]     # words after HALT never run
        if len(program) + 1 > cfg.imem_depth:
            program = [*program[:-2], HALT_WORD]                               # drop the last body instruction
        section.program = [head, *program]
        for n in range(count):
            _with_neuron(section, n, cfg.neurons, threshold=ACC_MIN)
        if out_queue_bound(cfg, section) > cfg.outq_depth:   # the new FIRE's pushes must still fit
            for n in range(count):
                _with_neuron(section, n, cfg.neurons, fanout_count=0, fanout_start=0)
    image.cores = dict(sorted(image.cores.items()))
    return image, stimulus, steps


VARIANTS: dict[str, Callable[[random.Random, Program], Program]] = {
    "plain": lambda rng, program: program,
    "extreme_weights": extreme_weights,
    "threshold_equal": threshold_equal,
    "saturate": saturated_membranes,
    "full_buffers": full_buffers,
    "empty_buffers": empty_buffers,
    "dense_fanout": dense_fanout,
    "all_fire": all_fire,
}
#: The variant of seed s in a regression: plain random programs for three seeds in eight, then one of each edge.
SEED_CYCLE = ("plain", "extreme_weights", "plain", "threshold_equal", "saturate", "plain", "full_buffers",
              "empty_buffers", "dense_fanout", "all_fire")


def variant_of_seed(seed: int) -> str:
    return SEED_CYCLE[seed % len(SEED_CYCLE)]


def fit_stimulus(image: Image, stimulus: Stimulus, steps: int) -> Stimulus:
    """``stimulus`` without the injections the chip would refuse (buffer full): a variant that makes more
    neurons fire routes more events, leaving less room for the host. Room is read from the golden model."""
    chip = CycleChip(image)
    fitted = Stimulus()
    for step in range(steps):
        for core, axon, payload in stimulus.at(step):
            if len(chip.buffered_events(core)) < image.config.event_depth:
                chip.inject(core, axon, payload)
                fitted.add(step, core, axon, payload)
        chip.step()
    return fitted


def edge_image(seed: int, config: ChipConfig, variant: str, **knobs: object) -> Program:
    """``random_image(seed, config, **knobs)`` transformed by ``variant`` (see the module table)."""
    if variant not in VARIANTS:
        raise SpikeCoreError(f"edge program: unknown variant {variant!r}; variants are {', '.join(VARIANTS)}")
    base = random_image(seed, config, **knobs)
    rng = random.Random(f"{variant}:{seed}")
    image, stimulus, steps = VARIANTS[variant](rng, base)
    validate_image(image, f"edge program {variant} seed {seed}")
    return image, fit_stimulus(image, stimulus, steps), steps


def golden_record_count(image: Image, stimulus: Stimulus, steps: int) -> int:
    """How many trace records the golden model emits for the run."""
    return len(run(image, stimulus, steps).trace)


def program_for_seed(seed: int, config: ChipConfig, variant: str | None = None, *, fill: bool = False,
                     **knobs: object) -> tuple[Image, Stimulus, int, str]:
    """The program a regression runs for ``seed``: its variant is ``variant`` or :func:`variant_of_seed`.

    ``fill`` makes it a program that keeps every core busy every step (:mod:`spikecore.verif.array_fill`):
    a program on every core, then ``all_fire``; its variant is reported as ``<variant>+fill``.

    A program whose golden run emits no record at all would prove nothing (the scoreboard fails a run
    that compared zero records), so such a draw gets the ``all_fire`` transformation on top, which makes
    every core spike every step; its variant is then reported as ``<variant>+all_fire``.
    """
    variant = variant or variant_of_seed(seed)
    if fill:
        knobs = {**fill_knobs(config), **knobs}
    image, stimulus, steps = edge_image(seed, config, variant, **knobs)
    if fill:
        image, stimulus, steps = all_fire(random.Random(f"fill:{seed}"), (image, stimulus, steps))
        return image, fit_stimulus(image, stimulus, steps), steps, f"{variant}+fill"
    if golden_record_count(image, stimulus, steps) == 0:
        image, stimulus, steps = all_fire(random.Random(f"all_fire:{seed}"), (image, stimulus, steps))
        stimulus = fit_stimulus(image, stimulus, steps)
        variant = f"{variant}+all_fire"
    return image, stimulus, steps, variant
