"""Constrained-random regression: many seeds co-simulated against the golden model, in parallel.

    python -m spikecore.app.regress --seeds 200 --cores 4 --jobs 2

Seeds ``first .. first+seeds-1`` are turned into programs by
:func:`spikecore.verif.edge_programs.program_for_seed` (plain random programs mixed with the edge variants),
grouped into batches, and each batch runs in one simulator process (the array is reset and re-loaded
between programs, so the process start-up is paid once per batch, not per seed); ``--jobs`` batches run
at a time. The simulator is built once, before the batches start.

Both scoreboard checks run in every regression: about one seed in ``FULL_EVERY`` (8) runs the FULL check, the
rest the FAST check (``check="mixed"``, the default); about one seed in ``FILL_EVERY`` (4) gets a program that keeps
every core busy every step (:mod:`spikecore.verif.array_fill`). Each program's active cores (the fewest cores
with ACC or SPIKE records in any of its steps, from the golden run) and the records compared per second are
reported.

With ``board_every`` (``make regress``: 8), every 8th seed also runs as a multi-chip program (2-4 chips of 2
cores; random boards and edge programs in turn) on the Verilator-built RTL board
(:mod:`spikecore.verif.board_regress`), with its link and split-neuron/merge coverage, and the bins never hit,
in the summary's ``board``.

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
from spikecore.image import load_image
from spikecore.stimulus import Stimulus
from spikecore.verif.array_fill import active_cores_per_step, check_of_seed, fill_of_seed
from spikecore.verif.board_regress import board_seeds, board_summary, run_board_seeds
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


def program_active_cores(spec) -> int:
    """The fewest cores with ACC or SPIKE records of their own in any step of the run ``spec`` (golden run)."""
    return min(active_cores_per_step(load_image(spec.image), Stimulus.load(spec.stimulus), spec.steps), default=0)


def run_group(index: int, group: list[int], *, config: dict, out: str, check: str, variant: str | None,
              fill: bool | None, build=None, log=print) -> list[dict]:
    """Co-simulate the seeds of ``group`` in one simulator process (folder ``out/batch<index>``); returns their
    result dicts, each with ``active_cores``. A module-level function, so a Dask worker can run it.

    ``build``: the :class:`~spikecore.verif.build.Build` to simulate (default: build or reuse the checked array
    of ``config``; ``spikecore mutate`` passes a mutant's)."""
    chip = ChipConfig(**config)
    out_path = Path(out)
    build = build or build_array(chip, log=log)
    specs, active = [], {}
    for seed in group:
        spec = prepare_seed(seed, chip, out_path / f"seed{seed}", variant=variant,
                            check=check_of_seed(seed) if check == "mixed" else check,
                            fill=fill_of_seed(seed) if fill is None else fill)
        active[seed] = program_active_cores(spec)
        specs.append(spec)
    results = cosimulate(specs, chip, out_path / f"batch{index}", build=build, log=log, strict=False)
    for result in results:
        result["active_cores"] = active[result["seed"]]
        status = "ok  " if result["passed"] else "FAIL"
        log(f"{status} seed {result['seed']:5d} {result.get('variant', ''):21s} {result.get('check', ''):4s} "
            f"{result.get('cycles', 0):6d} cycles {result.get('records_compared', 0):6d} records "
            f"active cores {result['active_cores']}/{chip.cores}")
        if not result["passed"]:
            log("     " + result["text"].replace("\n", "\n     "))
    return results


def run_regression(seeds: list[int], config: ChipConfig, out: Path, *, jobs: int = 2, check: str = "mixed",
                   variant: str | None = None, batch: int = BATCH, fill: bool | None = None,
                   scheduler: str | None = None, board_every: int | None = None, log=print) -> dict:
    """Co-simulate every seed; returns (and writes) the summary dict.

    ``check``: ``"fast"``, ``"full"`` or ``"mixed"`` (by seed, :func:`~spikecore.verif.array_fill.check_of_seed`);
    ``fill``: ``True``/``False`` for every seed, ``None`` by seed (:func:`~spikecore.verif.array_fill.fill_of_seed`).
    ``scheduler``: ``None`` runs ``jobs`` batches at a time in this process's threads; ``"local"`` starts a Dask
    ``LocalCluster`` of ``jobs`` workers; ``"tcp://HOST:PORT"`` submits the batches to that Dask scheduler
    (:mod:`spikecore.verif.dask_run`). The results and the summary do not depend on which. ``board_every``
    (``N``): every seed ``s`` with ``s % N == N - 1`` also runs as a random board program on the RTL board
    (:mod:`spikecore.verif.board_regress`); the summary's ``board`` holds their counts and link coverage.

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
    if check not in ("fast", "full", "mixed"):
        raise SpikeCoreError(f"regression: check must be fast, full or mixed, not {check!r}")
    groups = _batches(seeds, jobs, batch)
    arguments = {"config": config.as_dict(), "out": str(out), "check": check, "variant": variant, "fill": fill}
    if scheduler is None:
        build_array(config, log=log)   # once, before the batches start
        with ThreadPoolExecutor(max_workers=jobs) as pool:   # each batch is a simulator subprocess
            results = [r for rs in pool.map(lambda i, g: run_group(i, g, **arguments, log=log), range(len(groups)),
                                            groups) for r in rs]
    else:
        from spikecore.verif.dask_run import run_on_dask

        results = run_on_dask(run_group, groups, arguments, scheduler, jobs=jobs, log=log)
    results.sort(key=lambda r: r["seed"])
    board_results = run_board_seeds(board_seeds(seeds, board_every), board_every, out, log=log) \
        if board_seeds(seeds, board_every) else []

    coverage = FunctionalCoverage(config)
    for result in results:
        if "coverage" in result:
            coverage.merge(FunctionalCoverage.from_dict(config, result["coverage"]))
    failures = [r for r in results if not r["passed"]]
    board = board_summary(board_results, board_every) if board_results else None
    records_compared = sum(r.get("records_compared", 0) for r in results)
    wall = time.monotonic() - started
    fills = [r for r in results if str(r.get("variant", "")).endswith("+fill")]
    summary = {
        "passed": not failures and records_compared > 0 and not (board and (board["failed_programs"]
                                                                             or not board["records_compared"])),
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
        "variants": {v: sum(str(r.get("variant", "")).split("+")[0] == v for r in results) for v in VARIANTS},
        "full_programs": sum(r.get("check") == "full" for r in results),
        "fill_programs": len(fills),
        # per program: the fewest cores with records of their own in any step (golden run)
        "active_cores": {str(r["seed"]): r["active_cores"] for r in results},
        "fill_min_active_share": round(min(r["active_cores"] for r in fills) / config.cores, 3) if fills else None,
        "records_per_second": round(records_compared / wall, 1) if wall else None,
        "wall_seconds": round(wall, 1),
        "jobs": jobs,
        "coverage": coverage.to_dict(),
        "board": board,
    }
    write_json(out / "summary.json", summary)
    write_junit(out / "junit.xml", [r for r in results if "records_matched" in r], suite="spikecore.regress")
    export_cocotb_xml([coverage], out / "coverage.xml")
    return summary
