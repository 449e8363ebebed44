"""Cycles per inference of SpikeCoreLab's MNIST MLP on the golden cycle board vs a lower bound with link costs.

The model is ``make sim NET=mnist``'s (784→64→10 ReLU, seed 0, trained on the upsampled scikit-learn digits unless
``--mnist`` names a folder), compiled for the fewest product chips that hold it. ``--samples`` held-out
samples run on :class:`~spikecore.golden.board.CycleBoard` (cycle-accurate, with the trace); the bound is
:func:`spikecore.app.board_cost.board_lower_bound` (docs/spec.md §2, §5, §13): per step the busiest core's
synaptic operations and the longest program's issue cycles, the barrier, and a DELIVER of at least every
router's sends plus arrivals and every used link's events plus its latency. Target: ≤ 1.25× the bound.

A second line divides by a bound that no placement can beat: the same, with each step's out-queue entries
spread evenly over the chips' routers and no link traffic (so what the placement's balance over the chips
costs is visible). It also times the golden board per sample: ``FunctionalBoard`` against
``BatchFunctionalBoard`` (CPU seconds of this process). Not a test: ``python bench/bench_board.py`` (``make
bench`` runs it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from spikecore import isa
from spikecore.app.board_cost import board_lower_bound, board_traffic
from spikecore.app.mnist import load_28x28, train_mnist_mlp
from spikecore.app.runtime import run_batch
from spikecore.compiler.pipeline import compile_model
from spikecore.config import ChipConfig
from spikecore.golden.board import CycleBoard

TARGET = 1.25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--mnist", default=None, help="MNIST folder (default: upsampled scikit-learn digits)")
    args = parser.parse_args()
    data, name = load_28x28(args.mnist, 0)
    model = train_mnist_mlp(data, 0)
    compiled = compile_model(model, data.x_train[:1], data.x_train, config=ChipConfig(chips=isa.MAX_CHIPS),
                             fit_chips=True)
    config = compiled.image.config
    x_q = compiled.quantize_input(data.x_test[:args.samples])
    ref = compiled.reference(x_q, quantized=True)

    board = CycleBoard(compiled.image)
    actual = np.zeros((len(x_q), compiled.steps), dtype=np.int64)
    stalls = 0
    started = time.process_time()
    for i, sample in enumerate(x_q):
        stimulus = compiled.stimulus(sample, quantized=True)
        board.reset_state()
        for step in range(compiled.steps):
            before = board.cycle
            for core, axon, payload in stimulus.at(step):
                board.inject(core, axon, payload)
            board.step()
            actual[i, step] = board.cycle - before
        stalls += int(board.link_stalls.sum())
    seconds = time.process_time() - started

    bound = board_lower_bound(compiled, ref)
    traffic = board_traffic(compiled, ref)
    per_step_bound = bound.exec + isa.BARRIER_CYCLES + bound.deliver
    even = np.ceil(traffic.out.sum(axis=2) / config.chips).astype(np.int64) * isa.DELIVERY_CYCLES
    placement_free = (bound.exec + isa.BARRIER_CYCLES + even).sum(axis=1)
    cycles, lower = actual.sum(axis=1).mean(), bound.cycles.mean()
    ratio = cycles / lower
    cores_per_chip = [sum(1 for pc in compiled.placed.cores if pc.core // config.cores == c)
                      for c in range(config.chips)]
    print(f"MNIST MLP ({name}) on {config.chips} chips x {config.cores} cores ({cores_per_chip} cores used), "
          f"{compiled.steps} steps, {len(x_q)} samples on the cycle board ({seconds:.1f} CPU s)")
    verdict = "meets" if ratio <= TARGET else f"misses, by {ratio / TARGET - 1:.1%},"
    print(f"  cycles per inference {cycles:.1f}; lower bound with link costs {lower:.1f} -> {ratio:.3f}x "
          f"({verdict} the <= {TARGET}x target)")
    for step in range(compiled.steps):
        out = traffic.out[:, step].mean(axis=0)
        links = traffic.links[:, step].sum(axis=(1, 2)).mean()
        print(f"  step {step}: {actual[:, step].mean():.1f} cycles vs bound {per_step_bound[:, step].mean():.1f} "
              f"(EXEC >= {bound.exec[:, step].mean():.1f}, DELIVER >= {bound.deliver[:, step].mean():.1f}: "
              f"out-queue entries per chip {np.round(out, 1).tolist()}, link events {links:.1f})")
    print(f"  link stall cycles: {stalls} over {len(x_q)} inferences")
    runs = {}
    for chip in ("functional", "batch"):
        started = time.process_time()
        result = run_batch(compiled, x_q, chip=chip, quantized=True, reference=ref)
        runs[chip] = (time.process_time() - started, result)
    assert np.array_equal(runs["batch"][1].cycles, runs["functional"][1].cycles)
    per_sample = {chip: seconds / len(x_q) * 1e3 for chip, (seconds, _) in runs.items()}
    print(f"  golden board speed on these {len(x_q)} samples: FunctionalBoard {per_sample['functional']:.1f} "
          f"ms/sample, BatchFunctionalBoard {per_sample['batch']:.1f} ms/sample "
          f"({runs['functional'][0] / runs['batch'][0]:.1f}x; same cycles)")
    print(f"  vs a bound no placement beats (entries spread evenly over {config.chips} routers, no links): "
          f"{placement_free.mean():.1f} -> {cycles / placement_free.mean():.3f}x: what the chips' balance costs")


if __name__ == "__main__":
    main()
