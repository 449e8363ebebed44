"""Co-simulation speed of the Verilator-built array, scoreboarded against the golden model (prints, not a test).

    python bench/bench_cosim.py [--cores 128] [--seed 1] [--clocks 20000] [--threads 1]
    python bench/bench_cosim.py --cores 16 --compare-threads 2 [--repeats 3]

One simulator process measures, on the same build:

1. the clock alone: one ``Timer`` over ``--clocks`` clocks, no Python per cycle (the simulator's own speed);
2. the clock awaited edge by edge from Python (what a naive per-cycle testbench cannot beat);
3. a busy program (every core fires every step: the ``all_fire`` variant over every core) scoreboarded in
   FAST mode (signature history every 32 clocks, golden model in-process, every record compared by
   signature) and in FULL mode (every record decoded and compared), timing only the stepping phase.

It prints each speed and the ratios FAST / clock-only and FULL / clock-only per CPU second of the simulator
process (issue 18's targets: >= 80 % and >= 50 %; ``bench/bench_speed.py`` prints them with the rest).
``--compare-monitors`` measures twice, on the checked model (protocol monitors compiled in, what every run
simulates) and on a build of the bare array, and prints the FAST speed with monitors / without.
``--threads N`` measures a model built with Verilator's ``--threads N``. ``--compare-threads N`` measures only
the clock-only speed, alternating ``--repeats`` times between the default single-threaded model and one built
with ``--threads N`` (each in its own build folder), per wall second and per CPU second of the simulator
process (all its threads), each figure with the 1-minute load average it was measured at.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.verif.build import THREADS, build_array
from spikecore.verif.sim import cosimulate, prepare_seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clocks", type=int, default=20000, help="clocks of the clock-only measurement")
    parser.add_argument("--steps", type=int, default=30,
                        help="steps to run (the generator's stimulus covers its first steps; later steps "
                             "run on routed events alone)")
    parser.add_argument("--compare-monitors", action="store_true",
                        help="also measure a build without the protocol monitors and print the FAST ratio")
    parser.add_argument("--threads", type=int, default=THREADS, help="Verilator model threads of the build")
    parser.add_argument("--compare-threads", type=int, default=0, metavar="N",
                        help="clock-only speed of the default model vs one built with --threads N, alternating")
    parser.add_argument("--repeats", type=int, default=3, help="alternations of --compare-threads")
    args = parser.parse_args(argv)
    if args.compare_threads:
        return compare_threads(args)
    fast = {}
    for monitors in (True, False) if args.compare_monitors else (True,):
        label = "with the protocol monitors" if monitors else "without the protocol monitors (bare array)"
        print(f"--- {label}")
        speeds = measure(args, monitors)
        if speeds is None:
            return 1
        fast[monitors] = speeds["runs"][0]
    if args.compare_monitors:
        on, off = fast[True], fast[False]
        print(f"FAST scoreboarding with monitors / without = "
              f"{100 * on['array_cycles_per_second'] / off['array_cycles_per_second']:.1f} % (wall clock), "
              f"{100 * on['array_cycles_per_cpu_second'] / off['array_cycles_per_cpu_second']:.1f} % "
              f"(CPU time of the simulator process, robust to other jobs)")
    return 0


def measure(args: argparse.Namespace, monitors: bool) -> dict | None:
    """Build (or reuse) and measure; prints the figures, returns the speeds (None when the run failed)."""
    config = ChipConfig(cores=args.cores)
    knobs = {"active_cores": args.cores, "max_steps": 6, "max_program_len": 8, "cycle_budget": 40_000}
    build = build_array(config, monitors=monitors, threads=args.threads)
    out = Path(tempfile.mkdtemp(prefix="bench_cosim_"))
    fast = prepare_seed(args.seed, config, out / "fast", variant="all_fire", check="fast", **knobs)
    fast = replace(fast, steps=args.steps)
    full = replace(fast, check="full", result=str(out / "full" / "result.json"))
    (out / "full").mkdir(parents=True, exist_ok=True)
    steps, variant = args.steps, fast.variant
    speeds_path = out / "speeds.json"
    cosimulate([fast, full], config, out, build=build,
               extra_env={"SPIKECORE_BENCH": str(speeds_path), "SPIKECORE_BENCH_CLOCKS": str(args.clocks)})
    if not speeds_path.exists():
        print(f"benchmark failed; see {out / 'sim.log'}", file=sys.stderr)
        return None
    speeds = json.loads(speeds_path.read_text())
    clock = speeds["clock_only_cycles_per_second"]
    print(f"SpikeCore co-simulation speed, {config.describe()}; program seed {args.seed} ({variant}), {steps} steps")
    print(f"  clock only (Verilator + cocotb clock, no Python per cycle): {clock:10.0f} cycles/s")
    print(f"  clock edges awaited from Python one by one:              "
          f"{speeds['clock_edges_awaited_cycles_per_second']:10.0f} cycles/s")
    for run in speeds["runs"]:
        ratio = run["array_cycles_per_second"] / clock
        print(f"  {run['check'].upper():4s} scoreboarding: {run['array_cycles_per_second']:10.0f} array cycles/s "
              f"({run['clocks_per_second']:.0f} clocks/s incl. host cycles), {run['cycles']} cycles, "
              f"{run['records_compared']} records, {'matched' if run['passed'] else 'MISMATCH'}; "
              f"{100 * ratio:5.1f} % of clock-only (coverage sampled after the run: {run['coverage_seconds']:.2f} s)")
    print(f"  in CPU time of the simulator process: clock only {speeds['clock_only_cycles_per_cpu_second']:.0f}, "
          + ", ".join(f"{run['check'].upper()} {run['array_cycles_per_cpu_second']:.0f}" for run in speeds["runs"])
          + " cycles per CPU second")
    for run, target in zip(speeds["runs"], (80, 50), strict=True):
        ratio = 100 * run["array_cycles_per_cpu_second"] / speeds["clock_only_cycles_per_cpu_second"]
        print(f"{run['check'].upper()} scoreboarding / clock-only, per CPU second = {ratio:.1f} % "
              f"(target >= {target} %): {'met' if ratio >= target else 'NOT met'}")
    return speeds


def clock_only(config: ChipConfig, build, clocks: int) -> dict:
    """One simulator run of ``build`` measuring only the clock (no program): the speeds' JSON of
    ``verif/cocotb_array.py``'s ``bench_speeds`` test, plus the 1-minute load average at its end."""
    out = Path(tempfile.mkdtemp(prefix="bench_cosim_"))
    speeds_path = out / "speeds.json"
    cosimulate([], config, out, build=build, log=lambda _line: None, strict=False,
               extra_env={"SPIKECORE_BENCH": str(speeds_path), "SPIKECORE_BENCH_CLOCKS": str(clocks)})
    if not speeds_path.exists():
        raise SystemExit(f"co-simulation benchmark failed; see {out / 'sim.log'}")
    return {**json.loads(speeds_path.read_text()), "load": os.getloadavg()[0]}


