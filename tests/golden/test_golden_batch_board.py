"""BatchFunctionalBoard (golden/batch_board.py) equals the per-sample FunctionalBoard: on random board programs
(saturation, drops, host outputs, full links) step by step, and on compiled models through run_batch."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from spikecore.app.runtime import run_batch
from spikecore.compiler.pipeline import compile_model
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.batch_board import BatchFunctionalBoard
from spikecore.golden.board import FunctionalBoard
from spikecore.image import Image
from spikecore.verif.random_board import link_flood, random_board


def _lockstep(image: Image, stimuli: list[dict[int, list]], steps: int) -> int:
    """Run each stimulus on its own FunctionalBoard and all of them on one BatchFunctionalBoard; compare every
    part of the host view after every step. A host event for a full buffer is skipped on both. Returns the
    events the boards took over links, summed (so a caller can check the links were used)."""
    batch = BatchFunctionalBoard(image, len(stimuli))
    boards = [FunctionalBoard(image) for _ in stimuli]
    depth = image.config.event_depth
    for step in range(steps):
        for b, (events, board) in enumerate(zip(stimuli, boards, strict=True)):
            for core, axon, payload in events.get(step, []):
                chip, local = divmod(core, image.config.cores)
                if board.chips[chip].buffer_fill[local] >= depth:
                    assert batch.buffer_fill[b, core] >= depth
                    continue
                board.inject(core, axon, payload)
                batch.inject(np.array([b]), np.array([core]), np.array([axon]), np.array([payload]))
        for board in boards:
            board.step()
        batch.step()
        for b, board in enumerate(boards):
            np.testing.assert_array_equal(batch.membranes[b], board.membranes, err_msg=f"step {step} sample {b}")
            np.testing.assert_array_equal(batch.currents[b], board.currents)
            np.testing.assert_array_equal(batch.drops[b], board.drops)
            np.testing.assert_array_equal(batch.spike_counts[b], board.spike_counts)
            np.testing.assert_array_equal(batch.link_events[b], board.link_events)
            np.testing.assert_array_equal(batch.link_stalls[b], board.link_stalls)
            assert batch.cycle[b] == board.cycle
            assert batch.outputs[b] == board.outputs
    return int(sum(board.link_events.sum() for board in boards))


@pytest.mark.parametrize("seed", range(12))
def test_random_board_programs_match_the_functional_board_step_by_step(seed: int) -> None:
    config = ChipConfig(cores=2 + seed % 2, neurons=8, weight_bytes=64, event_depth=8, fanout_depth=16,
                        chips=2 + seed % 3)
    image, events, steps = random_board(seed, config)
    rng = random.Random(seed)
    # three samples: the program's own stimulus and two random thinnings of it
    stimuli = [events] + [{s: [e for e in evs if rng.random() < 0.6] for s, evs in events.items()} for _ in range(2)]
    assert _lockstep(image, stimuli, steps) > 0


def test_a_flooded_link_stalls_the_same_on_the_batch_board() -> None:
    config = ChipConfig(cores=2, neurons=4, weight_bytes=16, event_depth=16, fanout_depth=8, chips=3)
    image = link_flood(config, 0, 2)
    batch = BatchFunctionalBoard(image, 2)
    board = FunctionalBoard(image)
    for _ in range(3):
        batch.step()
        board.step()
    assert board.link_stalls.sum() > 0
    for b in range(2):
        np.testing.assert_array_equal(batch.link_stalls[b], board.link_stalls)
        assert batch.cycle[b] == board.cycle
        np.testing.assert_array_equal(batch.drops[b], board.drops)


@pytest.mark.parametrize("encoding", ["graded", "rate"])
def test_run_batch_on_a_board_equals_the_functional_board_and_counts_the_links(encoding: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 32), nn.ReLU(), nn.Linear(32, 10)).eval()
    x = np.random.default_rng(3).uniform(0, 1, (40, 64)).astype(np.float32)
    config = ChipConfig(cores=4, neurons=32, weight_bytes=1024, event_depth=64, chips=3)
    compiled = compile_model(model, x[:1], x, config=config, encoding=encoding, T=8 if encoding == "rate" else None)
    batch = run_batch(compiled, x, chip="batch")
    one_by_one = run_batch(compiled, x, chip="functional")
    for field in ("logits", "cycles", "spikes", "synops", "drops", "link_events", "link_stalls"):
        np.testing.assert_array_equal(getattr(batch, field), getattr(one_by_one, field), err_msg=field)
    assert batch.link_events.sum() > 0
    np.testing.assert_array_equal(batch.logits, compiled.reference(x).logits)


def test_a_one_chip_image_is_refused() -> None:
    with pytest.raises(SpikeCoreError, match=r"^BatchFunctionalBoard runs a board image \(chips > 1\)"):
        BatchFunctionalBoard(Image(ChipConfig(cores=1)), 1)
