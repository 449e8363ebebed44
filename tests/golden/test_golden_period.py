"""A core's period D and phase (docs/spec.md §2, v2): it runs only in steps s with s mod D = phase, and its
input buffer keeps accumulating in the other steps. Expected values are worked by hand from §2 and §5.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from spikecore.compiler.asm import assemble
from spikecore.compiler.disasm import disassemble_image
from spikecore.errors import SpikeCoreError
from spikecore.golden.batch import BatchFunctionalChip
from spikecore.golden.cycle import CycleChip
from spikecore.golden.functional import FunctionalChip
from spikecore.image import decode_image, encode_image
from spikecore.isa import CoreImage, TraceKind
from tests.helpers import PERIOD_PAIR

SOURCE = PERIOD_PAIR


def records_of(trace: np.ndarray, core: int, kind: TraceKind) -> list[tuple[int, int, int]]:
    rows = trace[(trace["core"] == core) & (trace["kind"] == int(kind))]
    return [(int(r["cycle"]), int(r["index"]), int(r["value"])) for r in rows]


def test_idle_steps_keep_the_buffer_and_run_nothing():
    chip = CycleChip(assemble(SOURCE.format(period=2, phase=1)))
    traces = []
    for _ in range(4):
        chip.inject(0, 0, 1)
        traces.append(chip.step())
    # Core 0 every step: ACC (1 + 1 cycles), FIRE (1 + 1 neuron + 1 fan-out), HALT (1) = 6 = E; barrier 1,
    # one delivery: 8 cycles a step.
    assert chip.step_starts == [0, 8, 16, 24]
    # Step 0: core 1 idle (0 mod 2 != 1): no record; its event arrives on cycle 6 + 1.
    assert records_of(traces[0], 1, TraceKind.ACC) == []
    assert records_of(traces[0], 1, TraceKind.EVENT) == [(7, 0, 1)]
    # Step 1: one buffered event, ACC on cycle 8 + 1: membrane 3.
    assert records_of(traces[1], 1, TraceKind.ACC) == [(9, 0, 3)]
    # Step 2: idle. Step 1's barrier emptied the buffer before step 1's spike arrived; step 2's barrier
    # leaves it, so step 2's spike joins it.
    assert records_of(traces[2], 1, TraceKind.ACC) == []
    # Step 3: the spikes of steps 1 and 2 are both buffered: two MACs on cycles 25, 26.
    assert records_of(traces[3], 1, TraceKind.ACC) == [(25, 0, 6), (26, 0, 9)]
    assert int(chip.membranes[1, 0]) == 9


def test_a_full_buffer_drops_in_idle_steps():
    """Period 6 phase 5 with event_depth 4: the spikes of steps 0..3 fill the buffer, step 4's is dropped."""
    chip = CycleChip(assemble(SOURCE.format(period=6, phase=5)))
    drops = []
    for _ in range(6):
        chip.inject(0, 0, 1)
        drops.append(records_of(chip.step(), 1, TraceKind.DROP))
    assert [len(d) for d in drops] == [0, 0, 0, 0, 1, 0]
    assert int(chip.membranes[1, 0]) == 4 * 3          # step 5 consumed the 4 buffered events
    assert chip.buffered_events(1) == [(0, 1)]          # step 5's spike, for step 11


def test_a_state_reset_restarts_the_step_count():
    image = assemble(".chip cores=1\n.core 0\n.period 2 1\n    nop\n    nop\n    halt\n")
    chip = CycleChip(image)
    chip.step()                       # s = 0: idle
    chip.reset_state()
    chip.step()                       # s = 0 again: idle (it would run as s = 1)
    assert chip.step_starts == [0, 2] and chip.cycle == 4


def test_a_step_where_no_core_runs_lasts_one_exec_cycle():
    image = assemble(".chip cores=1\n.core 0\n.period 2 1\n    nop\n    nop\n    halt\n")
    chip = CycleChip(image)
    for _ in range(3):
        chip.step()
    # Step 0: nothing runs, E = 1, barrier 1; step 1: 3 cycles + barrier; step 2 again 2.
    assert chip.step_starts == [0, 2, 6]
    assert chip.cycle == 8


@pytest.mark.parametrize(("period", "phase"), [(2, 1), (3, 0), (6, 5), (1, 0)])
def test_functional_and_batch_models_agree_with_the_cycle_model(period, phase):
    image = assemble(SOURCE.format(period=period, phase=phase))
    cycle, functional, batch = CycleChip(image), FunctionalChip(image), BatchFunctionalChip(image, 2)
    checked = 0
    for step in range(9):
        payload = 1 if step % 3 else 2
        cycle.inject(0, 0, payload)
        functional.inject(0, 0, payload)
        batch.inject(np.array([0, 1]), np.array([0, 0]), np.array([0, 0]), np.array([payload, payload]))
        checked += len(cycle.step())
        functional.step()
        batch.step()
        for b in range(2):
            assert np.array_equal(batch.membranes[b], cycle.membranes)
            assert np.array_equal(batch.drops[b], cycle.drops)
            assert int(batch.cycle[b]) == cycle.cycle
            assert batch.buffered_events(b, 1) == cycle.buffered_events(1)
        assert np.array_equal(functional.membranes, cycle.membranes)
        assert np.array_equal(functional.drops, cycle.drops)
        assert functional.cycle == cycle.cycle
        assert functional.buffered_events(1) == cycle.buffered_events(1)
    assert checked > 0 and int(cycle.membranes[1, 0]) != 0


