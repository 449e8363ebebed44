"""The board's traffic and cycle lower bound (spikecore/app/board_cost.py, bench/bench_board.py): computed by hand
on a two-chip model from docs/spec.md §2, §5 and §13, and held below the cycle board's count on a larger one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spikecore.app.board_cost import board_lower_bound, board_traffic, link_rows
from spikecore.compiler.pipeline import compile_model
from spikecore.config import ChipConfig
from spikecore.golden.board import CycleBoard


def _cycle_board(compiled, x_q: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list[int]]:
    """Per sample: the cycles of each step on the cycle board, its link events and its deliveries."""
    board = CycleBoard(compiled.image)
    cycles, links, deliveries = [], [], []
    for sample in x_q:
        stimulus = compiled.stimulus(sample, quantized=True)
        board.reset_state()
        per_step = []
        for step in range(compiled.steps):
            before = board.cycle
            for core, axon, payload in stimulus.at(step):
                board.inject(core, axon, payload)
            board.step()
            per_step.append(board.cycle - before)
        cycles.append(per_step)
        links.append(board.link_events.copy())
        deliveries.append(int(sum(chip.deliveries.sum() for chip in board.chips)))
    return np.array(cycles), links, deliveries


def test_the_bound_of_a_two_chip_mlp_by_hand() -> None:
    # 4 -> 3 -> 2, every weight 0.5, no bias, inputs 1: chips of one core, so layer linear is core 0 of chip 0
    # (ACC, FIRE, HALT) and linear_1 core 0 of chip 1 (FIRE to clear, ACC, HALT); every hidden neuron fires.
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        for linear in (model[0], model[2]):
            linear.weight.fill_(0.5)
            linear.bias.zero_()
    x = np.ones((2, 4), dtype=np.float32)
    compiled = compile_model(model, x[:1], x, config=ChipConfig(cores=1, chips=2))
    assert [len(pc.program) for pc in compiled.placed.cores] == [3, 3] and compiled.steps == 2
    x_q = compiled.quantize_input(x)
    ref = compiled.reference(x_q, quantized=True)

    traffic = board_traffic(compiled, ref)
    # step 0: 4 events x 3 neurons = 12 MACs on chip 0; its 3 spikes go to chip 1: 3 entries, 3 link events.
    # step 1: 3 events x 2 neurons = 6 MACs on chip 1, nothing sent.
    assert traffic.macs.tolist() == [[12, 6], [12, 6]]
    assert traffic.out[0].tolist() == [[3, 0], [0, 0]]
    assert traffic.links[0, 0].tolist() == [[0, 3], [0, 0]] and not traffic.links[:, 1].any()

    bound = board_lower_bound(compiled, ref)
    # step 0: EXEC >= 12 MACs + 3 issue cycles = 15; barrier 1; DELIVER >= max(router 0: 3 sends, router 1:
    # 3 takes, link 0->1: 3 events + latency 3 = 6) = 6 -> 22. Step 1: 6 + 3 = 9; barrier 1; no delivery -> 10.
    assert bound.exec[0].tolist() == [15, 9] and bound.deliver[0].tolist() == [6, 0]
    assert bound.cycles.tolist() == [32, 32]

    # The cycle board (§5, §13): step 0 EXEC = ACC 1 + 12, FIRE 1 + 3 neurons + 3 pushes, HALT 1 = 21; barrier
    # 1; DELIVER: pushes in cycles 0, 1, 2, taken in 3, 4, 5 -> 6: 28. Step 1: chip 1's FIRE 1 + 2, ACC 1 + 6,
    # HALT 1 = 11 (chip 0: ACC 1, FIRE 1 + 3, HALT 1 = 6); barrier 1 -> 12.
    cycles, links, _ = _cycle_board(compiled, x_q)
    assert cycles.tolist() == [[28, 12], [28, 12]]
    assert links[0].tolist() == [[0, 3], [0, 0]]
    assert link_rows(links[0] + links[1], 2) == [{"from": 0, "to": 1, "events": 6, "events_per_inference": 3.0}]


@pytest.mark.parametrize("chips", [2, 3])
def test_traffic_matches_the_cycle_board_and_the_bound_stays_below_it(chips: int) -> None:
    # 64 -> 48 -> 32 -> 10 on chips of 4 cores x 1024 B: 3 + 2 + 1 cores (tests/compiler/test_board_placement.py)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 32), nn.ReLU(), nn.Linear(32, 10)).eval()
    x = np.random.default_rng(3).uniform(0, 1, (10, 64)).astype(np.float32)
    config = ChipConfig(cores=4, neurons=32, weight_bytes=1024, event_depth=64, chips=chips)
    compiled = compile_model(model, x[:1], x, config=config)
    x_q = compiled.quantize_input(x)
    ref = compiled.reference(x_q, quantized=True)
    traffic = board_traffic(compiled, ref)
    bound = board_lower_bound(compiled, ref)
    cycles, links, deliveries = _cycle_board(compiled, x_q)
    for i in range(len(x_q)):
        np.testing.assert_array_equal(traffic.links[i].sum(axis=0), links[i])
        assert traffic.out[i].sum() == deliveries[i]
    assert traffic.links.sum() > 0
    assert np.all(bound.cycles <= cycles.sum(axis=1))
    assert np.all(bound.exec + 1 + bound.deliver <= cycles)      # step by step too
