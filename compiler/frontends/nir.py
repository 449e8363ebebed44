"""NIR frontend: a NIR graph (``nir.NIRGraph`` or a ``.nir`` file) to the float IR (:class:`FloatGraph`).

NIR (the Neuromorphic Intermediate Representation) describes a spiking network as a graph of
continuous-time nodes. SpikeCore compiles *chains*: one ``Input``, then linear nodes and neuron nodes in
any order, then one ``Output``. The walk keeps one pending affine map ``y = M x + b`` of the signal since
the last neuron (or the input) and folds every linear node into it:

- ``Affine`` (``W x + b``), ``Linear`` (``W x``), ``Scale`` (``s ⊙ x``): compose with ``M`` and ``b``;
- ``Conv2d``, ``SumPool2d``, ``AvgPool2d``: their dense (Toeplitz) matrices (:mod:`~spikecore.compiler.toeplitz`);
  whether they fit the chip is decided by placement, which gives each core only its receptive fields;
- ``Flatten``: relabels the shape (row-major order is unchanged).

A neuron node (``IF``, ``LIF``, ``LI``, ``I``, ``Threshold``, ``CubaLIF``) closes the map: it becomes one
:class:`DenseNode` with weight ``M``, bias ``b`` and a :class:`NeuronModel` holding its parameters. A
neuron right after another (or after the input) gets the identity matrix. Linear nodes left before the
``Output`` become a last layer of kind ``Affine``: the host reads its current ``W x + b`` each step.

Recurrent edges (the edges that close a cycle, found as the float reference finds them): a path of linear
nodes from a spiking neuron node back into itself composes into the layer's ``recurrent`` matrix (its bias
joins the layer's bias); the chip delivers the layer's spikes of step t at step t + 1 (docs/spec.md §11).
A path from a *later* spiking neuron node ``m`` back into neuron node ``k`` composes the same way into
layer ``k``'s ``recurrent`` (with ``recurrent_source = m``); the program then runs ``m - k + 1`` chip steps
per input step (``QuantGraph.period``, docs/spec.md §2, §11).

Anything else is one :class:`SpikeCoreError` line naming the node and its type: an unsupported node
(``CubaLI``, ``Delay``, ``Conv1d``, a nested ``NIRGraph``), a recurrent edge into a linear node, a layer with
recurrent edges from two different neuron nodes, a branch or a merge.
The discretisation (``dt``, fixed point) is :mod:`~spikecore.compiler.nir.discretize`'s job.

Settings a graph can carry in its metadata (written by :mod:`~spikecore.compiler.nir.export`, honoured here):
graph ``dt`` (seconds per step), ``spikecore_input_max`` (the largest input magnitude),
``spikecore_chip`` (a ``--chip`` string) and ``spikecore_fine_weights`` (compile with fine weights); neuron
node ``reset``
(``value`` or ``subtract``) and ``spikecore_membrane_unit`` (float per neuron).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from spikecore.compiler.back_edges import back_edges
from spikecore.compiler.ir import RESETS, DenseNode, FloatGraph, InputNode, NeuronModel
from spikecore.compiler.toeplitz import (
    check_layer_size,
    check_matrix_size,
    conv2d_output_shape,
    sum_pool2d_matrix,
    toeplitz_conv2d_sparse,
)
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.grammar import quote
from spikecore.isa import AXON_MAX, MAX_CORES
from spikecore.wording import article, shown

LINEAR_TYPES = ("Affine", "Linear", "Scale", "Flatten", "Conv2d", "SumPool2d", "AvgPool2d")
NEURON_TYPES = ("IF", "LIF", "LI", "I", "Threshold", "CubaLIF")
SUPPORTED_TYPES = ("Input", "Output", *LINEAR_TYPES, *NEURON_TYPES)
#: Metadata keys (graph level, then node level).
DT_KEY, CHIP_KEY, INPUT_MAX_KEY, FINE_KEY = "dt", "spikecore_chip", "spikecore_input_max", "spikecore_fine_weights"
RESET_KEY, UNIT_KEY = "reset", "spikecore_membrane_unit"
#: The input magnitude sent as payload 127 when neither the graph nor the caller says: spike inputs.
DEFAULT_INPUT_MAX = 1.0
#: Most input features a graph may have: every axon of the largest chip.
MAX_INPUT_FEATURES = MAX_CORES * (AXON_MAX + 1)
#: Largest array a NIR file may hold (checked in the file, before nir.read loads it).
MAX_DATASET_BYTES = 256 * 2**20


def type_name(node: Any) -> str:
    return type(node).__name__


def _check_datasets(path: str) -> None:
    """Refuse a file holding an array larger than :data:`MAX_DATASET_BYTES` before ``nir.read`` loads it."""
    import h5py

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset) and item.size * item.dtype.itemsize > MAX_DATASET_BYTES:
            raise SpikeCoreError(f"NIR file {path}: array {name} of shape {item.shape} holds "
                                 f"{item.size * item.dtype.itemsize / 2**20:.0f} MiB, more than "
                                 f"{MAX_DATASET_BYTES // 2**20} MiB")

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except SpikeCoreError:
        raise
    except Exception as err:  # not HDF5, truncated, ...: h5py raises many types
        raise SpikeCoreError(f"NIR file {path}: cannot read ({type(err).__name__}: {err})") from None


def read_nir(path: str | os.PathLike[str]):
    """``nir.read`` of ``path`` (without NIR's own type inference: this frontend checks shapes itself).

    Array sizes are checked in the file before any is loaded (:data:`MAX_DATASET_BYTES`).
    """
    import nir

    path = os.fspath(path)
    if not os.path.exists(path):
        raise SpikeCoreError(f"NIR file {path}: not found")
    _check_datasets(path)
    try:
        return nir.read(path, type_check=False)
    except Exception as err:  # h5py and nir raise many types; one line says which
        raise SpikeCoreError(f"NIR file {path}: cannot read ({type(err).__name__}: {err})") from None


def _metadata_value(metadata: Any, key: str) -> Any:
    return metadata.get(key) if isinstance(metadata, dict) else None


def _scalar(value: Any, what: str) -> float:
    try:
        number = float(np.asarray(value, dtype=np.float64).reshape(-1)[0]) if np.size(value) == 1 else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise SpikeCoreError(f"{what} must be one finite positive number, not {shown(value)}")
    return number


def resolve_dt(graph, dt: float | None) -> float:
    """The step ``dt`` in seconds: the graph's metadata ``dt`` when present, else the ``dt`` given.

    Both present and different is an error (the graph was made for its own dt); neither is an error too.
    """
    stored = _metadata_value(graph.metadata, DT_KEY)
    if stored is not None:
        value = _scalar(stored, "the graph's metadata dt")
        dtype = np.asarray(stored).dtype
        tolerance = max(1e-9, 2 * float(np.finfo(dtype).eps)) if dtype.kind == "f" else 1e-9
        if dt is not None and not math.isclose(dt, value, rel_tol=tolerance):
            raise SpikeCoreError(f"--dt {dt:g} contradicts the graph's metadata dt {value:g}; drop --dt")
        return value
    if dt is None:
        raise SpikeCoreError("the NIR graph has no 'dt' in its metadata: give the step with --dt SECONDS "
                             "(graphs exported by snnTorch use dt = 1e-4)")
    return _scalar(dt, "--dt")


def resolve_input_max(graph, input_max: float | None, data: Any = None, percentile: float = 100.0) -> float:
    """The largest input magnitude: the graph's metadata value when present (a different ``input_max`` is an
    error), else ``input_max``, else the ``percentile`` (100 = max) of ``|data|`` when data is given and not all
    zero (event counts per bin can exceed 1), else 1 (spike inputs)."""
    stored = _metadata_value(graph.metadata, INPUT_MAX_KEY)
    if stored is not None:
        value = _scalar(stored, f"the graph's metadata {INPUT_MAX_KEY}")
        if input_max is not None and not math.isclose(input_max, value, rel_tol=1e-9):
            raise SpikeCoreError(f"--input-max {input_max:g} contradicts the graph's metadata {INPUT_MAX_KEY} "
                                 f"{value:g}; drop --input-max")
        return value
    if input_max is not None:
        return _scalar(input_max, "--input-max")
    if data is not None:
        if not 0 < percentile <= 100:
            raise SpikeCoreError(f"percentile must be in (0, 100], not {percentile!r}")
        values = np.abs(np.asarray(data, dtype=np.float64))
        if values.size and not np.isfinite(values).all():
            raise SpikeCoreError("the input data holds NaN or infinity")
        values = values[values > 0]   # zeros (no event) need no range; sparse spikes would give percentile 0
        largest = float(np.percentile(values, percentile)) if values.size else 0.0
        if largest > 0:
            return largest
    return DEFAULT_INPUT_MAX


def resolve_fine_weights(graph, fine_weights: bool | None) -> bool:
    """Whether to compile with fine weights: the graph's metadata when it says (a different ``fine_weights``
    is an error), else ``fine_weights``, else no. Raises SpikeCoreError for a ``fine_weights`` not a bool
    or None (``"no"`` or ``1`` must not read as yes)."""
    if fine_weights is not None and not isinstance(fine_weights, bool):
        raise SpikeCoreError(f"fine_weights must be True, False or None, not {fine_weights!r}")
    stored = _metadata_value(graph.metadata, FINE_KEY)
    if stored is not None:
        array = np.asarray(stored).reshape(-1)
        if array.size != 1 or array.dtype.kind not in "biu" or array[0] not in (0, 1):
            raise SpikeCoreError(f"the graph's metadata {FINE_KEY} must be one boolean, not {shown(stored)}")
        value = bool(array[0])
        if fine_weights is not None and fine_weights != value:
            raise SpikeCoreError(f"fine_weights={fine_weights} contradicts the graph's metadata {FINE_KEY}={value}; "
                                 "leave it out")
        return value
    return bool(fine_weights)


def graph_chip(graph) -> str | None:
    """The ``--chip`` string stored in the graph's metadata by the exporter, if any."""
    value = _metadata_value(graph.metadata, CHIP_KEY)
    return None if value is None else str(value)


