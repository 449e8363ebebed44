"""Issue-18 speed figures, measured in one run (prints, not a test; part of ``make bench``).

    python bench/bench_speed.py [--builds 1,16,128] [--cosim-cores 128] [--traced-cores 16] [--no-cold]

1. **Verilator builds** of the 1-, 16- and 128-core arrays from scratch (a temporary build root, ccache
   off, so each figure is a cold compile of the one-core-module Verilog); target: 128 cores <= 60 s.
2. **Tracing compiled in**: the clock-only speed of a ``--traced-cores`` array built with and without
   ``--trace`` (the one-build decision of verif/build.py: kept while the traced build is at most 15 %
   slower).
3. **Co-simulation** of the ``--cosim-cores`` array (the repository's own build, reused): clock-only
   cycles/s (target >= 20k), FAST and FULL scoreboarding as % of clock-only (targets >= 80 % and >= 50 %).
4. **Golden batch** (:class:`~spikecore.golden.batch.BatchFunctionalChip` through ``run_batch``) against
   the compiler's numpy integer reference on the held-out digits, graded and rate mode (target <= 3x);
   CPU seconds of this process, best of three.
5. **make sim** cold and warm in one scratch clone of HEAD: cold = the first ``make sim`` (its own .venv
   install, the 128-core build with ccache off, the run), warm = a second ``make sim`` right after (venv
   and simulator reused); targets: cold < 5 min, warm < 30 s. ``--no-cold`` times only a warm ``make sim``
   in this checkout instead (seconds rather than minutes).

Every missed target is printed with the factor it is missed by, and the load average is printed before
each section. The machine is shared: run it on a quiet machine for absolute figures; ratios measured in the
same run are more robust than the absolute speeds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from spikecore.config import ChipConfig
from spikecore.verif.build import REPO_ROOT, build_array, default_hierarchical
from spikecore.verif.sim import cosimulate, prepare_seed

TARGETS = {"build128_s": 60.0, "clock_only": 20_000.0, "fast_pct": 80.0, "full_pct": 50.0, "golden_x": 3.0,
           "cold_s": 300.0, "warm_s": 30.0}


def load() -> str:
    """The 1-minute load average (the machine is shared: it says how loaded each figure was)."""
    return f"{os.getloadavg()[0]:.1f}"


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    """``met`` or ``NOT met (<factor>x off)``."""
    met = value >= target if higher_is_better else value <= target
    if met:
        return "met"
    factor = target / value if higher_is_better else value / target
    return f"NOT met ({factor:.1f}x off)"


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds of this process, CPU seconds of its finished children), user + system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def measure_builds(cores: list[int], flat_from: int = 0) -> dict[tuple[int, bool], tuple[float, float]]:
    """Cold builds (Amaranth conversion + Verilator + C++, ccache off) per core count, in the form
    :func:`~spikecore.verif.build.build_array` picks (hierarchical from ``HIERARCHICAL_FROM_CORES`` cores);
    arrays of ``flat_from`` cores or more (0: none) are also built flat, for the comparison. Returns
    ``{(cores, hierarchical): (wall seconds, CPU seconds)}``, CPU = this process (the Verilog generation)
    plus its children (Verilator, make, gcc)."""
    seconds = {}
    saved = os.environ.get("OBJCACHE")
    os.environ["OBJCACHE"] = ""          # a cold compile, not a cache hit
    try:
        with tempfile.TemporaryDirectory(prefix="bench_build_") as root:
            for n in cores:
                forms = [default_hierarchical(ChipConfig(cores=n))]
                if flat_from and n >= flat_from and forms[0]:
                    forms.append(False)
                for hierarchical in forms:
                    started, (own, children) = time.monotonic(), cpu_seconds()
                    build_array(ChipConfig(cores=n), root=Path(root), log=lambda _line: None,
                                hierarchical=hierarchical)
                    own_after, children_after = cpu_seconds()
                    wall, cpu = time.monotonic() - started, own_after - own + children_after - children
                    seconds[(n, hierarchical)] = (wall, cpu)
                    print(f"  {n:3d}-core array, {'hierarchical' if hierarchical else 'flat':12s}: built in "
                          f"{wall:6.1f} s wall, {cpu:6.1f} CPU s (Verilog generation {own_after - own:.1f} CPU s; "
                          f"load average now {load()})", flush=True)
    finally:
        if saved is None:
            os.environ.pop("OBJCACHE", None)
        else:
            os.environ["OBJCACHE"] = saved
    return seconds


def cosim_speeds(config: ChipConfig, build, seed: int = 1, clocks: int = 20000, steps: int = 30,
                 scoreboard: bool = True) -> dict:
    """bench_cosim.py's measurement on ``build``: clock-only speed, then FAST and FULL runs of ``all_fire``."""
    out = Path(tempfile.mkdtemp(prefix="bench_speed_"))
    knobs = {"active_cores": config.cores, "max_steps": 6, "max_program_len": 8, "cycle_budget": 40_000}
    fast = replace(prepare_seed(seed, config, out / "fast", variant="all_fire", check="fast", **knobs), steps=steps)
    full = replace(fast, check="full", result=str(out / "full" / "result.json"))
    (out / "full").mkdir(parents=True, exist_ok=True)
    speeds_path = out / "speeds.json"
    cosimulate([fast, full] if scoreboard else [], config, out, build=build, log=lambda _line: None,
               extra_env={"SPIKECORE_BENCH": str(speeds_path), "SPIKECORE_BENCH_CLOCKS": str(clocks)}, strict=False)
    if not speeds_path.exists():
        raise SystemExit(f"co-simulation benchmark failed; see {out / 'sim.log'}")
    return json.loads(speeds_path.read_text())


