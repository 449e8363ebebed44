"""Constrained-random regression: many seeds co-simulated against the golden model, in parallel.

The command line of :mod:`spikecore.verif.regress`:

    python -m spikecore.app.regress --seeds 200 --cores 4 --jobs 2
"""

from __future__ import annotations

import sys
from pathlib import Path

from spikecore.app.cli_support import USER_ERRORS, OneMeaning, flow_parser
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.verif.coverage import FunctionalCoverage
from spikecore.verif.edge_programs import VARIANTS
from spikecore.verif.regress import BATCH, REGRESS_ROOT, run_regression
from spikecore.wording import ordinal, plural


def add_arguments(parser) -> None:
    """The regression's options (shared with ``spikecore regress``)."""
    parser.add_argument("--seeds", type=int, default=20, help="number of seeds, 1 or more (default 20)")
    parser.add_argument("--first", type=int, default=0, help="first seed, 0 or more (default 0)")
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2, help="simulator processes at a time (default 2)")
    parser.add_argument("--check", "--mode", dest="check", action=OneMeaning, choices=("fast", "full", "mixed"),
                        default="mixed",
                        help="scoreboard check: fast (signatures), full (every record) or mixed (default): about "
                             "one seed in 8 full, the rest fast; --mode: old name")
    parser.add_argument("--fill", choices=("mixed", "all", "none"), default="mixed",
                        help="programs that keep every core busy; mixed (default): about one seed in 4")
    parser.add_argument("--variant", choices=list(VARIANTS), help="one edge variant for every seed")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"programs per simulator process (default {BATCH})")
    parser.add_argument("--out", default=str(REGRESS_ROOT))
    parser.add_argument("--board-every", type=int, default=8,
                        help="every N-th seed (seed %% N == N-1) also runs as a board program (random or edge) of "
                             "2-4 chips on the RTL board (default 8; 0: none)")
    parser.add_argument("--scheduler", default="local",
                        help="Dask scheduler address tcp://HOST:8786; local (default): an in-process LocalCluster "
                             "of --jobs workers; threads: no Dask, --jobs simulator processes from this process")


#: The make variable of each flag (the Makefile's ``regress`` target), for messages: ``SEEDS=0 (--seeds)``.
MAKE_KNOBS = {"--seeds": "SEEDS", "--cores": "CORES", "--board-every": "BOARD_EVERY"}


def main(argv: list[str] | None = None) -> int:
    parser = flow_parser("python -m spikecore.app.regress", MAKE_KNOBS, description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return execute(args)
    except USER_ERRORS as err:
        return parser.report_error(err)


def execute(args) -> int:
    """Run the regression of parsed ``args``; prints the coverage and the summary; 0 when every program matched.

    Raises :class:`SpikeCoreError` (and the other user errors) on bad options."""
    if args.scheduler not in ("local", "threads") and not args.scheduler.startswith(("tcp://", "tls://")):
        raise SpikeCoreError(f"--scheduler {args.scheduler!r}: expected tcp://HOST:PORT, local or threads")
    if args.seeds < 1:
        raise SpikeCoreError(f"--seeds must be 1 or more, not {args.seeds}")
    for flag, value, low in (("--first", args.first, 0), ("--jobs", args.jobs, 1), ("--batch", args.batch, 1),
                             ("--board-every", args.board_every, 0)):
        if value < low:
            raise SpikeCoreError(f"{flag} must be {low} or more, not {value}")
    summary = run_regression(list(range(args.first, args.first + args.seeds)), ChipConfig(cores=args.cores),
                             Path(args.out), jobs=args.jobs, check=args.check, variant=args.variant,
                             batch=args.batch, fill={"mixed": None, "all": True, "none": False}[args.fill],
                             scheduler=None if args.scheduler == "threads" else args.scheduler,
                             board_every=args.board_every or None)
    cov = FunctionalCoverage.from_dict(ChipConfig(cores=args.cores), summary["coverage"])
    print("\n".join(cov.report_lines()))
    print(f"{plural(summary['programs'], 'program')}, {summary['array_cycles']} array cycles, "
          f"{summary['records_compared']} records compared, {summary['mismatches']} mismatches, "
          f"{summary['failed_programs']} failed, coverage {summary['coverage']['average_percent']}% in "
          f"{summary['wall_seconds']} s ({plural(args.jobs, 'job')}); summary: {Path(args.out) / 'summary.json'}")
    active = list(summary["active_cores"].values())
    share = summary["fill_min_active_share"]      # None when no fill program ran: nothing to say of it
    fills = (f"{plural(summary['fill_programs'], 'fill program')} (every core busy: fewest active {share} of the "
             f"cores)" if share is not None else "no fill program")
    print(f"active cores per program: mean {sum(active) / len(active):.1f} of {args.cores} (min {min(active)}); "
          f"{fills}; {plural(summary['full_programs'], 'program')} with the FULL check; "
          f"{summary['records_per_second']} records compared per second")
    board = summary.get("board")
    if board:
        print(f"board seeds (every {ordinal(board['every'])}): {plural(board['programs'], 'program')} on boards of "
              f"{', '.join(map(str, board['boards']))} chips, {board['records_compared']} records compared, "
              f"{board['mismatches']} mismatches, {board['failed_programs']} failed")
        for size, bins in board["link_coverage"].items():
            print(f"  links {size}: " + " ".join(f"{name}={hits}" for name, hits in bins.items()))
        print("  split neurons / merges: " + " ".join(f"{name}={hits}" for name, hits in board["fan_in_split"].items()))
        missed = [*board["links_missed"], *(f"fan_in_split:{name}" for name in board.get("split_missed", []))]
        # a board size no seed ran has no bin hit either: named, so that a short run cannot look fully covered
        missed += [f"chips{chips}:* (not run)" for chips in board.get("boards_not_run", [])]
        print(f"  board bins never hit: {', '.join(missed) if missed else 'none'}")
    for failure in [*summary["failures"], *(board["failures"] if board else [])]:
        print(f"FAIL seed {failure['seed']}: {failure['reason']}\n  reproduce: {failure['reproduce']}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
