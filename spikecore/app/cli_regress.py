"""``spikecore regress``: the constrained-random regression (:mod:`spikecore.app.regress`) as a sub-command,
e.g. ``spikecore regress --seeds 2000 --cores 4 --scheduler tcp://HOST:8786``."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from spikecore.app.regress import add_arguments

    parser = subparsers.add_parser(
        "regress", help="constrained-random regression of the RTL against the golden model (Dask-capable)",
        description="Co-simulate many random programs on the Verilator-built array against the golden model, "
                    "in batches on a Dask cluster (default: an in-process LocalCluster).")
    add_arguments(parser)
    parser.set_defaults(handler=_regress)


def _regress(args: argparse.Namespace) -> int:
    from spikecore.app.regress import execute

    return execute(args)
