"""Convolutions and poolings as dense matrices, shared by the PyTorch and NIR frontends.

SpikeCore has no convolution instruction: a Conv2d (or a sum pooling) is a dense layer whose weight matrix
is mostly zeros, and placement gives each core only the axons its neurons' receptive fields read. Rows
and columns are row-major over ``(C, H, W)``, as ``torch.flatten`` and NIR's Flatten order them.

>>> matrix, shape = sum_pool2d_matrix((1, 2, 2), kernel=(2, 2), stride=(2, 2), padding=(0, 0))
>>> shape, matrix.tolist()
((1, 1, 1), [[1.0, 1.0, 1.0, 1.0]])
"""

from __future__ import annotations

import numpy as np

from spikecore.errors import SpikeCoreError

#: Most elements of one dense layer matrix the compiler builds (float64: 1 GiB). A layer beyond it cannot
#: fit the largest chip anyway (MAX_CORES x MAX_NEURONS = 65,024 neurons, 256 bytes of weights per core).
MAX_MATRIX_ELEMENTS = 2**27


def check_matrix_size(rows: int, cols: int, what: str) -> None:
    """Raise :class:`SpikeCoreError` before allocating a ``rows x cols`` matrix beyond :data:`MAX_MATRIX_ELEMENTS`."""
    if rows * cols > MAX_MATRIX_ELEMENTS:
        raise SpikeCoreError(f"{what} needs a {rows} x {cols} matrix ({rows * cols * 8 / 2**30:.1f} GiB), more than "
                             f"the compiler's limit of {MAX_MATRIX_ELEMENTS} elements")


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of one spatial dimension (PyTorch's formula, floor division)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def toeplitz_conv2d(weight: np.ndarray, in_shape: tuple[int, int, int], stride: tuple[int, int],
                    padding: tuple[int, int], dilation: tuple[int, int],
                    groups: int = 1) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The dense ``(O*Ho*Wo, C*H*W)`` matrix of a 2-D convolution on a ``(C, H, W)`` input.

    ``weight`` is ``(O, C/groups, kh, kw)``. Row ``(o, y, x)`` holds kernel ``o`` at the input positions
    output ``(y, x)`` reads (only the channels of its group); padded positions simply have no column (they
    read zeros). Rows and columns are row-major, as ``torch.flatten`` orders them.
    """
    out_ch, group_in, kh, kw = weight.shape
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
    check_matrix_size(out_ch * out_h * out_w, channels * height * width, "Conv2d")
    matrix = np.zeros((out_ch, out_h, out_w, channels, height, width))
    per_group_out = out_ch // groups
    for g in range(groups):
        outs = slice(g * per_group_out, (g + 1) * per_group_out)
        ins = slice(g * group_in, (g + 1) * group_in)
        for y in range(out_h):
            for x in range(out_w):
                for i in range(kh):
                    for j in range(kw):
                        row = y * stride[0] - padding[0] + i * dilation[0]
                        col = x * stride[1] - padding[1] + j * dilation[1]
                        if 0 <= row < height and 0 <= col < width:
                            matrix[outs, y, x, ins, row, col] = weight[outs, :, i, j]
    return matrix.reshape(out_ch * out_h * out_w, channels * height * width), (out_ch, out_h, out_w)


def sum_pool2d_matrix(in_shape: tuple[int, int, int], kernel: tuple[int, int], stride: tuple[int, int],
                      padding: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Sum pooling per channel: a grouped convolution (groups = channels) with an all-ones kernel."""
    channels = in_shape[0]
    ones = np.ones((channels, 1, kernel[0], kernel[1]))
    return toeplitz_conv2d(ones, in_shape, stride, padding, (1, 1), groups=channels)
