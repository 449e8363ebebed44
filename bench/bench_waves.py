"""Wave files of the ``make sim`` sample on the 128-core array: VCD vs FST size, and reading them back
(prints, not a test).

    python bench/bench_waves.py [--samples-dir build/bench/waves] [--skip-sim]

1. Compiles the digits MLP exactly as ``make sim`` does (graded mode, the default 128-core chip) and runs
   test sample 0 on the RTL with waves twice: once on the VCD build, once on the FST build
   (``build/verilator/array128[-fst]``; each build takes minutes the first time).
2. Prints both file sizes and their ratio (the target: FST at least 5x smaller than the 86 MB VCD).
3. Reads one signal back (the trace cycle) with vcdvcd (pure Python, VCD only: the reader ``vcd_check``
   used before) and with pywellen (Rust, VCD and FST: the reader it uses now), and prints the seconds
   each takes and that both give the same changes.

``--skip-sim`` re-reads the wave files of an earlier run of this benchmark.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.verif.build import REPO_ROOT, TOPLEVEL

#: Size of one make-sim sample's VCD on the 128-core array before FST (MB), as issue 14 measured it.
VCD_BEFORE_MB = 86


def simulate(out: Path) -> dict[str, Path]:
    """Run make sim's sample 0 on the 128-core array with VCD and with FST waves; the two wave files."""
    from spikecore.app.demo import load_data, load_or_train
    from spikecore.compiler.pipeline import compile_model
    from spikecore.image import save_image
    from spikecore.verif.cocotb_array import RunSpec
    from spikecore.verif.sim import cosimulate

    data, _ = load_data(None, 0)
    model, _ = load_or_train(None, data, 0)
    compiled = compile_model(model, data.x_train[:1], data.x_train, encoding="graded", T=None, config=ChipConfig())
    sample = compiled.quantize_input(data.x_test)[0]
    out.mkdir(parents=True, exist_ok=True)
    save_image(compiled.image, out / "image.bin")
    compiled.stimulus(sample, quantized=True).save(out / "stimulus.json")
    dumps = {}
    for fmt in ("fst", "vcd"):
        run_dir = out / fmt
        spec = RunSpec(image=str(out / "image.bin"), steps=compiled.steps, result=str(run_dir / "result.json"),
                       stimulus=str(out / "stimulus.json"), seed=0, check="full")
        started = time.perf_counter()
        (result,) = cosimulate([spec], compiled.image.config, run_dir, waves=True, waves_format=fmt)
        print(f"  {fmt}: sample 0 simulated with waves in {time.perf_counter() - started:.1f} s, "
              f"{'PASS' if result['passed'] else 'FAIL'}, {result['records_compared']} records")
        dumps[fmt] = Path(result["vcd"])
    return dumps


#: The signal read back: the trace cycle (64 bits, a change every counted cycle). The packed trace port
#: itself is wider than Verilator traces by default (``--trace-max-width``) on the 128-core array.
SIGNAL = f"{TOPLEVEL}.trace_cycle"


def read_vcdvcd(vcd: Path) -> list[tuple[int, int]]:
    """:data:`SIGNAL`'s changes read with vcdvcd (pure Python; the reader vcd_check used before pywellen)."""
    import re

    from vcdvcd import VCDVCD

    names = [n for n in VCDVCD(str(vcd), only_sigs=True).signals if re.sub(r"\[\d+:\d+\]$", "", n) == SIGNAL]
    data = VCDVCD(str(vcd), signals=names, store_tvs=True)
    return [(int(t), int(v, 2)) for t, v in data[names[0]].tv if not any(c in v for c in "xXzZ")]


def read_pywellen(dump: Path) -> list[tuple[int, int]]:
    """:data:`SIGNAL`'s changes read with pywellen (Rust; VCD and FST), as vcd_check reads the trace port."""
    import pywellen

    wave = pywellen.Waveform(str(dump))
    return [(int(t), int(v, 2) if isinstance(v, str) else int(v)) for t, v in wave[SIGNAL].tv
            if not (isinstance(v, str) and any(c in v for c in "xXzZ"))]


def timed(label: str, read, path: Path) -> list[tuple[int, int]]:
    started = time.perf_counter()
    changes = read(path)
    print(f"  {label:<28} {time.perf_counter() - started:8.2f} s  ({len(changes)} changes of {SIGNAL})")
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "build" / "bench" / "waves"))
    parser.add_argument("--skip-sim", action="store_true", help="reuse the wave files of an earlier run")
    args = parser.parse_args(argv)
    out = Path(args.out)
    print("SpikeCore wave files, make sim sample 0 on the 128-core array")
    dumps = {fmt: out / fmt / f"dump.{fmt}" for fmt in ("fst", "vcd")} if args.skip_sim else simulate(out)
    missing = [str(p) for p in dumps.values() if not p.exists()]
    if missing:
        print(f"no wave file {', '.join(missing)}; run without --skip-sim", file=sys.stderr)
        return 1
    size = {fmt: path.stat().st_size for fmt, path in dumps.items()}
    print(f"  VCD {size['vcd'] / 1e6:8.1f} MB   FST {size['fst'] / 1e6:8.2f} MB   "
          f"FST is {size['vcd'] / size['fst']:.1f}x smaller (target >= 5x; "
          f"{VCD_BEFORE_MB} MB VCD / FST = {VCD_BEFORE_MB * 1e6 / size['fst']:.1f}x)")
    print("  reading one signal back:")
    slow = timed("vcdvcd, VCD", read_vcdvcd, dumps["vcd"])
    fast = timed("pywellen, VCD", read_pywellen, dumps["vcd"])
    fst = timed("pywellen, FST", read_pywellen, dumps["fst"])
    same = slow == fast and [v for _, v in fast] == [v for _, v in fst]
    print(f"  readers agree: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