def golden_batch_ratio() -> list[tuple[str, int, float, float, float]]:
    """(mode, samples, batch s, reference s, per-sample functional s) on the held-out digits, CPU seconds."""
    from spikecore.app.digits import train_digits_mlp
    from spikecore.app.runtime import run_batch
    from spikecore.compiler.pipeline import compile_model

    model, data = train_digits_mlp(seed=0)
    rows = []
    for mode in ("graded", "rate"):
        compiled = compile_model(model, data.x_train[:1], data.x_train, encoding=mode)
        x_q = compiled.quantize_input(data.x_test)

        def best(fn):
            times = []
            for _ in range(3):
                started = time.process_time()
                fn()
                times.append(time.process_time() - started)
            return min(times)

        reference = compiled.reference(x_q, quantized=True)
        ref_s = best(lambda c=compiled, x=x_q: c.reference(x, quantized=True))
        batch_s = best(lambda c=compiled, x=x_q, r=reference: run_batch(c, x, chip="batch", quantized=True,
                                                                         reference=r))
        started = time.process_time()
        one = run_batch(compiled, x_q, quantized=True, reference=reference)
        functional_s = time.process_time() - started
        many = run_batch(compiled, x_q, chip="batch", quantized=True, reference=reference)
        assert np.array_equal(one.logits, many.logits) and np.array_equal(one.cycles, many.cycles)
        rows.append((mode, len(x_q), batch_s, ref_s, functional_s))
    return rows


