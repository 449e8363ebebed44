"""The reference workload: a small MLP trained on scikit-learn's 8x8 digits, plus an MNIST IDX reader.

:func:`train_digits_mlp` trains, deterministically for a given seed, a 64→32→10 ReLU MLP on
``sklearn.datasets.load_digits`` (1797 images bundled with scikit-learn, so nothing is downloaded).
The train / held-out split is fixed by the seed (stratified, 20 % held out) and pixels are scaled from
0..16 to [0, 1]. Training takes under a second on one idle CPU core.

:func:`load_mnist` reads the classic MNIST IDX files from a local directory (``.gz`` or not); it never
downloads anything. (A 784-input layer is split over partial-sum cores, docs/spec.md §4.8; a 784→64→10 MLP
then needs more than one product chip's 32 KiB of weights: use a larger ``weight_bytes`` or a board.)
"""

from __future__ import annotations

import gzip
import itertools
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spikecore.errors import SpikeCoreError


@dataclass(frozen=True)
class Dataset:
    """A train / held-out split; ``x`` float32 ``(N, features)`` in [0, 1], ``y`` int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split(seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's digits, pixels scaled to [0, 1], split reproducibly by ``seed`` (stratified)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return Dataset(x_train, y_train, x_test, y_test)


class MLP(nn.Module):
    """``Linear → ReLU → ... → Linear``: the layer widths are ``sizes``."""

    def __init__(self, sizes: tuple[int, ...] = (64, 32, 10)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Float argmax predictions of ``model`` on ``x``."""
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(x, dtype=torch.float32)).argmax(dim=1).numpy()


def train_digits_mlp(seed: int = 0, sizes: tuple[int, ...] = (64, 32, 10), iterations: int = 300,
                     data: Dataset | None = None, threads: int = 1) -> tuple[MLP, Dataset]:
    """Train the MLP on the digits split of ``seed``; the same seed gives the same weights on a machine.

    Full-batch Adam (the training set is 1437 images, so one batch is cheap and the run is short and
    deterministic), learning rate 0.01, weight decay 1e-4, ``iterations`` steps. ``threads`` (at most 2
    by the project's rule) defaults to 1: on a busy 2-core machine two torch threads spin against each
    other and the same run took 2.5-30 s instead of 0.4 s.
    """
    data = data if data is not None else load_digits_split(seed)
    if not 1 <= threads <= 2:
        raise SpikeCoreError(f"threads must be 1 or 2, not {threads!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        model = MLP(sizes)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
        x = torch.as_tensor(data.x_train)
        y = torch.as_tensor(data.y_train)
        model.train()
        for _ in range(iterations):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimiser.step()
        model.eval()
    finally:
        torch.set_num_threads(previous)
    return model, data


# --- MNIST IDX files ------------------------------------------------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """One IDX file (the MNIST format: magic 0,0,type,ndim; big-endian dims; data), optionally gzipped."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise SpikeCoreError(f"IDX file {path}: cannot read ({err.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise SpikeCoreError(f"IDX file {path}: not a whole gzip stream ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise SpikeCoreError(f"IDX file {path}: bad magic {raw[:4].hex()}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise SpikeCoreError(f"IDX file {path}: truncated header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = math.prod(dims) * dtype.itemsize   # exact: numpy's prod wraps at 2**63
    if len(raw) - header != expected:
        raise SpikeCoreError(f"IDX file {path}: {len(raw) - header} data bytes, dims {dims} need {expected}")
    try:
        return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    except ValueError:   # an empty array whose other dims numpy cannot address, e.g. (0, 2**32 - 1, 2**32 - 1)
        raise SpikeCoreError(f"IDX file {path}: dims {dims} are too large for an array") from None


#: The IDX files of an MNIST folder (each may also be gzipped, ``.gz``), in the order they are read.
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


def load_mnist(directory: str | os.PathLike[str]) -> Dataset:
    """MNIST from ``directory`` (``train-images-idx3-ubyte[.gz]`` etc.), flattened and scaled to [0, 1].

    Raises :class:`SpikeCoreError` in one line naming the folder when it does not exist or is not a directory,
    and every IDX file missing from it; naming the file when one is unreadable, is not IDX, or does not hold what
    MNIST holds: ``N x 28 x 28`` uint8 images (N > 0) and as many uint8 labels 0..9.
    """
    directory = Path(directory)
    if not directory.exists():
        raise SpikeCoreError(f"MNIST directory {directory}: no such directory (MNIST= names a folder holding the "
                             "four MNIST IDX files; nothing is downloaded)")
    if not directory.is_dir():
        raise SpikeCoreError(f"MNIST directory {directory}: not a directory (MNIST= names a folder holding the "
                             "four MNIST IDX files, not a file)")
    missing = [stem for stem in MNIST_FILES if not any((directory / name).is_file() for name in (stem, stem + ".gz"))]
    if len(missing) == 1:
        raise SpikeCoreError(f"MNIST directory {directory}: missing {missing[0]} (or {missing[0]}.gz); nothing is "
                             "downloaded")
    if missing:
        raise SpikeCoreError(f"MNIST directory {directory}: missing {len(missing)} of the {len(MNIST_FILES)} IDX "
                             f"files: {', '.join(missing)} (each also as .gz); nothing is downloaded")

    def find(stem: str) -> tuple[Path, np.ndarray]:
        name = stem if (directory / stem).is_file() else stem + ".gz"
        return directory / name, load_idx(directory / name)

    splits = []
    for split in ("train", "t10k"):
        (images_path, images), (labels_path, labels) = (find(f"{split}-{kind}-idx{n}-ubyte")
                                                        for kind, n in (("images", 3), ("labels", 1)))
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
            raise SpikeCoreError(f"MNIST file {images_path}: expected N x 28 x 28 unsigned bytes with "
                                 f"N > 0, found {' x '.join(map(str, images.shape))} of {images.dtype}")
        if labels.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
            raise SpikeCoreError(f"MNIST file {labels_path}: expected {len(images)} unsigned byte "
                                 f"labels (one per image), found {' x '.join(map(str, labels.shape))} of "
                                 f"{labels.dtype}")
        if labels.max() > 9:
            raise SpikeCoreError(f"MNIST file {labels_path}: label {int(labels.max())} is not a digit "
                                 "0..9")
        splits.append(((images.reshape(len(images), -1) / 255.0).astype(np.float32), labels.astype(np.int64)))
    (x_train, y_train), (x_test, y_test) = splits
    return Dataset(x_train, y_train, x_test, y_test)