def test_image_bytes_and_round_trip():
    image = assemble(SOURCE.format(period=2, phase=1))
    data = encode_image(image)
    # Header 28 bytes; core 0's section (12-byte header, 3 words, 1 weight, 1 neuron of 24, 1 fan-out of 4).
    core1 = 28 + 12 + 3 * 4 + 1 + 24 + 4
    assert data[core1:core1 + 2] == b"\x01\x00"                     # core 1
    assert data[core1 + 10:core1 + 12] == bytes([0, 16 * (2 - 1) + 1])   # chip 0, period_phase 17
    assert data[28 + 10:28 + 12] == b"\x00\x00"                     # core 0: every step, as a v2 image today
    loaded = decode_image(data)
    assert (loaded.cores[1].period, loaded.cores[1].phase, loaded.cores[0].period) == (2, 1, 1)
    assert encode_image(loaded) == data
    assert disassemble_image(loaded).count(".period 2 1") == 1
    assert encode_image(assemble(disassemble_image(loaded))) == data


def test_bad_period_or_phase_is_refused_in_one_line():
    image = assemble(SOURCE.format(period=2, phase=1))
    image.cores[1].phase = 2
    with pytest.raises(SpikeCoreError, match=r"^image: core 1 section: phase 2 is not below the period 2$"):
        encode_image(image)
    for period in (0, 17):
        image.cores[1] = CoreImage(period=period)
        with pytest.raises(SpikeCoreError, match=rf"^image: core 1 section: period is {period}, must be 1..16$"):
            encode_image(image)
    # In the bytes: period_phase 0x12 = period 2, phase 2.
    data = bytearray(encode_image(assemble(SOURCE.format(period=2, phase=1))))
    core1 = 28 + 12 + 3 * 4 + 1 + 24 + 4
    data[core1 + 11] = 0x12
    data[-4:] = zlib.crc32(bytes(data[:-4])).to_bytes(4, "little")
    with pytest.raises(SpikeCoreError, match=r"^x.bin: core 1 section: phase 2 is not below the period 2$"):
        decode_image(bytes(data), "x.bin")


@pytest.mark.parametrize(("line", "message"), [
    (".period 0", r"\.period: 0 is out of range \(must be 1\.\.16\)"),
    (".period 2 2", r"\.period phase: 2 is out of range \(must be 0\.\.1\)"),
    (".period 2 1 0", r"expected '\.period D' or '\.period D PHASE'"),
    (".period 2\n.period 2", r"\.period already given at line"),
])
def test_assembler_refuses_bad_period_lines(line, message):
    with pytest.raises(SpikeCoreError, match=message):
        assemble(f".chip cores=1\n.core 0\n{line}\n    halt\n")


def test_a_board_core_with_a_period_accumulates_across_the_link():
    """Board golden model (spec §13): chip 0 core 0 fires every step into chip 1 core 0, which runs in odd steps."""
    from spikecore.golden.board import CycleBoard

    source = SOURCE.format(period=2, phase=1).replace(".chip cores=2", ".chip cores=2 chips=2")
    source = source.replace(".fanout 0: 1:0", ".fanout 0: 1:0:0").replace(".core 1\n", ".core 1:0\n")
    board = CycleBoard(assemble(source))
    accs = []
    for _ in range(4):
        board.inject(0, 0, 1)
        trace = board.step()
        mine = trace[(trace["chip"] == 1) & (trace["core"] == 0) & (trace["kind"] == int(TraceKind.ACC))]
        accs.append(mine["value"].tolist())
    assert accs == [[], [3], [], [6, 9]]
    assert int(board.membranes[2, 0]) == 9


def test_random_images_with_periods_agree_across_the_three_models():
    """The generator gives about a third of the images periods (verif/random_program.py); on those the
    functional and batch models follow the cycle model step for step."""
    from spikecore.config import ChipConfig
    from spikecore.verif.random_program import random_image

    periodic = 0
    for seed in range(40):
        image, stimulus, steps = random_image(seed, ChipConfig(cores=4), max_steps=6)
        if all(core.period == 1 for core in image.cores.values()):
            continue
        periodic += 1
        cycle, functional, batch = CycleChip(image), FunctionalChip(image), BatchFunctionalChip(image, 1)
        for step in range(steps):
            for core, axon, payload in stimulus.at(step):
                cycle.inject(core, axon, payload)
                functional.inject(core, axon, payload)
                batch.inject(np.array([0]), np.array([core]), np.array([axon]), np.array([payload]))
            cycle.step()
            functional.step()
            batch.step()
            assert np.array_equal(functional.membranes, cycle.membranes), (seed, step)
            assert np.array_equal(batch.membranes[0], cycle.membranes), (seed, step)
            assert functional.cycle == cycle.cycle == int(batch.cycle[0]), (seed, step)
            assert np.array_equal(functional.drops, cycle.drops) and np.array_equal(batch.drops[0], cycle.drops)
    assert periodic >= 8
