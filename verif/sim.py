"""Co-simulate programs on the Verilator-built array against the golden model (one or many runs).

    python -m spikecore.verif.sim --seed 17 --cores 4 [--waves] [--mode full]
    python -m spikecore.verif.sim --image prog.bin --stimulus prog.json --steps 10   (the image holds its chip)

A seed names a complete run: :func:`spikecore.verif.edge_programs.program_for_seed` turns it into an image,
a stimulus and a step count (the variant follows from the seed unless ``--variant`` is given). The run's
files go to ``build/sim/<name>/``: ``image.bin``, ``stimulus.json``, ``result.json``, ``junit.xml``,
``sim.log`` and, with ``--waves`` (or ``WAVES=1``), ``dump.vcd`` with ``waves.gtkw`` beside it.

:func:`cosimulate` is the library entry point used by the tests, the regression and the benchmark: it builds
(or reuses) the simulator and runs a list of :class:`~spikecore.verif.cocotb_array.RunSpec` in one
simulator process, through ``cocotb_tools.runner``; the runs' parameters reach the cocotb process as
environment variables (one run) or a batch file (several).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from spikecore.cli_support import USER_ERRORS, ArgumentParser, report_error
from spikecore.compiler.image import load_image, save_image
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.stimulus import Stimulus
from spikecore.verif.build import REPO_ROOT, Build, build_array, runner
from spikecore.verif.cocotb_array import RunSpec, check_fault
from spikecore.verif.edge_programs import VARIANTS, program_for_seed
from spikecore.verif.tb.report import write_junit

SIM_ROOT = REPO_ROOT / "build" / "sim"
TEST_MODULE = "spikecore.verif.cocotb_array"


def reproduce_command(seed: int, cores: int, variant: str | None = None) -> str:
    """The one line that re-runs a seed with waves (printed with every failure)."""
    extra = f" --variant {variant}" if variant else ""
    return f"python -m spikecore.verif.sim --seed {seed} --cores {cores}{extra} --waves"


def prepare_seed(seed: int, config: ChipConfig, directory: Path, *, variant: str | None = None, mode: str = "fast",
                 fault: str = "", **knobs: object) -> RunSpec:
    """Generate the program of ``seed`` into ``directory`` and return its run."""
    image, stimulus, steps, chosen = program_for_seed(seed, config, variant, **knobs)
    directory.mkdir(parents=True, exist_ok=True)
    save_image(image, directory / "image.bin")
    stimulus.save(directory / "stimulus.json")
    return RunSpec(image=str(directory / "image.bin"), stimulus=str(directory / "stimulus.json"), steps=steps,
                   result=str(directory / "result.json"), seed=seed, mode=mode, variant=chosen,
                   reproduce=reproduce_command(seed, config.cores, variant), fault=fault)


def _environment(runs: list[RunSpec], test_dir: Path) -> dict[str, str]:
    if len(runs) == 1:
        run = runs[0]
        env = {"SPIKECORE_IMAGE": run.image, "SPIKECORE_STIMULUS": run.stimulus, "SPIKECORE_STEPS": str(run.steps),
               "SPIKECORE_SEED": "" if run.seed is None else str(run.seed), "SPIKECORE_MODE": run.mode,
               "SPIKECORE_RESULT": run.result, "SPIKECORE_VARIANT": run.variant,
               "SPIKECORE_REPRODUCE": run.reproduce, "SPIKECORE_VCD": run.vcd, "SPIKECORE_FAULT": run.fault}
        return env
    batch = test_dir / "batch.json"
    batch.write_text(json.dumps([asdict(run) for run in runs], indent=1))
    return {"SPIKECORE_BATCH": str(batch)}


def cosimulate(runs: list[RunSpec], config: ChipConfig, test_dir: Path, *, waves: bool = False,
               build: Build | None = None, log=print, extra_env: dict[str, str] | None = None,
               strict: bool = True) -> list[dict]:
    """Run ``runs`` in one simulator process of the array for ``config``; returns their result dicts
    (:func:`spikecore.verif.tb.report.result_dict` plus ``text``/``report`` — the printed report — ``coverage``,
    ``stepping`` speeds, and with ``waves`` the ``vcd`` and ``gtkw`` paths).

    A run whose result file is missing afterwards (the simulator crashed) raises :class:`SpikeCoreError`
    quoting the end of ``sim.log`` — or, with ``strict=False``, gets a failed result saying so. Failing
    runs never raise: their result says ``passed: false``.
    """
    for run in runs:
        check_fault(run.fault, config)
        # The simulator runs in test_dir: a relative path would name a file under it, not the caller's.
        run.image, run.result = str(Path(run.image).resolve()), str(Path(run.result).resolve())
        run.stimulus = str(Path(run.stimulus).resolve()) if run.stimulus else ""
    test_dir = Path(test_dir).resolve()
    build = build or build_array(config, waves=waves, log=log)
    test_dir.mkdir(parents=True, exist_ok=True)
    vcd = test_dir / "dump.vcd"
    for run in runs:
        Path(run.result).unlink(missing_ok=True)
        if waves:
            run.vcd = str(vcd)
    env = _environment(runs, test_dir) | (extra_env or {})
    sim_log = test_dir / "sim.log"
    saved_waves = os.environ.pop("WAVES", None)    # the runner would otherwise override our choice
    try:
        runner().test(test_module=TEST_MODULE, hdl_toplevel=build.toplevel, hdl_toplevel_lang="verilog",
                      build_dir=build.directory, test_dir=test_dir, extra_env=env, waves=waves,
                      results_xml=str(test_dir / "cocotb_results.xml"), log_file=sim_log)
    except (RuntimeError, SystemExit):
        pass   # a failing test or simulator: the result files (or their absence) say which
    finally:
        if saved_waves is not None:
            os.environ["WAVES"] = saved_waves
    results = []
    for run in runs:
        path = Path(run.result)
        if path.exists():
            results.append(json.loads(path.read_text()))
            continue
        tail = "\n".join(sim_log.read_text(errors="replace").splitlines()[-25:]) if sim_log.exists() else ""
        if strict:
            raise SpikeCoreError(f"co-simulation of {run.image} (seed {run.seed}) produced no result: the simulator "
                                 f"stopped early; its log is {sim_log}")
        results.append({"passed": False, "reason": f"no result: the simulator stopped early (see {sim_log})",
                         "seed": run.seed, "variant": run.variant, "cores": config.cores, "mode": run.mode,
                         "steps": run.steps, "cycles": 0, "records_compared": 0, "records_matched": 0,
                         "mismatches": 0, "first_mismatch": None, "wall_seconds": 0,
                         "text": f"no result; end of {sim_log}:\n{tail}\nreproduce: {run.reproduce}"})
    if waves and vcd.exists():
        from spikecore.verif.waves import write_gtkw

        first = results[-1].get("first_mismatch") or {}
        marker = first["sim_time_ns"] * 1000 if first.get("sim_time_ns") is not None else None
        gtkw = write_gtkw(vcd, test_dir / "waves.gtkw", image=load_image(runs[-1].image), marker_ps=marker)
        for result in results:
            result["vcd"], result["gtkw"] = str(vcd), str(gtkw)
    return results


PROG = "python -m spikecore.verif.sim"


def build_parser(prog: str = PROG) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="generate the program of this seed (0 or more)")
    parser.add_argument("--variant", choices=list(VARIANTS), help="with --seed: edge variant (default: by the seed)")
    parser.add_argument("--cores", type=int, help="with --seed: array size (default 4)")
    parser.add_argument("--image", help="an image file instead of a seed")
    parser.add_argument("--stimulus", help="with --image: stimulus file (.json/.csv)")
    parser.add_argument("--steps", type=int, help="with --image: steps to run (default 1)")
    parser.add_argument("--mode", choices=("fast", "full"), default="fast",
                        help="fast: per-cycle signatures, full: every record every cycle (default fast)")
    parser.add_argument("--waves", action="store_true", help="write dump.vcd and waves.gtkw (also WAVES=1)")
    parser.add_argument("--out", help="output folder (default build/sim/<name>)")
    parser.add_argument("--fault", default="", help="plant a fault to see a failure report: "
                        "weight:<core>:<address>:<value> (the DUT's image) or golden:<record>:<delta>")
    return parser


def _check_arguments(args: argparse.Namespace) -> None:
    """One run is either a seed or an image; refuse a flag of the other kind instead of ignoring it."""
    if (args.seed is None) == (args.image is None):
        raise SpikeCoreError("give either --seed N or --image FILE" if args.seed is None
                             else "give either --seed or --image, not both")
    given, other, foreign = ("--image", "--seed", ("variant", "cores")) if args.image else \
        ("--seed", "--image", ("stimulus", "steps"))
    for name in foreign:
        if getattr(args, name) is not None:
            raise SpikeCoreError(f"--{name} applies to {other} only, not to {given}")
    if args.seed is not None and args.seed < 0:
        raise SpikeCoreError(f"--seed must be 0 or more, not {args.seed}")
    if args.steps is not None and args.steps < 1:
        raise SpikeCoreError(f"--steps must be 1 or more, not {args.steps}")


def execute(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """Run what the parsed ``args`` ask; a user mistake raises (:data:`~spikecore.cli_support.USER_ERRORS`)."""
    _check_arguments(args)
    waves = args.waves or os.environ.get("WAVES", "") not in ("", "0")
    started = time.monotonic()
    if args.image:
        # The run folder gets its own copies, so that it is complete for vcd_check and waves.
        image = load_image(args.image)
        config = image.config
        check_fault(args.fault, config)
        stimulus = Stimulus.load(args.stimulus) if args.stimulus else Stimulus()
        out = Path(args.out or SIM_ROOT / Path(args.image).stem).resolve()
        out.mkdir(parents=True, exist_ok=True)
        save_image(image, out / "image.bin")
        stimulus.save(out / "stimulus.json")
        spec = RunSpec(image=str(out / "image.bin"), steps=args.steps or 1, result=str(out / "result.json"),
                       stimulus=str(out / "stimulus.json"), mode=args.mode,
                       reproduce=" ".join([PROG, *(argv if argv is not None else sys.argv[1:])]), fault=args.fault)
    else:
        cores = 4 if args.cores is None else args.cores
        config = ChipConfig(cores=cores)
        check_fault(args.fault, config)
        out = Path(args.out or SIM_ROOT / f"seed{args.seed}-c{cores}").resolve()
        spec = prepare_seed(args.seed, config, out, variant=args.variant, mode=args.mode, fault=args.fault)
    (result,) = cosimulate([spec], config, out, waves=waves)
    write_junit(out / "junit.xml", [result])
    print(result["text"])
    label = f"seed {result['seed']} {result['variant']}" if result["seed"] is not None else Path(args.image).name
    print(f"{'PASS' if result['passed'] else 'FAIL'}: {label}, "
          f"{result['cores']} cores, {result['steps']} steps checked, {result['cycles']} cycles, "
          f"{result['records_compared']} records compared in {time.monotonic() - started:.1f} s; "
          f"results in {out}")
    if waves:
        print(f"waves: {out / 'dump.vcd'}  view: gtkwave {out / 'waves.gtkw'}")
    return 0 if result["passed"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return execute(args, argv)
    except USER_ERRORS as err:
        return report_error(parser.prog, err)


if __name__ == "__main__":
    sys.exit(main())
