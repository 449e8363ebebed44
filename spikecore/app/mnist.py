"""SpikeCore Lab's workload: a 784→64→10 ReLU MLP on 28×28 digits (``make sim NET=mnist``, issue 13).

Data: the MNIST IDX files of a local folder (:func:`~spikecore.app.digits.load_mnist`, nothing is downloaded),
or, without one, scikit-learn's bundled 8×8 digits upsampled to 28×28 (:func:`upsample_to_28x28`), split
reproducibly by the seed. Model: :func:`train_mnist_mlp`, seeded. 784 inputs do not fit one core (256 axons,
``event_depth`` events, 256 weight bytes), so the hidden layer's fan-in is split (docs/spec.md §4.8), and its
50,816 weights do not fit one product chip (32 KiB): it runs on a board (§13).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from spikecore.app.digits import MLP, Dataset, load_digits_split, load_mnist
from spikecore.errors import SpikeCoreError

SIDE = 28
SIZES = (SIDE * SIDE, 64, 10)
#: Training samples per Adam step: the whole training set when it is at most this (the 1437 digits), else a
#: seeded random batch of this many (MNIST's 60,000: full batches would take minutes on one core).
BATCH = 2048


def upsample_to_28x28(x: np.ndarray) -> np.ndarray:
    """8×8 images ``(N, 64)`` → 28×28 ``(N, 784)`` float32, bilinear with the corners aligned.

    Output pixel ``i`` of a row sits at input position ``i × 7 / 27`` and interpolates linearly between the two
    input pixels around it (``scipy.ndimage.zoom``, order 1), so values stay in the input's range. Raises
    :class:`SpikeCoreError` when ``x`` is not ``(N, 64)``.
    """
    from scipy.ndimage import zoom

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != 64:
        raise SpikeCoreError(f"upsampling takes 8x8 images as (N, 64), not {x.shape}")
    big = zoom(x.reshape(len(x), 8, 8), (1, SIDE / 8, SIDE / 8), order=1, grid_mode=False)
    return big.reshape(len(x), SIDE * SIDE).astype(np.float32)


def load_28x28(mnist: str | None, seed: int) -> tuple[Dataset, str]:
    """The data of ``make sim NET=mnist`` and its one-line description: MNIST from the folder ``mnist`` (its own
    train / t10k split), else scikit-learn's digits, split by ``seed`` (20 % held out) and upsampled."""
    if mnist:
        data = load_mnist(mnist)
        return data, f"MNIST from {mnist} (28x28, {len(data.x_train)} train / {len(data.x_test)} t10k)"
    d = load_digits_split(seed)
    data = Dataset(upsample_to_28x28(d.x_train), d.y_train, upsample_to_28x28(d.x_test), d.y_test)
    return data, ("no MNIST folder given (MNIST=folder): scikit-learn's 8x8 digits upsampled to 28x28 "
                  f"({len(data.x_train)} train / {len(data.x_test)} held out)")


def train_mnist_mlp(data: Dataset, seed: int = 0, iterations: int = 300) -> MLP:
    """A 784→64→10 ReLU MLP trained on ``data`` (deterministic for a seed on a machine).

    Adam, learning rate 0.01, weight decay 1e-4, ``iterations`` steps, one torch thread (see
    :func:`~spikecore.app.digits.train_digits_mlp`); each step sees the whole training set, or a seeded random
    :data:`BATCH` of it when it is larger. Raises :class:`SpikeCoreError` when the data is not 784 features.
    """
    if data.x_train.ndim != 2 or data.x_train.shape[1] != SIZES[0]:
        raise SpikeCoreError(f"the MNIST MLP takes {SIZES[0]} features per sample, the data has "
                             f"{data.x_train.shape[1:]}")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = MLP(SIZES)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
        x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
        model.train()
        for _ in range(iterations):
            if len(x) > BATCH:
                pick = torch.randint(len(x), (BATCH,), generator=generator)
                xb, yb = x[pick], y[pick]
            else:
                xb, yb = x, y
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimiser.step()
        model.eval()
    finally:
        torch.set_num_threads(previous)
    return model
