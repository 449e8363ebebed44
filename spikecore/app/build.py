"""Verilator builds of the generated SpikeCore array, made once per configuration and reused.

The command line of :mod:`spikecore.verif.build`.
"""

from __future__ import annotations

import os
import sys

from spikecore.config import ChipConfig
from spikecore.verif.build import (
    build_array,
)
from spikecore.verif.wave_format import trace_format


def main(argv: list[str] | None = None) -> int:
    """``python -m spikecore.app.build --cores 4 [--waves]``: build (or report the reuse of) one array."""
    from spikecore.app.cli_support import USER_ERRORS, ArgumentParser, report_error

    parser = ArgumentParser(prog="python -m spikecore.app.build", description=main.__doc__)
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--waves", action="store_true")
    parser.add_argument("--waves-format", choices=("vcd", "fst"), help="trace format compiled in (default: by size)")
    args = parser.parse_args(argv)
    try:
        config = ChipConfig(cores=args.cores)
        build = build_array(config, waves=args.waves or os.environ.get("WAVES") == "1",
                            trace_format=trace_format(config, args.waves_format))
    except USER_ERRORS as err:
        return report_error(parser.prog, err)
    print(build.binary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
