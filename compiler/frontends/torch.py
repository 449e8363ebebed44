"""PyTorch frontend: an ``nn.Module`` (or a ``torch.export`` program) to the float IR (:class:`FloatGraph`).

The model is captured with ``torch.export`` (no tracing tricks, no TVM): that gives an ATen graph whose
nodes are ops like ``aten.linear.default`` plus placeholders for the parameters. The frontend walks the
graph once, in order, keeping for every node either

- a **constant** (a parameter, a buffer, or an op computed only from constants, e.g. the ``permute`` of a
  weight in a decomposed program) as a numpy array, or
- an **activation** (:class:`Activation`): the per-sample shape of a value computed from the input, and
  which IR layer produced it.

Each op on an activation is handed to the function registered for it in :data:`LOWERINGS` (the op→function
table). Supported out of the box: ``linear``, ``addmm``/``mm`` (decomposed Linear), ``conv2d``/
``convolution`` (lowered to a sparse Toeplitz dense layer), ``relu`` (fused into the layer before it),
``flatten``/``view``/``reshape`` (a relabelling of the row-major features), ``dropout`` in eval mode and
copies (``clone``, ``contiguous``, ...). Anything else raises one :class:`SpikeCoreError` line naming the
op, the graph node, its module and the supported ops. Users add ops with :func:`register_lowering`::

    @register_lowering(torch.ops.aten.hardtanh.default)
    def lower_hardtanh(ctx: Lowering, node) -> Activation: ...

Conventions: dimension 0 of the example input is the batch; the model must be a chain (every activation
feeds exactly one op) ending in a layer; hidden layers must end in ReLU (SpikeCore emits rectified values).
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch.export import ExportedProgram

from spikecore.compiler.ir import DenseNode, FloatGraph, InputNode
from spikecore.compiler.toeplitz import check_layer_size, conv2d_output_shape, toeplitz_conv2d
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError

aten = torch.ops.aten


@dataclass(frozen=True)
class Activation:
    """A value computed from the model input: its per-sample ``shape`` and the IR layer that produced it.

    ``producer`` is ``None`` for the model input itself.
    """

    shape: tuple[int, ...]
    producer: str | None

    @property
    def features(self) -> int:
        return math.prod(self.shape)


Lowered = Activation | np.ndarray
LoweringFn = Callable[["Lowering", torch.fx.Node], Lowered]

#: op (an ``OpOverload`` such as ``aten.linear.default``, or an ``OpOverloadPacket`` such as ``aten.linear``
#: to cover every overload) -> function lowering one graph node that applies it to an activation.
LOWERINGS: dict[Any, LoweringFn] = {}


def register_lowering(*ops: Any) -> Callable[[LoweringFn], LoweringFn]:
    """Decorator: register ``fn`` as the lowering of every op in ``ops`` (later registrations win)."""

    def add(fn: LoweringFn) -> LoweringFn:
        for op in ops:
            LOWERINGS[op] = fn
        return fn

    return add


def _op_name(op: Any) -> str:
    if callable(op) and not isinstance(op, torch._ops.OpOverload | torch._ops.OpOverloadPacket):
        return getattr(op, "__name__", str(op))
    return str(op).removeprefix("aten.")


def supported_ops() -> str:
    return ", ".join(sorted({_op_name(op) for op in LOWERINGS}))


class Lowering:
    """State of one frontend run; lowering functions use its helpers to read arguments and emit layers."""

    def __init__(self, program: ExportedProgram, config: ChipConfig | None = None) -> None:
        self.program = program
        self.config = config if config is not None else ChipConfig()
        self.values: dict[torch.fx.Node, Lowered] = {}
        self.layers: list[DenseNode] = []
        self.input: InputNode | None = None
        self.batch: int | None = None

    # --- describing nodes (for error messages) ---

    @staticmethod
    def module_of(node: torch.fx.Node) -> tuple[str, str]:
        """``(qualified name, class name)`` of the innermost module that issued ``node`` ('' when none)."""
        stack = node.meta.get("nn_module_stack") or {}
        if not stack:
            return "", ""
        fqn, type_name = list(stack.values())[-1]
        type_name = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
        return fqn, type_name.rsplit(".", 1)[-1]

    def describe(self, node: torch.fx.Node) -> str:
        fqn, type_name = self.module_of(node)
        module = f" (module '{fqn}': {type_name})" if fqn else ""
        return f"graph node '{node.name}'{module}"

    def fail(self, node: torch.fx.Node, problem: str) -> SpikeCoreError:
        return SpikeCoreError(f"{_op_name(node.target)} at {self.describe(node)}: {problem}")

    # --- reading arguments ---

    def activation(self, node: torch.fx.Node, index: int) -> Activation:
        """Positional argument ``index`` of ``node``, which must be an activation."""
        arg = node.args[index] if index < len(node.args) else None
        value = self.values.get(arg) if isinstance(arg, torch.fx.Node) else None
        if not isinstance(value, Activation):
            raise self.fail(node, f"argument {index} must be computed from the model input")
        return value

    def constant(self, node: torch.fx.Node, index: int, optional: bool = False) -> np.ndarray | None:
        """Positional argument ``index`` of ``node`` as a float64 array (a parameter or folded constant)."""
        arg = node.args[index] if index < len(node.args) else None
        if arg is None and optional:
            return None
        value = self.values.get(arg) if isinstance(arg, torch.fx.Node) else None
        if not isinstance(value, np.ndarray):
            raise self.fail(node, f"argument {index} must be a parameter or constant, not computed from the input")
        return value.astype(np.float64)

    def output_shape(self, node: torch.fx.Node) -> tuple[int, ...]:
        """Per-sample shape of ``node``'s result, from torch.export's shape metadata (batch dim checked)."""
        val = node.meta.get("val")
        shape = tuple(int(d) for d in getattr(val, "shape", ()))
        if not shape or shape[0] != self.batch:
            raise self.fail(node, f"result shape {shape} does not keep batch dimension 0 (size {self.batch})")
        return shape[1:] or (1,)

    # --- emitting layers ---

    def layer_name(self, node: torch.fx.Node) -> str:
        fqn, _ = self.module_of(node)
        # Sequential children are named by index ('0', 'net.2'); the graph node name reads better there.
        name = fqn.replace(".", "_") if fqn and not fqn.rsplit(".", 1)[-1].isdigit() else node.name
        taken = {layer.name for layer in self.layers} | {self.input.name if self.input else ""}
        base, k = name, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        return name

    def add_dense(self, node: torch.fx.Node, source: Activation, weight: np.ndarray, bias: np.ndarray | None,
                  out_shape: tuple[int, ...], what: str) -> Activation:
        """Append a dense layer computing ``weight @ source + bias`` and return its activation."""
        if source.producer is not None:
            producer = self.layers[-1]
            if producer.name != source.producer:
                raise self.fail(node, "the model is not a chain of layers")
            if not producer.relu:
                raise self.fail(node, f"it reads the output of layer '{producer.name}' ({producer.origin}), which "
                                      "has no ReLU; SpikeCore hidden layers emit rectified values: add a ReLU or "
                                      "merge the layers")
        fqn, _ = self.module_of(node)
        origin = f"{what} '{fqn}'" if fqn else f"{what} node '{node.name}'"
        bias = np.zeros(weight.shape[0]) if bias is None else bias
        name = self.layer_name(node)
        self.layers.append(DenseNode(name, source.producer or self.input.name, weight.astype(np.float32),
                                     bias.astype(np.float32), relu=False, origin=origin, out_shape=out_shape))
        return Activation(out_shape, name)


# --- the lowering table -----------------------------------------------------------------------------------


@register_lowering(aten.linear.default)
def lower_linear(ctx: Lowering, node: torch.fx.Node) -> Activation:
    x = ctx.activation(node, 0)
    weight = ctx.constant(node, 1)
    bias = ctx.constant(node, 2, optional=True)
    if weight.ndim != 2 or x.shape != (weight.shape[1],):
        raise ctx.fail(node, f"Linear with weight {weight.shape} applied to a per-sample shape {x.shape}; "
                             f"supported: a flat input of {weight.shape[1] if weight.ndim == 2 else '?'} features "
                             "(add a Flatten)")
    return ctx.add_dense(node, x, weight, bias, (weight.shape[0],), "Linear")


@register_lowering(aten.addmm.default)
def lower_addmm(ctx: Lowering, node: torch.fx.Node) -> Activation:
    """``addmm(bias, x, w_t)`` is how a decomposed program spells ``linear(x, w_t.T, bias)``."""
    bias, x, w_t = ctx.constant(node, 0), ctx.activation(node, 1), ctx.constant(node, 2)
    if node.kwargs.get("beta", 1) != 1 or node.kwargs.get("alpha", 1) != 1:
        raise ctx.fail(node, "addmm with alpha or beta other than 1 is not supported")
    if w_t.ndim != 2 or x.shape != (w_t.shape[0],) or bias.shape not in ((w_t.shape[1],), (1, w_t.shape[1])):
        raise ctx.fail(node, f"addmm shapes {x.shape} x {w_t.shape} + {bias.shape} are not a Linear layer")
    return ctx.add_dense(node, x, w_t.T, bias.reshape(-1), (w_t.shape[1],), "Linear")


@register_lowering(aten.mm.default)
def lower_mm(ctx: Lowering, node: torch.fx.Node) -> Activation:
    x, w_t = ctx.activation(node, 0), ctx.constant(node, 1)
    if w_t.ndim != 2 or x.shape != (w_t.shape[0],):
        raise ctx.fail(node, f"mm shapes {x.shape} x {w_t.shape} are not a Linear layer")
    return ctx.add_dense(node, x, w_t.T, None, (w_t.shape[1],), "Linear")


def _pair(value: Any, name: str, ctx: Lowering, node: torch.fx.Node) -> tuple[int, int]:
    values = list(value) if isinstance(value, list | tuple) else [value]
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(isinstance(v, int) for v in values):
        raise ctx.fail(node, f"Conv2d {name}={value!r} is not supported; supported: one or two integers")
    return values[0], values[1]


def _lower_conv(ctx: Lowering, node: torch.fx.Node, stride: Any, padding: Any, dilation: Any,
                groups: Any) -> Activation:
    x = ctx.activation(node, 0)
    weight = ctx.constant(node, 1)
    bias = ctx.constant(node, 2, optional=True)
    if weight.ndim != 4 or len(x.shape) != 3:
        raise ctx.fail(node, f"convolution of weight {weight.shape} on per-sample shape {x.shape}; "
                             "supported: Conv2d on a (C, H, W) input")
    if groups != 1:
        raise ctx.fail(node, f"Conv2d groups={groups} is not supported; supported: groups=1")
    if isinstance(padding, str):
        raise ctx.fail(node, f"Conv2d padding='{padding}' is not supported; supported: integer padding")
    pairs = (_pair(stride, "stride", ctx, node), _pair(padding, "padding", ctx, node),
             _pair(dilation, "dilation", ctx, node))
    # Capacity from shapes first: nothing proportional to the expanded layer is allocated before it.
    out_shape = conv2d_output_shape(weight.shape, x.shape, *pairs)
    check_layer_size(f"Conv2d at {ctx.describe(node)}", math.prod(out_shape), x.features, ctx.config)
    matrix, out_shape = toeplitz_conv2d(weight, x.shape, *pairs)
    bias_full = None if bias is None else np.repeat(bias, out_shape[1] * out_shape[2])
    return ctx.add_dense(node, x, matrix, bias_full, out_shape, "Conv2d")


@register_lowering(aten.conv2d.default)
def lower_conv2d(ctx: Lowering, node: torch.fx.Node) -> Activation:
    names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}
    value = {name: node.args[i] if i < len(node.args) else node.kwargs.get(name, defaults.get(name))
             for i, name in enumerate(names)}
    return _lower_conv(ctx, node, value["stride"], value["padding"], value["dilation"], value["groups"])


@register_lowering(aten.convolution.default)
def lower_convolution(ctx: Lowering, node: torch.fx.Node) -> Activation:
    _, _, _, stride, padding, dilation, transposed, _, groups = node.args
    if transposed:
        raise ctx.fail(node, "transposed convolution is not supported; supported: Conv2d")
    return _lower_conv(ctx, node, stride, padding, dilation, groups)


@register_lowering(aten.relu.default, aten.relu_.default)
def lower_relu(ctx: Lowering, node: torch.fx.Node) -> Activation:
    x = ctx.activation(node, 0)
    if x.producer is None:
        raise ctx.fail(node, "ReLU on the model input is not supported; supported: ReLU after Linear or Conv2d")
    index = next(i for i, layer in enumerate(ctx.layers) if layer.name == x.producer)
    ctx.layers[index] = replace(ctx.layers[index], relu=True)  # relu(relu(v)) = relu(v): idempotent
    return x


@register_lowering(aten.flatten.using_ints, aten.view.default, aten.reshape.default, aten._unsafe_view.default,
                   aten.squeeze.dim, aten.unsqueeze.default)
def lower_reshape(ctx: Lowering, node: torch.fx.Node) -> Activation:
    """Reshapes keep the row-major feature order, so they only relabel the per-sample shape."""
    x = ctx.activation(node, 0)
    shape = ctx.output_shape(node)
    if math.prod(shape) != x.features:
        raise ctx.fail(node, f"reshape of {x.shape} to {shape} changes the number of features")
    return Activation(shape, x.producer)


@register_lowering(aten.dropout.default)
def lower_dropout(ctx: Lowering, node: torch.fx.Node) -> Activation:
    train = node.args[2] if len(node.args) > 2 else node.kwargs.get("train", False)
    if train:
        raise ctx.fail(node, "dropout in training mode; call model.eval() before compiling")
    return ctx.activation(node, 0)


def _fold_batch_norm(ctx: Lowering, node: torch.fx.Node, gamma: np.ndarray | None, beta: np.ndarray | None,
                     mean: np.ndarray, var: np.ndarray, eps: float) -> Activation:
    """Eval-mode batch norm ``y = (x - mean) / sqrt(var + eps) * gamma + beta`` folded into the layer before it.

    With ``s = gamma / sqrt(var + eps)`` per channel (dimension 0 of the per-sample shape, as BatchNorm1d/2d
    read it), the layer ``W x + b`` becomes ``(s W) x + (s (b - mean) + beta)``: the same function, computed
    in float64 before the IR rounds weights to float32.
    """
    x = ctx.activation(node, 0)
    if x.producer is None:
        raise ctx.fail(node, "batch norm on the model input cannot be folded; supported: BatchNorm1d/2d right "
                             "after a Linear or Conv2d")
    index = next(i for i, layer in enumerate(ctx.layers) if layer.name == x.producer)
    layer = ctx.layers[index]
    if layer.relu:
        raise ctx.fail(node, f"batch norm after the ReLU of layer '{layer.name}' cannot be folded into it; "
                             "supported: BatchNorm1d/2d between a Linear or Conv2d and its ReLU")
    channels = x.shape[0]
    if mean.shape != (channels,) or var.shape != (channels,):
        raise ctx.fail(node, f"batch norm statistics of shape {mean.shape} do not match {channels} channels of "
                             f"the per-sample shape {x.shape}")
    gamma = np.ones(channels) if gamma is None else gamma.reshape(-1)
    beta = np.zeros(channels) if beta is None else beta.reshape(-1)
    scale = np.repeat(gamma / np.sqrt(var + eps), x.features // channels)
    shift = np.repeat(beta - mean * gamma / np.sqrt(var + eps), x.features // channels)
    weight = layer.weight.astype(np.float64) * scale[:, None]
    bias = layer.bias.astype(np.float64) * scale + shift
    ctx.layers[index] = replace(layer, weight=weight.astype(np.float32), bias=bias.astype(np.float32),
                                origin=f"{layer.origin} + BatchNorm '{ctx.module_of(node)[0] or node.name}'")
    return x


@register_lowering(aten.batch_norm.default)
def lower_batch_norm(ctx: Lowering, node: torch.fx.Node) -> Activation:
    """``batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, cudnn)``."""
    training = node.args[5] if len(node.args) > 5 else node.kwargs.get("training", False)
    if training:
        raise ctx.fail(node, "batch norm in training mode; call model.eval() before compiling")
    eps = node.args[7] if len(node.args) > 7 else node.kwargs.get("eps", 1e-5)
    return _fold_batch_norm(ctx, node, ctx.constant(node, 1, optional=True), ctx.constant(node, 2, optional=True),
                            ctx.constant(node, 3), ctx.constant(node, 4), float(eps))


@register_lowering(aten._native_batch_norm_legit_no_training.default)
def lower_native_batch_norm(ctx: Lowering, node: torch.fx.Node) -> Activation:
    """The decomposed spelling ``(x, weight, bias, running_mean, running_var, momentum, eps)``; its result is a
    tuple whose item 0 is the normalised value (read through ``getitem``)."""
    eps = node.args[6] if len(node.args) > 6 else node.kwargs.get("eps", 1e-5)
    return _fold_batch_norm(ctx, node, ctx.constant(node, 1, optional=True), ctx.constant(node, 2, optional=True),
                            ctx.constant(node, 3), ctx.constant(node, 4), float(eps))


@register_lowering(operator.getitem)
def lower_getitem(ctx: Lowering, node: torch.fx.Node) -> Activation:
    """Item 0 of a multi-output op (batch norm) is its value; the other items (saved statistics) are unused."""
    if node.args[1] != 0:
        raise ctx.fail(node, f"item {node.args[1]} of a multi-output op is not supported; supported: item 0")
    return ctx.activation(node, 0)


@register_lowering(aten.clone.default, aten.contiguous.default, aten.alias.default, aten.detach.default,
                   aten.lift_fresh_copy.default)
def lower_identity(ctx: Lowering, node: torch.fx.Node) -> Activation:
    return ctx.activation(node, 0)


@register_lowering(aten._assert_tensor_metadata.default)
def lower_assert(ctx: Lowering, node: torch.fx.Node) -> None:
    """torch.export's dtype/shape assertion before a cast: it computes nothing."""
    return None


