"""Write the Verilog of the SpikeCore array for one or more core counts.

    python -m spikecore.rtl.generate --cores 1,4,16,128 --out build/rtl

writes ``build/rtl/spikecore_<N>c.v`` for each N (``make rtl``). Every file's top module is named
``spikecore`` (:data:`TOP_MODULE`), with ``clk``, ``rst`` and the host and trace ports of docs/spec.md
§8. The other chip sizes default to the product configuration and can be changed with ``--neurons``,
``--weight-bytes``, ``--imem-depth``, ``--event-depth`` and ``--fanout-depth``. Generated Verilog is a
build product: it lives under ``build/`` and is never committed.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from amaranth.back import verilog

from spikecore.cli_support import USER_ERRORS, ArgumentParser, report_error
from spikecore.config import PRODUCT, ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.array import SpikeCoreArray

#: Name of the top module in every generated file.
TOP_MODULE = "spikecore"


def verilog_path(out_dir: str | Path, cores: int) -> Path:
    """Where the Verilog of a ``cores``-core array goes."""
    return Path(out_dir) / f"{TOP_MODULE}_{cores}c.v"


def generate_verilog(config: ChipConfig, *, emit_src: bool = False) -> str:
    """The Verilog text of a :class:`SpikeCoreArray` for ``config`` (top module :data:`TOP_MODULE`).

    ``emit_src`` adds a source-location attribute to every statement (several times larger output).
    """
    return verilog.convert(SpikeCoreArray(config), name=TOP_MODULE, emit_src=emit_src)


def write_verilog(config: ChipConfig, out_dir: str | Path, *, emit_src: bool = False) -> Path:
    """Generate and write the Verilog for ``config``; return the file's path."""
    path = verilog_path(out_dir, config.cores)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generate_verilog(config, emit_src=emit_src))
    return path


def _core_counts(text: str) -> list[int]:
    counts = []
    for item in text.split(","):
        try:
            counts.append(int(item))
        except ValueError:
            raise SpikeCoreError(f"--cores: expected comma-separated integers, not {text!r}") from None
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m spikecore.rtl.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="1,4,16,128", help="comma-separated core counts (default 1,4,16,128)")
    parser.add_argument("--out", default="build/rtl", help="output folder (default build/rtl)")
    for name in ("neurons", "weight_bytes", "imem_depth", "event_depth", "fanout_depth"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(PRODUCT, name),
                            help=f"default {getattr(PRODUCT, name)}")
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
