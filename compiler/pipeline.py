"""The model compiler as one linear sequence of named passes: ``compile_model`` → :class:`CompiledModel`.

>>> import torch
>>> from spikecore.config import ChipConfig
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
>>> data = torch.rand(16, 4)
>>> compiled = compile_model(model, data[:1], data, config=ChipConfig(cores=4))
>>> compiled.steps, sorted(compiled.image.cores)
(2, [0, 1])
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikecore.compiler import codegen, place, quantize
from spikecore.compiler.frontends import torch as frontend_torch
from spikecore.compiler.ir import STAGES, FloatGraph, IOMap, PlacedProgram, QuantGraph
from spikecore.compiler.reference import ReferenceResult, run_reference
from spikecore.config import ChipConfig, format_chip, parse_chip
from spikecore.errors import SpikeCoreError
from spikecore.image import Image, encode_image
from spikecore.stimulus import Stimulus


@dataclass
class CompiledModel:
    """Everything the host needs to run a compiled model, and every IR stage for inspection.

    ``io`` says where each input feature is injected and where each output is read; one inference is:
    reset state, then for each of ``steps`` steps inject :meth:`stimulus`'s events for that step and run
    the step, then read the output membranes (``io.outputs``). :mod:`spikecore.app.runtime` does this.
    """

    image: Image
    listing: str
    stages: dict[str, FloatGraph | QuantGraph | PlacedProgram]
    io: IOMap
    steps: int
    encoding: str
    T: int
    timings: dict[str, float] = field(default_factory=dict)
    #: ``torch`` (the torch.export walk) or ``tvm`` (Relax BYOC, :mod:`spikecore.compiler.frontends.tvm`).
    frontend: str = "torch"
    #: Work the chip does not do (TVM frontend: ops left outside the SpikeCore partition, e.g. a softmax of
    #: the logits), in model order; the host runs it on the outputs read from the chip.
    host_work: list[str] = field(default_factory=list)
    #: The partitioned Relax module as text (TVM frontend only; ``dump("partition")``).
    partition: str | None = None

    @property
    def float_graph(self) -> FloatGraph:
        return self.stages["float"]

    @property
    def quant(self) -> QuantGraph:
        return self.stages["quant"]

    @property
    def placed(self) -> PlacedProgram:
        return self.stages["placed"]

    def dump(self, stage: str) -> str:
        """The printable IR of ``stage`` (``float``, ``quant``, ``placed``; ``partition`` for the TVM frontend)."""
        if stage == "partition":
            if self.partition is None:
                raise SpikeCoreError("IR stage 'partition' exists only for the TVM frontend (--frontend tvm)")
            return self.partition
        if stage not in STAGES:
            raise SpikeCoreError(f"IR stage must be one of {', '.join(STAGES)}, not {stage!r}")
        return self.stages[stage].dump()

    def quantize_input(self, x: Any) -> np.ndarray:
        """Float batch ``(N, ...)`` → int payloads ``(N, features)``, as the host computes them."""
        return self.quant.input.quantize(np.asarray(x))

    def stimulus(self, sample: Any, quantized: bool = False) -> Stimulus:
        """The host's injections for ONE sample (float features, or int payloads when ``quantized``).

        Features are injected in ascending order, zero payloads skipped, before every step of
        ``io.inject_steps``, followed by that step's ``io.bias_events``; run it for ``steps`` steps from a
        reset state.
        """
        q = np.asarray(sample)
        q = q.reshape(-1).astype(np.int64) if quantized else self.quantize_input(q.reshape(1, -1))[0]
        if q.shape != (len(self.io.inputs),):
            raise SpikeCoreError(f"sample has {q.size} features, the model takes {len(self.io.inputs)}")
        inputs = [(core, axon, int(p)) for p, pairs in zip(q.tolist(), self.io.inputs, strict=True) if p
                  for core, axon in pairs]
        stimulus = Stimulus({step: list(inputs) for step in self.io.inject_steps} if inputs else {})
        for step, core, axon, payload in self.io.bias_events:
            stimulus.events.setdefault(step, []).append((core, axon, payload))
        return stimulus

    def stream_stimulus(self, batch: Any, quantized: bool = False) -> Stimulus:
        """Graded mode, pipelined: sample ``s`` of ``batch`` injected before step ``s``, no state resets.

        Run it for ``len(batch) + steps - 1`` steps; sample ``s``'s outputs are in the membranes after step
        ``s + steps - 1`` (:meth:`IOMap.read_outputs`). Works because graded layers are stateless.
        """
        if self.encoding != "graded":
            raise SpikeCoreError("stream_stimulus: only graded-mode programs are stateless and can be pipelined")
        q = np.asarray(batch, dtype=np.int64) if quantized else self.quantize_input(batch)
        return Stimulus({s: self.stimulus(row, quantized=True).at(0) for s, row in enumerate(q)
                         if self.stimulus(row, quantized=True).at(0)})

    def reference(self, x: Any, quantized: bool = False) -> ReferenceResult:
        """The integer reference (:mod:`~spikecore.compiler.reference`) on a batch."""
        q = np.asarray(x, dtype=np.int64) if quantized else self.quantize_input(x)
        return run_reference(self.quant, q)

    def report(self) -> str:
        from spikecore.compiler.report import compile_report

        return compile_report(self)


def _timed(timings: dict[str, float], name: str, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    timings[name] = time.perf_counter() - start
    return result


FRONTENDS = ("torch", "tvm")


def compile_model(model: Any, example_input: Any, calibration_data: Any, encoding: str = "graded",
                  T: int | None = None, config: ChipConfig | None = None, percentile: float = 100.0,
                  title: str = "model", input_max: float | None = None, allow_saturation: bool = False,
                  frontend: str = "torch", fit_chips: bool = False) -> CompiledModel:
    """Compile a PyTorch ``model`` (``nn.Module`` or exported program) for SpikeCore.

    ``example_input`` (batch dimension first) is what ``torch.export`` traces with; ``calibration_data``
    (``(N, ...)``, float) sets the input scale and every layer's activation range. ``encoding`` is ``graded``
    (exact integer inference, one step per layer) or ``rate`` (binary spikes over ``T`` presentation steps,
    default 32). ``percentile`` picks the calibrated activation range (100 = max). ``input_max`` (default:
    ``max|x|`` of the calibration data) is the input value injected as payload 127. A value that does not fit
    its chip field (weight, bias, threshold, initial membrane) is refused in one line naming the layer and the
    neuron, unless ``allow_saturation``: then it is clipped and listed in ``quant.saturations``. ``frontend``
    is ``torch`` (walk the torch.export graph) or ``tvm`` (Relax BYOC partition and the ``relax.ext.spikecore``
    codegen; needs ``spikecore[tvm]``); for the same model and data both give the same IR and image bytes.
    ``fit_chips``: ``config.chips`` is the most chips allowed, and the image is for the fewest chips, 1 ..
    ``config.chips``, that hold the model (:func:`~spikecore.compiler.place.smallest_board`; a model even
    ``config.chips`` cannot hold is refused in one line as without it).
    """
    if frontend not in FRONTENDS:
        raise SpikeCoreError(f"frontend must be one of {', '.join(FRONTENDS)}, not {frontend!r}")
    config = config if config is not None else ChipConfig()
    if not isinstance(config, ChipConfig):
        raise SpikeCoreError(f"config must be a ChipConfig, not {type(config).__name__}")
    if calibration_data is None:
        raise SpikeCoreError("calibration data is required to choose the quantisation scales")
    t: dict[str, float] = {}
    calibration = np.asarray(calibration_data.detach() if hasattr(calibration_data, "detach") else calibration_data,
                             dtype=np.float64)

    def finish(float_graph: FloatGraph) -> CompiledModel:
        return finish_compile(float_graph, calibration, encoding, T, percentile, config, title, t, input_max,
                              allow_saturation, fit_chips)

    if frontend == "tvm":
        return _compile_tvm(model, example_input, finish, t)
    # 1. Frontend first: every later pass works on the IR, never on torch objects.
    return finish(_timed(t, "frontend", frontend_torch.from_torch, model, example_input, config))


def finish_compile(float_graph: FloatGraph, calibration: Any, encoding: str = "graded", T: int | None = None,
                   percentile: float = 100.0, config: ChipConfig | None = None, title: str = "model",
                   timings: dict[str, float] | None = None, input_max: float | None = None,
                   allow_saturation: bool = False, fit_chips: bool = False) -> CompiledModel:
    """The passes after the frontend, shared by both frontends: quantise, place, codegen.

    ``calibration`` is a float array ``(N, ...)``; the other arguments are :func:`compile_model`'s. The TVM
    frontend's ``relax.ext.spikecore`` codegen calls this on the float IR of the SpikeCore partition.
    """
    config = config if config is not None else ChipConfig()
    t = timings if timings is not None else {}
    calibration = np.asarray(calibration.detach() if hasattr(calibration, "detach") else calibration, dtype=np.float64)
    float_graph.check()
    # 2. Quantise before placing: placement sizes cores from the *integer* weights (a weight that rounds to
    #    zero needs no axon) and needs the neuron parameters (bias -> init/reset, thresholds).
    quant = _timed(t, "quantize", quantize.quantize, float_graph, calibration, encoding, T, percentile, config,
                   input_max, allow_saturation)
    quant.check()

    def lay_out(chip: ChipConfig) -> CompiledModel:
        q = quant if chip == config else _timed(t, "quantize", quantize.quantize, float_graph, calibration, encoding,
                                                T, percentile, chip, input_max, allow_saturation)
        if fit_chips:
            chip = _timed(t, "board size", place.smallest_board, q, chip)
        return _lay_out(float_graph, q, chip, title, t)

    return lay_out_or_hint(lay_out, config)


def _compile_tvm(model: Any, example_input: Any, finish, t: dict[str, float]) -> CompiledModel:
    """The TVM path: the ``relax.ext.spikecore`` codegen calls ``finish`` (the shared passes) on its float IR."""
    from spikecore.compiler.frontends import tvm as tvm_frontend

    start = time.perf_counter()
    if isinstance(model, frontend_torch.ExportedProgram):
        program = model
    elif example_input is None:
        raise SpikeCoreError("an nn.Module needs an example input (batch dimension first) to be exported")
    else:
        program = frontend_torch.export_model(model, example_input)
    stages = tvm_frontend.compile_tvm(program, finish)
    compiled = stages.result
    compiled.timings = {"frontend (tvm)": time.perf_counter() - start - sum(t.values()), **t}
    compiled.frontend = "tvm"
    compiled.host_work = list(stages.split.host_work)
    compiled.partition = stages.partitioned.script(show_meta=False)
    return compiled


def _lay_out(float_graph: FloatGraph, quant: QuantGraph, config: ChipConfig, title: str,
             t: dict[str, float]) -> CompiledModel:
    """The passes every frontend shares: placement, then codegen."""
    # 3. Place before codegen: codegen only encodes; every capacity decision is made (and checked) here.
    placed = _timed(t, "place", place.place, quant, config)
    placed.check()
    # 4. Codegen last: the image and listing are pure functions of the placed program.
    image, text = _timed(t, "codegen", codegen.codegen, placed, title)
    # placement returns the graph with the layers whose fan-in it split (QuantGraph.merged): that is the graph
    # the integer reference must run
    return CompiledModel(image, text, {"float": float_graph, "quant": placed.quant, "placed": placed}, placed.io,
                         placed.io.steps, quant.encoding, quant.T, t)


def compile_nir(graph: Any, dt: float | None = None, reset: str | None = None, config: ChipConfig | None = None,
                input_max: float | None = None, title: str = "model", fine_weights: bool | None = None,
                calibration_data: Any = None, percentile: float = 100.0, allow_saturation: bool = False,
                fine_inputs: bool | None = None) -> CompiledModel:
    """Compile a NIR graph (a ``nir.NIRGraph`` or the path of a ``.nir`` file) for SpikeCore.

    ``dt`` (seconds per step) is taken from the graph's metadata when it has one, else it must be given.
    ``reset`` (``value``, NIR's default, or ``subtract``) applies to IF/LIF nodes whose metadata does not
    say. ``config`` defaults to the chip named in the graph's metadata, else the product chip.
    ``input_max`` (default: the graph's metadata, else the ``percentile`` of ``|calibration_data|`` when data
    ``(N or T, *input_shape)`` is given, else 1 for spike inputs) is the largest input magnitude: payload 127.
    ``fine_weights`` (default: the graph's metadata, else no): ~15-bit weights and exact bias currents through
    payload-1 twin spikes, at twice the axons and source neurons (docs/nir.md, "Accuracy").
    ``allow_saturation``: clip values that leave their chip field (listed in ``quant.saturations``) instead of
    refusing the graph in one line naming the layer, the neuron, the value needed and the largest representable.
    ``fine_inputs``: fine weights on the first layer only (the host injects each input's payload-1 twin: twice the
    input events and first-layer axons, no neurons; docs/compiler.md, "NIR accuracy"); implied by fine weights.
    Default ``None``: on unless a recurrent edge enters an earlier layer
    (:func:`~spikecore.compiler.nir.discretize.input_twins_by_default`, from the graph alone, never the chip);
    ``False`` (``--coarse-inputs``) gives the first layer int8 weights. A graph that does not fit ``config`` with
    the twins but fits without them is refused in one line ending in that hint (never a silent fallback).
    The discretisation is docs/spec.md §11; running the program is :mod:`~spikecore.app.nir_runtime`.
    """
    from spikecore.compiler import conv_order
    from spikecore.compiler.frontends import nir as frontend_nir
    from spikecore.compiler.nir import discretize

    if isinstance(graph, str | os.PathLike):
        path = os.fspath(graph)
        try:
            return compile_nir(frontend_nir.read_nir(path), dt, reset, config, input_max, title, fine_weights,
                               calibration_data, percentile, allow_saturation, fine_inputs)
        except SpikeCoreError as err:  # name the file, once
            text = str(err)
            raise SpikeCoreError(text if text.startswith(f"NIR file {path}") else f"NIR file {path}: {text}") from None
    if config is None:
        stored = frontend_nir.graph_chip(graph)
        config = parse_chip(stored, f"metadata {frontend_nir.CHIP_KEY}")
    if not isinstance(config, ChipConfig):
        raise SpikeCoreError(f"config must be a ChipConfig, not {type(config).__name__}")
    step = frontend_nir.resolve_dt(graph, dt)
    scale = frontend_nir.resolve_input_max(graph, input_max, calibration_data, percentile)
    fine = frontend_nir.resolve_fine_weights(graph, fine_weights)
    t: dict[str, float] = {}
    float_graph = _timed(t, "frontend", frontend_nir.from_nir, graph, reset, config)
    float_graph = _timed(t, "order", conv_order.reorder_convolutions, float_graph)

    twins = [False]    # the program has input twins (placement, not the discretisation, refused it)

    def lay_out(chip: ChipConfig, inputs: bool | None = fine_inputs) -> CompiledModel:
        quant = _timed(t, "quantize", discretize.discretize, float_graph, step, scale, chip, fine, allow_saturation,
                       inputs)
        twins[0] = quant.input.twins and not fine
        return _lay_out(float_graph, quant, chip, title, t)

    def refuse(err: SpikeCoreError) -> SpikeCoreError:
        """``err``, ending in the --coarse-inputs hint when only the input twins keep the graph off ``config``."""
        if twins[0]:
            try:
                lay_out(config, False)
            except SpikeCoreError:
                return err
            return SpikeCoreError(f"{err}{COARSE_HINT}")
        return err

    return lay_out_or_hint(lay_out, config, refuse)


def lay_out_or_hint(lay_out, config: ChipConfig, refuse=lambda err: err) -> CompiledModel:
    """``lay_out(config)``, or its one-line refusal ending in the ``--chip`` of a chip (or board) that holds the
    whole model when :func:`_chip_that_holds` finds one. Both frontends (torch/TVM and NIR) refuse through here.

    ``lay_out(chip)`` compiles the model for ``chip`` and raises :class:`SpikeCoreError` when it cannot;
    ``refuse(err)`` may extend a refusal (NIR: the --coarse-inputs hint). Raises that one-line refusal."""
    try:
        return lay_out(config)
    except place.DeeperChipNeeded as first:
        refusal, chip = first, first.chip
    except place.BoardTooSmall as first:
        # a chip given smaller buffers than its weight_bytes gives: name the default depths when they hold it
        refusal, chip = first, place.deepest_default(config)
        if chip is None:    # then the same chips' board, one chip included, when one of at most 16 holds it
            raise refuse(first if first.board is None else
                         place.BoardTooSmall(first.reason, config, first.board)) from None
    except SpikeCoreError as err:
        raise refuse(err) from None
    holds, tried, why = _chip_that_holds(lay_out, chip)
    if holds is not None:
        raise refuse(place.DeeperChipNeeded(refusal.reason, config, holds)) from None
    if isinstance(refusal, place.BoardTooSmall):
        raise refuse(refusal) from None
    raise refuse(SpikeCoreError(f'{refusal.reason}; deeper buffers alone do not hold the graph: --chip '
                                f'"{format_chip(tried, changed_only=True, against=config)}" is refused too '
                                f'({why})')) from None


def _chip_that_holds(lay_out, chip: ChipConfig) -> tuple[ChipConfig | None, ChipConfig, SpikeCoreError | None]:
    """``(holds, tried, why)``: a chip with buffers at least as deep as ``chip``'s (and perhaps more chips) that
    holds the whole graph, trying at most a few layouts, or None with the last chip ``tried`` and ``why`` it
    was refused.

    One layer's deeper buffers can move the refusal to another layer (its fan-out grows with the next layer's
    twins): follow the chips the refusals name. A chip whose depths are below those its ``weight_bytes`` gives
    may then hold every layer but not all of them (a core reads fewer sources, so there are more cores): try the
    default depths (docs/spec.md §1.1), then the board of more chips (at most ``isa.MAX_CHIPS``, also after one
    chip) the capacity refusal names."""
    why = None
    for _ in range(6):
        try:
            compiled = lay_out(chip)
        except place.DeeperChipNeeded as again:
            chip, why = again.chip, again
            continue
        except SpikeCoreError as other:
            deeper = place.deepest_default(chip)
            if deeper is not None:
                chip = deeper
                continue
            if isinstance(other, place.BoardTooSmall) and other.board is not None:
                return other.board, chip, None
            return None, chip, other
        # the image's chip: with ``fit_chips`` the fewest chips that hold the model, not the most allowed
        return compiled.image.config, chip, None
    return None, chip, why


#: The end of a refusal whose graph fits the chip without the input twins (compile_nir's default).
COARSE_HINT = "; without the input twins it fits this chip: pass --coarse-inputs"


def check_round_trip(image: Image, path: str | os.PathLike[str]) -> None:
    """Raise unless the NIR file at ``path`` compiles back to exactly ``image``'s bytes."""
    expected = encode_image(image)
    try:
        again = encode_image(compile_nir(path).image)
    except SpikeCoreError as err:
        raise SpikeCoreError(f"the exported graph does not compile back ({err}); this image does not follow the NIR "
                             "compiler's conventions") from None
    if again != expected:
        size = min(len(again), len(expected))
        first = next((i for i in range(size) if again[i] != expected[i]), size)
        raise SpikeCoreError(f"the exported graph compiles to a different image (first differing byte at offset "
                             f"{first}); this image does not follow the NIR compiler's conventions")
