"""TVM frontend: torch.export → Relax → BYOC partition → the ``relax.ext.spikecore`` codegen.

SpikeCore Lab's pipeline ("PyTorch → TVM BYOC → neuromorphic target") on TVM's Relax API (Relay, which
SpikeCore Lab used, is gone upstream). The stages, each a public function so the walkthrough notebook can
show them one by one:

1. :func:`to_relax` — ``tvm.relax.frontend.torch.from_exported_program`` of the ``torch.export`` program
   (parameters bound as Relax constants).
2. :func:`register_spikecore_patterns` — the pattern table (:func:`pattern_table`), registered in TVM's
   pattern registry under the ``spikecore.`` prefix: ``dense``, ``dense_bias``, ``dense_relu``,
   ``dense_bias_relu``, ``conv2d`` with the same bias/ReLU variants, and ``reshape``/``relu`` as glue.
3. :func:`partition` — ``FuseOpsByPattern`` wraps every match in a composite function, then
   ``MergeCompositeFunctions`` groups neighbouring composites into one function with ``Codegen="spikecore"``.
   (``annotate_codegen=True`` would wrap each composite in its own codegen function, which
   ``MergeCompositeFunctions`` then leaves alone: measured on TVM 0.27, a Flatten-Linear-ReLU-Linear model
   gave three SpikeCore functions instead of one. The merge needs the plain composites.)
4. :func:`split_host_work` — what stayed outside is host work (softmax, an op without a pattern). It may
   only follow the SpikeCore function; it is listed (``--report``), never dropped silently.
5. ``RunCodegen`` with our codegen registered as ``relax.ext.spikecore`` (:func:`spikecore_codegen`): it
   lowers the partitioned function to the float IR (:func:`lower_function`, the same :class:`FloatGraph` the
   torch.export walk builds, layer names included), and when a compile is in progress runs the shared
   quantise/place/codegen passes and returns the program's assembly listing as a TVM source module.
   ``tvm.compile`` (building the host part) is not used.

Needs ``apache-tvm`` (``pip install 'spikecore[tvm]'``); :func:`tvm_missing` says why it cannot be used.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikecore.compiler.ir import DenseNode, FloatGraph, InputNode
from spikecore.compiler.toeplitz import toeplitz_conv2d
from spikecore.errors import SpikeCoreError

PATTERN_PREFIX = "spikecore"
CODEGEN = "spikecore"
#: ATen ops of the exported program that become SpikeCore layers (for layer names, see :func:`layer_labels`).
LAYER_OPS = ("linear", "conv2d", "convolution", "addmm", "mm")


def tvm_missing() -> str | None:
    """``None`` when Apache TVM can be imported, else the reason (for errors and test skips)."""
    try:
        import tvm  # noqa: F401
        from tvm.relax.frontend.torch import from_exported_program  # noqa: F401
    except Exception as err:  # ImportError, or a broken native library (OSError)
        return f"Apache TVM is not installed ({type(err).__name__}: {err}); pip install 'spikecore[tvm]'"
    return None


def _require_tvm() -> None:
    reason = tvm_missing()
    if reason is not None:
        raise SpikeCoreError(f"the TVM frontend needs apache-tvm 0.27: {reason}")


# --- stage 1: Relax ---------------------------------------------------------------------------------------


def to_relax(program: Any) -> Any:
    """The Relax ``IRModule`` of an ``ExportedProgram`` (parameters become Relax constants)."""
    _require_tvm()
    from tvm.relax.frontend.torch import from_exported_program

    try:
        return from_exported_program(program)
    except Exception as err:  # the translator raises assertion, key and value errors for unknown ops
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SpikeCoreError(f"TVM's torch frontend could not translate the model: {first}") from None


# --- stage 2: the pattern table -----------------------------------------------------------------------------


def _shape(expr: Any) -> tuple[int, ...] | None:
    """The static shape of a Relax tensor expression (TVM 0.27 types: ``expr.ty.shape``), None if unknown."""
    shape = getattr(getattr(expr, "ty", None), "shape", None)
    values = getattr(shape, "values", None)
    if values is None:
        return None
    try:
        return tuple(int(v) for v in values)
    except TypeError:  # symbolic dimension
        return None


def _keeps_batch(context: Any) -> bool:
    """Check of the reshape glue: dimension 0 (the batch) must survive, as in the torch.export walk."""
    call = context.matched_expr
    before, after = _shape(call.args[0]), _shape(call)
    return bool(before and after and before[0] == after[0])


#: What each ``spikecore.*`` pattern matches, in Relax ops (``W``, ``b``: constants; ``x``: any value).
PATTERN_SPELLING = {
    "dense_bias_relu": "nn.relu(add(matmul(x, permute_dims(W) | W'), b))  (add in either operand order)",
    "dense_bias": "add(matmul(x, permute_dims(W) | W'), b)",
    "dense_relu": "nn.relu(matmul(x, permute_dims(W) | W'))",
    "dense": "matmul(x, permute_dims(W) | W')",
    "conv2d_bias_relu": "nn.relu(add(nn.conv2d(x, W), reshape(b) | b))",
    "conv2d_bias": "add(nn.conv2d(x, W), reshape(b) | b)",
    "conv2d_relu": "nn.relu(nn.conv2d(x, W))",
    "conv2d": "nn.conv2d(x, W)",
    "reshape": "reshape(x, shape) keeping dimension 0 (Flatten, view): glue",
    "relu": "nn.relu(x) after a layer: glue",
}


def pattern_table() -> list[tuple]:
    """``(name, pattern, annotations, check)`` per SpikeCore pattern, biggest first (the fusion priority).

    Dense is Relax's spelling of ``nn.Linear``: ``matmul(x, permute_dims(W))`` (or ``matmul(x, Wᵀ)`` with a
    constant ``Wᵀ``), then ``add`` of a constant bias in either operand order, then ``nn.relu``. Conv2d is
    ``nn.conv2d(x, W)``, then ``add`` of a (reshaped) constant bias, then ``nn.relu``. ``reshape`` (Flatten,
    view) keeping the batch dimension and a lone ``nn.relu`` are glue: they relabel or rectify the previous
    layer's output and cost nothing on the chip.
    """
    _require_tvm()
    from tvm.relax.dpl import is_const, is_op, wildcard

    # Every alternative is built from fresh pattern nodes: reusing one node in two branches of ``|`` made
    # the matcher miss ``add(bias, matmul(x, permute_dims(W)))`` (TVM 0.27).
    def dense() -> Any:
        return (is_op("relax.matmul")(wildcard(), is_op("relax.permute_dims")(is_const()))
                | is_op("relax.matmul")(wildcard(), is_const()))

    def conv() -> Any:
        return is_op("relax.nn.conv2d")(wildcard(), is_const())

    def with_bias(core: Callable[[], Any], bias: Callable[[], Any]) -> Any:
        return is_op("relax.add")(core(), bias()) | is_op("relax.add")(bias(), core())

    def conv_bias_value() -> Any:
        return is_op("relax.reshape")(is_const(), wildcard()) | is_const()

    def relu(inner: Any) -> Any:
        return is_op("relax.nn.relu")(inner)

    dense_bias = with_bias(dense, is_const)
    conv_bias = with_bias(conv, conv_bias_value)
    reshape = is_op("relax.reshape")(wildcard(), wildcard())
    table = [
        ("dense_bias_relu", relu(with_bias(dense, is_const))), ("dense_bias", dense_bias),
        ("dense_relu", relu(dense())), ("dense", dense()),
        ("conv2d_bias_relu", relu(with_bias(conv, conv_bias_value))), ("conv2d_bias", conv_bias),
        ("conv2d_relu", relu(conv())), ("conv2d", conv()),
    ]
    patterns: list[tuple] = [(f"{PATTERN_PREFIX}.{name}", pattern, {}, None) for name, pattern in table]
    patterns.append((f"{PATTERN_PREFIX}.reshape", reshape, {"root": reshape}, _keeps_batch))
    patterns.append((f"{PATTERN_PREFIX}.relu", relu(wildcard()), {}, None))
    return patterns


def register_spikecore_patterns() -> list[Any]:
    """Register :func:`pattern_table` in TVM's BYOC pattern registry; return the registered ``spikecore.*``."""
    _require_tvm()
    from tvm.relax.backend.pattern_registry import get_patterns_with_prefix, register_patterns

    if not get_patterns_with_prefix(PATTERN_PREFIX):
        # The registry ranks later registrations first; the table lists the biggest patterns first.
        register_patterns(list(reversed(pattern_table())))
    return list(get_patterns_with_prefix(PATTERN_PREFIX))


