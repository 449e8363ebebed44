"""NIR paper CNN: raster agreement with the float reference for three roundings of its int8 weights.

The structure of the NIR paper's Sinabs CNN (tests/app/test_nir_cnn.py, random weights of the published
scale), or the graph of a ``.nir`` file given as the argument (e.g. the published ``cnn_sinabs.nir``), compiled
``--dt 1`` for ``--chip "chips=4 weight_bytes=4096 event_depth=1024 fanout_depth=256"`` and run by
``spikecore compare`` (golden board, cycle-accurate; 8 steps of rate-0.2 random spikes) for seeds 0, 1, 2:

- ``nearest, coarse``: every weight int8, rounded to nearest (the rule before compiler/rounding.py);
- ``rows, coarse``: each neuron's row rounded so that its errors sum to at most half a step, int8 on the first
  layer too (``--coarse-inputs``);
- ``rows + twins (default)``: the same with the host's input twins giving the first layer fine weights (the
  default of a NIR compile, docs/spec.md §11; ``--fine-inputs`` is its explicit form).

Prints per spiking layer and over all cells the raster agreement, and whether golden == integer reference.
Asserts nothing (tests/compiler/test_nir_rounding.py and tests/app/test_nir_cnn.py hold the effects). About
30-40 s per run on two shared cores, 9 runs per graph.

    .venv/bin/python bench/bench_nir_cnn_accuracy.py [cnn_sinabs.nir]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spikecore.app.nir_compare import compare, random_spikes
from spikecore.compiler.frontends.nir import read_nir
from spikecore.compiler.nir import discretize
from spikecore.config import parse_chip
from tests.app.test_nir_cnn import sinabs_cnn

CHIP = "chips=4 weight_bytes=4096 event_depth=1024 fanout_depth=256"
SEEDS = (0, 1, 2)


def nearest(values: np.ndarray, limit: float) -> np.ndarray:
    return np.rint(values)


def main() -> None:
    graph = read_nir(sys.argv[1]) if len(sys.argv) > 1 else sinabs_cnn()
    label = sys.argv[1] if len(sys.argv) > 1 else "random weights of the published scale (tests/app/test_nir_cnn.py)"
    config = parse_chip(CHIP)
    print(f"NIR paper CNN, {label}; --dt 1 --chip \"{CHIP}\" --steps 8 --rate 0.2")
    header = None
    for name, fine_inputs, rounding in (("nearest, coarse", False, nearest), ("rows, coarse", False, None),
                                        ("rows + twins (default)", None, None)):
        for seed in SEEDS:
            x = random_spikes((2, 34, 34), 8, 0.2, seed)
            start = time.perf_counter()
            with mock.patch.object(discretize, "round_rows", rounding or discretize.round_rows):
                result = compare(graph, x, dt=1.0, config=config, fine_inputs=fine_inputs)
            if header is None:
                header = " | ".join(f"{layer.name:>6}" for layer in result.layers)
                print(f"{'rounding':<22} seed | {header} |    all | golden == int | s")
            cells = " | ".join(f"{100 * layer.agreement:6.2f}" for layer in result.layers)
            print(f"{name:<22} {seed:>4} | {cells} | {100 * result.raster_agreement:6.2f} | "
                  f"{'yes' if result.golden_equals_integer else 'NO':>13} | {time.perf_counter() - start:.0f}")


if __name__ == "__main__":
    main()
