"""``make bench``: every benchmark in this folder, one after the other (each prints its own ratios).

Arguments go to ``bench_speed.py`` (the issue-18 figures, which include bench_cosim.py's co-simulation
speeds), e.g. ``make bench BENCH_ARGS=--no-cold`` skips timing ``make sim`` in a scratch clone (minutes).
"""

import subprocess
import sys
from pathlib import Path

BENCHES = ["bench_golden.py", "bench_compiler.py", "bench_capacity.py", "bench_cosim.py", "bench_board_cosim.py",
           "bench_waves.py", "bench_input.py", "bench_speed.py"]

# issue 13: the MNIST MLP on the golden board against its lower bound with link costs
BENCHES.insert(BENCHES.index("bench_cosim.py"), "bench_board.py")

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    failed = []
    for name in BENCHES:
        extra = sys.argv[1:] if name == "bench_speed.py" else []
        if subprocess.call([sys.executable, str(here / name), *extra]) != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
    sys.exit(1 if failed else 0)
