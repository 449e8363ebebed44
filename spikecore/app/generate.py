"""Write the Verilog of the SpikeCore array for one or more core counts.

The command line of :mod:`spikecore.rtl.generate`:

    python -m spikecore.app.generate --cores 1,4,16,128 --out build/rtl
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from spikecore.app.cli_support import USER_ERRORS, ArgumentParser, report_error
from spikecore.config import PRODUCT, ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.generate import write_verilog


def _core_counts(text: str) -> list[int]:
    counts = []
    for item in text.split(","):
        try:
            counts.append(int(item))
        except ValueError:
            raise SpikeCoreError(f"--cores: expected comma-separated integers, not {text!r}") from None
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m spikecore.app.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="1,4,16,128", help="comma-separated core counts (default 1,4,16,128)")
    parser.add_argument("--out", default="build/rtl", help="output folder (default build/rtl)")
    for name in ("neurons", "weight_bytes", "imem_depth"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(PRODUCT, name),
                            help=f"default {getattr(PRODUCT, name)}")
    for name in ("event_depth", "fanout_depth"):   # None: the depth --weight-bytes gives (docs/spec.md §1.1)
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None,
                            help=f"default {getattr(PRODUCT, name)} per 256 weight bytes (docs/spec.md §1.1)")
    parser.add_argument("--emit-src", action="store_true", help="annotate statements with Python source locations")
    args = parser.parse_args(argv)
    try:
        base = ChipConfig(neurons=args.neurons, weight_bytes=args.weight_bytes, imem_depth=args.imem_depth,
                          event_depth=args.event_depth, fanout_depth=args.fanout_depth)
        configs = [replace(base, cores=cores) for cores in _core_counts(args.cores)]
        for config in configs:
            started = time.perf_counter()
            path = write_verilog(config, args.out, emit_src=args.emit_src)
            seconds = time.perf_counter() - started
            print(f"{path}: {path.stat().st_size / 1e6:.2f} MB in {seconds:.1f} s ({config.describe()})")
    except USER_ERRORS as error:
        return report_error(parser.prog, error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
