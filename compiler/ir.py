"""The compiler's intermediate representation: a small typed layer graph, printable after every stage.

A model goes through three stages, each a plain data structure with ``check()`` and ``dump()``:

``float`` (:class:`FloatGraph`)
    What the frontend understood: one :class:`InputNode` and a chain of :class:`DenseNode` layers in float
    (a Conv2d is already lowered to its Toeplitz matrix, ReLU is fused into the layer before it).
``quant`` (:class:`QuantGraph`)
    The same chain in integers: a :class:`QuantInput` (how the host turns features into int8 events) and
    :class:`QuantDense` layers (int8 weights, biases and neuron parameters in accumulator units, and the
    instructions each of their cores runs per step).
``placed`` (:class:`PlacedProgram`)
    Every core's contents (:class:`PlacedCore`: program, weight block, neuron parameters, fan-out table)
    plus the :class:`IOMap` that says where each input feature enters and where each output is read.

Every node is a dataclass that validates its own fields on construction; a bad field raises
:class:`~spikecore.errors.SpikeCoreError` naming the node and the field (never a bare ``ValueError``), so a
hand-built or user-extended graph fails at the line that built it, not somewhere in codegen.

>>> import numpy as np
>>> inp = InputNode("x", (2,))
>>> fc = DenseNode("fc", "x", np.ones((2, 2), np.float32), np.zeros(2, np.float32), relu=False, origin="Linear 'fc'")
>>> print(FloatGraph(inp, [fc]).dump())
float graph: input 'x' shape (2,), 1 layer
  fc: dense 2 -> 2 (output)  from x  [Linear 'fc']  |w| <= 1, |b| <= 0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from spikecore import isa
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.isa import FanoutEntry, Instruction, NeuronParams, Opcode, ResetMode

STAGES = ("float", "quant", "placed")
#: How a compiled program encodes values in spikes (its *encoding*): ``graded`` and ``rate`` compile PyTorch
#: models; ``nir`` compiles NIR graphs (docs/nir.md).
ENCODINGS = ("graded", "rate", "nir")
#: Instructions a layer's cores may run per step, in order; HALT is always appended. The LEAK schedules are
#: the forward-Euler leaky neurons of NIR graphs (LIF: leak, integrate, fire; LI: leak, integrate; CubaLIF:
#: leak, accumulate into the synaptic current, integrate the current, fire: docs/spec.md §4.6).
SCHEDULES = (("ACC", "FIRE"), ("FIRE", "ACC"), ("ACC",), ("LEAK", "ACC", "FIRE"), ("LEAK", "ACC"),
             ("LEAK", "SACC", "SYN", "FIRE"))
ROLES = ("hidden", "output")
#: Neuron models of NIR layers (:class:`NeuronModel`); ``Affine`` = no neuron, the layer emits its input current.
NEURON_KINDS = ("IF", "LIF", "LI", "I", "Threshold", "CubaLIF", "Affine")
#: The kinds that emit spikes (and so may feed another layer).
SPIKING_KINDS = ("IF", "LIF", "Threshold", "CubaLIF")
RESETS = ("value", "subtract")


def _bad(kind: str, name: str, field_name: str, problem: str) -> SpikeCoreError:
    return SpikeCoreError(f"{kind} '{name}': field {field_name} {problem}")


def _check_name(kind: str, name: object) -> None:
    if not isinstance(name, str) or not name:
        raise SpikeCoreError(f"{kind}: field name must be a non-empty string, not {name!r}")


def _check_int(kind: str, name: str, field_name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= value <= high:
        raise _bad(kind, name, field_name, f"must be an integer {low}..{high}, not {value!r}")


def _check_array(kind: str, name: str, field_name: str, value: object, shape: tuple[int, ...],
                 dtype_kind: str) -> None:
    if not isinstance(value, np.ndarray):
        raise _bad(kind, name, field_name, f"must be a numpy array, not {type(value).__name__}")
    if value.shape != shape:
        raise _bad(kind, name, field_name, f"must have shape {shape}, not {value.shape}")
    if value.dtype.kind not in dtype_kind:
        raise _bad(kind, name, field_name, f"must have dtype kind {dtype_kind!r}, not {value.dtype}")


def _check_range(kind: str, name: str, field_name: str, value: np.ndarray, low: int, high: int) -> None:
    if value.size and (int(value.min()) < low or int(value.max()) > high):
        raise _bad(kind, name, field_name, f"must lie in {low}..{high}, found {int(value.min())}..{int(value.max())}")


def _check_scale(kind: str, name: str, field_name: str, value: object) -> None:
    if not isinstance(value, float | int | np.floating) or not math.isfinite(value) or value <= 0:
        raise _bad(kind, name, field_name, f"must be a finite positive number, not {value!r}")


def _span(values: np.ndarray) -> str:
    return f"[{int(values.min())}..{int(values.max())}]" if values.size else "[]"


# --- stage 1: float graph -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class InputNode:
    """The model input: one sample's shape (batch dimension excluded); features are its row-major flattening."""

    name: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_name("InputNode", self.name)
        if (not isinstance(self.shape, tuple) or not self.shape
                or not all(isinstance(d, int) and d > 0 for d in self.shape)):
            raise _bad("InputNode", self.name, "shape",
                       f"must be a non-empty tuple of positive ints, not {self.shape!r}")

    @property
    def features(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, eq=False)
class NeuronModel:
    """The continuous-time neurons a NIR graph puts after a layer's synapses, one value per neuron (float64).

    ``kind`` is a NIR node type (:data:`NEURON_KINDS`); ``node`` the NIR node's name. The parameters are
    NIR's: ``tau`` (the membrane time constant in seconds: LIF, LI, and CubaLIF's ``tau_mem``), ``r`` (IF,
    LIF, LI, I, CubaLIF), ``v_leak`` (LIF, LI, CubaLIF), ``v_threshold`` (IF, LIF, Threshold, CubaLIF),
    ``v_reset`` (IF, LIF, CubaLIF), ``tau_syn`` and ``w_in`` (CubaLIF's synaptic time constant in seconds and
    input weight); a parameter the kind does not have is ``None``. ``reset`` says what a
    spike does: ``value`` (NIR: v := v_reset) or ``subtract`` (v := v - (v_threshold - v_reset)).
    ``membrane_unit``: the float value of one membrane LSB per neuron when the graph prescribes it (metadata
    written by :mod:`~spikecore.compiler.nir.export`, so that a re-import reproduces the image); otherwise the
    discretiser chooses it.
    """

    kind: str
    node: str
    r: np.ndarray | None = None
    tau: np.ndarray | None = None
    v_leak: np.ndarray | None = None
    v_threshold: np.ndarray | None = None
    v_reset: np.ndarray | None = None
    tau_syn: np.ndarray | None = None
    w_in: np.ndarray | None = None
    reset: str = "value"
    membrane_unit: np.ndarray | None = None
    #: Relative precision of the parameters as the graph stored them (machine epsilon of their dtype:
    #: 2**-23 for float32, 2**-52 for float64), so that comparisons such as tau >= dt use the file's own
    #: tolerance: a float32 tau equal to dt must not read as "shorter than dt".
    precision: float = float(np.finfo(np.float64).eps)

    PARAMETERS = ("r", "tau", "v_leak", "v_threshold", "v_reset", "tau_syn", "w_in", "membrane_unit")

    def __post_init__(self) -> None:
        _check_name("NeuronModel", self.node)
        if self.kind not in NEURON_KINDS:
            raise _bad("NeuronModel", self.node, "kind", f"must be one of {', '.join(NEURON_KINDS)}, not {self.kind!r}")
        if self.reset not in RESETS:
            raise _bad("NeuronModel", self.node, "reset", f"must be one of {', '.join(RESETS)}, not {self.reset!r}")
        sizes = set()
        for name in self.PARAMETERS:
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind != "f":
                raise _bad("NeuronModel", self.node, name, "must be a 1-D float array (one value per neuron)")
            if np.isnan(value).any():
                raise _bad("NeuronModel", self.node, name, "holds NaN")
            sizes.add(value.size)
        if len(sizes) > 1:
            raise _bad("NeuronModel", self.node, "parameters", f"have different lengths {sorted(sizes)}")

    @property
    def spiking(self) -> bool:
        return self.kind in SPIKING_KINDS

    @property
    def size(self) -> int | None:
        """Number of neurons its parameters describe (None for a kind without parameters)."""
        arrays = [getattr(self, name) for name in self.PARAMETERS if getattr(self, name) is not None]
        return arrays[0].size if arrays else None

    def describe(self) -> str:
        return f"{self.kind} '{self.node}'" + (f", reset {self.reset}" if self.kind in ("IF", "LIF", "CubaLIF") else "")


