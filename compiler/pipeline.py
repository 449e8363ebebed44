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
from spikecore.config import ChipConfig, parse_chip
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
    mode: str
    T: int
    timings: dict[str, float] = field(default_factory=dict)

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
        """The printable IR of ``stage`` (``float``, ``quant`` or ``placed``)."""
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
        if self.mode != "graded":
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


def compile_model(model: Any, example_input: Any, calibration_data: Any, mode: str = "graded", T: int | None = None,
                  config: ChipConfig | None = None, percentile: float = 100.0, title: str = "model") -> CompiledModel:
    """Compile a PyTorch ``model`` (``nn.Module`` or exported program) for SpikeCore.

    ``example_input`` (batch dimension first) is what ``torch.export`` traces with; ``calibration_data``
    (``(N, ...)``, float) sets the input scale and every layer's activation range. ``mode`` is ``graded``
    (exact integer inference, one step per layer) or ``rate`` (binary spikes over ``T`` presentation steps,
    default 32). ``percentile`` picks the calibrated activation range (100 = max).
    """
    config = config if config is not None else ChipConfig()
    if not isinstance(config, ChipConfig):
        raise SpikeCoreError(f"config must be a ChipConfig, not {type(config).__name__}")
    if calibration_data is None:
        raise SpikeCoreError("calibration data is required to choose the quantisation scales")
    t: dict[str, float] = {}
    calibration = np.asarray(calibration_data.detach() if hasattr(calibration_data, "detach") else calibration_data,
                             dtype=np.float64)

    # 1. Frontend first: every later pass works on the IR, never on torch objects.
    float_graph = _timed(t, "frontend", frontend_torch.from_torch, model, example_input)
    float_graph.check()
    # 2. Quantise before placing: placement sizes cores from the *integer* weights (a weight that rounds to
    #    zero needs no axon) and needs the neuron parameters (bias -> init/reset, thresholds).
    quant = _timed(t, "quantize", quantize.quantize, float_graph, calibration, mode, T, percentile, config)
    quant.check()
    return _lay_out(float_graph, quant, config, title, t)


def _lay_out(float_graph: FloatGraph, quant: QuantGraph, config: ChipConfig, title: str,
             t: dict[str, float]) -> CompiledModel:
    """The passes every frontend shares: placement, then codegen."""
    # 3. Place before codegen: codegen only encodes; every capacity decision is made (and checked) here.
    placed = _timed(t, "place", place.place, quant, config)
    placed.check()
    # 4. Codegen last: the image and listing are pure functions of the placed program.
    image, text = _timed(t, "codegen", codegen.codegen, placed, title)
    return CompiledModel(image, text, {"float": float_graph, "quant": quant, "placed": placed}, placed.io,
                         placed.io.steps, quant.mode, quant.T, t)


def compile_nir(graph: Any, dt: float | None = None, reset: str | None = None, config: ChipConfig | None = None,
                input_max: float | None = None, title: str = "model", fine_weights: bool | None = None
                ) -> CompiledModel:
    """Compile a NIR graph (a ``nir.NIRGraph`` or the path of a ``.nir`` file) for SpikeCore.

    ``dt`` (seconds per step) is taken from the graph's metadata when it has one, else it must be given.
    ``reset`` (``value``, NIR's default, or ``subtract``) applies to IF/LIF nodes whose metadata does not
    say. ``config`` defaults to the chip named in the graph's metadata, else the product chip.
    ``input_max`` (default: the graph's metadata, else 1 for spike inputs) is the largest input magnitude.
    ``fine_weights`` (default: the graph's metadata, else no): ~15-bit weights and exact bias currents through
    payload-1 twin spikes, at twice the axons and source neurons (docs/nir.md, "Accuracy").
    The discretisation is docs/spec.md §11; running the program is :mod:`~spikecore.app.nir_runtime`.
    """
    from spikecore.compiler.frontends import nir as frontend_nir
    from spikecore.compiler.nir import discretize

    if isinstance(graph, str | os.PathLike):
        path = os.fspath(graph)
        try:
            return compile_nir(frontend_nir.read_nir(path), dt, reset, config, input_max, title, fine_weights)
        except SpikeCoreError as err:  # name the file, once
            text = str(err)
            raise SpikeCoreError(text if text.startswith(f"NIR file {path}") else f"NIR file {path}: {text}") from None
    if config is None:
        stored = frontend_nir.graph_chip(graph)
        config = parse_chip(stored, f"metadata {frontend_nir.CHIP_KEY}")
    if not isinstance(config, ChipConfig):
        raise SpikeCoreError(f"config must be a ChipConfig, not {type(config).__name__}")
    step = frontend_nir.resolve_dt(graph, dt)
    scale = frontend_nir.resolve_input_max(graph, input_max)
    fine = frontend_nir.resolve_fine_weights(graph, fine_weights)
    t: dict[str, float] = {}
    float_graph = _timed(t, "frontend", frontend_nir.from_nir, graph, reset)
    quant = _timed(t, "quantize", discretize.discretize, float_graph, step, scale, config, fine)
    return _lay_out(float_graph, quant, config, title, t)


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
