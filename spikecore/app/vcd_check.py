"""Offline check of a wave file (VCD or FST): re-derive the trace records and compare them with the golden model.

The command line of :mod:`spikecore.verif.vcd_check`:

    python -m spikecore.app.vcd_check build/sim/seed9-c1            # a run folder (image, stimulus, result)
    python -m spikecore.app.vcd_check dump.vcd --image p.bin --stimulus p.json --steps 4
"""

from __future__ import annotations

import sys
from pathlib import Path

from spikecore.app.cli_support import USER_ERRORS, ArgumentParser, report_error
from spikecore.errors import SpikeCoreError
from spikecore.image import load_image
from spikecore.stimulus import Stimulus
from spikecore.verif.tb.report import read_result
from spikecore.verif.vcd_check import check_vcd
from spikecore.verif.wave_format import find_dump


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m spikecore.app.vcd_check", description=__doc__.splitlines()[0])
    parser.add_argument("path", help="a run folder (dump.vcd or dump.fst, image.bin, stimulus.json, result.json) "
                        "or a wave file")
    parser.add_argument("--image")
    parser.add_argument("--stimulus")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--segment", type=int, default=0, help="which pass of the VCD to check (default 0)")
    args = parser.parse_args(argv)
    path = Path(args.path)
    try:
        if not path.exists():
            raise SpikeCoreError(f"{path}: no such run folder or wave file")
        if args.steps is not None and args.steps < 1:
            raise SpikeCoreError(f"--steps must be 1 or more, not {args.steps}")
        if args.segment < 0:
            raise SpikeCoreError(f"--segment must be 0 or more, not {args.segment}")
        folder = path if path.is_dir() else path.parent
        vcd = find_dump(path) if path.is_dir() else path
        image = load_image(args.image or folder / "image.bin")
        stim_path = Path(args.stimulus) if args.stimulus else folder / "stimulus.json"
        stimulus = Stimulus.load(stim_path) if stim_path.exists() else None
        steps = args.steps
        if steps is None:
            result = folder / "result.json"
            if not result.exists():
                raise SpikeCoreError(f"give --steps (no {result} to read it from)")
            run_info = read_result(result).get("run")
            steps = run_info.get("steps") if isinstance(run_info, dict) else None
            if not isinstance(steps, int) or steps < 1:
                raise SpikeCoreError(f"{result}: names no step count (run.steps); give --steps")
        check = check_vcd(vcd, image, stimulus, steps, args.segment)
    except USER_ERRORS as err:
        return report_error(parser.prog, err)
    print("\n".join(check.lines()))
    print(f"{'PASS' if check.passed else 'FAIL'}: {vcd} pass {args.segment} of {check.passes}")
    return 0 if check.passed else 1


if __name__ == "__main__":
    sys.exit(main())