@dataclass(frozen=True, eq=False)
class DenseNode:
    """One fully connected layer ``y = W x + b`` (then ReLU when ``relu``), in float.

    ``weight`` is ``(out, in)``; ``in`` indexes the source's features, ``out`` this layer's neurons, both in
    row-major order of their shapes. ``out_shape`` is the per-sample shape of the output (``(out,)`` for a
    Linear, ``(C, H, W)`` for a lowered Conv2d, so a later Conv2d or Flatten can read it). ``origin`` says
    which module and op the layer came from, for listings and error messages. ``neuron`` (NIR graphs only):
    the neuron dynamics that integrate ``W x + b`` as their input current (``relu`` is then False).
    ``recurrent`` (NIR graphs only): ``(out, out)`` float weights from the layer's own spikes of the previous
    step (a recurrent edge, docs/spec.md §11), added to the input current; ``None`` for none.
    ``order`` (NIR graphs only): ``(out,)`` int64, the graph's index of neuron ``j`` when the compiler reordered
    the layer's neurons (a convolution in position-major order, :mod:`~spikecore.compiler.conv_order`; its
    ``out_shape`` is then ``(H, W, C)``); ``None`` when neuron ``j`` is the graph's neuron ``j``.
    """

    name: str
    source: str
    weight: np.ndarray
    bias: np.ndarray
    relu: bool
    origin: str
    out_shape: tuple[int, ...] = ()
    neuron: NeuronModel | None = None
    recurrent: np.ndarray | None = None
    order: np.ndarray | None = None
    #: The later layer whose spikes ``recurrent`` weighs (a recurrent edge into an earlier layer, docs/spec.md
    #: §11); ``None``: the layer's own spikes. ``recurrent`` is then ``(out, that layer's out)``.
    recurrent_source: str | None = None

    def __post_init__(self) -> None:
        _check_name("DenseNode", self.name)
        if not isinstance(self.weight, np.ndarray) or self.weight.ndim != 2 or self.weight.dtype.kind != "f":
            raise _bad("DenseNode", self.name, "weight", "must be a 2-D float array (out, in)")
        if not np.isfinite(self.weight).all():
            raise _bad("DenseNode", self.name, "weight", "holds NaN or infinity")
        _check_array("DenseNode", self.name, "bias", self.bias, (self.weight.shape[0],), "f")
        if not np.isfinite(self.bias).all():
            raise _bad("DenseNode", self.name, "bias", "holds NaN or infinity")
        if not isinstance(self.relu, bool):
            raise _bad("DenseNode", self.name, "relu", f"must be a bool, not {self.relu!r}")
        if not self.out_shape:
            object.__setattr__(self, "out_shape", (self.weight.shape[0],))
        if math.prod(self.out_shape) != self.weight.shape[0]:
            raise _bad("DenseNode", self.name, "out_shape",
                       f"{self.out_shape} does not hold {self.weight.shape[0]} neurons")
        if self.neuron is not None:
            if not isinstance(self.neuron, NeuronModel):
                raise _bad("DenseNode", self.name, "neuron", f"must be a NeuronModel, not {type(self.neuron).__name__}")
            size = self.neuron.size
            if size is not None and size != self.weight.shape[0]:
                raise _bad("DenseNode", self.name, "neuron", f"has {size} neurons, the layer has "
                                                             f"{self.weight.shape[0]} outputs")
            if self.relu:
                raise _bad("DenseNode", self.name, "relu", "must be False for a layer of NIR neurons")
        if self.recurrent is not None:
            out = self.weight.shape[0]
            if self.recurrent_source is None:
                _check_array("DenseNode", self.name, "recurrent", self.recurrent, (out, out), "f")
            elif not isinstance(self.recurrent, np.ndarray) or self.recurrent.ndim != 2 or \
                    self.recurrent.shape[0] != out:
                raise _bad("DenseNode", self.name, "recurrent", f"must be a float array ({out}, source neurons)")
            if not np.isfinite(self.recurrent).all():
                raise _bad("DenseNode", self.name, "recurrent", "holds NaN or infinity")
            if self.neuron is None or not self.neuron.spiking:
                raise _bad("DenseNode", self.name, "recurrent", "needs a layer of spiking NIR neurons")
        if self.order is not None:
            _check_array("DenseNode", self.name, "order", self.order, (self.weight.shape[0],), "i")
            if not np.array_equal(np.sort(self.order), np.arange(self.weight.shape[0])):
                raise _bad("DenseNode", self.name, "order", "must be a permutation of the layer's neurons")

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]


@dataclass(eq=False)
class FloatGraph:
    """The frontend's result: an input and a chain of dense layers; the last layer is the output."""

    input: InputNode
    layers: list[DenseNode]
    stage: str = field(default="float", init=False)

    def check(self) -> None:
        """Raise :class:`SpikeCoreError` unless the layers form a well-shaped chain from the input."""
        for layer in self.layers:  # before anything divides by a layer's size or takes its largest weight
            if layer.weight.size == 0:
                raise SpikeCoreError(f"layer '{layer.name}' ({layer.origin}) has a weight of shape "
                                     f"{layer.weight.shape}: a zero-size layer")
            finite = np.abs(layer.weight[np.isfinite(layer.weight) & (layer.weight != 0)])
            if finite.size and finite.min() < np.finfo(np.float64).tiny:
                raise SpikeCoreError(f"layer '{layer.name}' ({layer.origin}) holds subnormal weights (smallest "
                                     f"magnitude {finite.min():g}), which no int8 step resolves; flush them to zero")
        _check_chain(self.input.name, self.input.features, self.layers, lambda layer: layer.in_features,
                     lambda layer: layer.out_features)
        for layer in self.layers[:-1]:
            if layer.neuron is not None and not layer.neuron.spiking:
                raise SpikeCoreError(f"layer '{layer.name}' ({layer.origin}) feeds another layer, but its "
                                     f"{layer.neuron.kind} neurons emit no spikes; a non-spiking layer (LI, I or "
                                     "a plain Affine) can only be the graph output")
            if not layer.relu and layer.neuron is None:
                raise SpikeCoreError(f"layer '{layer.name}' ({layer.origin}) is hidden but has no ReLU: SpikeCore "
                                     "hidden layers emit rectified activations; add a ReLU or merge the two linear "
                                     "layers")

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's float output for a batch ``x`` of shape ``(N, features)`` (float64)."""
        values = []
        h = np.asarray(x, dtype=np.float64).reshape(len(x), self.input.features)
        for layer in self.layers:
            h = h @ layer.weight.astype(np.float64).T + layer.bias.astype(np.float64)
            if layer.relu:
                h = np.maximum(h, 0.0)
            values.append(h)
        return values

    def dump(self) -> str:
        count = len(self.layers)
        lines = [f"float graph: input '{self.input.name}' shape {self.input.shape}, {count} layer{'s' * (count != 1)}"]
        for index, layer in enumerate(self.layers):
            density = np.count_nonzero(layer.weight) / max(1, layer.weight.size)
            neuron = layer.neuron.describe() if layer.neuron is not None else ""
            tags = [("ReLU", layer.relu), (neuron, bool(neuron)), ("recurrent", layer.recurrent is not None),
                    ("output", index == count - 1),
                    (f"{density:.0%} dense", density < 1)]
            role = ", ".join(tag for tag, present in tags if present)
            lines.append(f"  {layer.name}: dense {layer.in_features} -> {layer.out_features} ({role})  "
                         f"from {layer.source}  [{layer.origin}]  |w| <= {np.abs(layer.weight).max():.4g}, "
                         f"|b| <= {np.abs(layer.bias).max() if layer.bias.size else 0:.4g}")
        return "\n".join(lines)