@dataclass
class _Pending:
    """The affine map from the last neuron's (or the input's) output to the current signal."""

    shape: tuple[int, ...]
    matrix: np.ndarray | None   # None = identity over ``features_in``
    bias: np.ndarray
    nodes: list[str]            # "Type 'name'" of the folded linear nodes
    last: str | None = None     # name of the last linear node folded
    flatten: str | None = None  # how the last Flatten changed the shape, while nothing was folded after it
    plan: bool = False          # shapes only (the capacity pass): no matrix is built or composed

    def apply(self, matrix, bias: np.ndarray | None, shape: tuple[int, ...], label: str, name: str) -> None:
        """Compose ``matrix`` (numpy, or scipy sparse for convolutions and poolings) after the pending map."""
        if not self.plan:
            self.matrix = matrix if self.matrix is None else matrix @ self.matrix
            self.bias = np.asarray(matrix @ self.bias).reshape(-1) + (0.0 if bias is None else bias)
        self.shape = shape
        self.nodes.append(label)
        self.last = name
        self.flatten = None


@dataclass
class _Loop:
    """A recurrent edge: neuron node ``target``'s spikes return to it through the linear ``nodes`` (in order)."""

    target: str
    nodes: list[str]
    source: str = ""      # the neuron node whose spikes return (the target itself when empty)

    @property
    def origin(self) -> str:
        return self.source or self.target