# --- stage 3: partition -------------------------------------------------------------------------------------


def partition(mod: Any) -> Any:
    """``FuseOpsByPattern`` with the registered ``spikecore.*`` patterns, then ``MergeCompositeFunctions``."""
    _require_tvm()
    from tvm import relax

    patterns = register_spikecore_patterns()
    mod = relax.transform.FuseOpsByPattern(patterns, bind_constants=True, annotate_codegen=False)(mod)
    return relax.transform.MergeCompositeFunctions()(mod)


def spikecore_functions(mod: Any) -> list[str]:
    """Names of the functions of ``mod`` annotated ``Codegen="spikecore"``."""
    from tvm import relax

    return sorted(gv.name_hint for gv, func in mod.functions.items()
                  if isinstance(func, relax.Function) and func.attrs is not None
                  and func.attrs.get("Codegen") == CODEGEN)


def _describe_call(call: Any) -> str:
    """``nn.softmax(axis=1)``: the Relax op and its attributes (``str`` of an attrs object is ``Type(k=v, ...)``)."""
    name = call.op.name.removeprefix("relax.")
    text = str(call.attrs) if call.attrs is not None else ""
    shown = text[text.find("(") + 1:text.rfind(")")] if "(" in text else ""
    return f"{name}({shown})" if shown else name


