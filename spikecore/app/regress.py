"""Constrained-random regression: many seeds co-simulated against the golden model, in parallel.

The command line of :mod:`spikecore.verif.regress`:

    python -m spikecore.app.regress --seeds 200 --cores 4 --jobs 2
"""

from __future__ import annotations

import sys
from pathlib import Path

from spikecore.app.cli_support import USER_ERRORS, ArgumentParser, report_error
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.verif.coverage import FunctionalCoverage
from spikecore.verif.edge_programs import VARIANTS
from spikecore.verif.regress import BATCH, REGRESS_ROOT, run_regression


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m spikecore.app.regress", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="number of seeds, 1 or more (default 20)")
    parser.add_argument("--first", type=int, default=0, help="first seed, 0 or more (default 0)")
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2, help="simulator processes at a time (default 2)")
    parser.add_argument("--check", "--mode", dest="check", choices=("fast", "full"), default="fast",
                        help="scoreboard check: fast (signatures, default) or full (every record); --mode: old name")
    parser.add_argument("--variant", choices=list(VARIANTS), help="one edge variant for every seed")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"programs per simulator process (default {BATCH})")
    parser.add_argument("--out", default=str(REGRESS_ROOT))
    args = parser.parse_args(argv)
    try:
        if args.seeds < 1:
            raise SpikeCoreError(f"--seeds must be 1 or more, not {args.seeds}")
        for flag, value, low in (("--first", args.first, 0), ("--jobs", args.jobs, 1), ("--batch", args.batch, 1)):
            if value < low:
                raise SpikeCoreError(f"{flag} must be {low} or more, not {value}")
        summary = run_regression(list(range(args.first, args.first + args.seeds)), ChipConfig(cores=args.cores),
                                 Path(args.out), jobs=args.jobs, check=args.check, variant=args.variant,
                                 batch=args.batch)
    except USER_ERRORS as err:
        return report_error(parser.prog, err)
    cov = FunctionalCoverage.from_dict(ChipConfig(cores=args.cores), summary["coverage"])
    print("\n".join(cov.report_lines()))
    print(f"{summary['programs']} programs, {summary['array_cycles']} array cycles, {summary['records_compared']} "
          f"records compared, {summary['mismatches']} mismatches, {summary['failed_programs']} failed, "
          f"coverage {summary['coverage']['average_percent']}% in {summary['wall_seconds']} s "
          f"({args.jobs} jobs); summary: {Path(args.out) / 'summary.json'}")
    for failure in summary["failures"]:
        print(f"FAIL seed {failure['seed']}: {failure['reason']}\n  reproduce: {failure['reproduce']}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
