"""``spikecore waves [RUN_DIR] [--screenshot out.png] [--no-open]``: look at a run's waves in GTKWave.

Rewrites ``RUN_DIR/waves.gtkw`` for the run's wave file (``dump.vcd`` or ``dump.fst``; default run: the
newest under ``build/sim``), then

- opens GTKWave on it when GTKWave is installed and a display is there, else prints the command to run;
- with ``--screenshot out.png``, renders the view headless instead (Xvfb + GTKWave + ImageMagick's
  ``import``, :mod:`spikecore.verif.gtkwave`) and says how many of the save file's signals GTKWave shows.

``make waves [RUN_DIR=...]`` runs it; ``python -m spikecore.app.waves`` is the same command. The save file
itself is written by :mod:`spikecore.verif.waves`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from spikecore.errors import SpikeCoreError
from spikecore.verif.sim import SIM_ROOT


def newest_run(root: Path = SIM_ROOT) -> Path:
    """The run folder under ``root`` whose wave file is the newest; :class:`SpikeCoreError` if there is none."""
    dumps = [*root.glob("*/dump.vcd"), *root.glob("*/dump.fst")]
    if not dumps:
        raise SpikeCoreError(f"no wave file under {root}; run e.g. 'make sim SEED=1 WAVES=1' first")
    return max(dumps, key=lambda p: p.stat().st_mtime).parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", help="run folder holding dump.vcd or dump.fst "
                        "(default: the newest under build/sim)")
    parser.add_argument("--screenshot", metavar="PNG", help="render the view headless to this PNG instead of "
                        "opening it (needs gtkwave, xvfb, imagemagick)")
    parser.add_argument("--no-open", action="store_true", help="only write the save file and print the command")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "waves", help="open a run's waves in GTKWave (or render them to a PNG)",
        description="Write RUN_DIR/waves.gtkw (host, router, one group per core; zoomed to the run or to the "
                    "first mismatch) and open it in GTKWave, print the command, or --screenshot it headless.")
    add_arguments(parser)
    parser.set_defaults(handler=execute)


def execute(args: argparse.Namespace) -> int:
    """Run the command; a user mistake raises :data:`~spikecore.app.cli_support.USER_ERRORS`."""
    from spikecore.verif.gtkwave import displayed, missing_tools
    from spikecore.verif.waves import write_run_gtkw

    run = Path(args.run) if args.run else newest_run()
    if args.screenshot and not args.screenshot.lower().endswith(".png"):
        raise SpikeCoreError(f"--screenshot {args.screenshot}: the file name must end in .png")
    if args.screenshot and missing_tools(screenshot=True):
        raise SpikeCoreError(f"--screenshot needs {', '.join(missing_tools(screenshot=True))}; "
                             "install them (apt-get install gtkwave xvfb imagemagick)")
    gtkw = write_run_gtkw(run)
    command = f"gtkwave {gtkw}"
    if args.screenshot:
        view = displayed(gtkw, screenshot=args.screenshot)
        requested = sum(1 for line in gtkw.read_text().splitlines() if line.startswith("+{"))
        print(f"screenshot: {args.screenshot} ({len(view.signals)} of {requested} signals displayed)")
        return 0
    viewer = shutil.which("gtkwave")
    if viewer and os.environ.get("DISPLAY") and not args.no_open:
        subprocess.Popen([viewer, str(gtkw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
        print(f"opened: {command}")
    elif not viewer:
        print(f"GTKWave is not installed here; on a machine with it run:\n  {command}")
    elif not os.environ.get("DISPLAY"):
        print(f"no display here (DISPLAY is not set); run on a desktop:\n  {command}\n"
              f"or render it: spikecore waves {run} --screenshot waves.png")
    else:
        print(command)
    return 0


def main(argv: list[str] | None = None) -> int:
    from spikecore.app.cli_support import USER_ERRORS, ArgumentParser, report_error

    parser = ArgumentParser(prog="python -m spikecore.app.waves", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return execute(args)
    except USER_ERRORS as err:
        return report_error(parser.prog, err)


if __name__ == "__main__":
    sys.exit(main())