@register_lowering(aten._to_copy.default, aten.to.dtype, aten.to.dtype_layout)
def lower_cast(ctx: Lowering, node: torch.fx.Node) -> Activation:
    """A cast between floating dtypes (a bfloat16 model's input cast): the float IR computes in float64."""
    dtype = node.kwargs.get("dtype", node.args[1] if len(node.args) > 1 and node.target == aten.to.dtype else None)
    if dtype is not None and not dtype.is_floating_point:
        raise ctx.fail(node, f"a cast of an activation to {str(dtype).removeprefix('torch.')} is not supported; "
                             "supported: casts between floating dtypes")
    return ctx.activation(node, 0)


# --- driving the walk ---------------------------------------------------------------------------------------


def export_model(model: torch.nn.Module, example_input: torch.Tensor) -> ExportedProgram:
    """``torch.export`` of ``model`` in eval mode; a capture failure becomes one SpikeCoreError line."""
    if not isinstance(model, torch.nn.Module):
        raise SpikeCoreError(f"model must be a torch.nn.Module or an ExportedProgram, not {type(model).__name__}")
    # Trace in the model's own floating dtype (a bfloat16 or float64 model rejects a float32 input); the
    # frontend widens every parameter to float64 afterwards (tensor_to_numpy), so nothing is lost.
    dtype = next((p.dtype for p in (*model.parameters(), *model.buffers()) if p.is_floating_point()), torch.float32)
    example = torch.as_tensor(np.asarray(example_input, dtype=np.float64)).to(dtype)
    if example.ndim < 2:
        raise SpikeCoreError(f"example input must have a batch dimension first, got shape {tuple(example.shape)}")
    model.eval()
    try:
        return torch.export.export(model, (example,))
    except Exception as err:  # torch raises many exception types; the first line says what failed
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SpikeCoreError(f"torch.export could not capture the model: {first}") from None


