"""Co-simulate programs on the Verilator-built array against the golden model (one or many runs).

The command line of :mod:`spikecore.verif.sim`:

    python -m spikecore.app.sim --seed 17 --cores 4 [--waves] [--check full]
    python -m spikecore.app.sim --image prog.bin --stimulus prog.json --steps 10   (the image holds its chip)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from spikecore.app.cli_support import USER_ERRORS, ArgumentParser, OneMeaning, flow_parser
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.run import check_stimulus
from spikecore.image import load_image, save_image
from spikecore.stimulus import Stimulus
from spikecore.verif.cocotb_array import RunSpec, check_fault
from spikecore.verif.edge_programs import VARIANTS
from spikecore.verif.sim import SIM_ROOT, check_one_chip, cosimulate, prepare_seed
from spikecore.verif.tb.report import write_junit
from spikecore.verif.wave_format import FORMATS
from spikecore.wording import array_size, cycles_noun

PROG = "python -m spikecore.app.sim"


#: The make variable of each flag (``make sim SEED=n``), for messages: ``SEED=abc (--seed)``.
MAKE_KNOBS = {"--seed": "SEED", "--cores": "CORES"}


def build_parser(prog: str = PROG) -> ArgumentParser:
    parser = flow_parser(prog, MAKE_KNOBS, make=None if prog == PROG else prog, description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="generate the program of this seed (0 or more)")
    parser.add_argument("--variant", choices=list(VARIANTS), help="with --seed: edge variant (default: by the seed)")
    parser.add_argument("--cores", type=int, help="with --seed: array size (default 4)")
    parser.add_argument("--fill", action="store_true", help="with --seed: a program that keeps every core busy")
    parser.add_argument("--image", help="an image file instead of a seed")
    parser.add_argument("--stimulus", help="with --image: stimulus file (.json/.csv)")
    parser.add_argument("--steps", type=int, help="with --image: steps to run (default 1)")
    parser.add_argument("--check", "--mode", dest="check", action=OneMeaning, choices=("fast", "full"), default="fast",
                        help="fast: per-cycle signatures, full: every record every cycle (default fast)")
    parser.add_argument("--waves", action="store_true", help="write dump.vcd/.fst and waves.gtkw (also WAVES=1)")
    parser.add_argument("--waves-format", choices=FORMATS, help="wave file format (default: WAVES_FORMAT, else "
                        "vcd below 32 cores, fst from 32 on); each format has its own Verilator build")
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
    if args.steps is not None:
        from spikecore.app.cli import check_steps  # the one rule of run, sim and profile (docs/spec.md §12)

        check_steps(args.steps)


def execute(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """Run what the parsed ``args`` ask; a user mistake raises (:data:`~spikecore.app.cli_support.USER_ERRORS`)."""
    _check_arguments(args)
    waves = args.waves or os.environ.get("WAVES", "") not in ("", "0")
    started = time.monotonic()
    if args.image:
        # The run folder gets its own copies, so that it is complete for vcd_check and waves.
        image = load_image(args.image)
        config = image.config
        check_one_chip(config)
        check_fault(args.fault, config)
        stimulus = Stimulus.load(args.stimulus) if args.stimulus else Stimulus()
        check_stimulus(image, stimulus, args.steps or 1)  # before the output folder and the simulator
        out = Path(args.out or SIM_ROOT / Path(args.image).stem).resolve()
        out.mkdir(parents=True, exist_ok=True)
        save_image(image, out / "image.bin")
        stimulus.save(out / "stimulus.json")
        spec = RunSpec(image=str(out / "image.bin"), steps=args.steps or 1, result=str(out / "result.json"),
                       stimulus=str(out / "stimulus.json"), check=args.check,
                       reproduce=" ".join([PROG, *(argv if argv is not None else sys.argv[1:])]), fault=args.fault)
    else:
        cores = 4 if args.cores is None else args.cores
        config = ChipConfig(cores=cores)
        check_fault(args.fault, config)
        out = Path(args.out or SIM_ROOT / f"seed{args.seed}-c{cores}").resolve()
        spec = prepare_seed(args.seed, config, out, variant=args.variant, check=args.check, fault=args.fault,
                            fill=args.fill)
    (result,) = cosimulate([spec], config, out, waves=waves, waves_format=args.waves_format)
    write_junit(out / "junit.xml", [result])
    print(result["text"])
    label = f"seed {result['seed']} {result['variant']}" if result["seed"] is not None else Path(args.image).name
    print(f"{'PASS' if result['passed'] else 'FAIL'}: {label}, "
          f"{array_size(config.chips, config.cores)}, {result.get('steps', '?')} steps checked, "
          f"{result.get('cycles', '?')} {cycles_noun(config.chips)}, {result.get('records_compared', '?')} records "
          f"compared in {time.monotonic() - started:.1f} s; "
          f"results in {out}")
    if waves:
        print(f"waves: {result.get('vcd')}  view: spikecore waves {out}  (or gtkwave {out / 'waves.gtkw'})")
    return 0 if result["passed"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return execute(args, argv)
    except USER_ERRORS as err:
        return parser.report_error(err)


if __name__ == "__main__":
    sys.exit(main())
