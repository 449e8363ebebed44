"""``spikecore mutate``: mutation grading of the bench (:mod:`spikecore.verif.mutate`), e.g.
``spikecore mutate --mutants 50 --seeds 200 --cores 4 [--scheduler tcp://HOST:8786]`` (``make mutate``).

Prints a progress bar and one line per graded mutant (verdict, file:line, the mutated line, and for a killed
mutant the seed and the first mismatch or protocol violation), then the counts, the kill rate and every
survivor for review; writes ``<out>/summary.json``. A survivor that no test can kill goes into
``tools/rtl_mutation_equivalent.toml`` with its reason (docs/mutation.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

#: Defaults: a sample of 50 mutants, each against ``make regress``'s default regression (200 seeds, 4 cores).
MUTANTS, SEEDS, CORES = 50, 200, 4


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mutate", help="mutation grading of the bench: RTL mutants against a regression (Dask-capable)",
        description="Sample single-point mutants of the Amaranth RTL (rtl/*.py), build each and run a regression "
                    "against it; report killed / survived / timeout per mutant and the kill rate.")
    parser.add_argument("--mutants", type=int, default=MUTANTS, help=f"mutants to sample (default {MUTANTS})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--seeds", type=int, default=SEEDS,
                        help=f"regression seeds run against each mutant (default {SEEDS}, as make regress)")
    parser.add_argument("--cores", type=int, default=CORES, help=f"array size (default {CORES})")
    parser.add_argument("--files", help="comma-separated RTL files to mutate (default: every rtl/ source of the "
                                        "array: " + ", ".join(_files()) + ")")
    parser.add_argument("--only", help="comma-separated mutant ids to grade instead of a sample (see --list)")
    parser.add_argument("--list", action="store_true", help="print every mutant (id, file:line, change) and stop")
    parser.add_argument("--scheduler", default="local",
                        help="Dask scheduler tcp://HOST:PORT; local (default): an in-process LocalCluster of --jobs "
                             "workers")
    parser.add_argument("--jobs", type=int, default=2, help="workers of the local cluster (default 2)")
    parser.add_argument("--batch", type=int, default=25, help="seeds per simulator process (default 25)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds one mutant's build and regression may take (default 1800)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the regression of the unmutated RTL (which must pass) before grading")
    parser.add_argument("--keep", action="store_true", help="keep each mutant's build and run folders")
    parser.add_argument("--out", default="build/mutate", help="output folder (default build/mutate)")
    parser.set_defaults(handler=execute)


def _files() -> tuple[str, ...]:
    from spikecore.verif.mutate import MUTATED_FILES

    return MUTATED_FILES


def execute(args: argparse.Namespace) -> int:
    """Run ``spikecore mutate``; 0 when grading finished. Raises :class:`SpikeCoreError` on bad options."""
    from spikecore.config import ChipConfig
    from spikecore.errors import SpikeCoreError
    from spikecore.verif import mutate

    for flag, value in (("--mutants", args.mutants), ("--seeds", args.seeds), ("--jobs", args.jobs),
                        ("--batch", args.batch), ("--timeout", args.timeout)):
        if value < 1:
            raise SpikeCoreError(f"{flag} must be 1 or more, not {value:g}")
    if args.scheduler != "local" and not args.scheduler.startswith(("tcp://", "tls://")):
        raise SpikeCoreError(f"--scheduler {args.scheduler!r}: expected tcp://HOST:PORT or local")
    config = ChipConfig(cores=args.cores)
    files = tuple(f.strip() for f in args.files.split(",")) if args.files else mutate.MUTATED_FILES
    everything = mutate.find_mutants(files)
    if args.list:
        for m in everything:
            print(f"{m.id}  {m.where()}  {m.old}  ->  {m.new}")
        print(f"{len(everything)} mutants in {', '.join(files)}")
        return 0
    equivalents = mutate.load_equivalents()
    listed = [(m, reason) for m in everything if (reason := mutate.equivalent_reason(m, equivalents))]
    candidates = [m for m in everything if not mutate.equivalent_reason(m, equivalents)]
    if args.only:
        wanted = [name.strip() for name in args.only.split(",")]
        by_id = {m.id: m for m in everything}
        unknown = [name for name in wanted if name not in by_id]
        if unknown:
            raise SpikeCoreError(f"--only: no mutant named {unknown[0]!r} (spikecore mutate --list shows them)")
        chosen = [by_id[name] for name in wanted]
    else:
        chosen = mutate.sample_mutants(candidates, args.mutants, args.seed)
    seeds = list(range(args.seeds))
    out = Path(args.out)
    started = time.monotonic()
    print(f"{len(everything)} mutants in {len(files)} files ({len(listed)} listed as equivalent); grading "
          f"{len(chosen)} against {args.seeds} seeds on {config.cores} cores")
    if not args.no_baseline:
        from spikecore.verif.regress import run_regression

        base = run_regression(seeds, config, out / "baseline", jobs=args.jobs, scheduler=None, log=lambda *_: None)
        if not base["passed"]:
            raise SpikeCoreError(f"the unmutated RTL fails the regression ({base['failed_programs']} seeds); "
                                 f"see {out / 'baseline' / 'summary.json'}")
        print(f"baseline: the unmutated RTL passes ({base['records_compared']} records in {base['wall_seconds']} s)")
    results = mutate.run_mutation(chosen, config, seeds, out, scheduler=args.scheduler, jobs=args.jobs,
                                  batch=args.batch, timeout=args.timeout, keep=args.keep)
    counts = {verdict: sum(r["verdict"] == verdict for r in results) for verdict in mutate.VERDICTS}
    rate = mutate.kill_rate(results)
    survivors = [r for r in results if r["verdict"] in ("survived", "timeout")]
    summary = {"mutants_found": len(everything), "listed_equivalent": len(listed), "graded": len(results),
               "seed": args.seed, "seeds": args.seeds, "cores": args.cores, "counts": counts,
               "kill_rate": None if rate is None else round(rate, 4),
               "wall_seconds": round(time.monotonic() - started, 1), "results": results}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(", ".join(f"{counts[v]} {v}" for v in mutate.VERDICTS)
          + (f"; kill rate {100 * rate:.1f} % (killed / (killed + survived + timeout))" if rate is not None else "")
          + f" in {summary['wall_seconds']} s; summary: {out / 'summary.json'}")
    if survivors:
        print("survivors (review each: a missing check, or an equivalent mutant for "
              "tools/rtl_mutation_equivalent.toml):")
        for r in survivors:
            print(f"  {r['verdict']:8s} {r['path']}:{r['line']}  {r['source_line']}\n"
                  f"           ->  {r['mutated_line']}")
    return 0
