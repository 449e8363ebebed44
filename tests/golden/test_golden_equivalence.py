"""Functional model ≡ cycle-accurate model, on constrained-random and hypothesis-built programs.

After every step both chips must agree on membranes, synaptic currents, drop counters, outputs, spike counts, the cycle
counter and the buffered events; and the cycle model's own trace must agree with its state: the last ACC
record of every neuron is its membrane, SPIKE / DROP / OUT records match the counters and the output list.
Every test asserts that records were actually compared. The second half checks the random generator
itself: reproducible, valid, and reaching the corners it promises.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden import cycle as golden_cycle
from spikecore.golden.cycle import CycleChip, apply_reset
from spikecore.golden.functional import FunctionalChip
from spikecore.golden.run import run
from spikecore.image import Image, decode_image, encode_image, validate_image
from spikecore.isa import (
    ACC_MAX,
    ACC_MIN,
    DECAY_MAX,
    HOST_CORE,
    CoreImage,
    FanoutEntry,
    Instruction,
    NeuronParams,
    Opcode,
    ResetMode,
    TraceKind,
    decode,
    encode,
)
from spikecore.verif.random_program import random_image

CONFIGS = [
    ChipConfig(cores=1),
    ChipConfig(cores=4),
    ChipConfig(cores=16, neurons=16, weight_bytes=64, imem_depth=12, event_depth=8, fanout_depth=16),
    ChipConfig(cores=3, neurons=8, weight_bytes=16, imem_depth=8, event_depth=2, fanout_depth=8),
]
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

Injections = list[list[tuple[int, int, int]]]   # per step, (core, axon, payload) in injection order


def compare(image: Image, injections: Injections) -> int:
    """Run both models in lock step; return how many trace records were checked against the state."""
    cycle, functional = CycleChip(image), FunctionalChip(image)
    last_acc: dict[tuple[int, int], int] = {}
    last_syn: dict[tuple[int, int], int] = {}
    checked = 0
    for step_events in injections:
        for event in step_events:
            try:
                cycle.inject(*event)
            except SpikeCoreError as err:   # a full buffer: the functional model must refuse identically
                try:
                    functional.inject(*event)
                except SpikeCoreError as err2:
                    assert str(err2) == str(err)
                else:
                    raise AssertionError(f"functional accepted {event} that the cycle model refused") from None
                continue
            functional.inject(*event)
        spikes, drops, outputs = cycle.spike_counts.copy(), cycle.drops.copy(), len(cycle.outputs)
        records = cycle.step()
        functional.step()

        assert np.array_equal(cycle.membranes, functional.membranes)
        assert np.array_equal(cycle.currents, functional.currents)   # version 2: synaptic currents
        assert np.array_equal(cycle.drops, functional.drops)
        assert np.array_equal(cycle.spike_counts, functional.spike_counts)
        assert cycle.outputs == functional.outputs
        assert (cycle.cycle, cycle.step_starts) == (functional.cycle, functional.step_starts)
        assert all(cycle.buffered_events(c) == functional.buffered_events(c) for c in range(image.config.cores))

        kinds, cores = records["kind"], records["core"]
        n = image.config.cores
        assert np.array_equal(np.bincount(cores[kinds == TraceKind.SPIKE], minlength=n), cycle.spike_counts - spikes)
        assert np.array_equal(np.bincount(cores[kinds == TraceKind.DROP], minlength=n), cycle.drops - drops)
        outs = records[kinds == TraceKind.OUT]
        assert [(int(r["core"]), int(r["index"]), int(r["value"])) for r in outs] == \
            [(o.core, o.axon, o.payload) for o in cycle.outputs[outputs:]]
        for rec in records[kinds == TraceKind.ACC].tolist():
            last_acc[rec[1], rec[3]] = rec[4]
        for rec in records[kinds == TraceKind.SYN].tolist():
            last_syn[rec[1], rec[3]] = rec[4]
        checked += len(records)
    # the trace's final values are the membranes; neurons never written still hold their init
    expected = cycle.loaded.init.copy()
    for (core, neuron), value in last_acc.items():
        expected[core, neuron] = value
    assert np.array_equal(expected, cycle.membranes)
    # likewise the last SYN record of every neuron is its synaptic current (version 2), else its syn_init
    currents = cycle.loaded.syn_init.copy()
    for (core, neuron), value in last_syn.items():
        currents[core, neuron] = value
    assert np.array_equal(currents, cycle.currents)
    return checked


def _injections_of(stimulus, steps: int) -> Injections:
    return [stimulus.at(step) for step in range(steps)]


def test_random_images_seed_sweep() -> None:
    checked = 0
    for config in CONFIGS:
        for seed in range(15):
            image, stimulus, steps = random_image(seed, config)
            checked += compare(image, _injections_of(stimulus, steps))
    assert checked > 10_000


def test_random_images_hypothesis_seeds() -> None:
    checked: list[int] = []

    @SLOW
    @given(seed=st.integers(0, 2**32 - 1), config=st.sampled_from(CONFIGS))
    def check(seed: int, config: ChipConfig) -> None:
        image, stimulus, steps = random_image(seed, config)
        checked.append(compare(image, _injections_of(stimulus, steps)))

    check()
    assert sum(checked) > 0 and sum(1 for c in checked if c) > len(checked) // 2


# --- hypothesis-built programs on a tiny chip --------------------------------------------------------------

TINY = ChipConfig(cores=3, neurons=4, weight_bytes=8, imem_depth=6, event_depth=3, fanout_depth=4)
EDGES32 = st.sampled_from([ACC_MIN, ACC_MIN + 1, -2, -1, 0, 1, 2, ACC_MAX - 1, ACC_MAX])
INT32 = st.one_of(EDGES32, st.integers(-300, 300), st.integers(ACC_MIN, ACC_MAX))
PAYLOAD = st.one_of(st.sampled_from([-128, -1, 0, 1, 127]), st.integers(-128, 127))


@st.composite
def instructions(draw: st.DrawFn) -> int:
    opcode = draw(st.sampled_from(list(Opcode)))
    if opcode in (Opcode.NOP, Opcode.HALT):
        return encode(Instruction(opcode))
    neuron = draw(st.integers(0, TINY.neurons - 1))
    count = draw(st.integers(1, TINY.neurons - neuron))
    if opcode == Opcode.ACC:
        wbase = draw(st.integers(0, TINY.weight_bytes - 1))
        return encode(Instruction(opcode, neuron=neuron, count=count, wbase=wbase))
    if opcode == Opcode.FIRE:
        return encode(Instruction(opcode, neuron=neuron, count=count, shift=draw(st.integers(0, 31)),
                                  reset=draw(st.sampled_from(list(ResetMode))), graded=draw(st.booleans())))
    return encode(Instruction(opcode, neuron=neuron, count=count))


@st.composite
def core_images(draw: st.DrawFn) -> CoreImage:
    body = draw(st.lists(instructions(), max_size=TINY.imem_depth - 1))
    fanout = draw(st.lists(st.builds(FanoutEntry, st.sampled_from([*range(TINY.cores), HOST_CORE]),
                                     st.integers(0, 255)), max_size=TINY.fanout_depth))
    neurons = []
    for _ in range(draw(st.integers(0, TINY.neurons))):
        count = draw(st.integers(0, len(fanout)))
        neurons.append(NeuronParams(threshold=draw(INT32), reset=draw(INT32), init=draw(INT32),
                                    decay=draw(st.one_of(st.sampled_from([0, 1, 1 << 15, DECAY_MAX]),
                                                         st.integers(0, DECAY_MAX))),
                                    fanout_start=draw(st.integers(0, len(fanout) - count)), fanout_count=count))
    core = CoreImage(program=[*body, encode(Instruction(Opcode.HALT))],
                     weights=draw(st.lists(st.integers(-128, 127), max_size=TINY.weight_bytes)),
                     neurons=neurons, fanout=fanout)
    # Keep the out-queue bound (§1.2): drop fan-out from neurons, highest first, until the FIREs fit.
    while True:
        try:
            validate_image(Image(TINY, {0: core}))
            return core
        except SpikeCoreError:
            n = max(range(len(core.neurons)), key=lambda i: core.neurons[i].fanout_count)
            core.neurons[n] = replace(core.neurons[n], fanout_count=0, fanout_start=0)


EVENTS = st.lists(st.tuples(st.integers(0, TINY.cores - 1), st.integers(0, 255), PAYLOAD), max_size=5)


def test_hypothesis_built_programs() -> None:
    checked: list[int] = []

    @settings(max_examples=150, deadline=None, database=None)
    @given(cores=st.dictionaries(st.integers(0, TINY.cores - 1), core_images(), min_size=1),
           injections=st.lists(EVENTS, min_size=1, max_size=4))
    def check(cores: dict[int, CoreImage], injections: Injections) -> None:
        checked.append(compare(Image(TINY, cores), injections))

    check()
    assert sum(checked) > 0


# --- the generator itself ----------------------------------------------------------------------------------


def test_random_image_is_reproducible_and_seed_dependent() -> None:
    config = ChipConfig(cores=4)
    first = random_image(7, config)
    again = random_image(7, config)
    assert first[0] == again[0] and first[1].events == again[1].events and first[2] == again[2]
    others = [random_image(seed, config)[0] for seed in range(8, 12)]
    assert all(other != first[0] for other in others)


def test_random_images_pass_the_loader_and_survive_the_byte_format() -> None:
    for config in [*CONFIGS, ChipConfig(cores=128)]:
        for seed in range(10):
            image = random_image(seed, config)[0]
            validate_image(image)
            assert decode_image(encode_image(image)) == image


def test_random_image_knobs() -> None:
    config = ChipConfig(cores=4)
    for seed in range(20):
        image, _, steps = random_image(seed, config, max_steps=2, max_program_len=3, active_cores=1,
                                              max_events=1, density=1.0)
        assert 1 <= steps <= 2 and len(image.cores) == 1
        assert all(len(decode_program_until_halt(core.program)) <= 3 for core in image.cores.values())
    for knob, value, message in (
            ("max_steps", 0, "max_steps must be a positive integer, not 0"),
            ("density", 1.5, "density must be a number from 0 to 1, not 1.5"),
            ("colour", 1, "unknown knob 'colour'; knobs are max_steps, max_program_len, density, active_cores, "
                          "max_count, max_events, cycle_budget"),
            ("max_count", "8", "max_count must be a positive integer, not '8'")):
        with pytest.raises(SpikeCoreError) as info:
            random_image(0, config, **{knob: value})
        assert str(info.value) == f"random_image: {message}"


def decode_program_until_halt(program: list[int]) -> list[Instruction]:
    running = []
    for word in program:
        running.append(decode(word))
        if running[-1].opcode == Opcode.HALT:
            break
    return running


def test_random_images_stay_small() -> None:
    cycles = [run(*random_image(seed, ChipConfig(cores=4)), chip="functional").cycles for seed in range(40)]
    assert max(cycles) <= 2500 and sorted(cycles)[len(cycles) // 2] < 800


def test_random_images_reach_the_corners(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 60 seeds the generator must produce every corner it promises (each is an explicit check)."""
    seen: set[str] = set()

    def spy_reset(mode, membranes, threshold, reset_value, fired):  # FIRE's compare, seen from inside
        if (membranes == threshold).any():
            seen.add("v == threshold fires")
        return apply_reset(mode, membranes, threshold, reset_value, fired)

    monkeypatch.setattr(golden_cycle, "apply_reset", spy_reset)
    config = ChipConfig(cores=4)
    for seed in range(60):
        image, stimulus, steps = random_image(seed, config)
        for core in image.cores.values():
            program = [decode(word) for word in core.program]
            running = decode_program_until_halt(core.program)
            seen |= {f"op {i.opcode.name}" for i in running}
            seen |= {f"reset {i.reset.name}" for i in running if i.opcode == Opcode.FIRE}
            seen |= {f"graded {i.graded}" for i in running if i.opcode == Opcode.FIRE}
            seen |= {f"shift {i.shift}" for i in running if i.opcode == Opcode.FIRE and i.shift in (0, 31)}
            seen |= {"whole core" for i in running if i.opcode != Opcode.HALT and i.count == config.neurons}
            seen |= {f"wbase {i.wbase}" for i in running if i.opcode == Opcode.ACC and i.wbase in (0, 255)}
            seen |= {"halt first"} if program[0].opcode == Opcode.HALT else set()
            seen |= {"words after halt"} if len(program) > len(running) else set()
            seen |= {f"weight {v}" for v in core.weights if v in (-128, 127)}
            seen |= {f"init {v}" for p in core.neurons for v in (p.init,) if v in (ACC_MIN, ACC_MAX)}
            seen |= {"host fan-out"} if any(e.core == HOST_CORE for e in core.fanout) else set()
            seen |= {"fan-out to 4+ destinations"} if len({e.core for e in core.fanout}) >= 4 else set()
        seen |= {"full buffer"} if any(sum(1 for e in stimulus.at(0) if e[0] == c) == config.event_depth
                                       for c in range(config.cores)) else set()
        seen |= {f"payload {p}" for events in stimulus.events.values() for _, _, p in events if p in (-128, 127)}
        result = run(image, stimulus, steps)
        kinds, values = result.trace["kind"], result.trace["value"]
        seen |= {"drops"} if result.drops.any() else set()
        seen |= {"outputs"} if result.outputs else set()
        seen |= {f"saturated {v}" for v in values[kinds == TraceKind.ACC].tolist() if v in (ACC_MIN, ACC_MAX)}
        seen |= {f"spike payload {v}" for v in values[kinds == TraceKind.SPIKE].tolist() if v in (-128, 127)}
    wanted = ({f"op {o.name}" for o in Opcode} | {f"reset {m.name}" for m in ResetMode}
              | {"graded True", "graded False", "shift 0", "shift 31", "whole core", "wbase 0", "wbase 255",
                 "halt first", "words after halt", "weight -128", "weight 127", f"init {ACC_MIN}", f"init {ACC_MAX}",
                 "host fan-out", "fan-out to 4+ destinations", "full buffer", "payload -128", "payload 127", "drops",
                 "outputs", "v == threshold fires", f"saturated {ACC_MIN}", f"saturated {ACC_MAX}",
                 "spike payload -128", "spike payload 127"})
    assert wanted - seen == set()