@dataclass
class HostSplit:
    """Who runs what in ``main`` of a partitioned module: the one SpikeCore function and the host work after it."""

    spikecore: str
    host_work: list[str] = field(default_factory=list)


def split_host_work(mod: Any) -> HostSplit:
    """Classify ``main``'s calls: SpikeCore (``Codegen="spikecore"``) or host work (every other op call).

    Host work may only follow the SpikeCore function (softmax of the logits, an op with no pattern);
    raises :class:`SpikeCoreError` when nothing is offloaded, when host work separates SpikeCore layers,
    or when it runs before them (the chip reads the model input directly).
    """
    from tvm import ir

    offloaded = set(spikecore_functions(mod))
    calls: list[tuple[str, str]] = []   # (kind, description) in main's order
    for block in mod["main"].body.blocks:
        for binding in block.bindings:
            value = binding.value
            if not isinstance(value, ir.Call):
                continue   # tuples, tuple items: plumbing, not work
            if isinstance(value.op, ir.GlobalVar):
                name = value.op.name_hint
                calls.append(("spikecore" if name in offloaded else "host", name))
            elif isinstance(value.op, ir.Op):
                calls.append(("host", _describe_call(value)))
    kinds = [kind for kind, _ in calls]
    if "spikecore" not in kinds:
        ops = ", ".join(desc for _, desc in calls) or "nothing"
        raise SpikeCoreError(f"no SpikeCore layer found: the model computes {ops}; SpikeCore runs Linear and "
                             "Conv2d layers (with bias, ReLU, Flatten)")
    first, last = kinds.index("spikecore"), len(kinds) - 1 - kinds[::-1].index("spikecore")
    between = [desc for kind, desc in calls[first:last + 1] if kind == "host"]
    if between:
        raise SpikeCoreError(f"host work {', '.join(between)} separates SpikeCore layers: SpikeCore runs one chain "
                             "of layers, host work may only follow the last layer")
    if kinds.count("spikecore") > 1:
        raise SpikeCoreError(f"the partition has {kinds.count('spikecore')} SpikeCore functions "
                             f"({', '.join(d for k, d in calls if k == 'spikecore')}); SpikeCore compiles one chain")
    if first:
        before = ", ".join(desc for _, desc in calls[:first])
        raise SpikeCoreError(f"host work {before} runs on the model input before the first SpikeCore layer; "
                             "the chip reads the model input directly (do it before calling the model)")
    return HostSplit(calls[first][1], [desc for _, desc in calls[last + 1:]])


# --- stage 4: lowering a SpikeCore function to the float IR -----------------------------------------------


@dataclass(frozen=True)
class _Value:
    """A value inside the SpikeCore function: per-sample ``shape`` and the layer producing it (None: input)."""

    shape: tuple[int, ...]
    producer: str | None


