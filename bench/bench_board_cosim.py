"""Co-simulation speed of the Verilator-built RTL board, scoreboarded against the golden board (prints, not a test).

    python bench/bench_board_cosim.py [--chips 2] [--cores 2] [--seed 3] [--steps 30] [--clocks 20000]

One simulator process of the board build (docs/spec.md §13, verif/cocotb_board.py) measures:

1. the clock alone: one ``Timer`` over ``--clocks`` clocks, no Python per cycle (the simulator's own speed);
2. a random board program (:func:`spikecore.verif.random_board.random_board`, every core of every chip active,
   its fan-out entries crossing the links) scoreboarded in FAST mode (every chip's signature history every 32
   clocks) and in FULL mode (every chip's trace port every clock), timing the stepping phase only.

It prints each speed and the ratios FAST / clock-only and FULL / clock-only, and the board's clock-only speed
against the one-chip array's of the same cores per chip (``--compare-chip``, one more build).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.image import save_image
from spikecore.verif.build import build_array
from spikecore.verif.cocotb_array import RunSpec
from spikecore.verif.random_board import injectable, random_board
from spikecore.verif.sim import cosimulate, prepare_seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=2)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30,
                        help="steps to run (the program's stimulus covers its first steps; later steps run on "
                             "routed events alone)")
    parser.add_argument("--clocks", type=int, default=20000, help="clocks of the clock-only measurement")
    parser.add_argument("--compare-chip", action="store_true",
                        help="also measure the one-chip array of --cores cores and print board / chip clock speed")
    args = parser.parse_args(argv)
    config = ChipConfig(cores=args.cores, neurons=8, weight_bytes=64, imem_depth=16, event_depth=16,
                        fanout_depth=16, chips=args.chips)
    out = Path(tempfile.mkdtemp(prefix="bench_board_cosim_"))
    knobs = {"active_cores": args.cores, "max_steps": 6, "max_program_len": 8, "density": 0.8}
    image, events, steps = random_board(args.seed, config, **knobs)
    save_image(image, out / "image.bin")
    injectable(image, events, steps).save(out / "stimulus.json")
    fast = RunSpec(image=str(out / "image.bin"), stimulus=str(out / "stimulus.json"), steps=args.steps,
                   result=str(out / "fast.json"), seed=args.seed, check="fast")
    full = replace(fast, check="full", result=str(out / "full.json"))
    build = build_array(config)
    speeds_path = out / "speeds.json"
    cosimulate([fast, full], config, out, build=build,
               extra_env={"SPIKECORE_BENCH": str(speeds_path), "SPIKECORE_BENCH_CLOCKS": str(args.clocks)})
    if not speeds_path.exists():
        print(f"benchmark failed; see {out / 'sim.log'}", file=sys.stderr)
        return 1
    speeds = json.loads(speeds_path.read_text())
    clock = speeds["clock_only_cycles_per_second"]
    print(f"SpikeCore RTL board co-simulation speed, {config.describe()}; random board seed {args.seed}, "
          f"{args.steps} steps")
    print(f"  clock only (Verilator + cocotb clock, no Python per cycle): {clock:10.0f} cycles/s")
    for run in speeds["runs"]:
        print(f"  {run['check'].upper():4s} scoreboarding: {run['array_cycles_per_second']:10.0f} board cycles/s "
              f"({run['clocks_per_second']:.0f} clocks/s incl. host cycles), {run['cycles']} cycles, "
              f"{run['records_compared']} records, {'matched' if run['passed'] else 'MISMATCH'}; "
              f"{100 * run['array_cycles_per_second'] / clock:5.1f} % of clock-only")
    print(f"  in CPU time of the simulator process: clock only {speeds['clock_only_cycles_per_cpu_second']:.0f}, "
          + ", ".join(f"{run['check'].upper()} {run['array_cycles_per_cpu_second']:.0f}" for run in speeds["runs"])
          + " cycles per CPU second")
    ratios = {run["check"]: run["array_cycles_per_second"] / clock for run in speeds["runs"]}
    print(f"FAST / clock-only = {100 * ratios['fast']:.1f} %, FULL / clock-only = {100 * ratios['full']:.1f} %")
    if args.compare_chip:
        one = replace(config, chips=1)
        spec = prepare_seed(args.seed, one, out / "chip", variant="all_fire", check="fast",
                            active_cores=args.cores, max_steps=6, max_program_len=8)
        chip_speeds = out / "chip_speeds.json"
        cosimulate([spec], one, out / "chip", build=build_array(one),
                   extra_env={"SPIKECORE_BENCH": str(chip_speeds), "SPIKECORE_BENCH_CLOCKS": str(args.clocks)})
        if chip_speeds.exists():
            chip_clock = json.loads(chip_speeds.read_text())["clock_only_cycles_per_second"]
            print(f"board of {args.chips} chips / one chip, clock only = {100 * clock / chip_clock:.1f} % "
                  f"({clock:.0f} vs {chip_clock:.0f} cycles/s)")
    return 0 if all(run["passed"] for run in speeds["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