def _check_chain(input_name: str, input_features: int, layers: Sequence, fan_in, fan_out) -> None:
    if not layers:
        raise SpikeCoreError("model has no layers: SpikeCore needs at least one Linear or Conv2d")
    names = {input_name}
    source, features = input_name, input_features
    for layer in layers:
        if layer.name in names:
            raise SpikeCoreError(f"layer name '{layer.name}' is used twice")
        names.add(layer.name)
        if layer.source != source:
            raise SpikeCoreError(f"layer '{layer.name}' reads '{layer.source}', expected '{source}' "
                                 "(the graph is a chain)")
        if fan_in(layer) != features:
            raise SpikeCoreError(f"layer '{layer.name}' takes {fan_in(layer)} inputs but '{source}' has {features}")
        source, features = layer.name, fan_out(layer)


# --- stage 2: quantised graph ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class QuantInput:
    """How the host turns one float sample into int8 input events: ``q = clamp(floor(x / scale + 1/2))``.

    A feature whose ``q`` is 0 is not injected (it would add nothing to any membrane). ``twins`` (NIR fine
    weights, docs/spec.md §11): the host also injects feature ``i``'s fine payload :meth:`fine_payloads`
    as source ``features + i``, so the first layer reads ``2 × features`` sources.
    """

    name: str
    shape: tuple[int, ...]
    scale: float
    qmin: int = isa.PAYLOAD_MIN
    qmax: int = isa.PAYLOAD_MAX
    twins: bool = False

    def __post_init__(self) -> None:
        _check_name("QuantInput", self.name)
        InputNode(self.name, self.shape)  # same shape rules
        _check_scale("QuantInput", self.name, "scale", self.scale)
        _check_int("QuantInput", self.name, "qmin", self.qmin, isa.PAYLOAD_MIN, isa.PAYLOAD_MAX)
        _check_int("QuantInput", self.name, "qmax", self.qmax, self.qmin, isa.PAYLOAD_MAX)
        if not isinstance(self.twins, bool):
            raise _bad("QuantInput", self.name, "twins", f"must be a bool, not {self.twins!r}")

    @property
    def features(self) -> int:
        return math.prod(self.shape)

    @property
    def sources(self) -> int:
        """Sources the first layer reads from the host: the features, and their fine twins when ``twins``."""
        return self.features * (2 if self.twins else 1)

    @staticmethod
    def fine_payloads(q: np.ndarray) -> np.ndarray:
        """The twin payloads of coarse payloads ``q``: ``round(q / 127)`` (half up), so -1, 0 or 1.

        A spike input (payload 127) has twin payload 1: its two events add ``127 a + b``, the fine weight.

        >>> QuantInput.fine_payloads(np.array([127, 64, 63, 0, -63, -64, -128]))
        array([ 1,  1,  0,  0,  0, -1, -1])
        """
        return np.floor_divide(2 * np.asarray(q, dtype=np.int64) + isa.PAYLOAD_MAX, 2 * isa.PAYLOAD_MAX)

    def clipped(self, x: np.ndarray) -> int:
        """How many values of the float batch ``x`` lie outside the input range, i.e. would need a payload
        beyond ``qmin..qmax`` and are clamped by :meth:`quantize` (the runtimes count and report them)."""
        q = np.floor(np.asarray(x, dtype=np.float64) / self.scale + 0.5)
        return int(((q < self.qmin) | (q > self.qmax)).sum())

    def warn_clipped(self, x: np.ndarray) -> int:
        """:meth:`clipped`, and a :class:`UserWarning` naming the count and the range when it is not 0."""
        count = self.clipped(x)
        if count:
            import warnings

            warnings.warn(f"input '{self.name}': {count} of {np.size(x)} values lie outside the input range "
                          f"+-{self.scale * self.qmax:.6g} and were clipped to the largest payload; compile with a "
                          "larger input_max (or calibration data that covers them)", UserWarning, stacklevel=3)
        return count

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """int64 payloads ``(N, features)`` of a float batch (round half up, then clamp to ``qmin..qmax``;
        :meth:`clipped` counts the values that clamp)."""
        x = np.asarray(x, dtype=np.float64)
        if x.size % self.features or (x.ndim > 1 and x[0].size != self.features) or (x.ndim == 1):
            dims = ", ".join(map(str, self.shape))
            raise SpikeCoreError(f"input batch of shape {x.shape} does not match input '{self.name}' of shape "
                                 f"{self.shape} (expected (N, {dims}) or (N, {self.features}))")
        if not np.isfinite(x).all():
            raise SpikeCoreError(f"input batch for '{self.name}' holds NaN or infinity")
        q = np.floor(x.reshape(len(x), self.features) / self.scale + 0.5)
        return np.clip(q, self.qmin, self.qmax).astype(np.int64)