def _loops(graph, succ: dict[str, list[str]], pred: dict[str, list[str]]) -> list[_Loop]:
    """The recurrent edges (the edges that close a cycle, found as the float reference finds them), each as the
    path of linear nodes from a neuron node back into itself; they are removed from ``succ`` and ``pred``.
    Anything else that closes a cycle is one error."""
    nodes = graph.nodes
    roots = [n for n, node in nodes.items() if type_name(node) == "Input"] + list(nodes)
    loops = []
    for src, dst in back_edges(succ, roots):
        kinds = f"{type_name(nodes[src])} -> {type_name(nodes[dst])}"
        where = f"recurrent edge '{src}' -> '{dst}' ({kinds})"
        if type_name(nodes[dst]) not in NEURON_TYPES:
            raise SpikeCoreError(f"{where}: it ends at {article(type_name(nodes[dst]))} node; SpikeCore compiles "
                                 "recurrent edges into a neuron node")
        if type_name(nodes[dst]) in ("LI", "I"):
            raise SpikeCoreError(f"{where}: {type_name(nodes[dst])} neurons emit no spikes to feed back; SpikeCore "
                                 "compiles recurrent edges of spiking neurons (IF, LIF, CubaLIF, Threshold)")
        chain, origin = [], src
        while type_name(nodes[origin]) in LINEAR_TYPES:
            if len(pred[origin]) != 1 or len(succ[origin]) != 1 or origin in chain:
                raise SpikeCoreError(f"{where}: its linear node '{origin}' has {len(pred[origin])} inputs and "
                                     f"{len(succ[origin])} outputs; a recurrent path is one chain of linear nodes "
                                     "from a neuron node")
            chain.insert(0, origin)
            origin = pred[origin][0]
        if origin != dst and type_name(nodes[origin]) not in ("IF", "LIF", "CubaLIF", "Threshold"):
            raise SpikeCoreError(f"{where}: it carries the output of '{origin}' ({type_name(nodes[origin])}) into "
                                 f"another neuron node; SpikeCore compiles recurrent edges from spiking neurons "
                                 "(IF, LIF, CubaLIF, Threshold)")
        loops.append(_Loop(dst, chain, "" if origin == dst else origin))
        succ[src].remove(dst)
        pred[dst].remove(src)
        if chain:   # the source neuron's edge into its recurrent path
            succ[origin].remove(chain[0])
            pred[chain[0]].remove(origin)
    return loops


