"""``make bench``: every benchmark in this folder, one after the other (each prints its own ratios)."""

import subprocess
import sys
from pathlib import Path

BENCHES = ["bench_golden.py", "bench_compiler.py", "bench_capacity.py", "bench_cosim.py", "bench_waves.py",
           "bench_input.py"]

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    failed = [name for name in BENCHES if subprocess.call([sys.executable, str(here / name)]) != 0]
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
    sys.exit(1 if failed else 0)
