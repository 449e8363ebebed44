"""Constrained-random regression: many seeds co-simulated against the golden model, in parallel.

    python -m spikecore.app.regress --seeds 200 --cores 4 --jobs 2

Seeds ``first .. first+seeds-1`` are turned into programs by
:func:`spikecore.verif.edge_programs.program_for_seed` (plain random programs mixed with the edge variants),
grouped into batches, and each batch runs in one simulator process (the array is reset and re-loaded
between programs, so the process start-up is paid once per batch, not per seed); ``--jobs`` batches run
at a time. The simulator is built once, before the batches start.

Everything lands in ``build/regress/`` (or ``--out``): per seed its image, stimulus and result; and
``summary.json`` — programs, array cycles simulated, records compared, mismatches, failing seeds with their
reproduce commands, functional coverage per coverpoint and bin — plus ``junit.xml`` and the cocotb-coverage
``coverage.xml``. Every failure prints its first mismatch and a one-line reproduce command.
Exit status 0 only when every program matched.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.verif.build import REPO_ROOT, build_array
from spikecore.verif.coverage import FunctionalCoverage, export_cocotb_xml
from spikecore.verif.edge_programs import VARIANTS
from spikecore.verif.sim import cosimulate, prepare_seed
from spikecore.verif.tb.report import write_json, write_junit

REGRESS_ROOT = REPO_ROOT / "build" / "regress"
#: Programs per simulator process: large enough to amortise start-up (~2 s), small enough to balance jobs.
BATCH = 25


def _batches(seeds: list[int], jobs: int, batch: int) -> list[list[int]]:
    size = max(1, min(batch, -(-len(seeds) // max(1, jobs))))
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


def run_regression(seeds: list[int], config: ChipConfig, out: Path, *, jobs: int = 2, check: str = "fast",
                   variant: str | None = None, batch: int = BATCH, log=print) -> dict:
    """Co-simulate every seed; returns (and writes) the summary dict.

    The summary passes only when every program matched and at least one record was compared: a regression
    of nothing proves nothing.
    """
    if not seeds:
        raise SpikeCoreError("regression: no seeds to run")
    if min(seeds) < 0:
        raise SpikeCoreError(f"regression: seeds must be 0 or more, not {min(seeds)}")
    for name, value in (("jobs", jobs), ("batch", batch)):
        if value < 1:
            raise SpikeCoreError(f"regression: {name} must be 1 or more, not {value}")
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    build = build_array(config, log=log)

    def run_batch(index: int, group: list[int]) -> list[dict]:
        specs = [prepare_seed(seed, config, out / f"seed{seed}", variant=variant, check=check) for seed in group]
        results = cosimulate(specs, config, out / f"batch{index}", build=build, log=log, strict=False)
        for result in results:
            status = "ok  " if result["passed"] else "FAIL"
            log(f"{status} seed {result['seed']:5d} {result.get('variant', ''):16s} "
                f"{result.get('cycles', 0):6d} cycles {result.get('records_compared', 0):6d} records")
            if not result["passed"]:
                log("     " + result["text"].replace("\n", "\n     "))
        return results

    groups = _batches(seeds, jobs, batch)
    with ThreadPoolExecutor(max_workers=jobs) as pool:   # each batch is a simulator subprocess
        results = [r for rs in pool.map(run_batch, range(len(groups)), groups) for r in rs]
    results.sort(key=lambda r: r["seed"])

    coverage = FunctionalCoverage(config)
    for result in results:
        if "coverage" in result:
            coverage.merge(FunctionalCoverage.from_dict(config, result["coverage"]))
    failures = [r for r in results if not r["passed"]]
    records_compared = sum(r.get("records_compared", 0) for r in results)
    summary = {
        "passed": not failures and records_compared > 0,
        "programs": len(results),
        "cores": config.cores,
        "check": check,
        "array_cycles": sum(r.get("cycles", 0) for r in results),
        "records_compared": records_compared,
        "mismatches": sum(r.get("mismatches", 0) for r in results),
        "failed_programs": len(failures),
        "failures": [{"seed": r["seed"], "variant": r.get("variant"), "reason": r.get("reason"),
                      "reproduce": (r.get("first_mismatch") or {}).get("reproduce")
                      or f"python -m spikecore.app.sim --seed {r['seed']} --cores {config.cores} --waves"}
                     for r in failures],
        "variants": {v: sum(r.get("variant") == v for r in results) for v in VARIANTS},
        "wall_seconds": round(time.monotonic() - started, 1),
        "jobs": jobs,
        "coverage": coverage.to_dict(),
    }
    write_json(out / "summary.json", summary)
    write_junit(out / "junit.xml", [r for r in results if "records_matched" in r], suite="spikecore.regress")
    export_cocotb_xml([coverage], out / "coverage.xml")
    return summary