def load_model(path: str | os.PathLike[str]) -> torch.nn.Module | ExportedProgram:
    """Read a model saved with ``torch.save(module)`` (``.pt``) or ``torch.export.save`` (``.pt2``)."""
    path = os.fspath(path)
    try:
        if path.endswith(".pt2"):
            return torch.export.load(path)
        # A pickled module needs the full unpickler; only load files you trust (as with any torch.load).
        obj = torch.load(path, weights_only=False)
    except FileNotFoundError:
        raise SpikeCoreError(f"model file {path}: not found") from None
    except Exception as err:
        raise SpikeCoreError(f"model file {path}: cannot load ({type(err).__name__}: {err})") from None
    if not isinstance(obj, torch.nn.Module | ExportedProgram):
        raise SpikeCoreError(f"model file {path}: holds a {type(obj).__name__}, expected a torch.nn.Module "
                             "(torch.save(model)) or an exported program (.pt2)")
    return obj


def tensor_to_numpy(tensor: torch.Tensor, what: str) -> np.ndarray:
    """A parameter, buffer or constant as numpy: every floating dtype torch can save (bfloat16, float16, the
    float8 kinds, float32, float64) is widened exactly to float64, integer and bool tensors keep their values;
    complex and quantised tensors are refused in one :class:`SpikeCoreError` line naming ``what``.

    numpy has no bfloat16 or float8, so ``.numpy()`` alone raises a TypeError on them (pytorch/pytorch#110285).
    """
    tensor = tensor.detach().cpu()
    if tensor.is_quantized or tensor.is_complex():
        raise SpikeCoreError(f"{what} has dtype {str(tensor.dtype).removeprefix('torch.')}, which SpikeCore cannot "
                             "convert; supported: floating, integer and bool tensors")
    if tensor.is_floating_point():
        return tensor.to(torch.float64).numpy()   # every float dtype widens to float64 exactly
    try:
        return tensor.numpy()
    except (TypeError, RuntimeError):   # unsigned 16/32/64 in older numpy bridges, or a dtype added later
        raise SpikeCoreError(f"{what} has dtype {str(tensor.dtype).removeprefix('torch.')}, which SpikeCore cannot "
                             "convert; supported: floating, integer and bool tensors") from None


