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
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from spikecore.config import ChipConfig
from spikecore.verif.build import REPO_ROOT, build_array
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


def measure_builds(cores: list[int]) -> dict[int, float]:
    """Cold build seconds per core count (Amaranth conversion + Verilator + C++), ccache off."""
    seconds = {}
    saved = os.environ.get("OBJCACHE")
    os.environ["OBJCACHE"] = ""          # a cold compile, not a cache hit
    try:
        with tempfile.TemporaryDirectory(prefix="bench_build_") as root:
            for n in cores:
                started = time.monotonic()
                build_array(ChipConfig(cores=n), root=Path(root), log=lambda _line: None)
                seconds[n] = time.monotonic() - started
                print(f"  {n:3d}-core array: built in {seconds[n]:6.1f} s", flush=True)
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


def make_sim(folder: Path, env_extra: dict[str, str] | None = None) -> float:
    """Wall seconds of ``make sim`` in ``folder`` (raises if it fails)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MAKEFLAGS", "VERILATOR_ROOT")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env.update(env_extra or {})
    started = time.monotonic()
    done = subprocess.run(["make", "sim"], cwd=folder, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"make sim in {folder} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", default="1,16,128", help="core counts whose cold build is timed ('' = none)")
    parser.add_argument("--cosim-cores", type=int, default=128)
    parser.add_argument("--traced-cores", type=int, default=16,
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
        seconds = measure_builds(builds)
        if 128 in seconds:
            print(f"  128-core build {seconds[128]:.1f} s (target <= 60 s): "
                  f"{verdict(seconds[128], TARGETS['build128_s'], False)}")

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
    print(f"Co-simulation, {config.describe()} (build {build.name}, tracing compiled in, not dumping; load "
          f"average {load()}):")
    print(f"  clock only: {clock:.0f} cycles/s (target >= 20k): {verdict(clock, TARGETS['clock_only'], True)}; "
          f"{speeds.get('clock_only_cycles_per_cpu_second', 0):.0f} cycles per CPU second of the simulator "
          f"(what an idle machine would give)")
    for run in speeds["runs"]:
        pct = 100 * run["array_cycles_per_second"] / clock
        target = TARGETS["fast_pct" if run["check"] == "fast" else "full_pct"]
        print(f"  {run['check'].upper():4s} scoreboarding: {run['array_cycles_per_second']:.0f} array cycles/s, "
              f"{run['records_compared']} records {'matched' if run['passed'] else 'MISMATCH'}: {pct:.1f} % of "
              f"clock-only (target >= {target:.0f} %): {verdict(pct, target, True)}")

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
                cold = make_sim(clone, {"OBJCACHE": ""})
                print(f"  cold (venv install + 128-core build, ccache off + run): {cold:.0f} s (target < 300 s): "
                      f"{verdict(cold, TARGETS['cold_s'], False)}", flush=True)
                warm = make_sim(clone)
                print(f"  warm (same clone, venv and simulator reused): {warm:.1f} s (target < 30 s): "
                      f"{verdict(warm, TARGETS['warm_s'], False)}")
        else:
            warm = make_sim(REPO_ROOT)
            print(f"make sim warm (this checkout, simulators built; --no-cold): {warm:.1f} s (target < 30 s): "
                  f"{verdict(warm, TARGETS['warm_s'], False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
