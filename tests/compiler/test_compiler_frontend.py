"""Frontend: torch.export of nn.Modules to the float IR, the lowering table and its error messages."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from spikecore.compiler.frontends import torch as frontend_torch
from spikecore.compiler.frontends.torch import (
    LOWERINGS,
    from_torch,
    load_model,
    register_lowering,
    supported_ops,
    toeplitz_conv2d,
)
from spikecore.compiler.ir import DenseNode, FloatGraph, InputNode
from spikecore.errors import SpikeCoreError


def mlp(sizes: tuple[int, ...], bias: bool = True) -> nn.Sequential:
    torch.manual_seed(sum(sizes))
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b, bias=bias))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def torch_out(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(x).double().numpy().reshape(len(x), -1)


@pytest.mark.parametrize(("sizes", "bias"), [((8, 4, 3), True), ((5, 7, 6, 2), False), ((3, 2), True),
                                              ((16, 12, 8, 6, 4), True)])
def test_mlp_widths_depths_and_bias(sizes, bias):
    model = mlp(sizes, bias)
    x = torch.rand(5, sizes[0])
    graph = from_torch(model, x[:1])
    assert [layer.in_features for layer in graph.layers] == list(sizes[:-1])
    assert [layer.out_features for layer in graph.layers] == list(sizes[1:])
    # every layer but the last carries the fused ReLU
    assert [layer.relu for layer in graph.layers] == [True] * (len(sizes) - 2) + [False]
    if not bias:
        assert all(not layer.bias.any() for layer in graph.layers)
    np.testing.assert_allclose(graph.forward(x.numpy())[-1], torch_out(model, x), rtol=1e-5, atol=1e-6)


def test_toeplitz_matrix_by_hand():
    # 1 input channel 3x3, one 2x2 kernel [[1, 2], [3, 4]], stride 1, no padding -> a 2x2 output.
    kernel = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    matrix, shape = toeplitz_conv2d(kernel, (1, 3, 3), (1, 1), (0, 0), (1, 1))
    assert shape == (1, 2, 2)
    # Output (0, 0) reads inputs (0,0) (0,1) (1,0) (1,1) = flat 0, 1, 3, 4 with weights 1, 2, 3, 4.
    assert matrix[0].tolist() == [1, 2, 0, 3, 4, 0, 0, 0, 0]
    # Output (1, 1) reads flat 4, 5, 7, 8.
    assert matrix[3].tolist() == [0, 0, 0, 0, 1, 2, 0, 3, 4]
    # With padding 1 and stride 2 the output is 2x2; output (0, 0) sees only input (0,0) under weight 4.
    matrix, shape = toeplitz_conv2d(kernel, (1, 3, 3), (2, 2), (1, 1), (1, 1))
    assert shape == (1, 2, 2)
    assert matrix[0].tolist() == [4, 0, 0, 0, 0, 0, 0, 0, 0]


class ConvNet(nn.Module):
    def __init__(self, stride=1, padding=0, dilation=1, channels=2):
        super().__init__()
        torch.manual_seed(3)
        self.conv = nn.Conv2d(channels, 3, 3, stride=stride, padding=padding, dilation=dilation)
        out = (6 + 2 * padding - dilation * 2 - 1) // stride + 1
        self.fc = nn.Linear(3 * out * out, 4)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        x = torch.flatten(x, 1)
        return self.fc(x)


@pytest.mark.parametrize(("stride", "padding", "dilation"), [(1, 0, 1), (2, 1, 1), (1, 2, 2)])
def test_conv2d_lowered_to_toeplitz_matches_torch(stride, padding, dilation):
    model = ConvNet(stride, padding, dilation)
    x = torch.rand(4, 2, 6, 6)
    graph = from_torch(model, x[:1])
    conv = graph.layers[0]
    assert conv.origin == "Conv2d 'conv'" and conv.relu
    assert len(conv.out_shape) == 3 and conv.in_features == 2 * 6 * 6
    np.testing.assert_allclose(graph.forward(x.numpy())[-1], torch_out(model, x), rtol=1e-5, atol=1e-6)


def test_decomposed_and_saved_exported_program(tmp_path):
    model = mlp((6, 5, 3))
    x = torch.rand(3, 6)
    program = torch.export.export(model.eval(), (x[:1],)).run_decompositions()  # addmm + permute of the weight
    graph = from_torch(program)
    np.testing.assert_allclose(graph.forward(x.numpy())[-1], torch_out(model, x), rtol=1e-5, atol=1e-6)
    path = tmp_path / "model.pt2"
    torch.export.save(torch.export.export(model, (x[:1],)), path)
    loaded = load_model(path)
    np.testing.assert_allclose(from_torch(loaded).forward(x.numpy())[-1], torch_out(model, x), rtol=1e-5, atol=1e-6)


def test_dropout_and_view_are_transparent():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.drop, self.fc2 = nn.Linear(4, 6), nn.Dropout(0.5), nn.Linear(6, 2)

        def forward(self, x):
            h = self.drop(torch.relu(self.fc1(x.view(x.shape[0], -1))))
            return self.fc2(h)

    model = Net()
    x = torch.rand(3, 2, 2)
    graph = from_torch(model, x[:1])
    assert [layer.name for layer in graph.layers] == ["fc1", "fc2"]
    np.testing.assert_allclose(graph.forward(x.numpy())[-1], torch_out(model, x), rtol=1e-5, atol=1e-6)


def test_unsupported_op_gives_the_exact_error():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.act, self.out = nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2)

        def forward(self, x):
            return self.out(self.act(self.fc(x)))

    with pytest.raises(SpikeCoreError) as err:
        from_torch(Net(), torch.rand(1, 4))
    assert str(err.value) == ("unsupported op sigmoid.default at graph node 'sigmoid' (module 'act': Sigmoid); "
                              f"supported ops: {supported_ops()}")
    assert "linear.default" in supported_ops() and "conv2d.default" in supported_ops()


def test_unsupported_shape_and_structure_errors():
    grouped = nn.Sequential(nn.Conv2d(2, 2, 3, groups=2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(SpikeCoreError, match=r"^conv2d.default at graph node 'conv2d' \(module '0': Conv2d\): "
                                             r"Conv2d groups=2 is not supported; supported: groups=1$"):
        from_torch(grouped, torch.rand(1, 2, 4, 4))
    no_relu = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    with pytest.raises(SpikeCoreError, match=r"reads the output of layer 'linear' .* which has no ReLU"):
        from_torch(no_relu, torch.rand(1, 4))
    unflattened = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(2, 2))
    with pytest.raises(SpikeCoreError, match=r"Linear with weight \(2, 2\) applied to a per-sample shape \(2, 2, 2\)"):
        from_torch(unflattened, torch.rand(1, 1, 4, 4))

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.fc2 = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            h = torch.relu(self.fc(x))
            return self.fc2(h) + h        # h feeds two ops: not a chain

    with pytest.raises(SpikeCoreError, match="chains of layers"):
        from_torch(Residual(), torch.rand(1, 4))
    with pytest.raises(SpikeCoreError, match="ReLU on the model input"):
        from_torch(nn.Sequential(nn.ReLU(), nn.Linear(4, 2)), torch.rand(1, 4))
    with pytest.raises(SpikeCoreError, match="batch dimension first"):
        from_torch(mlp((4, 2)), torch.rand(4))


def test_lowering_table_is_extensible():
    """A user lowering registered for an op makes a model with that op compile; removing it restores the error."""
    op = torch.ops.aten.hardtanh.default
    model = nn.Sequential(nn.Linear(4, 3), nn.Hardtanh(0.0, 1e9), nn.Linear(3, 2))  # = ReLU on any real input
    with pytest.raises(SpikeCoreError, match=r"unsupported op hardtanh\.default"):
        from_torch(model, torch.rand(1, 4))

    @register_lowering(op)
    def lower_hardtanh(ctx, node):
        low = node.args[1] if len(node.args) > 1 else -1.0
        if low != 0.0:
            raise ctx.fail(node, "only hardtanh(min=0, max=huge) is a ReLU")
        return frontend_torch.lower_relu(ctx, node)

    try:
        graph = from_torch(model, torch.rand(1, 4))
        assert [layer.relu for layer in graph.layers] == [True, False]
    finally:
        del LOWERINGS[op]


def test_ir_nodes_name_the_bad_field():
    with pytest.raises(SpikeCoreError, match=r"^DenseNode 'fc': field weight must be a 2-D float array"):
        DenseNode("fc", "x", np.zeros(3, np.float32), np.zeros(3, np.float32), relu=False, origin="test")
    with pytest.raises(SpikeCoreError, match=r"^DenseNode 'fc': field bias must have shape \(2,\), not \(3,\)"):
        DenseNode("fc", "x", np.zeros((2, 3), np.float32), np.zeros(3, np.float32), relu=False, origin="test")
    with pytest.raises(SpikeCoreError, match=r"^InputNode 'x': field shape"):
        InputNode("x", (0,))
    fc = DenseNode("fc", "y", np.zeros((2, 3), np.float32), np.zeros(2, np.float32), relu=False, origin="test")
    with pytest.raises(SpikeCoreError, match="layer 'fc' reads 'y', expected 'x'"):
        FloatGraph(InputNode("x", (3,)), [fc]).check()
