"""Golden-model speed on a fully busy 128-core chip (not a test; run ``python bench/bench_golden.py``).

Every core runs ``ACC`` over a full input buffer (64 events x 32 neurons), ``FIRE`` with one fan-out
entry per neuron to the next core, ``LEAK`` and ``HALT``; before each step the host tops every buffer
up to ``event_depth``. Only ``step()`` is timed, in CPU seconds of this process (so other load on the
machine distorts it less); host injection is reported separately. The target is 50,000 array cycles
per second for the cycle-accurate model; "EXEC+barrier alone" leaves out the cheap delivery cycles.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from spikecore.config import ChipConfig
from spikecore.golden.cycle import CycleChip
from spikecore.golden.functional import FunctionalChip
from spikecore.image import Image
from spikecore.isa import CoreImage, FanoutEntry, Instruction, NeuronParams, Opcode, ResetMode, TraceKind, encode

TARGET_CYCLES_PER_S = 50_000


def busy_image(config: ChipConfig, seed: int = 0) -> Image:
    """Every core: ACC, FIRE (binary, reset by subtraction, one fan-out entry per neuron), LEAK, HALT."""
    rng = random.Random(seed)
    n = config.neurons
    program = [encode(Instruction(Opcode.ACC, neuron=0, count=n, wbase=0)),
               encode(Instruction(Opcode.FIRE, neuron=0, count=n, reset=ResetMode.SUB)),
               encode(Instruction(Opcode.LEAK, neuron=0, count=n)),
               encode(Instruction(Opcode.HALT))]
    cores = {}
    for core in range(config.cores):
        neurons = [NeuronParams(threshold=rng.randint(500, 5000), decay=60000, fanout_start=j, fanout_count=1)
                   for j in range(n)]
        fanout = [FanoutEntry((core + 1) % config.cores, rng.randrange(8)) for _ in range(n)]
        weights = [rng.randint(-128, 127) for _ in range(config.weight_bytes)]
        cores[core] = CoreImage(program=program, weights=weights, neurons=neurons, fanout=fanout)
    return Image(config, cores)


def top_up(chip: CycleChip | FunctionalChip, rng: random.Random) -> None:
    """Fill every input buffer to event_depth with host events."""
    for core in range(chip.config.cores):
        for _ in range(chip.config.event_depth - int(chip.buffer_fill[core])):
            chip.inject(core, rng.randrange(8), rng.randint(-128, 127))


def bench(chip_class: type, image: Image, steps: int) -> dict[str, float]:
    chip = chip_class(image)
    rng = random.Random(1)
    stepping = injecting = 0.0
    records = deliveries = 0
    for _ in range(steps):
        t0 = time.process_time()
        top_up(chip, rng)
        t1 = time.process_time()
        out = chip.step()
        t2 = time.process_time()
        injecting += t1 - t0
        stepping += t2 - t1
        if out is not None:
            records += len(out)
            deliveries += int(np.isin(out["kind"], (TraceKind.EVENT, TraceKind.DROP, TraceKind.OUT)).sum())
    return {"cycles": chip.cycle, "records": records, "deliveries": deliveries, "step_s": stepping,
            "inject_s": injecting}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cores", type=int, default=128)
    args = parser.parse_args()
    config = ChipConfig(cores=args.cores)
    image = busy_image(config)
    print(f"chip: {config.describe()}; {args.steps} steps, every core busy")
    for name, chip_class in (("cycle", CycleChip), ("functional", FunctionalChip)):
        r = bench(chip_class, image, args.steps)
        rate = r["cycles"] / r["step_s"]
        line = (f"{name:>10}: {r['cycles']} array cycles in {r['step_s']:.3f} s -> {rate:,.0f} array-cycles/s "
                f"({rate / TARGET_CYCLES_PER_S:.2f}x the 50k target)")
        if r["records"]:
            busy = r["cycles"] - r["deliveries"]
            line += (f", {r['records']:,} records -> {r['records'] / r['step_s']:,.0f} records/s; "
                     f"EXEC+barrier cycles alone {busy} -> {busy / r['step_s']:,.0f}/s "
                     f"({busy / r['step_s'] / TARGET_CYCLES_PER_S:.2f}x)")
        print(line + f"; host injection {r['inject_s']:.3f} s (untimed)")


if __name__ == "__main__":
    main()
