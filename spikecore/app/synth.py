"""Size of one SpikeCore core after generic Yosys synthesis: cells, flip-flops, memory bits.

The command line of :mod:`spikecore.rtl.synth`:

    python -m spikecore.app.synth            (make synth)
"""

from __future__ import annotations

import sys

from spikecore.app.cli_support import USER_ERRORS, ArgumentParser, report_error
from spikecore.config import PRODUCT, ChipConfig
from spikecore.rtl.synth import synthesize_core


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m spikecore.app.synth", description=__doc__.splitlines()[0])
    for name in ("neurons", "weight_bytes", "imem_depth"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(PRODUCT, name),
                            help=f"default {getattr(PRODUCT, name)}")
    for name in ("event_depth", "fanout_depth"):   # None: the depth --weight-bytes gives (docs/spec.md §1.1)
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None,
                            help=f"default {getattr(PRODUCT, name)} per 256 weight bytes (docs/spec.md §1.1)")
    args = parser.parse_args(argv)
    try:
        config = ChipConfig(cores=1, neurons=args.neurons, weight_bytes=args.weight_bytes,
                            imem_depth=args.imem_depth, event_depth=args.event_depth, fanout_depth=args.fanout_depth)
        print(f"one core of {config.describe()}")
        print(synthesize_core(config).format())
    except USER_ERRORS as error:
        return report_error(parser.prog, error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