def layer_labels(program: Any) -> list[tuple[str, str]]:
    """``(layer name, origin)`` of every Linear/Conv2d node of an exported program, in graph order.

    Relax keeps no module names, so the names come from torch.export's ``nn_module_stack`` with the same
    rule as :meth:`spikecore.compiler.frontends.torch.Lowering.layer_name` (the module path, or the graph
    node name for Sequential children): both frontends then print the same IR and listing.
    """
    labels: list[tuple[str, str]] = []
    taken = {node.name for node in program.graph.nodes if node.op == "placeholder"}
    for node in program.graph.nodes:
        if node.op != "call_function" or getattr(node.target, "__name__", "").split(".")[0] not in LAYER_OPS:
            continue
        stack = node.meta.get("nn_module_stack") or {}
        fqn = list(stack.values())[-1][0] if stack else ""
        what = "Conv2d" if "conv" in node.target.__name__ else "Linear"
        name = fqn.replace(".", "_") if fqn and not fqn.rsplit(".", 1)[-1].isdigit() else node.name
        base, k = name, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        labels.append((name, f"{what} '{fqn}'" if fqn else f"{what} node '{node.name}'"))
    return labels


def _const(expr: Any, values: dict) -> np.ndarray | None:
    """The numpy value of a Relax constant, looking through bindings and ``reshape``/``permute_dims``."""
    from tvm import ir

    expr = values.get(expr, expr)
    if isinstance(expr, ir.Constant):
        return expr.value.numpy()
    glue = ("relax.reshape", "relax.permute_dims")
    if isinstance(expr, ir.Call) and isinstance(expr.op, ir.Op) and expr.op.name in glue:
        inner = _const(expr.args[0], values)
        if inner is None:
            return None
        if expr.op.name == "relax.reshape":
            return inner.reshape(_shape(expr))
        axes = expr.attrs.axes
        return np.transpose(inner, None if axes is None else [int(a) for a in axes])
    return None


class _Lowerer:
    """State of lowering one SpikeCore function: the layers so far and what each Relax value is."""

    def __init__(self, input_name: str, labels: list[tuple[str, str]]) -> None:
        self.input_name = input_name
        self.labels = labels
        self.layers: list[DenseNode] = []

    def fail(self, composite: str, problem: str) -> SpikeCoreError:
        return SpikeCoreError(f"{composite}: {problem}")

    def add_dense(self, composite: str, source: _Value, weight: np.ndarray, bias: np.ndarray | None, relu: bool,
                  out_shape: tuple[int, ...], what: str) -> _Value:
        if source.producer is not None:
            producer = self.layers[-1]
            if producer.name != source.producer:
                raise self.fail(composite, "the model is not a chain of layers")
            if not producer.relu:
                raise self.fail(composite, f"it reads the output of layer '{producer.name}' ({producer.origin}), "
                                           "which has no ReLU; SpikeCore hidden layers emit rectified values: add a "
                                           "ReLU or merge the layers")
        index = len(self.layers)
        if index < len(self.labels):
            name, origin = self.labels[index]
        else:
            name, origin = f"{what.lower()}_{index}", f"{what} (Relax composite {composite})"
        bias = np.zeros(weight.shape[0]) if bias is None else bias
        self.layers.append(DenseNode(name, source.producer or self.input_name, weight.astype(np.float32),
                                     bias.astype(np.float32), relu=relu, origin=origin, out_shape=out_shape))
        return _Value(out_shape, name)

    def composite(self, kind: str, func: Any, args: list[_Value], out_shape: tuple[int, ...]) -> _Value:
        """Lower one composite function (``spikecore.<kind>``) applied to ``args``."""
        from tvm import ir

        values: dict = {}
        calls: dict[str, Any] = {}
        for block in func.body.blocks:
            for binding in block.bindings:
                values[binding.var] = binding.value
                if isinstance(binding.value, ir.Call):
                    calls.setdefault(getattr(binding.value.op, "name", ""), binding.value)
        x = args[0]
        name = f"{PATTERN_PREFIX}.{kind}"
        relu = "relu" in kind
        if kind == "reshape":
            if math.prod(out_shape) != math.prod(x.shape):
                raise self.fail(name, f"reshape of {x.shape} to {out_shape} changes the number of features")
            return _Value(out_shape, x.producer)
        if kind == "relu":
            if x.producer is None:
                raise self.fail(name, "ReLU on the model input is not supported; supported: ReLU after Linear or "
                                      "Conv2d")
            index = next(i for i, layer in enumerate(self.layers) if layer.name == x.producer)
            layer = self.layers[index]
            self.layers[index] = DenseNode(layer.name, layer.source, layer.weight, layer.bias, True, layer.origin,
                                           layer.out_shape)
            return x
        bias = None
        if "bias" in kind:
            constants = [_const(arg, values) for arg in calls["relax.add"].args]
            bias = next(c for c in constants if c is not None).astype(np.float64).reshape(-1)
        if kind.startswith("dense"):
            matmul = calls["relax.matmul"]
            w_t = _const(matmul.args[1], values)
            if w_t is None or w_t.ndim != 2:
                raise self.fail(name, "the matmul's right operand is not a constant matrix")
            weight = w_t.T.astype(np.float64)
            if x.shape != (weight.shape[1],):
                raise self.fail(name, f"Linear with weight {weight.shape} applied to a per-sample shape {x.shape}; "
                                      f"supported: a flat input of {weight.shape[1]} features (add a Flatten)")
            return self.add_dense(name, x, weight, bias, relu, (weight.shape[0],), "Linear")
        conv = calls["relax.nn.conv2d"]
        weight = _const(conv.args[1], values).astype(np.float64)
        attrs = conv.attrs
        layouts = (str(attrs.data_layout), str(attrs.kernel_layout), str(attrs.out_layout))
        if layouts != ("NCHW", "OIHW", "NCHW") or len(x.shape) != 3:
            raise self.fail(name, f"conv2d with layouts {layouts} on per-sample shape {x.shape}; supported: "
                                  "NCHW/OIHW on a (C, H, W) input")
        if int(attrs.groups) != 1:
            raise self.fail(name, f"Conv2d groups={int(attrs.groups)} is not supported; supported: groups=1")
        top, left, bottom, right = (int(p) for p in attrs.padding)
        if (top, left) != (bottom, right):
            raise self.fail(name, f"asymmetric padding {(top, left, bottom, right)} is not supported")
        stride = tuple(int(s) for s in attrs.strides)
        dilation = tuple(int(d) for d in attrs.dilation)
        matrix, conv_shape = toeplitz_conv2d(weight, x.shape, stride, (top, left), dilation)
        if bias is not None:
            bias = np.repeat(bias, conv_shape[1] * conv_shape[2])
        return self.add_dense(name, x, matrix, bias, relu, conv_shape, "Conv2d")


