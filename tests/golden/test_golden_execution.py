"""Whole-run behaviour of the golden model: ``run()``, the loader rules, trace invariants, the summary.

Expected numbers of the hand-built run are derived in comments from docs/spec.md; the invariants checked
on random images (sort order, phase windows, counters) follow from §2 and §6 directly.
"""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import CycleChip, OutSpike
from spikecore.golden.functional import FunctionalChip
from spikecore.golden.run import RunResult, run
from spikecore.golden.summary import summarize
from spikecore.image import Image
from spikecore.isa import (
    HOST_CORE,
    CoreImage,
    FanoutEntry,
    NeuronParams,
    ResetMode,
    TraceKind,
)
from spikecore.stimulus import Stimulus
from spikecore.verif.random_program import random_image
from tests.helpers import SMALL_CHIP, word

CFG = SMALL_CHIP

w = word


def integrate_and_fire_image() -> Image:
    """ACC 2 neurons, FIRE neuron 0 (threshold 2, reset to 0) with three fan-out entries to the host."""
    program = [w("ACC", neuron=0, count=2, wbase=0), w("FIRE", neuron=0, count=1, reset=ResetMode.VALUE), w("HALT")]
    core = CoreImage(program=program, weights=[1, 1],
                     neurons=[NeuronParams(threshold=2, reset=0, init=0, fanout_start=0, fanout_count=3)],
                     fanout=[FanoutEntry(HOST_CORE, a) for a in range(3)])
    return Image(CFG, {0: core})


STIMULUS = Stimulus({0: [(0, 0, 1)], 1: [(0, 0, 1), (0, 0, 1)]})


def test_run_drives_stimulus_and_reports_every_field() -> None:
    # Worked out in tests/test_golden_instructions.py::test_step_cycle_formula_over_three_steps:
    # C = 0, 7, 22, 27; step 0 has 2 ACC records, step 1 has 4 ACC + 1 reset ACC + 1 SPIKE + 3 OUT.
    result = run(integrate_and_fire_image(), STIMULUS, steps=3)
    assert isinstance(result, RunResult)
    assert (result.steps, result.cycles, result.step_starts) == (3, 27, [0, 7, 22])
    assert result.trace is not None and len(result.trace) == 2 + 9
    assert result.trace["cycle"].tolist() == [1, 2, 8, 9, 10, 11, 13, 13, 19, 20, 21]
    assert result.outputs == [OutSpike(1, 0, 0, 1), OutSpike(1, 0, 1, 1), OutSpike(1, 0, 2, 1)]
    assert result.spike_counts.tolist() == [1, 0, 0, 0]
    assert result.drops.tolist() == [0, 0, 0, 0]
    assert result.membranes[0, :2].tolist() == [0, 3]

    fast = run(integrate_and_fire_image(), STIMULUS, steps=3, chip="functional")
    assert fast.trace is None
    assert (fast.cycles, fast.step_starts, fast.outputs) == (result.cycles, result.step_starts, result.outputs)
    assert np.array_equal(fast.membranes, result.membranes)


def test_run_with_zero_steps_and_empty_image() -> None:
    empty = run(Image(CFG), steps=0)
    assert (empty.cycles, len(empty.trace), empty.step_starts) == (0, 0, [])
    # cores without a section run HALT: 1 cycle, + barrier = 2 cycles per step
    assert run(Image(CFG), steps=5).step_starts == [0, 2, 4, 6, 8]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"chip": "fast"}, r"^run: chip must be one of cycle, functional, not 'fast'$"),
    ({"steps": -1}, r"^run: steps must be a non-negative integer, not -1$"),
    ({"steps": 1.5}, r"^run: steps must be a non-negative integer, not 1\.5$"),
])
def test_run_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(SpikeCoreError, match=message):
        run(Image(CFG), **kwargs)


def test_run_rejects_injection_into_a_core_outside_the_chip() -> None:
    with pytest.raises(SpikeCoreError, match=r"^stimulus step 0 event 0: core 9 out of range 0\.\.3 \(the image's "
                                             r"chip has 4 cores\)$"):
        run(Image(CFG), Stimulus({0: [(9, 0, 0)]}))


def _core(**changes: object) -> Image:
    """A valid one-core image with one field replaced."""
    fields = {"program": [w("FIRE", neuron=0, count=2), w("HALT")], "weights": [1],
              "neurons": [NeuronParams(fanout_start=0, fanout_count=2)], "fanout": [FanoutEntry(1, 0)] * 2}
    fields.update(changes)
    return Image(CFG, {0: CoreImage(**fields)})


S0 = "image: core 0 section: "


