"""Co-simulate programs on the Verilator-built array against the golden model (one or many runs).

    python -m spikecore.app.sim --seed 17 --cores 4 [--waves] [--check full]
    python -m spikecore.app.sim --image prog.bin --stimulus prog.json --steps 10   (the image holds its chip)

A seed names a complete run: :func:`spikecore.verif.edge_programs.program_for_seed` turns it into an image,
a stimulus and a step count (the variant follows from the seed unless ``--variant`` is given). The run's
files go to ``build/sim/<name>/``: ``image.bin``, ``stimulus.json``, ``result.json``, ``junit.xml``,
``sim.log`` and, with ``--waves`` (or ``WAVES=1``), the wave file with ``waves.gtkw`` beside it: ``dump.vcd``
for small arrays, ``dump.fst`` for big ones, or as ``--waves-format`` / ``WAVES_FORMAT=vcd|fst`` says
(:mod:`spikecore.verif.wave_format`).

:func:`cosimulate` is the library entry point used by the tests, the regression and the benchmark: it builds
(or reuses) the simulator and runs a list of :class:`~spikecore.verif.cocotb_array.RunSpec` in one
simulator process, through ``cocotb_tools.runner``; the runs' parameters reach the cocotb process as
environment variables (one run) or a batch file (several).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import load_image, save_image
from spikecore.verif.build import REPO_ROOT, Build, build_array, runner
from spikecore.verif.cocotb_array import RunSpec, check_fault
from spikecore.verif.edge_programs import program_for_seed
from spikecore.verif.protocol import fault_patch
from spikecore.verif.wave_format import FORMATS, dump_name, trace_format

SIM_ROOT = REPO_ROOT / "build" / "sim"
TEST_MODULE = "spikecore.verif.cocotb_array"
#: The cocotb test of a board image (``chips > 1``, docs/spec.md §13): the RTL board against the golden board.
BOARD_TEST_MODULE = "spikecore.verif.cocotb_board"


def reproduce_command(seed: int, cores: int, variant: str | None = None, check: str = "fast",
                      fill: bool = False) -> str:
    """The one line that re-runs a seed with waves (printed with every failure)."""
    extra = (f" --variant {variant}" if variant else "") + (" --check full" if check == "full" else "") + (
        " --fill" if fill else "")
    return f"python -m spikecore.app.sim --seed {seed} --cores {cores}{extra} --waves"


def prepare_seed(seed: int, config: ChipConfig, directory: Path, *, variant: str | None = None, check: str = "fast",
                 fault: str = "", fill: bool = False, **knobs: object) -> RunSpec:
    """Generate the program of ``seed`` into ``directory`` and return its run (``fill``: a program that keeps
    every core busy, :mod:`spikecore.verif.array_fill`)."""
    image, stimulus, steps, chosen = program_for_seed(seed, config, variant, fill=fill, **knobs)
    directory.mkdir(parents=True, exist_ok=True)
    save_image(image, directory / "image.bin")
    stimulus.save(directory / "stimulus.json")
    return RunSpec(image=str(directory / "image.bin"), stimulus=str(directory / "stimulus.json"), steps=steps,
                   result=str(directory / "result.json"), seed=seed, check=check, variant=chosen,
                   reproduce=reproduce_command(seed, config.cores, variant, check, fill), fault=fault)


def _environment(runs: list[RunSpec], test_dir: Path) -> dict[str, str]:
    if len(runs) == 1:
        run = runs[0]
        env = {"SPIKECORE_IMAGE": run.image, "SPIKECORE_STIMULUS": run.stimulus, "SPIKECORE_STEPS": str(run.steps),
               "SPIKECORE_SEED": "" if run.seed is None else str(run.seed), "SPIKECORE_CHECK": run.check,
               "SPIKECORE_RESULT": run.result, "SPIKECORE_VARIANT": run.variant,
               "SPIKECORE_REPRODUCE": run.reproduce, "SPIKECORE_VCD": run.vcd, "SPIKECORE_FAULT": run.fault}
        return env
    batch = test_dir / "batch.json"
    batch.write_text(json.dumps([asdict(run) for run in runs], indent=1))
    return {"SPIKECORE_BATCH": str(batch)}


def check_one_chip(config: ChipConfig) -> None:
    """Kept for callers of the one-chip era: every ``chips`` (1 .. 16) now co-simulates (a board on the RTL board,
    :mod:`spikecore.verif.cocotb_board`), so this checks nothing."""


def cosimulate(runs: list[RunSpec], config: ChipConfig, test_dir: Path, *, waves: bool = False,
               build: Build | None = None, log=print, extra_env: dict[str, str] | None = None,
               strict: bool = True, waves_format: str | None = None) -> list[dict]:
    """Run ``runs`` in one simulator process of the array for ``config``; returns their result dicts
    (:func:`spikecore.verif.tb.report.result_dict` plus ``text``/``report`` — the printed report — ``coverage``,
    ``stepping`` speeds, and with ``waves`` the ``vcd`` (the wave file, VCD or FST), ``waves_format`` and
    ``gtkw`` paths). ``waves_format`` (``vcd``/``fst``) overrides :func:`~spikecore.verif.wave_format.trace_format`;
    a given ``build`` decides it itself.

    A run whose result file is missing afterwards (the simulator crashed) raises :class:`SpikeCoreError`
    quoting the end of ``sim.log`` — or, with ``strict=False``, gets a failed result saying so. Failing
    runs never raise: their result says ``passed: false``.
    """
    board = config.chips > 1    # the RTL board against the golden board (docs/spec.md §13)
    for run in runs:
        check_fault(run.fault, config)
        # The simulator runs in test_dir: a relative path would name a file under it, not the caller's.
        run.image, run.result = str(Path(run.image).resolve()), str(Path(run.result).resolve())
        run.stimulus = str(Path(run.stimulus).resolve()) if run.stimulus else ""
    test_dir = Path(test_dir).resolve()
    fmt = trace_format(config, waves_format)     # plain runs too: one build (its compiled-in format) serves both
    rtl_faults = {run.fault[4:] for run in runs if run.fault.startswith("rtl:")}
    if rtl_faults and board:
        raise SpikeCoreError("co-simulation: rtl: faults are planted in the one-chip array; this image is a board "
                             f"of {config.chips} chips")
    if rtl_faults and (len(rtl_faults) > 1 or len(rtl_faults) < len(runs)):
        raise SpikeCoreError("co-simulation: runs of one simulator process share one build; an rtl: fault must be "
                             "the same for every run")
    build = build or build_array(config, waves=waves, log=log, trace_format=fmt,
                                 patched=fault_patch(next(iter(rtl_faults), "")))
    fmt = build.trace_format if waves else fmt
    test_dir.mkdir(parents=True, exist_ok=True)
    vcd = test_dir / dump_name(fmt)
    if waves:
        for stale in (test_dir / dump_name(other) for other in FORMATS):
            stale.unlink(missing_ok=True)      # a wave file of an earlier run must not pass for this run's
    for run in runs:
        Path(run.result).unlink(missing_ok=True)
        if waves:
            run.vcd = str(vcd)
    env = _environment(runs, test_dir) | (extra_env or {})
    sim_log = test_dir / "sim.log"
    saved_waves = os.environ.pop("WAVES", None)    # the runner would otherwise override our choice
    try:
        runner().test(test_module=BOARD_TEST_MODULE if board else TEST_MODULE, hdl_toplevel=build.toplevel,
                      hdl_toplevel_lang="verilog",
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
                         "seed": run.seed, "variant": run.variant, "cores": config.cores, "check": run.check,
                         "steps": run.steps, "cycles": 0, "records_compared": 0, "records_matched": 0,
                         "mismatches": 0, "first_mismatch": None, "wall_seconds": 0,
                         "text": f"no result; end of {sim_log}:\n{tail}\nreproduce: {run.reproduce}"})
    if waves and vcd.exists():
        from spikecore.verif.waves import chip_of_result, mismatch_of_result, write_gtkw

        marker, core = mismatch_of_result(results[-1])
        gtkw = write_gtkw(vcd, test_dir / "waves.gtkw", image=load_image(runs[-1].image), marker_ps=marker,
                          focus_core=core, focus_chip=chip_of_result(results[-1]))
        for result in results:
            result["vcd"], result["gtkw"], result["waves_format"] = str(vcd), str(gtkw), fmt
    return results