def lower_function(func: Any, labels: list[tuple[str, str]] | None = None, input_name: str | None = None
                   ) -> FloatGraph:
    """The float IR of one ``Codegen="spikecore"`` function (its composites, called in order).

    ``labels`` (:func:`layer_labels`) names the layers; without them they are ``linear_0``, ``conv2d_1``, ...
    ``input_name`` defaults to the function's parameter name. Raises :class:`SpikeCoreError` for what the
    torch.export walk also refuses (a hidden layer without ReLU, a Linear on an unflattened input, ...).
    """
    from tvm import ir, relax

    if len(func.params) != 1:
        raise SpikeCoreError(f"the SpikeCore function takes {len(func.params)} inputs; SpikeCore compiles chains "
                             "of layers with one input")
    param = func.params[0]
    shape = _shape(param)
    if shape is None or len(shape) < 2:
        raise SpikeCoreError(f"model input has shape {shape}; expected a batch dimension first")
    name = input_name or param.name
    layers = sum(str(value.attrs["Composite"]).startswith((f"{PATTERN_PREFIX}.dense", f"{PATTERN_PREFIX}.conv2d"))
                 for block in func.body.blocks for value in (b.value for b in block.bindings)
                 if isinstance(value, relax.Function))
    # Labels pair up with layers by order; a count mismatch (a layer op the labels do not know) would misname
    # them, so then every layer gets a generic name instead.
    lowerer = _Lowerer(name, labels if labels and len(labels) == layers else [])
    local: dict = {}
    values: dict = {param: _Value(shape[1:], None)}
    for block in func.body.blocks:
        for binding in block.bindings:
            value = binding.value
            if isinstance(value, relax.Function):
                local[binding.var] = value
            elif isinstance(value, ir.Call) and value.op in local:
                composite = local[value.op]
                kind = str(composite.attrs["Composite"]).removeprefix(f"{PATTERN_PREFIX}.")
                args = [values.get(arg) for arg in value.args]
                if not args or not all(isinstance(arg, _Value) for arg in args):
                    raise SpikeCoreError(f"{PATTERN_PREFIX}.{kind}: reads a value that is not a layer output")
                out = _shape(binding.var)
                values[binding.var] = lowerer.composite(kind, composite, args, out[1:] or (1,))
            else:
                raise SpikeCoreError(f"unexpected binding in the SpikeCore function: {type(value).__name__}")
    result = values.get(func.body.body)
    if not lowerer.layers or result is None or result.producer is None:
        raise SpikeCoreError("model has no layers: SpikeCore needs at least one Linear or Conv2d")
    if result.producer != lowerer.layers[-1].name:
        raise SpikeCoreError(f"the model output is not its last layer ('{lowerer.layers[-1].name}')")
    graph = FloatGraph(InputNode(name, shape[1:]), lowerer.layers)
    graph.check()
    return graph


