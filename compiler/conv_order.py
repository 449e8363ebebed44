"""Position-major neuron order for the convolution layers of a NIR graph (docs/compiler.md, "Convolutions").

Placement gives each core a *contiguous* slice of a layer's neurons, and a core reads the union of its
neurons' receptive fields (docs/spec.md §4.1). In NIR's (and PyTorch's) row-major ``(C, H, W)`` order,
contiguous neurons are neighbouring positions of one output channel, whose receptive fields overlap little
and cover every input channel: 16 neurons of a 3×3 convolution over 16 channels read 16 × 3 × 18 = 864 sources
for 16 × 144 synapses. In position-major ``(H, W, C)`` order, contiguous neurons are the ``C`` channels of one
position, which read exactly the same ``C_in × kh × kw`` sources: the same 16 neurons read 144 sources and the
core's weight block is dense. This pass reorders a hidden convolution layer's neurons that way (rows of its
weight, its bias and per-neuron parameters) and the next layer's weight columns with them, so the network
computes the same function; :attr:`DenseNode.order` keeps the graph's index of every neuron, by which the
NIR runtime reports the layer's rasters in the graph's order.

Only hidden spiking layers of shape ``(C, H, W)`` with ``C > 1`` and no recurrent edge are reordered; the
first layer's input columns and the output layer keep the graph's order, so the host's input and output
mapping is unchanged.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from spikecore.compiler.ir import FloatGraph, NeuronModel


def position_major(shape: tuple[int, int, int]) -> np.ndarray:
    """``(C*H*W,)`` int64: the row-major ``(C, H, W)`` index of the ``j``-th neuron in ``(H, W, C)`` order.

    >>> position_major((2, 1, 2)).tolist()
    [0, 2, 1, 3]
    """
    channels, height, width = shape
    return np.arange(channels * height * width, dtype=np.int64).reshape(shape).transpose(1, 2, 0).reshape(-1)


def _reordered(neuron: NeuronModel | None, perm: np.ndarray) -> NeuronModel | None:
    if neuron is None:
        return None
    values = {name: getattr(neuron, name)[perm] for name in NeuronModel.PARAMETERS if getattr(neuron, name) is not None}
    return dataclasses.replace(neuron, **values)


def reorder_convolutions(graph: FloatGraph) -> FloatGraph:
    """``graph`` with every hidden spiking ``(C, H, W)`` layer (``C > 1``, not recurrent) in position-major order
    (see the module docstring); the other layers are the same objects. Computes the same function."""
    layers = list(graph.layers)
    for k in range(len(layers) - 1):
        layer = layers[k]
        shape = layer.out_shape
        if (len(shape) != 3 or shape[0] < 2 or layer.recurrent is not None or layer.order is not None
                or layer.neuron is None or not layer.neuron.spiking):
            continue
        perm = position_major(shape)   # type: ignore[arg-type]
        layers[k] = dataclasses.replace(layer, weight=layer.weight[perm], bias=layer.bias[perm],
                                        out_shape=(shape[1], shape[2], shape[0]), neuron=_reordered(layer.neuron, perm),
                                        order=perm)
        after = layers[k + 1]
        layers[k + 1] = dataclasses.replace(after, weight=np.ascontiguousarray(after.weight[:, perm]))
    if all(a is b for a, b in zip(layers, graph.layers, strict=True)):
        return graph
    reordered = FloatGraph(graph.input, layers)
    reordered.check()
    return reordered

