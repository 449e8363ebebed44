"""Reader benchmark: assembly time against input size (issue 11, kind 6: the assembler must be linear).

Prints seconds and the growth ratio per doubling for a line of N labels before a ``halt`` (the fuzzing
reproducer ``h01``: 100,000 labels on one line took ~19 s when each label re-sliced the rest of the line),
for a line of N blanks inside a name (``re.sub(r"\\s*=\\s*")`` rescanned each blank run quadratically) and
for N statements of one instruction each. Linear time shows as a ratio near 2 per doubling; quadratic as 4.
It asserts nothing (speed targets live in bench/, never in timed tests).

    .venv/bin/python bench/bench_input.py [--largest 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import time

from spikecore.compiler.asm import assemble
from spikecore.errors import SpikeCoreError


def labels_on_one_line(n: int) -> str:
    return ".chip cores=1\n.core 0\n" + " ".join(f"l{i}:" for i in range(n)) + " halt\n"


def blanks_in_a_name(n: int) -> str:
    return ".chip cores=1 event_" + " " * n + "depth=8\n.core 0\n    halt\n"


def equ_blanks(n: int) -> str:
    return ".equ A" + " " * n + "B, 1\n.chip cores=1\n.core 0\n    halt\n"


def _seconds(text: str) -> float:
    started = time.perf_counter()
    with contextlib.suppress(SpikeCoreError):  # malformed shapes are refused; what is timed is how long that takes
        assemble(text, "bench.s")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--largest", type=int, default=100_000, help="largest N (default 100000)")
    args = parser.parse_args()
    sizes = [args.largest // 8, args.largest // 4, args.largest // 2, args.largest]
    for name, make in (("labels on one line", labels_on_one_line), ("blanks inside a .chip key", blanks_in_a_name),
                       ("blanks inside an .equ name", equ_blanks)):
        times = [_seconds(make(n)) for n in sizes]
        ratios = " ".join(f"{b / a:.1f}" if a > 0 else "-" for a, b in itertools.pairwise(times))
        cells = ", ".join(f"N={n}: {t:.3f} s" for n, t in zip(sizes, times, strict=True))
        print(f"assembly, {name}: {cells}; ratio per doubling {ratios} (linear ~2, quadratic ~4)")


if __name__ == "__main__":
    main()