# --- stage 5: RunCodegen with relax.ext.spikecore -----------------------------------------------------------


@dataclass
class CodegenRequest:
    """What a compile asks of :func:`spikecore_codegen` while ``RunCodegen`` runs, and what it got back.

    ``finish`` turns the float IR into a compiled program (the shared quantise/place/codegen passes) whose
    ``listing`` becomes the source module; without it the module holds the float IR dump.
    """

    labels: list[tuple[str, str]]
    input_name: str | None = None
    finish: Callable[[FloatGraph], Any] | None = None
    graphs: dict[str, FloatGraph] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    #: A SpikeCoreError raised inside the codegen (TVM's FFI re-raises it as a RuntimeError with a traceback).
    error: SpikeCoreError | None = None


_ACTIVE = threading.local()


def spikecore_codegen(functions: Any, options: Any, constant_names: Any) -> list[Any]:
    """``relax.ext.spikecore``: one TVM source module (SpikeCore assembly, format ``spikecore.s``) per function."""
    import tvm

    request: CodegenRequest = getattr(_ACTIVE, "request", None) or CodegenRequest([])
    source = tvm.get_global_func("runtime.SourceModuleCreate")
    modules = []
    for func in functions:
        symbol = str(func.attrs["global_symbol"])
        try:
            graph = lower_function(func, request.labels, request.input_name)
            request.graphs[symbol] = graph
            if request.finish is not None:
                request.results[symbol] = request.finish(graph)
        except SpikeCoreError as err:
            request.error = err
            raise
        text = request.results[symbol].listing if request.finish is not None else graph.dump()
        modules.append(source(text, "spikecore.s"))
    return modules


def _register_codegen() -> None:
    import tvm_ffi

    tvm_ffi.register_global_func("relax.ext.spikecore", spikecore_codegen, override=True)


def run_codegen(mod: Any, request: CodegenRequest) -> Any:
    """``relax.transform.RunCodegen`` with :func:`spikecore_codegen` serving ``request``; the lowered module."""
    _require_tvm()
    from tvm import relax

    _register_codegen()
    _ACTIVE.request = request
    try:
        return relax.transform.RunCodegen()(mod)
    except Exception:
        if request.error is not None:
            raise request.error from None
        raise
    finally:
        _ACTIVE.request = None


@dataclass
class TvmCompile:
    """Every stage of one TVM-frontend compile, for ``--dump-ir partition`` and the walkthrough notebook."""

    relax: Any
    partitioned: Any
    split: HostSplit
    lowered: Any
    float_graph: FloatGraph
    result: Any


def compile_tvm(program: Any, finish: Callable[[FloatGraph], Any] | None = None) -> TvmCompile:
    """Run stages 1–5 on an ``ExportedProgram``; ``finish(float_graph)`` is the rest of the compiler."""
    relax_mod = to_relax(program)
    partitioned = partition(relax_mod)
    split = split_host_work(partitioned)
    inputs = [spec.arg.name for spec in program.graph_signature.input_specs if spec.kind.name == "USER_INPUT"]
    if len(inputs) != 1:
        raise SpikeCoreError(f"the model must take exactly one input tensor, it takes {len(inputs)}")
    request = CodegenRequest(layer_labels(program), inputs[0], finish)
    lowered = run_codegen(partitioned, request)
    graph = request.graphs[split.spikecore]
    return TvmCompile(relax_mod, partitioned, split, lowered, graph, request.results.get(split.spikecore))
