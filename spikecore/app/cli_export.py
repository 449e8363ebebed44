"""``spikecore export prog.bin --nir out.nir --dt SECONDS``: a program back to a NIR graph.

The command line of :mod:`spikecore.compiler.nir.export`: it refuses to write a graph that does not compile back
to the identical image (:func:`~spikecore.compiler.pipeline.check_round_trip`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from spikecore import outputs
from spikecore.app.cli import load_program
from spikecore.compiler.frontends.nir import DT_KEY
from spikecore.compiler.nir.export import export_image, write_nir_file
from spikecore.compiler.pipeline import check_round_trip
from spikecore.errors import SpikeCoreError
from spikecore.wording import plural


def _export(args: argparse.Namespace) -> int:
    if args.dt is not None and not args.dt > 0:
        raise SpikeCoreError(f"--dt must be a positive number of seconds, not {args.dt}")
    out = Path(args.nir)
    outputs.refuse_overlap([("program", args.program)], [("--nir", out)])
    image = load_program(args.program)
    try:
        graph = export_image(image, args.dt)
    except SpikeCoreError as err:  # name the program file, as compile names its model
        raise SpikeCoreError(f"program file {args.program}: {err}") from None
    # Written beside the destination and checked there; renamed into place only once the check passed,
    # so a failed export leaves a file that was already at --nir as it was.
    with outputs.output_path(out) as temporary:
        write_nir_file(graph, temporary, out)
        try:
            check_round_trip(image, temporary)
        except SpikeCoreError as err:  # name the --nir file, not its temporary stand-in
            text = str(err).replace(os.fspath(temporary), os.fspath(out))
            raise SpikeCoreError(f"program file {args.program}: {text}") from None
    neurons = sum(int(np.prod(node.output_type["output"])) for name, node in graph.nodes.items()
                  if type(node).__name__ in ("LIF", "LI", "IF", "I", "Threshold"))
    print(f"{out}: {plural(len(graph.nodes), 'NIR node')}, {plural(neurons, 'neuron')}, "
          f"dt={graph.metadata[DT_KEY]:g} s; re-imports to the identical image")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` sub-command to the ``spikecore`` parser."""
    parser = subparsers.add_parser("export", help="export a program compiled from NIR back to a NIR graph",
                                   description="Write a NIR graph (.nir, HDF5) that nir.read accepts and that "
                                               "'spikecore compile' turns back into the identical image.")
    parser.add_argument("program", help="binary image (or assembly source) laid out by the NIR compiler")
    parser.add_argument("--nir", required=True, metavar="OUT", help="NIR file to write")
    parser.add_argument("--dt", type=float, default=None,
                        help="seconds per step stored in the graph (required: the image does not store it); "
                             "sets the time constants, not the image")
    parser.set_defaults(handler=_export)