@pytest.mark.parametrize(("image", "message"), [
    (_core(program=[w("NOP")]), S0 + "program has no HALT"),
    (_core(program=[w("LEAK", neuron=6, count=3), w("HALT")]),
     S0 + "program word 0 (LEAK): neurons 6..8 are outside the core's 8 neurons"),
    (_core(program=[w("ACC", neuron=0, count=1, wbase=16), w("HALT")]),
     S0 + "program word 0 (ACC): wbase 16 is outside the core's 16 bytes of weight memory"),
    (_core(program=[w("HALT"), 0x8000_0000]), S0 + "program word 1: instruction 0x80000000: unknown opcode 8"),
    (_core(program=[w("HALT")] * 17), S0 + "17 program words exceed the core's imem_depth of 16"),
    (_core(weights=[128]), S0 + "weight 0 is 128, must be -128..127"),
    (_core(fanout=[FanoutEntry(4, 0)] * 2),
     S0 + "fan-out entry 0 names core 4, outside the chip (cores 0..3, host 255)"),
    (_core(neurons=[NeuronParams(fanout_start=1, fanout_count=2)]),
     S0 + "neuron 0 fan-out range 1..2 runs past the 2 entries of the fan-out table"),
    # 5 FIREs of neuron 0 with 2 entries each could push 10 > fanout_depth 8 deliveries in one step
    (_core(program=[w("FIRE", neuron=0, count=1)] * 5 + [w("HALT")]),
     S0 + "FIREs could push 10 deliveries in one step, more than the out-queue's 8 (fanout_depth)"),
    (Image(CFG, {4: CoreImage()}), "image: core 4 section: names a core outside the chip (cores 0..3)"),
])
def test_loader_rules_are_enforced_with_one_line(image: Image, message: str) -> None:
    for chip_class in (CycleChip, FunctionalChip):
        with pytest.raises(SpikeCoreError) as info:
            chip_class(image)
        assert str(info.value) == message


def test_fire_after_halt_does_not_count_towards_the_out_queue_bound() -> None:
    # Before HALT one FIRE pushes at most 2; the 5 FIREs after HALT never run (§7 loader rules).
    image = _core(program=[w("FIRE", neuron=0, count=1), w("HALT")] + [w("FIRE", neuron=0, count=1)] * 5)
    assert run(image, steps=1).cycles == (1 + 1) + 1 + 1   # FIRE (no fire: threshold ACC_MAX) + HALT + barrier


def test_reset_state_keeps_counting_cycles_and_the_trace_continues() -> None:
    chip = CycleChip(integrate_and_fire_image())
    for core, axon, payload in STIMULUS.at(0):
        chip.inject(core, axon, payload)
    chip.step()
    chip.reset_state()
    records = chip.step()       # no events: ACC 1, FIRE 2, HALT 1 -> E = 4, from C_1 = 7
    assert (len(records), chip.step_starts, chip.cycle) == (0, [0, 7], 12)
    assert chip.membranes[0, :2].tolist() == [0, 0]


def _check_trace_invariants(image: Image, stimulus: Stimulus, steps: int) -> int:
    """Check §2/§6 invariants step by step; returns the number of records checked."""
    chip = CycleChip(image)
    checked = 0
    for step in range(steps):
        for event in stimulus.at(step):
            chip.inject(*event)
        start, spikes, drops, outputs = chip.cycle, chip.spike_counts.sum(), chip.drops.sum(), len(chip.outputs)
        records = chip.step()
        end = chip.cycle
        keys = list(zip(records["cycle"].tolist(), records["core"].tolist(), records["kind"].tolist(), strict=True))
        assert keys == sorted(set(keys)), "trace not strictly sorted by (cycle, core, kind)"
        kinds = records["kind"]
        is_routed = np.isin(kinds, (TraceKind.EVENT, TraceKind.DROP, TraceKind.OUT))
        routed = records[is_routed]
        exec_records = records[~is_routed]
        # DELIVER: one record per cycle, the last D cycles of the step, after EXEC and the barrier
        assert routed["cycle"].tolist() == list(range(end - len(routed), end))
        if len(exec_records):
            assert start < exec_records["cycle"].min() and exec_records["cycle"].max() < end - len(routed) - 1
        assert (records["core"] < image.config.cores).all()
        assert (kinds == TraceKind.SPIKE).sum() == chip.spike_counts.sum() - spikes
        assert (kinds == TraceKind.DROP).sum() == chip.drops.sum() - drops
        assert (kinds == TraceKind.OUT).sum() == len(chip.outputs) - outputs
        checked += len(records)
    return checked


@pytest.mark.parametrize("cores", [1, 4, 16])
def test_trace_invariants_on_random_images(cores: int) -> None:
    config = ChipConfig(cores=cores, neurons=16, weight_bytes=64, imem_depth=12, event_depth=8, fanout_depth=16)
    checked = sum(_check_trace_invariants(*random_image(seed, config)) for seed in range(25))
    assert checked > 1000


def test_summary_is_compact_and_names_what_happened() -> None:
    text = summarize(run(integrate_and_fire_image(), STIMULUS, steps=3))
    lines = text.splitlines()
    assert lines[0] == "3 steps, 27 array cycles; step starts 0 7 22"
    assert lines[1] == "trace: 11 records (ACC 7, SPIKE 1, EVENT 0, DROP 0, OUT 3)"
    assert "spikes per core: 0:1 (total 1)" in lines
    assert "drops per core: none (total 0)" in lines
    assert "non-zero membranes: 0.1=3" in lines
    assert "outputs (3): s1/c0/a0=1 s1/c0/a1=1 s1/c0/a2=1" in lines
    functional = summarize(run(integrate_and_fire_image(), STIMULUS, steps=3, chip="functional"))
    assert "trace:" not in functional and len(functional.splitlines()) == 5
    assert summarize(run(integrate_and_fire_image(), STIMULUS, steps=3), limit=1).splitlines()[0].endswith(
        "step starts 0 (+2 more)")