def _chain(graph) -> tuple[list[str], list[_Loop]]:
    """Node names from the Input to the Output, and the recurrent loops; one clear error for anything that is
    not such a chain."""
    nodes = graph.nodes
    for name, node in nodes.items():
        kind = type_name(node)
        if kind not in SUPPORTED_TYPES:
            extra = (" (a nested subgraph: flatten it into the graph, as snnTorch's export with nirtorch 2 writes "
                     "recurrent layers)") if kind == "NIRGraph" else ""
            raise SpikeCoreError(f"node '{name}' of type {kind}{extra} is not supported; supported node types: "
                                 f"{', '.join(SUPPORTED_TYPES)}")
    succ: dict[str, list[str]] = {name: [] for name in nodes}
    pred: dict[str, list[str]] = {name: [] for name in nodes}
    for edge in graph.edges:
        src, dst = (str(x) for x in edge)
        for end in (src, dst):
            if end not in nodes:
                raise SpikeCoreError(f"edge '{src}' -> '{dst}' names node '{end}', which the graph does not have")
        succ[src].append(dst)
        pred[dst].append(src)
    loops = _loops(graph, succ, pred)
    inputs = [n for n, node in nodes.items() if type_name(node) == "Input"]
    outputs = [n for n, node in nodes.items() if type_name(node) == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise SpikeCoreError(f"the graph has {len(inputs)} Input and {len(outputs)} Output nodes; SpikeCore compiles "
                             "graphs with exactly one of each")
    for name in nodes:
        if len(succ[name]) > 1:
            raise SpikeCoreError(f"node '{name}' ({type_name(nodes[name])}) feeds {len(succ[name])} nodes "
                                 f"({', '.join(repr(s) for s in succ[name])}); SpikeCore compiles chains")
        if len(pred[name]) > 1:
            raise SpikeCoreError(f"node '{name}' ({type_name(nodes[name])}) reads {len(pred[name])} nodes "
                                 f"({', '.join(repr(p) for p in pred[name])}); SpikeCore compiles chains")
    path = [inputs[0]]
    while succ[path[-1]]:
        path.append(succ[path[-1]][0])
    if path[-1] != outputs[0]:
        raise SpikeCoreError(f"the path from input '{inputs[0]}' ends at node '{path[-1]}' "
                             f"({type_name(nodes[path[-1]])}), not at the output '{outputs[0]}'")
    looped = {name for loop in loops for name in loop.nodes}
    stray = [n for n in nodes if n not in path and n not in looped]
    if stray:
        raise SpikeCoreError(f"node '{stray[0]}' ({type_name(nodes[stray[0]])}) is not on the path from the input "
                             "to the output")
    return path, loops


#: Fields that must be finite (weights and biases); tau and r may be inf (snnTorch's beta = 1 export, an IF).
FINITE_FIELDS = ("weight", "bias", "scale", "w_in")


def _array(node: Any, name: str, field_name: str) -> np.ndarray:
    """A node's field as float64, refused in one line naming the NIR node and field when it is missing, not
    numeric, holds NaN (or infinity, in :data:`FINITE_FIELDS`) or subnormal values."""
    value = getattr(node, field_name, None)
    if value is None:
        raise SpikeCoreError(f"{type_name(node)} '{name}': field {field_name} is missing")
    try:
        array = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise SpikeCoreError(f"{type_name(node)} '{name}': field {field_name} is not numeric ({err})") from None
    if np.isnan(array).any() or (field_name in FINITE_FIELDS and np.isinf(array).any()):
        what = "NaN" if np.isnan(array).any() else "infinity"
        raise SpikeCoreError(f"{type_name(node)} '{name}': field {field_name} holds {what}")
    finite = array[np.isfinite(array) & (array != 0)]
    if finite.size and np.abs(finite).min() < np.finfo(np.float64).tiny:
        # A subnormal value has no int8 step (max|w| / 127 underflows to 0): refuse it rather than divide by 0.
        raise SpikeCoreError(f"{type_name(node)} '{name}': field {field_name} holds subnormal values (smallest "
                             f"magnitude {np.abs(finite).min():g}); flush them to zero")
    return array


def _per_neuron(node: Any, name: str, field_name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A neuron parameter as one float per neuron (a scalar is broadcast; a shaped array is flattened)."""
    array = _array(node, name, field_name)
    features = math.prod(shape)
    if array.size == 1:
        return np.full(features, float(array.reshape(-1)[0]))
    if array.size != features:
        raise SpikeCoreError(f"{type_name(node)} '{name}': field {field_name} has {array.size} values for "
                             f"{features} neurons (its input has shape {shape})")
    return array.reshape(-1).copy()


def _whole(value: Any, limit: int = 10**9) -> int | None:
    """``value`` as an int if it is a finite whole number below ``limit`` in magnitude (no bool, no string)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    if not np.isfinite(value) or value != int(value) or abs(value) >= limit:
        return None
    return int(value)


def _pair(value: Any, name: str, node: Any, field_name: str, low: int = 0) -> tuple[int, int]:
    """One or two integers >= ``low`` (a stride or dilation needs 1 or more; padding 0 or more)."""
    values = np.asarray(value).reshape(-1).tolist() if not isinstance(value, str | bytes) else [value]
    if len(values) == 1:
        values = values * 2
    whole = [_whole(v) for v in values]
    if len(values) != 2 or any(v is None or v < low for v in whole):
        raise SpikeCoreError(f"{type_name(node)} '{name}': {field_name}={quote(shown(value))} must be one or two "
                             f"integers of at least {low}")
    return whole[0], whole[1]  # type: ignore[return-value]


def _conv_padding(node: Any, name: str, kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    padding = node.padding
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        span = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        if padding != "same" or any(s % 2 for s in span):
            raise SpikeCoreError(f"Conv2d '{name}': padding={padding!r} is supported only as 'valid', or 'same' with "
                                 "an odd (dilated) kernel")
        return span[0] // 2, span[1] // 2
    return _pair(padding, name, node, "padding")


def _image_shape(pending: _Pending, node: Any, name: str) -> tuple[int, int, int]:
    if len(pending.shape) != 3:
        raise SpikeCoreError(f"{type_name(node)} '{name}' needs a (channels, height, width) input, its input has "
                             f"shape {pending.shape}")
    return pending.shape  # type: ignore[return-value]


def _fold_linear(pending: _Pending, node: Any, name: str) -> None:
    kind = type_name(node)
    label = f"{kind} '{name}'"
    features = math.prod(pending.shape)
    if kind in ("Affine", "Linear"):
        weight = _array(node, name, "weight")
        if weight.ndim != 2:
            raise SpikeCoreError(f"{label}: weight of shape {weight.shape} is not a 2-D (out, in) matrix")
        if weight.size == 0:
            raise SpikeCoreError(f"{label}: weight of shape {weight.shape} is empty (a zero-size layer)")
        if len(pending.shape) != 1:
            if pending.flatten:
                raise SpikeCoreError(f"{label} reads shape {pending.shape} from {pending.flatten}; NIR counts "
                                     "Flatten dimensions without the batch: use start_dim=0 to flatten everything")
            raise SpikeCoreError(f"{label} reads shape {pending.shape}; add a Flatten before it")
        if weight.shape[1] != features:
            raise SpikeCoreError(f"{label} takes {weight.shape[1]} inputs, its input has {features} features")
        bias = _array(node, name, "bias").reshape(-1) if kind == "Affine" else None
        if bias is not None and bias.size != weight.shape[0]:
            raise SpikeCoreError(f"{label}: bias has {bias.size} values for {weight.shape[0]} outputs")
        pending.apply(weight, bias, (weight.shape[0],), label, name)
    elif kind == "Scale":
        scale = _per_neuron(node, name, "scale", pending.shape)
        pending.apply(sparse.diags_array(scale).tocsr(), None, pending.shape, label, name)
    elif kind == "Flatten":
        before = pending.shape
        pending.shape, pending.last = _flatten(pending.shape, node, name), name
        pending.nodes.append(label)
        start = int(np.asarray(getattr(node, "start_dim", 0)).reshape(-1)[0])
        end = int(np.asarray(getattr(node, "end_dim", -1)).reshape(-1)[0])
        pending.flatten = (f"Flatten '{name}' (start_dim={start}, end_dim={end} on its input of shape {before} "
                           f"gives {pending.shape})")
    elif kind == "Conv2d":
        in_shape = _image_shape(pending, node, name)
        weight = _array(node, name, "weight")
        if weight.ndim != 4:
            raise SpikeCoreError(f"{label}: weight of shape {weight.shape} is not (out, in/groups, kh, kw)")
        declared = getattr(node, "input_shape", None)
        if declared is not None and tuple(int(d) for d in np.asarray(declared).reshape(-1)) != in_shape[1:]:
            raise SpikeCoreError(f"{label}: input_shape {tuple(np.asarray(declared).tolist())} does not match its "
                                 f"input {in_shape[1:]}")
        kernel = (weight.shape[2], weight.shape[3])
        if weight.size == 0:
            raise SpikeCoreError(f"{label}: weight of shape {weight.shape} is empty (a zero-size layer)")
        dilation = _pair(node.dilation, name, node, "dilation", low=1)
        stride = _pair(node.stride, name, node, "stride", low=1)
        padding = _conv_padding(node, name, kernel, dilation)
        groups_values = np.asarray(node.groups).reshape(-1).tolist()
        groups = _whole(groups_values[0]) if len(groups_values) == 1 else None
        if groups is None or groups < 1:
            raise SpikeCoreError(f"{label}: groups={quote(shown(node.groups))} must be one integer of at least 1")
        try:
            out_shape = conv2d_output_shape(weight.shape, in_shape, stride, padding, dilation, groups)
            matrix = None if pending.plan else toeplitz_conv2d_sparse(weight, in_shape, stride, padding, dilation,
                                                                      groups)[0]
        except SpikeCoreError as err:
            raise SpikeCoreError(f"{label}: {err}") from None
        bias = np.repeat(_array(node, name, "bias").reshape(-1), out_shape[1] * out_shape[2])
        if bias.size != math.prod(out_shape):
            raise SpikeCoreError(f"{label}: bias must have one value per output channel ({out_shape[0]})")
        pending.apply(matrix, bias, out_shape, label, name)
    elif kind in ("SumPool2d", "AvgPool2d"):
        in_shape = _image_shape(pending, node, name)
        kernel = _pair(node.kernel_size, name, node, "kernel_size", low=1)
        stride = _pair(node.stride, name, node, "stride", low=1)
        padding = _pair(node.padding, name, node, "padding")
        try:
            out_shape = conv2d_output_shape((in_shape[0], 1, *kernel), in_shape, stride, padding, (1, 1), in_shape[0])
            matrix = None if pending.plan else sum_pool2d_matrix(in_shape, kernel, stride, padding, as_sparse=True)[0]
        except SpikeCoreError as err:
            raise SpikeCoreError(f"{label}: {err}") from None
        if kind == "AvgPool2d" and matrix is not None:
            matrix = matrix / (kernel[0] * kernel[1])
        pending.apply(matrix, None, out_shape, label, name)
    else:  # pragma: no cover - _chain only lets supported types through
        raise SpikeCoreError(f"node '{name}' of type {kind} is not supported")


def _flatten(shape: tuple[int, ...], node: Any, name: str) -> tuple[int, ...]:
    """NIR Flatten (dimensions count without the batch, as NIR stores them)."""
    rank = len(shape)
    start = int(np.asarray(getattr(node, "start_dim", 0)).reshape(-1)[0])
    end = int(np.asarray(getattr(node, "end_dim", -1)).reshape(-1)[0])
    start, end = start + rank if start < 0 else start, end + rank if end < 0 else end
    if not 0 <= start <= end < rank:
        raise SpikeCoreError(f"Flatten '{name}': dims {start}..{end} do not fit its input of shape {shape}")
    return (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])


def _reset_of(node: Any, name: str, reset: str | None) -> str:
    """Reset mode of a neuron node: its metadata ``reset`` if any, else ``reset``, else NIR's ``value``."""
    stored = _metadata_value(getattr(node, "metadata", None), RESET_KEY)
    if stored is not None:
        stored = stored.decode() if isinstance(stored, bytes) else str(stored)
        if stored not in RESETS:
            raise SpikeCoreError(f"{type_name(node)} '{name}': metadata reset {stored!r} must be one of "
                                 f"{', '.join(RESETS)}")
        if reset is not None and reset != stored:
            raise SpikeCoreError(f"--reset {reset} contradicts {type_name(node)} '{name}' metadata reset {stored}; "
                                 "drop --reset")
        return stored
    return reset or "value"


def _unit_of(node: Any, name: str, features: int) -> np.ndarray | None:
    stored = _metadata_value(getattr(node, "metadata", None), UNIT_KEY)
    if stored is None:
        return None
    unit = np.asarray(stored, dtype=np.float64).reshape(-1)
    if unit.size != features or not (np.isfinite(unit) & (unit > 0)).all():
        raise SpikeCoreError(f"{type_name(node)} '{name}': metadata {UNIT_KEY} must hold {features} finite positive "
                             "numbers")
    return unit


def _neuron_model(node: Any, name: str, shape: tuple[int, ...], reset: str | None) -> NeuronModel:
    kind = type_name(node)
    fields = {"IF": ("r", "v_threshold", "v_reset"), "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
              "LI": ("tau", "r", "v_leak"), "I": ("r",), "Threshold": ("threshold",),
              "CubaLIF": ("tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in")}[kind]
    values = {f: _per_neuron(node, name, f, shape) for f in fields}
    if "threshold" in values:
        values["v_threshold"] = values.pop("threshold")
    if "tau_mem" in values:   # the membrane time constant is `tau` in the IR, as for LIF
        values["tau"] = values.pop("tau_mem")
    mode = _reset_of(node, name, reset) if kind in ("IF", "LIF", "CubaLIF") else "value"
    return NeuronModel(kind, name, reset=mode, membrane_unit=_unit_of(node, name, math.prod(shape)),
                       precision=_stored_precision(node, fields), **values)


def _stored_precision(node: Any, fields: tuple[str, ...]) -> float:
    """Machine epsilon of the coarsest floating dtype among the node's ``fields`` as stored (float64 if none)."""
    eps = float(np.finfo(np.float64).eps)
    for field_name in fields:
        dtype = getattr(getattr(node, field_name, None), "dtype", None)
        if getattr(dtype, "is_floating_point", False):   # a torch tensor left in the node
            import torch

            eps = max(eps, float(torch.finfo(dtype).eps))
        elif isinstance(dtype, np.dtype) and dtype.kind == "f":
            eps = max(eps, float(np.finfo(dtype).eps))
    return eps


def _without_batch(shape: tuple[int, ...], after: list[Any]) -> tuple[int, ...]:
    """The Input shape without a leading batch dimension of 1 that an exporter kept (NIRTorch#17, snnTorch with
    a batched sample): dropped when the first node that cares about the rank (after any Flatten, whose
    dimensions then count from the sample) reads one dimension fewer (Affine, Linear: 1; Conv2d and the
    poolings: 3). A (1, H, W) single-channel image before a Conv2d is rank 3 and keeps its channel."""
    if len(shape) < 2 or shape[0] != 1:
        return shape
    first = next((node for node in after if type_name(node) != "Flatten"), None)
    rank = {"Affine": 1, "Linear": 1, "Conv2d": 3, "SumPool2d": 3, "AvgPool2d": 3}.get(type_name(first))
    if first is None or rank is None or any(type_name(n) == "Flatten" for n in after[:after.index(first)]):
        return shape
    return shape[1:] if len(shape) == rank + 1 else shape


def _plan(path: list[str], nodes: dict, shape: tuple[int, ...], config: ChipConfig | None) -> None:
    """The capacity pass: every layer's shape from the node shapes alone, each refused
    (:func:`~spikecore.compiler.toeplitz.check_layer_size`) before any matrix is built."""
    pending = _Pending(shape, None, np.zeros(0), [], plan=True)
    in_features = math.prod(shape)
    for name in path[1:-1]:
        node = nodes[name]
        kind = type_name(node)
        if kind in LINEAR_TYPES:
            _fold_linear(pending, node, name)
            continue
        features = math.prod(pending.shape)
        check_layer_size(f"layer '{name}' ({' + '.join([*pending.nodes, f'{kind} {name!r}'])})", features,
                         in_features, config)
        in_features = features
        pending = _Pending(pending.shape, None, np.zeros(0), [], plan=True)
    if pending.nodes:
        check_layer_size(f"layer '{pending.last}' ({' + '.join(pending.nodes)})", math.prod(pending.shape),
                         in_features, config)


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix, dtype=np.float64)


def _input_shape(name: str, value: Any) -> tuple[int, ...]:
    """The Input node's shape: positive whole numbers (a float is refused, never truncated), of a size the
    largest chip could take (checked before anything of that size is allocated)."""
    raw = np.asarray(value).reshape(-1).tolist() if not isinstance(value, str | bytes) else [value]
    dims = [_whole(d, 10**18) for d in raw]
    if not dims or any(d is None or d < 1 for d in dims):
        raise SpikeCoreError(f"Input '{name}': shape {quote(shown(value))} must be one or more positive integers")
    shape = tuple(dims)  # type: ignore[arg-type]
    features = math.prod(shape)
    if features > MAX_INPUT_FEATURES:
        raise SpikeCoreError(f"Input '{name}': shape {shape} has {features} features, more than the "
                             f"{MAX_INPUT_FEATURES} axons of the largest chip")
    return shape


def _recurrent(nodes: dict, name: str, shape: tuple[int, ...], loops: list[_Loop],
               source_shape: tuple[int, ...] | None = None) -> tuple[np.ndarray | None, np.ndarray]:
    """The ``(out, source out)`` weights and the bias of neuron node ``name``'s recurrent loops (their linear
    nodes composed, summed over the loops; identity for a direct edge), or ``(None, 0)`` without loops.
    ``source_shape``: the output shape of the loops' source when it is another (later) neuron node.

    The bias of a recurrent Affine is part of the input current from step 0 on, as if the spikes before
    step 0 were zeros (snnTorch's RSynaptic; docs/spec.md §11)."""
    features = math.prod(shape)
    if not loops:
        return None, np.zeros(features)
    source_shape = shape if source_shape is None else source_shape
    sources = math.prod(source_shape)
    if max(features, sources) > AXON_MAX + 1:
        raise SpikeCoreError(f"{type_name(nodes[name])} '{name}': a recurrent layer of {features} neurons reads each "
                             f"of {sources} neurons on an axon, a core has at most {AXON_MAX + 1}")
    total, bias = np.zeros((features, sources)), np.zeros(features)
    for loop in loops:
        pending = _Pending(source_shape, None, np.zeros(sources), [])
        for node_name in loop.nodes:
            _fold_linear(pending, nodes[node_name], node_name)
        if math.prod(pending.shape) != features:
            path = " -> ".join([loop.origin, *loop.nodes, name])
            raise SpikeCoreError(f"recurrent path {path} gives {math.prod(pending.shape)} values for the {features} "
                                 f"neurons of '{name}'")
        if pending.matrix is None and sources != features:
            raise SpikeCoreError(f"recurrent edge '{loop.origin}' -> '{name}' joins {sources} neurons to {features}")
        total += np.eye(features) if pending.matrix is None else _dense(pending.matrix)
        bias += pending.bias
    return total, bias


def _cross_loops(nodes: dict, layers: list[DenseNode], loops: list[_Loop]) -> list[DenseNode]:
    """``layers`` with the recurrent edges from a later spiking layer into an earlier one folded into the earlier
    layer's ``recurrent`` (``recurrent_source`` names the later layer). One source per layer: a layer with
    loops from two different neuron nodes (itself included) is one error."""
    index = {layer.name: k for k, layer in enumerate(layers)}
    result = list(layers)
    for k, layer in enumerate(layers):
        mine = [loop for loop in loops if loop.target == layer.name]
        origins = sorted({loop.origin for loop in mine})
        if len(origins) > 1:
            raise SpikeCoreError(f"{type_name(nodes[layer.name])} '{layer.name}': recurrent edges from "
                                 f"{' and '.join(repr(o) for o in origins)}; SpikeCore compiles the recurrence of a "
                                 "layer from one neuron node (itself or one later layer)")
        if not origins or origins[0] == layer.name:
            continue
        source = origins[0]
        if source not in index or index[source] <= k:
            raise SpikeCoreError(f"recurrent edge '{source}' -> '{layer.name}': '{source}' is not a later layer of "
                                 "the chain")
        recurrent, bias = _recurrent(nodes, layer.name, layer.out_shape, mine, layers[index[source]].out_shape)
        origin = layer.origin + " + recurrent from " + " + ".join(
            f"{type_name(nodes[n])} '{n}'" for loop in mine for n in [source, *loop.nodes])
        result[k] = dataclasses.replace(layer, bias=layer.bias + bias, origin=origin, recurrent=recurrent,
                                        recurrent_source=source)
    return result


def from_nir(graph, reset: str | None = None, config: ChipConfig | None = None) -> FloatGraph:
    """The float IR of a NIR graph (``nir.NIRGraph``); ``reset`` (``value``/``subtract``) applies to IF and
    LIF nodes whose metadata does not say (see the module docstring). ``config`` (default: the product chip):
    a layer with more neurons than the chip is refused from the shapes, before any matrix is built."""
    if reset is not None and reset not in RESETS:
        raise SpikeCoreError(f"reset must be one of {', '.join(RESETS)}, not {reset!r}")
    if type_name(graph) != "NIRGraph":
        raise SpikeCoreError(f"expected a NIR graph (nir.NIRGraph), not {type_name(graph)}")
    path, loops = _chain(graph)
    nodes = graph.nodes
    input_name = path[0]
    shape_value = nodes[input_name].input_type.get("input") if isinstance(nodes[input_name].input_type, dict) else None
    if shape_value is None:
        raise SpikeCoreError(f"Input '{input_name}' has no shape")
    shape = _without_batch(_input_shape(input_name, shape_value), [nodes[n] for n in path[1:]])
    input_node = InputNode(input_name, shape)
    _plan(path, nodes, shape, config)
    layers: list[DenseNode] = []
    source = input_name
    pending = _Pending(shape, None, np.zeros(math.prod(shape)), [])
    for name in path[1:-1]:
        node = nodes[name]
        kind = type_name(node)
        if kind in LINEAR_TYPES:
            _fold_linear(pending, node, name)
            continue
        features = math.prod(pending.shape)
        if pending.matrix is None:
            check_matrix_size(features, features, f"{kind} '{name}' on the input directly")
        matrix = np.eye(features) if pending.matrix is None else _dense(pending.matrix)
        neuron = _neuron_model(node, name, pending.shape, reset)
        origin = " + ".join([*pending.nodes, f"{kind} '{name}'"])
        recurrent, bias = _recurrent(nodes, name, pending.shape, [loop for loop in loops
                                                                  if loop.target == name and not loop.source])
        if recurrent is not None:
            origin += " + recurrent " + " + ".join(
                label for loop in loops if loop.target == name and not loop.source
                for label in ([f"{type_name(nodes[n])} '{n}'" for n in loop.nodes] or [f"{kind} '{name}'"]))
        layers.append(DenseNode(name, source, matrix.astype(np.float64), (pending.bias + bias).astype(np.float64),
                                relu=False, origin=origin, out_shape=pending.shape, neuron=neuron,
                                recurrent=recurrent))
        source = name
        pending = _Pending(pending.shape, None, np.zeros(features), [])
    if pending.matrix is not None:   # linear nodes before the Output: the host reads their current
        last = pending.last
        unit = _unit_of(nodes[last], last, math.prod(pending.shape))
        layers.append(DenseNode(last, source, _dense(pending.matrix), pending.bias.astype(np.float64),
                                relu=False, origin=" + ".join(pending.nodes), out_shape=pending.shape,
                                neuron=NeuronModel("Affine", last, membrane_unit=unit)))
    if not layers:
        raise SpikeCoreError("the NIR graph has no layers between its Input and Output; SpikeCore needs at least one "
                             "neuron or linear node")
    layers = _cross_loops(nodes, layers, loops)
    float_graph = FloatGraph(input_node, layers)
    float_graph.check()
    return float_graph