def _placeholder_constants(program: ExportedProgram) -> tuple[dict[str, np.ndarray], list[str]]:
    """Placeholder name -> value for parameters, buffers and constants; and the names of the user inputs."""
    constants: dict[str, np.ndarray] = {}
    user_inputs: list[str] = []
    for spec in program.graph_signature.input_specs:
        name = spec.arg.name
        kind = spec.kind.name
        if kind == "USER_INPUT":
            user_inputs.append(name)
        elif kind in ("PARAMETER", "BUFFER", "CONSTANT_TENSOR"):
            # Non-persistent buffers and lifted constants live in program.constants, the rest in state_dict.
            store = program.state_dict if spec.target in program.state_dict else program.constants
            constants[name] = tensor_to_numpy(store[spec.target], f"exported program {kind.lower()} "
                                                                  f"'{spec.target}'")
        else:
            raise SpikeCoreError(f"exported program input '{name}' of kind {kind} is not supported")
    return constants, user_inputs


def _lowering_for(node: torch.fx.Node) -> LoweringFn | None:
    fn = LOWERINGS.get(node.target)
    if fn is None:
        fn = LOWERINGS.get(getattr(node.target, "overloadpacket", None))
    return fn


def _fold_constant(ctx: Lowering, node: torch.fx.Node) -> np.ndarray | None:
    """Evaluate an op whose tensor arguments are all constants (e.g. ``permute`` of a weight) at compile time."""

    def convert(arg: Any) -> Any:
        if isinstance(arg, torch.fx.Node):
            return torch.as_tensor(ctx.values[arg])
        if isinstance(arg, list | tuple):
            return type(arg)(convert(a) for a in arg)
        return arg

    try:
        result = node.target(*convert(node.args), **{k: convert(v) for k, v in node.kwargs.items()})
    except Exception as err:
        raise ctx.fail(node, f"cannot evaluate this op on constants ({type(err).__name__})") from None
    if result is None and not node.users:   # a check such as _assert_tensor_metadata of a cast: nothing to keep
        return None
    if not isinstance(result, torch.Tensor):
        raise ctx.fail(node, "an op on constants must give one tensor")
    return tensor_to_numpy(result, f"the constant computed at {ctx.describe(node)}")


