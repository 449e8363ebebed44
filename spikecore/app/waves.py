"""GTKWave views of a co-simulation VCD: a ``.gtkw`` save file with per-core groups and named values.

The command line of :mod:`spikecore.verif.waves`:

``python -m spikecore.app.waves [RUN_DIR]`` (``make waves``) rewrites the save file of a run folder
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from spikecore.app.cli_support import USER_ERRORS, ArgumentParser, report_error
from spikecore.errors import SpikeCoreError
from spikecore.image import load_image
from spikecore.verif.tb.report import read_result
from spikecore.verif.waves import (
    newest_run,
    write_gtkw,
)


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m spikecore.app.waves", description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", help="run folder holding dump.vcd (default: the newest under build/sim)")
    parser.add_argument("--no-open", action="store_true", help="only write the save file")
    args = parser.parse_args(argv)
    try:
        run = Path(args.run) if args.run else newest_run()
        if not run.is_dir():
            raise SpikeCoreError(f"{run}: no such run folder (give the folder a simulation with --waves wrote)")
        vcd = run / "dump.vcd"
        if not vcd.exists():
            raise SpikeCoreError(f"{vcd}: no such VCD (run the simulation with --waves)")
        image = load_image(run / "image.bin") if (run / "image.bin").exists() else None
        marker = None
        result = run / "result.json"
        if result.exists():
            first = read_result(result).get("first_mismatch") or {}
            if first.get("sim_time_ns") is not None:
                marker = int(first["sim_time_ns"]) * 1000
        gtkw = write_gtkw(vcd, run / "waves.gtkw", image=image, marker_ps=marker)
    except USER_ERRORS as err:
        return report_error(parser.prog, err)
    viewer = shutil.which("gtkwave")
    command = f"gtkwave {gtkw}"
    if viewer and not args.no_open:
        subprocess.Popen([viewer, str(gtkw)])
        print(f"opened: {command}")
    else:
        print(f"GTKWave is not installed here; on a machine with it run:\n  {command}" if not viewer else command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