@dataclass(frozen=True, eq=False)
class ChipNeuron:
    """The neurons of one layer as the chip runs them: the operands every integer layer has, one value per neuron.

    Not used directly: a layer's neurons are a :class:`GradedNeuron`, :class:`RateNeuron` or :class:`NirNeuron`.
    Per step each core of the layer runs ``schedule`` (then HALT): ``ACC`` adds ``payload · weight`` of every event
    to the membrane ``v`` (int32, saturating), ``FIRE`` emits where ``v >= threshold`` and then resets ``v``
    by ``reset_mode`` (docs/spec.md §4.2), ``LEAK`` (NIR only) decays ``v``. ``init`` (int32 ``(out,)``): the
    membranes after a reset of the chip; ``reset`` (int32 ``(out,)``): the value ``VALUE`` and ``ALWAYS`` resets
    write; ``shift``/``graded``: FIRE's payload ``clamp(round(v / 2**shift), -128, 127)`` when ``graded``, else 1.
    """

    threshold: int
    init: np.ndarray
    reset: np.ndarray
    shift: int
    reset_mode: ResetMode
    graded: bool
    schedule: tuple[str, ...]

    #: Whether ``threshold`` may be an int array (one per neuron) rather than one int for the layer.
    THRESHOLD_ARRAYS = False

    def validate(self, kind: str, name: str, out: int) -> None:
        """Raise :class:`SpikeCoreError` ``"{kind} '{name}': field ..."`` unless every field fits ``out`` neurons."""
        for field_name in ("init", "reset"):
            _check_array(kind, name, field_name, getattr(self, field_name), (out,), "i")
            _check_range(kind, name, field_name, getattr(self, field_name), isa.ACC_MIN, isa.ACC_MAX)
        if isinstance(self.threshold, np.ndarray) and self.THRESHOLD_ARRAYS:
            _check_array(kind, name, "threshold", self.threshold, (out,), "i")
            _check_range(kind, name, "threshold", self.threshold, isa.ACC_MIN, isa.ACC_MAX)
        else:
            _check_int(kind, name, "threshold", self.threshold, isa.ACC_MIN, isa.ACC_MAX)
        _check_int(kind, name, "shift", self.shift, 0, isa.SHIFT_MAX)
        if not isinstance(self.reset_mode, ResetMode):
            raise _bad(kind, name, "reset_mode", f"must be a ResetMode, not {self.reset_mode!r}")
        if not isinstance(self.graded, bool):
            raise _bad(kind, name, "graded", f"must be a bool, not {self.graded!r}")
        if self.schedule not in SCHEDULES:
            raise _bad(kind, name, "schedule", f"must be one of {SCHEDULES}, not {self.schedule!r}")

    @property
    def size(self) -> int:
        """Number of neurons (the length of ``init``)."""
        return len(self.init)

    @property
    def thresholds(self) -> np.ndarray:
        """int64 ``(out,)``: every neuron's threshold (the scalar ``threshold`` repeated, or the array)."""
        return np.broadcast_to(np.asarray(self.threshold, dtype=np.int64), (self.size,)).copy()

    @property
    def decays(self) -> np.ndarray:
        """int64 ``(out,)``: every neuron's LEAK factor (u16 Q0.16); 0 for neurons without LEAK."""
        return np.zeros(self.size, dtype=np.int64)

    @property
    def syn_decays(self) -> np.ndarray:
        """int64 ``(out,)``: every neuron's synaptic-current factor (u16 Q0.16, SYN); 0 for neurons without SYN."""
        return np.zeros(self.size, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class GradedNeuron(ChipNeuron):
    """Graded compile (``encoding="graded"``): one exact integer inference, one step per layer.

    Hidden layer, a quantised ReLU, stateless: each step ``v := bias + Σ p·w`` (FIRE, ``reset_mode`` ALWAYS,
    clears ``v`` to ``reset = bias`` before ACC adds the step's events), then
    ``payload = clamp(round(v / 2**shift), 0, 127)`` where ``v >= threshold`` (schedule ``ACC, FIRE``).
    Output layer: ``FIRE, ACC`` with ``threshold = ACC_MAX`` (never fires): the host reads ``v``.
    """


@dataclass(frozen=True, eq=False)
class RateNeuron(ChipNeuron):
    """Rate compile (``encoding="rate"``): binary spikes over ``T`` presentation steps.

    Hidden layer, integrate-and-fire with reset by subtraction: each step ``v += Σ p·w`` (plus the layer's
    :class:`BiasAxon` current), then a spike of payload 1 where ``v >= threshold`` and ``v -= threshold``;
    one spike per step stands for ``threshold`` membrane units (``init`` holds ``threshold // 2`` and the
    bias remainder over the window). Output layer: ``ACC`` only from ``init = T · bias``, reset NONE; the host
    reads ``v`` after the last step.
    """


@dataclass(frozen=True, eq=False)
class NirNeuron(ChipNeuron):
    """NIR compile (``encoding="nir"``): the forward-Euler form of a NIR neuron ``kind`` (docs/spec.md §11).

    Each step ``LEAK`` (LIF, LI) ``v := round(v · decay / 65536)``, ``ACC`` ``v += Σ p·w`` (plus the
    :class:`BiasAxon` current), ``FIRE`` (IF, LIF, Threshold) a spike where ``v >= threshold`` (int32 array,
    one per neuron), reset to ``reset`` (VALUE) or by subtraction (SUB); ``graded`` spikes carry payload 127.
    ``kind``: the NIR node type (:data:`NEURON_KINDS`). ``decay`` (u16 ``(out,)`` or None): the LEAK factors.
    ``to_host``: the spikes go to the host (fan-out entry ``(HOST_CORE, neuron index)``). ``membrane_unit``,
    ``membrane_offset`` (float64 ``(out,)``): the NIR voltage of a membrane, ``v_nir = v · unit + offset``.
    """

    kind: str = ""
    decay: np.ndarray | None = None
    to_host: bool = False
    membrane_unit: np.ndarray | None = None
    membrane_offset: np.ndarray | None = None

    THRESHOLD_ARRAYS = True

    def validate(self, kind: str, name: str, out: int) -> None:
        super().validate(kind, name, out)
        if self.kind not in NEURON_KINDS:
            raise _bad(kind, name, "neuron.kind", f"must be one of {', '.join(NEURON_KINDS)}, not {self.kind!r}")
        if self.decay is not None:
            _check_array(kind, name, "decay", self.decay, (out,), "iu")
            _check_range(kind, name, "decay", self.decay, 0, isa.DECAY_MAX)
        for field_name in ("membrane_unit", "membrane_offset"):
            if getattr(self, field_name) is not None:
                _check_array(kind, name, field_name, getattr(self, field_name), (out,), "f")
        if self.membrane_unit is not None and not (self.membrane_unit > 0).all():
            raise _bad(kind, name, "membrane_unit", "must be positive")
        if not isinstance(self.to_host, bool):
            raise _bad(kind, name, "to_host", f"must be a bool, not {self.to_host!r}")
        if self.to_host and ("FIRE" not in self.schedule or out > isa.AXON_MAX + 1):
            raise _bad(kind, name, "to_host", f"needs a FIRE and at most {isa.AXON_MAX + 1} neurons (the host tells "
                                              "them apart by the 8-bit axon of their spike)")

    @property
    def decays(self) -> np.ndarray:
        if self.decay is None:
            return np.zeros(self.size, dtype=np.int64)
        return self.decay.astype(np.int64)


@dataclass(frozen=True, eq=False)
class CubaLifNeuron(NirNeuron):
    """NIR ``CubaLIF`` (docs/spec.md §4.5-§4.6, §11): a :class:`NirNeuron` with a synaptic current per neuron.

    Each step ``LEAK`` decays the membrane, ``SACC`` adds ``payload · weight`` of every event to the current
    ``i`` (int32, saturating), ``SYN`` adds ``i`` to the membrane and then decays it,
    ``i := round(i · syn_decay / 65536)``, and ``FIRE`` spikes and resets as for LIF (schedule
    ``LEAK, SACC, SYN, FIRE``). ``syn_decay`` (u16 ``(out,)``): the current's Q0.16 factors; the current
    starts at 0 (``syn_init``).
    """

    syn_decay: np.ndarray | None = None

    def validate(self, kind: str, name: str, out: int) -> None:
        super().validate(kind, name, out)
        _check_array(kind, name, "neuron.syn_decay", self.syn_decay, (out,), "iu")
        _check_range(kind, name, "neuron.syn_decay", self.syn_decay, 0, isa.DECAY_MAX)
        if "SYN" not in self.schedule:
            raise _bad(kind, name, "neuron.schedule", f"of a CubaLIF layer must contain SYN, not {self.schedule!r}")

    @property
    def syn_decays(self) -> np.ndarray:
        return self.syn_decay.astype(np.int64)


@dataclass(frozen=True, eq=False)
class BiasAxon:
    """A constant bias current through one extra axon (rate hidden layers, NIR layers).

    The layer reads source index ``in_features``, on which the host injects one event of payload ``payload``
    (1..127) before each step of the layer's presentation window; ``weight`` (int8 ``(out,)``) is its weight
    row, so every step adds ``payload · weight[j]`` membrane units to neuron ``j``.
    """

    payload: int
    weight: np.ndarray

    def validate(self, kind: str, name: str, out: int) -> None:
        _check_array(kind, name, "bias_axon.weight", self.weight, (out,), "i")
        _check_range(kind, name, "bias_axon.weight", self.weight, isa.WEIGHT_MIN, isa.WEIGHT_MAX)
        _check_int(kind, name, "bias_axon.payload", self.payload, 1, isa.PAYLOAD_MAX)


@dataclass(frozen=True, eq=False)
class FineWeights:
    """NIR fine weights (docs/spec.md §11): ~15-bit weights ``ω = 127 a + b`` through payload-1 twins.

    ``twins``: every neuron has a twin with the same parameters and weights that emits payload 1 where the
    neuron emits payload 127 (``graded``), so the layer *emits* ``2 × out`` sources: neuron ``i`` as source
    ``i``, its twin as source ``out + i``; the next layer weighs the two with ``a`` and ``b``.
    ``bias`` (int8 ``(out,)`` or None): a second bias axon (source ``in_features + 1``) of payload 1 that adds
    the remainder ``r`` of a bias current ``B = 127 w + r`` the :class:`BiasAxon` cannot, so it is exact.
    """

    twins: bool = False
    bias: np.ndarray | None = None

    def validate(self, kind: str, name: str, out: int) -> None:
        if not isinstance(self.twins, bool):
            raise _bad(kind, name, "fine.twins", f"must be a bool, not {self.twins!r}")
        if self.bias is not None:
            _check_array(kind, name, "fine.bias", self.bias, (out,), "i")
            _check_range(kind, name, "fine.bias", self.bias, isa.WEIGHT_MIN, isa.WEIGHT_MAX)


#: The neuron models of an integer layer, one per compile encoding.
LayerNeuron = GradedNeuron | RateNeuron | NirNeuron


@dataclass(frozen=True, eq=False)
class QuantDense:
    """One layer in integers: its synapses (weights, scales, names) and, composed, the neurons that run it.

    Units: ``weight`` (int8 ``(out, in)``) with ``w_float ≈ weight * weight_scale``; an input event of payload
    ``p`` stands for ``p * input_scale``; so a membrane counts in ``acc_scale = input_scale * weight_scale``.
    ``bias`` (int ``(out,)``) is the per-step bias in those units. ``out_scale`` is the float value of one unit
    of what the layer emits: a graded payload LSB, one binary spike per step, or (output layer) one membrane
    unit. ``neuron``: the layer's neurons, one model per compile encoding (:class:`GradedNeuron`,
    :class:`RateNeuron`, :class:`NirNeuron`). ``bias_axon``: a bias current on an extra axon
    (:class:`BiasAxon`), or None. ``fine``: NIR fine weights (:class:`FineWeights`), or None. ``recurrent``
    (NIR recurrent edge, docs/spec.md §11): int8 ``(out, out)`` weights from the layer's own spikes of the
    previous step, or None; the layer then reads ``out`` more sources after the bias axons, source
    ``recurrent_base + i`` being its own neuron ``i``. With twins it is ``(out, 2 out)``: the coarse weights
    from the neurons, then the fine ones from their twins (source ``recurrent_base + out + i``).
    """

    name: str
    source: str
    origin: str
    role: str
    weight: np.ndarray
    bias: np.ndarray
    input_scale: float
    weight_scale: float
    out_scale: float
    neuron: LayerNeuron
    relu: bool
    out_shape: tuple[int, ...] = ()
    bias_axon: BiasAxon | None = None
    fine: FineWeights | None = None
    recurrent: np.ndarray | None = None
    #: The index of the later layer whose spikes ``recurrent`` weighs (docs/spec.md §11), ``(out, its out)``;
    #: ``None``: the layer's own spikes.
    recurrent_source: int | None = None

    def __post_init__(self) -> None:
        kind, name = "QuantDense", self.name
        _check_name(kind, name)
        if self.role not in ROLES:
            raise _bad(kind, name, "role", f"must be one of {', '.join(ROLES)}, not {self.role!r}")
        if not isinstance(self.weight, np.ndarray) or self.weight.ndim != 2 or self.weight.dtype.kind != "i":
            raise _bad(kind, name, "weight", "must be a 2-D integer array (out, in)")
        _check_range(kind, name, "weight", self.weight, isa.WEIGHT_MIN, isa.WEIGHT_MAX)
        out = self.weight.shape[0]
        _check_array(kind, name, "bias", self.bias, (out,), "i")
        for field_name in ("input_scale", "weight_scale", "out_scale"):
            _check_scale(kind, name, field_name, getattr(self, field_name))
        if not isinstance(self.neuron, GradedNeuron | RateNeuron | NirNeuron):
            raise _bad(kind, name, "neuron", "must be a GradedNeuron, RateNeuron or NirNeuron, not "
                                             f"{type(self.neuron).__name__}")
        self.neuron.validate(kind, name, out)
        if self.role == "hidden" and "FIRE" not in self.neuron.schedule:
            raise _bad(kind, name, "schedule", "of a hidden layer must contain FIRE (it must emit spikes)")
        if not self.out_shape:
            object.__setattr__(self, "out_shape", (out,))
        for field_name, part in (("bias_axon", BiasAxon), ("fine", FineWeights)):
            value = getattr(self, field_name)
            if value is not None and not isinstance(value, part):
                raise _bad(kind, name, field_name, f"must be a {part.__name__} or None, not {type(value).__name__}")
            if value is not None:
                value.validate(kind, name, out)
        if self.fine_bias is not None and self.bias_axon is None:
            raise _bad(kind, name, "fine.bias", "needs a coarse bias axon (bias_axon) before it")
        if self.twins and (self.role != "hidden" or not self.neuron.graded or self.to_host):
            raise _bad(kind, name, "fine.twins", "needs a hidden layer with graded (payload 127) spikes")
        if ("SYN" in self.neuron.schedule) != isinstance(self.neuron, CubaLifNeuron):
            raise _bad(kind, name, "neuron", "must be a CubaLifNeuron exactly when the schedule has SYN")
        if self.recurrent is not None:
            if self.recurrent_source is None:
                _check_array(kind, name, "recurrent", self.recurrent, (out, self.emits if self.twins else out), "i")
            elif not isinstance(self.recurrent, np.ndarray) or self.recurrent.ndim != 2 or \
                    self.recurrent.shape[0] != out or self.recurrent.dtype.kind != "i":
                raise _bad(kind, name, "recurrent", f"must be an integer array ({out}, source neurons)")
            _check_range(kind, name, "recurrent", self.recurrent, isa.WEIGHT_MIN, isa.WEIGHT_MAX)
            if not isinstance(self.neuron, NirNeuron) or "FIRE" not in self.neuron.schedule or \
                    self.neuron.kind == "Affine":
                raise _bad(kind, name, "recurrent", "needs a layer of spiking NIR neurons (FIRE)")

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def emits(self) -> int:
        """Sources the next layer reads from this one: its neurons, and their twins when ``twins``."""
        return self.out_features * (2 if self.twins else 1)

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    @property
    def twins(self) -> bool:
        """Whether every neuron has a fine-weight twin (:class:`FineWeights`)."""
        return self.fine is not None and self.fine.twins

    @property
    def fine_bias(self) -> np.ndarray | None:
        """The weights of the payload-1 fine bias axon (:class:`FineWeights`), or None."""
        return self.fine.bias if self.fine is not None else None

    @property
    def to_host(self) -> bool:
        """Whether the layer's spikes go to the host (a NIR graph ending in spiking neurons)."""
        return isinstance(self.neuron, NirNeuron) and self.neuron.to_host

    @property
    def bias_axons(self) -> int:
        """How many bias axons the layer reads (sources ``in_features ..``): 0, 1 or 2."""
        return (self.bias_axon is not None) + (self.fine_bias is not None)

    @property
    def recurrent_base(self) -> int:
        """The source index of the layer's own neuron 0 when it is recurrent (after the bias axons)."""
        return self.in_features + self.bias_axons

    @property
    def sources(self) -> int:
        """Source indices the layer reads: its inputs, the bias axons (``in_features``, then the fine one), then
        its own neurons (and twins) when ``recurrent``."""
        return self.recurrent_base + (self.recurrent.shape[1] if self.recurrent is not None else 0)

    def is_bias_source(self, source: int) -> bool:
        """Whether source index ``source`` is one of the layer's bias axons (fed by the host)."""
        return self.in_features <= source < self.recurrent_base

    def bias_payloads(self) -> tuple[int, ...]:
        """The host's payload on each bias axon, in source order (sources ``in_features``, ``in_features + 1``)."""
        coarse = (self.bias_axon.payload,) if self.bias_axon is not None else ()
        return coarse + ((isa.BINARY_PAYLOAD,) if self.fine_bias is not None else ())

    def bias_weights(self) -> tuple[np.ndarray, ...]:
        """The int8 weight rows ``(out,)`` of the bias axons, in the order of :meth:`bias_payloads`."""
        coarse = (self.bias_axon.weight,) if self.bias_axon is not None else ()
        return coarse + ((self.fine_bias,) if self.fine_bias is not None else ())

    def weight_rows(self) -> np.ndarray:
        """``(out, sources)`` int weights including the bias axons' columns and the recurrent ones."""
        columns = [w[:, None] for w in self.bias_weights()]
        if self.recurrent is not None:
            columns.append(self.recurrent)
        return np.concatenate([self.weight, *columns], axis=1) if columns else self.weight

    @property
    def acc_scale(self) -> float:
        """Float value of one membrane unit."""
        return self.input_scale * self.weight_scale


@dataclass(eq=False)
class QuantGraph:
    """The integer network: what :mod:`~spikecore.compiler.reference` evaluates and placement lays out.

    ``encoding`` is ``graded`` (one step per layer, exact integer inference), ``rate`` (binary spikes over
    ``T`` presentation steps) or ``nir`` (a NIR graph discretised at time step ``dt``: one input vector per
    step, for as many steps as the input lasts; ``steps`` and ``inject_steps`` then describe a one-step
    input, see :mod:`~spikecore.app.nir_runtime`). ``steps`` is the number of chip steps one inference
    takes and ``inject_steps`` the steps before which the host injects the input events. ``dense_input``:
    every first-layer core reads input feature ``i`` on axon ``i`` (no compaction) when that needs no more
    cores than compacting, so the image alone says where each input enters (NIR export relies on it).
    ``merged``: the hidden layers (and in NIR programs the output layer) whose fan-in placement split over
    partial-sum cores (docs/spec.md §4.8); each
    takes one step more (its partial sums are merged in the next step), which :attr:`steps` and :meth:`window`
    include. Placement sets it (:func:`~spikecore.compiler.place.place` returns the graph with it).
    """

    encoding: str
    T: int
    input: QuantInput
    layers: list[QuantDense]
    stage: str = field(default="quant", init=False)
    dt: float | None = None
    dense_input: bool = False
    #: Values clipped to their chip field because the compile allowed saturation
    #: (:class:`~spikecore.compiler.saturation.Saturation`); empty when every value is exact.
    saturations: tuple = ()
    merged: tuple[int, ...] = ()
    #: Chip steps per input step (NIR graphs with a recurrent edge into an earlier layer, docs/spec.md §2, §11):
    #: layer ``k`` runs in the steps ``s`` with ``s mod period = k mod period`` and works on input time ``t`` in
    #: step ``t * period + k``. 1: every layer runs every step.
    period: int = 1

    def __post_init__(self) -> None:
        # a NIR output layer may be merged too (its merging cores fire to the host or hold the read membranes)
        top = len(self.layers) - (0 if self.encoding == "nir" else 1)
        if any(isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < top
               for k in self.merged) or list(self.merged) != sorted(set(self.merged)):
            kind = "layer" if self.encoding == "nir" else "hidden layer"
            raise SpikeCoreError(f"QuantGraph: field merged must list {kind} indices in ascending order, "
                                 f"not {self.merged!r}")
        period = self.period
        if isinstance(period, bool) or not isinstance(period, int) or not 1 <= period <= isa.PERIOD_MAX:
            raise SpikeCoreError(f"QuantGraph: field period must be an integer 1..{isa.PERIOD_MAX}, not {period!r}")
        if self.period > 1 and self.merged:
            raise SpikeCoreError("QuantGraph: a graph with period > 1 cannot have fan-in split (merged) layers")
        if self.dt is not None:
            _check_scale("QuantGraph", "graph", "dt", self.dt)
        if self.encoding not in ENCODINGS:
            raise SpikeCoreError(f"QuantGraph: field encoding must be one of {', '.join(ENCODINGS)}, "
                                 f"not {self.encoding!r}")
        if isinstance(self.T, bool) or not isinstance(self.T, int) or self.T < 1:
            raise SpikeCoreError(f"QuantGraph: field T must be a positive integer, not {self.T!r}")

    @property
    def steps(self) -> int:
        depth = len(self.layers) + len(self.merged)
        return depth if self.encoding == "graded" else (self.T - 1) * self.period + depth

    @property
    def inject_steps(self) -> tuple[int, ...]:
        return (0,) if self.encoding == "graded" else tuple(range(0, self.T * self.period, self.period))

    def lag(self, index: int) -> int:
        """Steps by which layer ``index``'s input lags the host's: one per layer before it, one more per merged
        layer before it (docs/spec.md §4.8)."""
        return index + sum(1 for k in self.merged if k < index)

    def emit_lag(self, index: int) -> int:
        """Steps by which layer ``index``'s spikes (or membranes) lag the host's input: its :meth:`lag`, plus the
        merging step when its fan-in was split (docs/spec.md §4.8). A NIR program of ``T`` input steps runs
        ``T + emit_lag(last)`` steps and reads input time ``t`` of layer ``index`` in step ``t + emit_lag(index)``."""
        return self.lag(index) + (1 if index in self.merged else 0)

    def window(self, index: int) -> range:
        """The steps in which layer ``index`` receives its (valid) input (its partial-sum cores, when merged)."""
        return range(self.lag(index), self.lag(index) + len(self.inject_steps) * self.period, self.period)

    def check(self) -> None:
        _check_chain(self.input.name, self.input.sources, self.layers, lambda layer: layer.in_features,
                     lambda layer: layer.emits)
        for index, layer in enumerate(self.layers):
            want = "output" if index == len(self.layers) - 1 else "hidden"
            if layer.role != want:
                raise SpikeCoreError(f"layer '{layer.name}' has role {layer.role!r}, expected {want!r}")

    def dump(self) -> str:
        q = self.input
        head = f"quant graph ({self.encoding}"
        head += f", T={self.T}" if self.encoding == "rate" else ""
        head += f", dt={self.dt:g} s per step" if self.dt is not None else ""
        head += f", {self.period} chip steps per input step" if self.period > 1 else ""
        merged = ", fan-in split and merged: " + ", ".join(self.layers[k].name for k in self.merged)
        merged = merged if self.merged else ""
        lines = [f"{head}, {self.steps} steps per inference, input injected before steps "
                 f"{_steps_text(self.inject_steps)}{merged})",
                 f"  input '{q.name}' {q.features} features: int8 payload = clamp(round(x / {q.scale:.6g}), "
                 f"{q.qmin}, {q.qmax})" + ("; twins: round(payload / 127) as features after them" if q.twins else "")]
        for index, layer in enumerate(self.layers):
            fire = ""
            cell = layer.neuron
            if "FIRE" in cell.schedule:
                threshold = _span(cell.thresholds) if isinstance(cell.threshold, np.ndarray) else cell.threshold
                fire = (f"; FIRE {'graded' if cell.graded else 'binary'} shift={cell.shift} "
                        f"threshold={threshold} reset={cell.reset_mode.name.lower()}"
                        f"{' -> host' if layer.to_host else ''}")
            if "LEAK" in cell.schedule:
                fire += f"; LEAK decay {_span(cell.decays)}/65536"
            if "SYN" in cell.schedule:
                fire += f"; SYN syn_decay {_span(cell.syn_decays)}/65536"
            if layer.recurrent is not None:
                whose = ("its own spikes" if layer.recurrent_source is None
                         else f"the spikes of '{self.layers[layer.recurrent_source].name}'")
                fire += f"; recurrent weights int8 {_span(layer.recurrent)} from {whose} of the previous step"
            nz = np.count_nonzero(layer.weight)
            if layer.twins:
                fire += "; twins emit the same spikes with payload 1 (fine weights)"
            if layer.bias_axon is not None:
                fire += (f"\n      bias current: host event payload {layer.bias_axon.payload} on a bias axon, weights "
                         f"{_span(layer.bias_axon.weight)}, each step of {_steps_text(tuple(self.window(index)))}")
            if layer.fine_bias is not None:
                fire += f", plus payload 1 on a fine bias axon, weights {_span(layer.fine_bias)}"
            lines.append(
                f"  {layer.name} ({layer.role}): {layer.in_features} -> {layer.out_features}"
                f"{' ReLU' if layer.relu else ''} [{layer.origin}]\n"
                f"      weights int8 {_span(layer.weight)} scale {layer.weight_scale:.6g} ({nz} nonzero); "
                f"input scale {layer.input_scale:.6g}; membrane unit {layer.acc_scale:.6g}\n"
                f"      bias/step {_span(layer.bias)}; init {_span(cell.init)}; reset {_span(cell.reset)}; "
                f"per step: {' '.join(cell.schedule)}{fire}; emits units of {layer.out_scale:.6g}")
        return "\n".join(lines)


def _steps_text(steps: tuple[int, ...]) -> str:
    if len(steps) > 2:
        return f"{steps[0]}..{steps[-1]}"
    return ", ".join(map(str, steps))


# --- stage 3: placed program ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PlacedCore:
    """One core's load, before encoding.

    The core holds neurons ``start .. start+count-1`` of layer ``layer`` as its neurons ``0 .. count-1``.
    ``axons[a]`` is the index (in the source layer, or the input features) of the neuron whose events
    arrive on axon ``a`` (index ``in_features`` names the layer's bias axon); the weight block (at
    address 0) is ``weights[a, j]``, row-major axon x count
    as ACC reads it (docs/spec.md §4.1). ``partial``: a core that reads only a group of the layer's sources
    (a partial sum); in the output layer the host adds its membranes to those of the other groups, in a merged
    hidden layer it fires them as wide events to the layer's merging core (docs/spec.md §4.8). ``merge``: a
    merging core: no axons or weights of its own; partial sums of its neuron ``j`` arrive on axon ``j``.
    ``twins`` (a layer with ``QuantDense.twins``): the core also holds the slice's twins as its neurons
    ``count .. 2 count - 1`` (``neurons`` has ``2 count`` entries), which read the same weight block.
    """

    core: int
    layer: str
    layer_index: int
    start: int
    count: int
    axons: tuple[int, ...]
    program: tuple[Instruction, ...]
    weights: np.ndarray
    neurons: tuple[NeuronParams, ...]
    fanout: tuple[FanoutEntry, ...]
    partial: bool = False
    twins: bool = False
    merge: bool = False

    def __post_init__(self) -> None:
        kind, name = "PlacedCore", f"{self.layer}@core{self.core}"
        if self.merge and (self.axons or self.partial):
            raise _bad(kind, name, "merge", "a merging core has no axons and is not partial")
        _check_int(kind, name, "core", self.core, 0, isa.MAX_CHIPS * isa.MAX_CORES - 1)   # global id (§13)
        _check_int(kind, name, "count", self.count, 1, isa.MAX_NEURONS)
        _check_int(kind, name, "start", self.start, 0, 1 << 30)
        if len(self.axons) > isa.AXON_MAX + 1:
            raise _bad(kind, name, "axons", f"has {len(self.axons)} entries; an event names one of {isa.AXON_MAX + 1}")
        if list(self.axons) != sorted(set(self.axons)):
            raise _bad(kind, name, "axons", "must be strictly ascending source indices")
        _check_array(kind, name, "weights", self.weights, (len(self.axons), self.count), "i")
        _check_range(kind, name, "weights", self.weights, isa.WEIGHT_MIN, isa.WEIGHT_MAX)
        if len(self.neurons) != self.count * (2 if self.twins else 1):
            raise _bad(kind, name, "neurons", f"has {len(self.neurons)} entries for {self.count} neurons"
                       f"{' and their twins' if self.twins else ''}")
        if not self.program or self.program[-1].opcode != Opcode.HALT:
            raise _bad(kind, name, "program", "must end with HALT")

    @property
    def weight_bytes(self) -> int:
        return self.weights.size

    def source_of(self, neuron: int, layer_size: int) -> int:
        """The source index (in what the layer emits) of the core's ``neuron``: a twin is ``layer_size`` on."""
        return self.start + neuron if neuron < self.count else layer_size + self.start + neuron - self.count


@dataclass(frozen=True, eq=False)
class IOMap:
    """Where the host talks to the program.

    ``inputs[i]`` lists the ``(core, axon)`` pairs input feature ``i`` is injected on (one per core of the
    first layer that uses it; a feature no core uses has none). ``outputs[j]`` lists the ``(core, neuron)``
    membranes whose sum is output ``j`` after the last step: one pair, or several when the output layer's
    fan-in is split over cores (each holds a partial sum; see :meth:`read_outputs`). The host injects the
    inputs before every step
    in ``inject_steps``, and ``bias_events`` ``(step, core, axon, payload)`` (the same for every sample,
    injected after that step's inputs), and runs ``steps`` steps per inference from a reset state.
    ``fine_inputs[i]`` (NIR fine weights): the ``(core, axon)`` pairs that take feature ``i``'s fine payload
    (:meth:`QuantInput.fine_payloads`), injected after every feature's coarse events.
    """

    inputs: tuple[tuple[tuple[int, int], ...], ...]
    outputs: tuple[tuple[tuple[int, int], ...], ...]
    steps: int
    inject_steps: tuple[int, ...]
    bias_events: tuple[tuple[int, int, int, int], ...] = ()
    fine_inputs: tuple[tuple[tuple[int, int], ...], ...] = ()

    def __post_init__(self) -> None:
        _check_int("IOMap", "io", "steps", self.steps, 1, 1 << 20)
        if any(not 0 <= s < self.steps for s in self.inject_steps):
            raise _bad("IOMap", "io", "inject_steps", f"must lie in 0..{self.steps - 1}")
        if any(not 0 <= s < self.steps for s, *_ in self.bias_events):
            raise _bad("IOMap", "io", "bias_events", f"steps must lie in 0..{self.steps - 1}")
        if any(not pairs for pairs in self.outputs):
            raise _bad("IOMap", "io", "outputs", "must give at least one membrane per output")

    def read_outputs(self, membranes: np.ndarray) -> np.ndarray:
        """The int64 outputs from the chip's ``(cores, neurons)`` membranes (partial sums added, no saturation)."""
        return np.array([sum(int(membranes[core, neuron]) for core, neuron in pairs) for pairs in self.outputs],
                        dtype=np.int64)


@dataclass(eq=False)
class PlacedProgram:
    """Every core's contents plus the IO map: the last stage before encoding."""

    config: ChipConfig
    quant: QuantGraph
    cores: list[PlacedCore]
    io: IOMap
    stage: str = field(default="placed", init=False)

    def layer_cores(self, layer: str) -> list[PlacedCore]:
        return [c for c in self.cores if c.layer == layer]

    def check(self) -> None:
        """Raise unless every core fits the chip and every fan-out entry names a real core and axon."""
        cfg = self.config
        by_id: dict[int, PlacedCore] = {}
        for pc in self.cores:
            where = f"core {pc.core} ({pc.layer})"
            if pc.core >= cfg.board_cores or pc.core in by_id:
                raise SpikeCoreError(f"{where}: core id out of range or used twice")
            by_id[pc.core] = pc
            if pc.count > cfg.neurons:
                raise SpikeCoreError(f"{where}: {pc.count} neurons, a core has {cfg.neurons}")
            if pc.weight_bytes > cfg.weight_bytes:
                raise SpikeCoreError(f"{where}: {pc.weight_bytes} weight bytes, a core has {cfg.weight_bytes}")
            if len(pc.axons) > cfg.event_depth:
                raise SpikeCoreError(f"{where}: up to {len(pc.axons)} events per step, "
                                     f"event_depth is {cfg.event_depth}")
            if len(pc.fanout) > cfg.fanout_depth or len(pc.program) > cfg.imem_depth:
                raise SpikeCoreError(f"{where}: fan-out table or program larger than the core's memory")
        for pc in self.cores:
            size = self.quant.layers[pc.layer_index].out_features
            for j, params in enumerate(pc.neurons):
                source = pc.source_of(j, size)
                for entry in pc.fanout[params.fanout_start:params.fanout_start + params.fanout_count]:
                    if entry.core == isa.HOST_CORE and self.quant.layers[pc.layer_index].to_host:
                        if entry.axon != pc.start + j:
                            raise SpikeCoreError(f"core {pc.core} neuron {j}: host fan-out entry {entry} should "
                                                 f"carry axon {pc.start + j}")
                        continue
                    dest = by_id.get(entry.chip * cfg.cores + entry.core)   # global core id (spec §13)
                    if (pc.partial and dest is not None and dest.merge and dest.layer == pc.layer
                            and dest.start + entry.axon % dest.count == pc.start + j
                            and entry.axon < dest.count * (2 if dest.twins else 1)):
                        continue     # a partial sum to its merging core, on the neuron's own index (or its twin's)
                    want = source
                    if dest is not None and dest.layer_index == pc.layer_index:   # a recurrent edge (own spikes)
                        want = self.quant.layers[pc.layer_index].recurrent_base + source
                    elif dest is not None and self.quant.layers[dest.layer_index].recurrent_source == pc.layer_index:
                        want = self.quant.layers[dest.layer_index].recurrent_base + source   # into an earlier layer
                    if dest is None or entry.axon >= len(dest.axons) or dest.axons[entry.axon] != want:
                        twin = " (twin)" if j >= pc.count else ""
                        raise SpikeCoreError(f"core {pc.core} neuron {j}: fan-out entry {entry} does not reach an axon "
                                             f"fed by {pc.layer}[{pc.start + j % pc.count}]{twin}")
        features = self.quant.input.features
        for offset, table in ((0, self.io.inputs), (features, self.io.fine_inputs)):
            for feature, pairs in enumerate(table):
                for core, axon in pairs:
                    axons = by_id[core].axons if core in by_id else ()
                    if axon >= len(axons) or axons[axon] != offset + feature:
                        raise SpikeCoreError(f"io map: input feature {feature}{' (fine)' if offset else ''} enters "
                                             f"core {core} axon {axon}, which is not fed by it")
        for step, core, axon, _ in self.io.bias_events:
            layer = self.quant.layers[by_id[core].layer_index] if core in by_id else None
            if layer is None or axon >= len(by_id[core].axons) or not layer.is_bias_source(by_id[core].axons[axon]):
                raise SpikeCoreError(f"io map: bias event before step {step} enters core {core} axon {axon}, "
                                     "which is not a bias axon")
        for j, pairs in enumerate(self.io.outputs):
            for core, neuron in pairs:
                pc = by_id.get(core)
                last = len(self.quant.layers) - 1
                if pc is None or neuron >= pc.count or pc.start + neuron != j or pc.layer_index != last:
                    raise SpikeCoreError(f"io map: output {j} is read from core {core} neuron {neuron}, "
                                         "which does not hold it")

    def dump(self) -> str:
        from spikecore.compiler.disasm import instruction_text

        cfg = self.config
        lines = [f"placed program: {len(self.cores)} of {cfg.board_cores} cores ({cfg.describe()}); "
                 f"{self.io.steps} steps per inference, inputs before steps {_steps_text(self.io.inject_steps)}"]
        for pc in self.cores:
            axons = f"{len(pc.axons)} axons" + (f" <- [{pc.axons[0]}..{pc.axons[-1]}]" if pc.axons else "")
            part = " partial sums" if pc.partial else " merging partial sums" if pc.merge else ""
            lines.append(f"  core {pc.core}: {pc.layer}[{pc.start}..{pc.start + pc.count - 1}] "
                         f"({pc.count} neurons{' and their twins' if pc.twins else ''}{part}), "
                         f"{axons}, {pc.weight_bytes} weight bytes, {len(pc.fanout)} fan-out entries")
            lines.append("      " + "; ".join(instruction_text(ins) for ins in pc.program))
        outs = sorted({core for pairs in self.io.outputs for core, _ in pairs})
        parts = max(len(pairs) for pairs in self.io.outputs)
        split = f", each the sum of {parts} partial membranes" if parts > 1 else ""
        lines.append(f"  outputs: {len(self.io.outputs)} read from cores {outs}{split}")
        return "\n".join(lines)


AnyStage = FloatGraph | QuantGraph | PlacedProgram


def dump(stage: AnyStage) -> str:
    """The printable form of any stage."""
    return stage.dump()