def from_exported(program: ExportedProgram, config: ChipConfig | None = None) -> FloatGraph:
    """Lower an exported program to the float IR (see the module docstring for what is supported).

    ``config`` (default: the product chip) bounds the layers a convolution may expand to: a layer with more
    neurons than the chip is refused from its shapes, before its matrix is built."""
    ctx = Lowering(program, config)
    constants, user_inputs = _placeholder_constants(program)
    if len(user_inputs) != 1:
        raise SpikeCoreError(f"the model must take exactly one input tensor, it takes {len(user_inputs)}")
    result: Activation | None = None
    for node in program.graph.nodes:
        if node.op == "placeholder":
            if node.name in constants:
                ctx.values[node] = constants[node.name]
                continue
            shape = tuple(int(d) for d in node.meta["val"].shape)
            if len(shape) < 2:
                raise SpikeCoreError(f"model input '{node.name}' has shape {shape}; expected a batch dimension first")
            if len(node.users) > 1:
                raise SpikeCoreError(f"model input '{node.name}' feeds {len(node.users)} ops; "
                                     "SpikeCore compiles chains of layers")
            ctx.batch = shape[0]
            ctx.input = InputNode(node.name, shape[1:])
            ctx.values[node] = Activation(shape[1:], None)
        elif node.op == "get_attr":
            ctx.values[node] = tensor_to_numpy(getattr(program.graph_module, node.target), f"constant '{node.target}'")
        elif node.op == "call_function":
            tensor_args = [a for a in node.all_input_nodes]
            if all(isinstance(ctx.values.get(a), np.ndarray) for a in tensor_args) and tensor_args:
                ctx.values[node] = _fold_constant(ctx, node)
                continue
            fn = _lowering_for(node)
            if fn is None:
                raise SpikeCoreError(f"unsupported op {_op_name(node.target)} at {ctx.describe(node)}; "
                                     f"supported ops: {supported_ops()}")
            value = fn(ctx, node)
            if isinstance(value, Activation) and len(node.users) > 1:
                raise ctx.fail(node, f"its result feeds {len(node.users)} ops; SpikeCore compiles chains of layers")
            ctx.values[node] = value
        elif node.op == "output":
            outputs = node.args[0]
            outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
            if len(outputs) != 1 or not isinstance(ctx.values.get(outputs[0]), Activation):
                raise SpikeCoreError("the model must return one tensor computed from its input, "
                                     f"it returns {len(outputs)}")
            result = ctx.values[outputs[0]]
        else:
            raise SpikeCoreError(f"unsupported graph node '{node.name}' of kind {node.op}")
    if result is None or result.producer is None or not ctx.layers:
        raise SpikeCoreError("model has no layers: SpikeCore needs at least one Linear or Conv2d")
    if result.producer != ctx.layers[-1].name:
        raise SpikeCoreError(f"the model output is not its last layer ('{ctx.layers[-1].name}')")
    graph = FloatGraph(ctx.input, ctx.layers)
    graph.check()
    return graph


def from_torch(model: torch.nn.Module | ExportedProgram, example_input: Any = None,
               config: ChipConfig | None = None) -> FloatGraph:
    """The float IR of ``model``: an ``nn.Module`` (exported here with ``example_input``) or an exported program;
    ``config`` as for :func:`from_exported`."""
    if isinstance(model, ExportedProgram):
        return from_exported(model, config)
    if example_input is None:
        raise SpikeCoreError("an nn.Module needs an example input (batch dimension first) to be exported")
    return from_exported(export_model(model, example_input), config)