def make_sim(folder: Path, env_extra: dict[str, str] | None = None) -> tuple[float, float, list[tuple[str, float]]]:
    """``make sim`` in ``folder``: (wall seconds, CPU seconds of make and everything it ran, phases); raises if it
    fails. The phases are the wall seconds from each ``[sim]`` progress line to the next (the first phase,
    ``make install``, from the start to the first line): where the time goes."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MAKEFLAGS", "VERILATOR_ROOT")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env.update(env_extra or {})
    started, (_, children) = time.monotonic(), cpu_seconds()
    marks, lines = [("start: make install (.venv, when missing)", started)], []
    with subprocess.Popen(["make", "sim"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("[sim] "):
                marks.append((line[6:].strip()[:90], time.monotonic()))
    seconds, cpu = time.monotonic() - started, cpu_seconds()[1] - children
    if proc.returncode != 0:
        raise SystemExit(f"make sim in {folder} failed:\n{''.join(lines)[-3000:]}")
    ends = [t for _, t in marks[1:]] + [started + seconds]
    return seconds, cpu, [(label, end - t) for (label, t), end in zip(marks, ends, strict=True)]


def print_phases(phases: list[tuple[str, float]], least: float = 1.0) -> None:
    """The phases of one make sim taking at least ``least`` seconds, longest first; a phase is named by the
    line that starts it (after ``verilator build ...`` comes the RTL samples' run, after ``re-running sample 0
    with waves`` that run)."""
    for label, seconds in sorted(phases, key=lambda p: -p[1]):
        if seconds >= least:
            print(f"    {seconds:6.1f} s  after: {label}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", default="1,16,128", help="core counts whose cold build is timed ('' = none)")
    parser.add_argument("--cosim-cores", type=int, default=128)
    parser.add_argument("--flat-from", type=int, default=0,
                        help="also build arrays of this many cores or more flat (0: not; the flat 128-core build "
                             "takes 15-35 minutes)")
    parser.add_argument("--traced-cores", type=int, default=4,
                        help="array for the traced/untraced comparison (0: skip)")
    parser.add_argument("--no-cold", dest="cold", action="store_false",
                        help="skip the scratch clone's cold and warm make sim (minutes); time a warm make sim here")
    parser.add_argument("--cold", action="store_true", default=True, help=argparse.SUPPRESS)  # the default
    parser.add_argument("--no-make-sim", action="store_true", help="skip the make sim timings")
    args = parser.parse_args(argv)
    print("SpikeCore speed (issue 18); the machine may be shared: absolute figures are noisy, ratios less so")

    builds = [int(n) for n in args.builds.split(",") if n]
    if builds:
        print(f"Verilator builds from scratch (Verilog generation + Verilator + C++, ccache off; load average "
              f"{load()}):", flush=True)
        seconds = measure_builds(builds, args.flat_from)
        big = next(((n, h) for (n, h) in seconds if n == 128 and h == default_hierarchical(ChipConfig(cores=n))),
                   None)
        if big is not None:
            wall, cpu = seconds[big]
            print(f"  128-core build {wall:.1f} s wall (target <= 60 s): "
                  f"{verdict(wall, TARGETS['build128_s'], False)}; {cpu:.1f} CPU s, i.e. >= {cpu / 2:.1f} s "
                  f"on an idle 2-core machine: "
                  f"{verdict(cpu / 2, TARGETS['build128_s'], False)}")
            if (128, False) in seconds:
                print(f"  flat 128-core build / hierarchical: {seconds[(128, False)][1] / cpu:.1f}x the CPU seconds, "
                      f"{seconds[(128, False)][0] / wall:.1f}x the wall time")

    if args.traced_cores:
        config = ChipConfig(cores=args.traced_cores)
        traced = build_array(config, traced=True, log=lambda _line: None)
        plain = build_array(config, traced=False, log=lambda _line: None)
        on = cosim_speeds(config, traced, scoreboard=False)["clock_only_cycles_per_cpu_second"]
        off = cosim_speeds(config, plain, scoreboard=False)["clock_only_cycles_per_cpu_second"]
        slower = 100 * (off - on) / off
        print(f"Tracing compiled in ({config.cores} cores, clock only, per CPU second): traced build {on:.0f} "
              f"cycles/s, untraced {off:.0f} cycles/s: traced is {slower:+.1f} % slower "
              f"(one build kept while <= 15 %): "
              f"{'one build' if slower <= 15 else 'TWO BUILDS NEEDED'}")

    config = ChipConfig(cores=args.cosim_cores)
    build = build_array(config, log=lambda _line: None)
    speeds = cosim_speeds(config, build)
    clock = speeds["clock_only_cycles_per_second"]
    clock_cpu = speeds["clock_only_cycles_per_cpu_second"]
    print(f"Co-simulation, {config.describe()} (build {build.name}, {'hierarchical' if build.hierarchical else 'flat'}"
          f", tracing compiled in, not dumping; load average {load()}):")
    print(f"  clock only: {clock_cpu:.0f} cycles per CPU second of the simulator (what an idle machine gives; "
          f"target >= 20k): {verdict(clock_cpu, TARGETS['clock_only'], True)}; {clock:.0f} cycles/s wall at this load")
    for run in speeds["runs"]:
        pct_cpu = 100 * run["array_cycles_per_cpu_second"] / clock_cpu
        pct = 100 * run["array_cycles_per_second"] / clock
        target = TARGETS["fast_pct" if run["check"] == "fast" else "full_pct"]
        print(f"  {run['check'].upper():4s} scoreboarding: {run['array_cycles_per_cpu_second']:.0f} array cycles per "
              f"CPU second, {run['records_compared']} records {'matched' if run['passed'] else 'MISMATCH'}: "
              f"{pct_cpu:.1f} % of clock-only per CPU second (target >= {target:.0f} %): "
              f"{verdict(pct_cpu, target, True)}; wall {run['array_cycles_per_second']:.0f} array cycles/s, "
              f"{pct:.1f} % of clock-only's wall speed")

    print("Golden model over the held-out digits, CPU seconds (best of 3):")
    for mode, n, batch_s, ref_s, functional_s in golden_batch_ratio():
        ratio = batch_s / ref_s
        print(f"  {mode:6s} {n} samples: batch {batch_s:.3f} s, integer reference {ref_s:.3f} s -> {ratio:.1f}x "
              f"(target <= 3x): {verdict(ratio, TARGETS['golden_x'], False)}; per-sample functional "
              f"{functional_s:.2f} s ({functional_s / batch_s:.0f}x the batch)")

    if not args.no_make_sim:
        if args.cold:
            print(f"make sim in a scratch clone of HEAD (load average {load()}):", flush=True)
            with tempfile.TemporaryDirectory(prefix="bench_cold_") as scratch:
                clone = Path(scratch) / "spikecore"
                subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
                cold, cpu, phases = make_sim(clone, {"OBJCACHE": ""})
                print(f"  cold (venv install + 128-core build, ccache off + run): {cold:.0f} s wall (target < 300 s): "
                      f"{verdict(cold, TARGETS['cold_s'], False)}; {cpu:.0f} CPU s; load average now {load()}; "
                      f"phases (wall, >= 1 s):", flush=True)
                print_phases(phases)
                warm, cpu, phases = make_sim(clone)
                print(f"  warm (same clone, venv and simulator reused): {warm:.1f} s wall (target < 30 s): "
                      f"{verdict(warm, TARGETS['warm_s'], False)}; {cpu:.1f} CPU s; load average now {load()}; "
                      f"phases:")
                print_phases(phases)
        else:
            warm, cpu, phases = make_sim(REPO_ROOT)
            print(f"make sim warm (this checkout, simulators built; --no-cold): {warm:.1f} s wall (target < 30 s): "
                  f"{verdict(warm, TARGETS['warm_s'], False)}; {cpu:.1f} CPU s; load average now {load()}; phases:")
            print_phases(phases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
