"""``spikecore sim prog.bin``: run an image on the Verilator-built RTL array (or board) with the cycle-by-cycle
scoreboard.

A thin front over :func:`spikecore.app.sim.execute` so the toolchain has one command for every stage; its
errors reach ``spikecore``'s own handler, so they read ``spikecore: error: ...`` like every other command's.
"""

from __future__ import annotations

import argparse

from spikecore import outputs
from spikecore.app.cli_support import OneMeaning


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sim", help="run an image on the RTL array or board (Verilator) scoreboarded against the golden model",
        description="Build (or reuse) the Verilator model of the image's chip config (the RTL board for a board "
                    "image, chips > 1), run the image with the stimulus, and compare every trace record, the final "
                    "membranes and the host outputs with the golden model (the golden board).")
    parser.add_argument("image", help="binary image (.bin), one chip or a board")
    parser.add_argument("--inputs", metavar="STIM", help="stimulus file (.csv: step,core,axon,payload; or .json)")
    parser.add_argument("--steps", type=int, default=1, help="timesteps to run (default: 1)")
    parser.add_argument("--check", "--mode", dest="check", action=OneMeaning, choices=("fast", "full"), default="full",
                        help="full: every record every cycle (default); fast: per-cycle signatures")
    parser.add_argument("--waves", action="store_true", help="write a wave file (dump.vcd or dump.fst) and waves.gtkw")
    parser.add_argument("--waves-format", choices=("vcd", "fst"),
                        help="wave file format (default: WAVES_FORMAT, else vcd below 32 cores, fst from 32 on)")
    parser.add_argument("--out", help="output folder (default build/sim/<image name>)")
    parser.set_defaults(handler=_sim)


def _sim(args: argparse.Namespace) -> int:
    from spikecore.app.sim import build_parser, execute

    argv = ["--image", args.image, "--steps", str(args.steps), "--check", args.check]
    argv += ["--stimulus", args.inputs] if args.inputs else []
    argv += ["--waves"] if args.waves else []
    argv += ["--waves-format", args.waves_format] if args.waves_format else []
    argv += ["--out", args.out] if args.out else []
    with outputs.immediate():  # the run folder's files are read back by the simulator within this command
        return execute(build_parser().parse_args(argv), argv)