def compare_threads(args: argparse.Namespace) -> int:
    """Clock-only speed, default model vs ``--threads args.compare_threads``, alternating; prints each run."""
    config = ChipConfig(cores=args.cores)
    builds = {n: build_array(config, threads=n) for n in (THREADS, args.compare_threads)}
    print(f"Clock only, {config.describe()}, {args.clocks} clocks per run, alternating "
          f"{THREADS} / {args.compare_threads} model threads (builds {', '.join(b.name for b in builds.values())})")
    figures: dict[int, list[dict]] = {n: [] for n in builds}
    for repeat in range(args.repeats):
        for n, build in builds.items():
            speeds = clock_only(config, build, args.clocks)
            figures[n].append(speeds)
            print(f"  run {repeat + 1}, --threads {n}: {speeds['clock_only_cycles_per_second']:9.0f} cycles/s wall, "
                  f"{speeds['clock_only_cycles_per_cpu_second']:9.0f} cycles per CPU second, "
                  f"load {speeds['load']:.1f}", flush=True)
    for key, what in (("clock_only_cycles_per_second", "wall"), ("clock_only_cycles_per_cpu_second", "CPU")):
        mean = {n: sum(s[key] for s in runs) / len(runs) for n, runs in figures.items()}
        print(f"mean per {what} second: --threads {args.compare_threads} / --threads {THREADS} = "
              f"{mean[args.compare_threads]:.0f} / {mean[THREADS]:.0f} = "
              f"{100 * mean[args.compare_threads] / mean[THREADS]:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
