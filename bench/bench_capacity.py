"""Capacity refusal benchmark: how fast, and in how little memory, a model far larger than the chip is refused.

A Conv2d(3 -> 64, 3x3, pad 1) on a 3x224x224 input has 3,211,264 neurons, 784x the product chip's 4,096; its
dense Toeplitz matrix would be 3.2M x 150k float64 (3.9 PB). The compiler checks the layer's size from its
shapes before building any matrix (compiler/toeplitz.py ``check_layer_size``). Measured for the NIR and the
PyTorch frontends, each in a fresh process under a 1 GiB address-space limit (RLIMIT_AS), with the peak
resident memory of that process; then, for scale, the time to expand a convolution that does fit, sparse.
Prints figures; asserts nothing (tests/app/test_compiler_models.py holds the refusal itself).

    .venv/bin/python bench/bench_capacity.py
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np

CHILD = textwrap.dedent("""
    import resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    import nir, numpy as np, torch
    from spikecore.compiler.pipeline import compile_model, compile_nir
    from spikecore.errors import SpikeCoreError
    which = sys.argv[1]
    start = time.perf_counter()
    try:
        if which == "torch":
            compile_model(torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1)), torch.zeros(1, 3, 224, 224),
                          np.zeros((1, 3, 224, 224), np.float32))
        else:
            graph = nir.NIRGraph(nodes={
                "input": nir.Input(input_type=np.array([3, 224, 224])),
                "conv": nir.Conv2d(input_shape=np.array([224, 224]), weight=np.ones((64, 3, 3, 3)),
                                   stride=np.array([1, 1]), padding=np.array([1, 1]), dilation=np.array([1, 1]),
                                   groups=1, bias=np.zeros(64)),
                "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1)),
                "output": nir.Output(output_type=np.array([64, 224, 224]))},
                edges=[("input", "conv"), ("conv", "if"), ("if", "output")], type_check=False)
            compile_nir(graph, dt=1.0)
        outcome = "COMPILED (unexpected)"
    except SpikeCoreError as err:
        outcome = f"refused: {err}"
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{seconds:.3f} {peak:.0f} {outcome}")
""")


def main() -> None:
    for which in ("nir", "torch"):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", CHILD, which], capture_output=True, text=True)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            print(f"{which}: child failed: {result.stderr.strip().splitlines()[-1:]}")
            continue
        seconds, peak, outcome = result.stdout.strip().split(" ", 2)
        print(f"{which:>5} frontend, 784x the chip, RLIMIT_AS 1 GiB: compile call {float(seconds):.3f} s (process "
              f"{wall:.1f} s with imports), peak RSS {peak} MiB; {outcome}")
    from spikecore.compiler.toeplitz import toeplitz_conv2d_sparse

    weight = np.random.default_rng(0).normal(size=(16, 8, 3, 3))
    start = time.perf_counter()
    matrix, _ = toeplitz_conv2d_sparse(weight, (8, 64, 64), (1, 1), (1, 1), (1, 1))
    seconds = time.perf_counter() - start
    dense_mib = matrix.shape[0] * matrix.shape[1] * 8 / 2**20
    print(f"sparse expansion of Conv2d(8 -> 16, 3x3) on 8x64x64: {seconds * 1000:.0f} ms, {matrix.nnz} synapses "
          f"({matrix.data.nbytes / 2**20:.1f} MiB of values; dense it would be {dense_mib:.0f} MiB)")


if __name__ == "__main__":
    main()
