"""Convolutions and poolings as dense matrices, shared by the PyTorch and NIR frontends.

SpikeCore has no convolution instruction: a Conv2d (or a sum pooling) is a dense layer whose weight matrix
is mostly zeros, and placement gives each core only the axons its neurons' receptive fields read. Rows
and columns are row-major over ``(C, H, W)``, as ``torch.flatten`` and NIR's Flatten order them. The
matrices are built sparse (memory proportional to the synapses), and the frontends check a layer's size
from its shapes (:func:`check_layer_size`) before building anything, so a model far larger than the chip
is refused in one line rather than by the memory allocator.

>>> matrix, shape = sum_pool2d_matrix((1, 2, 2), kernel=(2, 2), stride=(2, 2), padding=(0, 0))
>>> shape, matrix.tolist()
((1, 1, 1), [[1.0, 1.0, 1.0, 1.0]])
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.wording import plural

#: Largest dense ``(out, in)`` matrix the compiler builds for one layer (2**28 float64 = 2 GiB); a layer the chip
#: can hold is far below it (at most cores x neurons rows).
MAX_DENSE_ENTRIES = 1 << 28


def check_matrix_size(rows: int, cols: int, what: str) -> None:
    """Raise :class:`SpikeCoreError` before allocating a dense ``rows x cols`` matrix beyond
    :data:`MAX_DENSE_ENTRIES`."""
    if rows * cols > MAX_DENSE_ENTRIES:
        raise SpikeCoreError(f"{what} needs a {rows} x {cols} matrix ({rows * cols * 8 / 2**30:.1f} GiB), more than "
                             f"the compiler's limit of {MAX_DENSE_ENTRIES} elements")


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of one spatial dimension (PyTorch's formula, floor division)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv2d_output_shape(weight_shape: tuple[int, ...], in_shape: tuple[int, int, int], stride: tuple[int, int],
                        padding: tuple[int, int], dilation: tuple[int, int],
                        groups: int = 1) -> tuple[int, int, int]:
    """``(O, Ho, Wo)`` of a 2-D convolution, from shapes alone (nothing allocated); SpikeCoreError if invalid."""
    out_ch, group_in, kh, kw = weight_shape
    channels, height, width = in_shape
    if groups < 1 or channels % groups or out_ch % groups:
        raise SpikeCoreError(f"Conv2d groups={groups} does not divide its {channels} input and {out_ch} output "
                             "channels")
    if group_in * groups != channels:
        raise SpikeCoreError(f"Conv2d weight expects {group_in * groups} input channels, the input has {channels}")
    out_h = conv_output_size(height, kh, stride[0], padding[0], dilation[0])
    out_w = conv_output_size(width, kw, stride[1], padding[1], dilation[1])
    if out_h < 1 or out_w < 1:
        raise SpikeCoreError(f"Conv2d kernel {kh}x{kw} does not fit the {height}x{width} input")
    return out_ch, out_h, out_w


def check_layer_size(label: str, out_features: int, in_features: int, config: ChipConfig | None) -> None:
    """Refuse, from shapes alone, a layer the chip cannot hold or the compiler cannot expand.

    Every output feature of a layer is a neuron, so more than ``cores x neurons`` of them cannot fit, whatever
    placement does; and the compiler holds a layer as a dense ``(out, in)`` float64 matrix, at most
    :data:`MAX_DENSE_ENTRIES` entries. Called before any matrix is built, so a model far larger than the chip
    is refused in one line without allocating memory proportional to its expanded size.
    """
    config = config if config is not None else ChipConfig()
    capacity = config.board_cores * config.neurons
    if out_features > capacity:
        holder = "the chip" if config.chips == 1 else f"the board of {config.chips} chips"
        raise SpikeCoreError(f"{label} has {out_features} neurons, {holder} holds {capacity} "
                             f"({plural(config.board_cores, 'core')} x {plural(config.neurons, 'neuron')}); "
                             "use a larger --chip or a smaller layer")
    if out_features * in_features > MAX_DENSE_ENTRIES:
        raise SpikeCoreError(f"{label} expands to a {out_features} x {in_features} matrix, more than the compiler's "
                             f"{MAX_DENSE_ENTRIES} entries per layer")


def toeplitz_conv2d_sparse(weight: np.ndarray, in_shape: tuple[int, int, int], stride: tuple[int, int],
                           padding: tuple[int, int], dilation: tuple[int, int],
                           groups: int = 1) -> tuple[sparse.csr_array, tuple[int, int, int]]:
    """The ``(O*Ho*Wo, C*H*W)`` matrix of a 2-D convolution as a scipy CSR array (memory ∝ its non-zeros).

    ``weight`` is ``(O, C/groups, kh, kw)``. Row ``(o, y, x)`` holds kernel ``o`` at the input positions
    output ``(y, x)`` reads (only the channels of its group); padded positions simply have no column (they
    read zeros). Rows and columns are row-major, as ``torch.flatten`` orders them.
    """
    weight = np.asarray(weight, dtype=np.float64)
    out_ch, group_in, kh, kw = weight.shape
    channels, height, width = in_shape
    _, out_h, out_w = conv2d_output_shape(weight.shape, in_shape, stride, padding, dilation, groups)
    per_group_out = out_ch // groups
    # One entry per (output o, y, x; input channel c of o's group; tap i, j) whose input position is inside.
    o, c, i, j, y, x = np.meshgrid(np.arange(out_ch), np.arange(group_in), np.arange(kh), np.arange(kw),
                                   np.arange(out_h), np.arange(out_w), indexing="ij", sparse=True)
    row_in = y * stride[0] - padding[0] + i * dilation[0]
    col_in = x * stride[1] - padding[1] + j * dilation[1]
    inside = (row_in >= 0) & (row_in < height) & (col_in >= 0) & (col_in < width)
    shape = (out_ch, group_in, kh, kw, out_h, out_w)
    inside = np.broadcast_to(inside, shape)
    rows = np.broadcast_to((o * out_h + y) * out_w + x, shape)[inside]
    in_channel = np.broadcast_to((o // per_group_out) * group_in + c, shape)[inside]
    cols = ((in_channel * height + np.broadcast_to(row_in, shape)[inside]) * width
            + np.broadcast_to(col_in, shape)[inside])
    values = np.broadcast_to(weight[:, :, :, :, None, None], shape)[inside]
    matrix = sparse.coo_array((values, (rows, cols)), shape=(out_ch * out_h * out_w, channels * height * width))
    return matrix.tocsr(), (out_ch, out_h, out_w)


def toeplitz_conv2d(weight: np.ndarray, in_shape: tuple[int, int, int], stride: tuple[int, int],
                    padding: tuple[int, int], dilation: tuple[int, int],
                    groups: int = 1) -> tuple[np.ndarray, tuple[int, int, int]]:
    """:func:`toeplitz_conv2d_sparse` as a dense numpy array (check the size first: :func:`check_layer_size`)."""
    matrix, out_shape = toeplitz_conv2d_sparse(weight, in_shape, stride, padding, dilation, groups)
    check_matrix_size(*matrix.shape, "Conv2d")
    return matrix.toarray(), out_shape


def sum_pool2d_matrix(in_shape: tuple[int, int, int], kernel: tuple[int, int], stride: tuple[int, int],
                      padding: tuple[int, int], as_sparse: bool = False):
    """Sum pooling per channel: a grouped convolution (groups = channels) with an all-ones kernel (a scipy CSR
    array when ``as_sparse``)."""
    channels = in_shape[0]
    ones = np.ones((channels, 1, kernel[0], kernel[1]))
    build = toeplitz_conv2d_sparse if as_sparse else toeplitz_conv2d
    return build(ones, in_shape, stride, padding, (1, 1), groups=channels)
