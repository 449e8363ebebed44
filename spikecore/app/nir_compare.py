"""``spikecore compare model.nir``: the float NIR reference against SpikeCore (golden, and RTL when asked).

    spikecore compare model.nir [--dt S] [--reset value|subtract] [--steps T] [--rate P] [--seed N]
                                [--inputs x.npy] [--input-max X | --calib data.npy [--percentile P]]
                                [--chip "cores=16"] [--fine-weights | --fine-inputs | --coarse-inputs]
                                [--allow-saturation] [--rtl] [--sequences N]

``--dt``, ``--input-max``, ``--calib``, ``--percentile``, ``--chip`` and ``--allow-saturation`` mean what they mean
on ``spikecore compile``. The input range (the value sent as payload 127) is the graph's metadata, else
``--input-max``, else taken from the data: ``--calib`` when given, else the ``--inputs`` themselves, else 1 (the
random spikes). Input values outside the range are counted and reported, never clipped silently.

Compiles the graph, draws a random input (Bernoulli spikes of probability ``--rate`` per feature and step,
or the float ``(T, *input_shape)`` array of ``--inputs``), then runs

- the float reference (:mod:`~spikecore.compiler.nir.reference`: numpy, forward Euler at the same dt),
- the golden model (cycle-accurate, every spike recorded) and the integer reference, which must agree
  bit for bit,
- with ``--rtl``, the Verilator-built array under the cocotb scoreboard (:func:`spikecore.verif.sim.cosimulate`),
  which checks every trace record of the same image and stimulus against the golden model; it prints
  "not available" when the RTL toolchain cannot run here.

and prints per spiking layer the raster agreement (the fraction of (step, neuron) cells where both
spiked or both did not), the spike-time differences (spikes paired in order per neuron: mean and largest
|Δt| in steps, and how many spikes one side has more), and the output agreement. ``--sequences N`` also
runs ``N`` more random sequences (seeds ``seed + 1 ..``) on the batched golden model and prints how often the
readout's predicted class (the output neuron with the most spikes, :func:`predicted_class`) is the float
reference's, over the sequences whose reference readout has no tie (the tied ones are counted apart).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spikecore import isa, outputs
from spikecore.errors import SpikeCoreError


@dataclass
class LayerAgreement:
    """Spikes of one layer: float reference vs chip, both ``(T, neurons)``."""

    name: str
    cells: int
    agreement: float
    reference_spikes: int
    chip_spikes: int
    mean_shift: float
    max_shift: int
    unmatched: int

    def line(self) -> str:
        return (f"  {self.name}: raster agreement {self.agreement:.2%} of {self.cells} cells; spikes reference "
                f"{self.reference_spikes}, SpikeCore {self.chip_spikes}; spike-time difference mean "
                f"{self.mean_shift:.2f} max {self.max_shift} steps; {self.unmatched} unmatched")


def layer_agreement(name: str, reference: np.ndarray, chip: np.ndarray) -> LayerAgreement:
    """Compare two ``(T, neurons)`` rasters; spikes of each neuron are paired in order of time."""
    reference, chip = np.asarray(reference, dtype=bool), np.asarray(chip, dtype=bool)
    if reference.shape != chip.shape or reference.size == 0:
        raise SpikeCoreError(f"layer '{name}': rasters of shapes {reference.shape} and {chip.shape} cannot be compared")
    shifts, unmatched = [], 0
    for j in range(reference.shape[1]):
        a, b = np.flatnonzero(reference[:, j]), np.flatnonzero(chip[:, j])
        paired = min(len(a), len(b))
        shifts.extend(np.abs(a[:paired] - b[:paired]).tolist())
        unmatched += abs(len(a) - len(b))
    return LayerAgreement(name, reference.size, float((reference == chip).mean()), int(reference.sum()),
                          int(chip.sum()), float(np.mean(shifts)) if shifts else 0.0, max(shifts, default=0),
                          unmatched)


@dataclass
class Comparison:
    """Everything ``spikecore compare`` prints."""

    steps: int
    layers: list[LayerAgreement]
    output_kind: str
    output_agreement: float
    output_error: float
    golden_equals_integer: bool
    rtl: str = "not run (give --rtl)"
    notes: list[str] = field(default_factory=list)
    input_max: float = 1.0
    inputs_clipped: int = 0
    input_values: int = 0

    @property
    def raster_agreement(self) -> float:
        cells = sum(layer.cells for layer in self.layers)
        return sum(layer.agreement * layer.cells for layer in self.layers) / cells if cells else 1.0

    def text(self) -> str:
        lines = [f"{self.steps} input steps; float NIR reference vs SpikeCore golden model",
                 f"  inputs: range +-{self.input_max:g} (payload 127); {self.inputs_clipped} of {self.input_values} "
                 f"input values outside it, clipped"
                 + (" (give --input-max or --calib to widen the range)" if self.inputs_clipped else "")]
        lines += [layer.line() for layer in self.layers]
        if self.layers:
            lines.append(f"  all spiking layers: raster agreement {self.raster_agreement:.2%}")
        if self.output_kind == "spikes":
            lines.append(f"  output: spike counts equal for {self.output_agreement:.2%} of the output neurons")
        else:
            lines.append(f"  output ({self.output_kind}): largest |difference| {self.output_error:.4g} "
                         f"({self.output_agreement:.2%} of steps have the same largest output)")
        lines.append(f"golden model == integer reference (every spike, every output): "
                     f"{'yes' if self.golden_equals_integer else 'NO'}")
        lines.append(f"RTL: {self.rtl}")
        return "\n".join(lines + self.notes)


def random_spikes(shape: tuple[int, ...], steps: int, rate: float, seed: int) -> np.ndarray:
    """Bernoulli input spikes ``(steps, *shape)`` with probability ``rate`` each."""
    if not 0 <= rate <= 1:
        raise SpikeCoreError(f"--rate must lie in 0..1, not {rate}")
    if steps < 1:
        raise SpikeCoreError(f"--steps must be at least 1, not {steps}")
    if seed < 0:
        raise SpikeCoreError(f"--seed must be 0 or more, not {seed}")
    return (np.random.default_rng(seed).random((steps, *shape)) < rate).astype(np.float64)


def compare(graph: Any, x: np.ndarray, dt: float | None = None, reset: str | None = None, config=None,
            rtl: bool = False, fine_weights: bool | None = None, input_max: float | None = None,
            calibration_data: Any = None, percentile: float = 100.0, allow_saturation: bool = False,
            fine_inputs: bool | None = None) -> Comparison:
    """Compile ``graph`` (a ``nir.NIRGraph`` or a path) and compare its runs on ``x`` ``(T, *input_shape)``.

    ``fine_weights``, ``input_max``, ``percentile``, ``allow_saturation``, ``fine_inputs``: as for
    :func:`~spikecore.compiler.pipeline.compile_nir`; the input range comes from ``calibration_data`` when
    given, else from ``x`` itself (unless the graph's metadata or ``input_max`` fixes it). ``inputs_clipped``
    of the result counts the values of ``x`` outside the range."""
    from spikecore.app.nir_runtime import reference_nir, run_nir
    from spikecore.compiler.frontends import nir as frontend_nir
    from spikecore.compiler.nir.reference import simulate_float
    from spikecore.compiler.pipeline import compile_nir

    if not hasattr(graph, "nodes"):
        graph = frontend_nir.read_nir(graph)
    x = np.asarray(x, dtype=np.float64)
    compiled = compile_nir(graph, dt=dt, reset=reset, config=config, fine_weights=fine_weights, input_max=input_max,
                           calibration_data=x if calibration_data is None else calibration_data,
                           percentile=percentile, allow_saturation=allow_saturation, fine_inputs=fine_inputs)
    step = compiled.quant.dt
    with warnings.catch_warnings():   # the clipped inputs are counted in the result's text instead
        warnings.simplefilter("ignore", UserWarning)
        golden = run_nir(compiled, x, chip="cycle")
    integer = reference_nir(compiled, x)
    default_reset = reset or "value"
    floats = simulate_float(graph, x, step, default_reset)
    layers = [layer_agreement(name, floats.outputs[name].reshape(len(x), -1), golden.rasters[name])
              for name in golden.rasters]
    same = all(np.array_equal(golden.rasters[n], integer.rasters[n]) for n in golden.rasters) and np.array_equal(
        golden.output_int, integer.output_int)
    last = compiled.quant.layers[-1]
    reference_out = floats.output.reshape(len(x), -1)
    if last.to_host:
        counts_ref, counts_chip = reference_out.sum(axis=0), golden.output.sum(axis=0)
        kind, agreement, error = "spikes", float((counts_ref == counts_chip).mean()), 0.0
    else:
        kind = f"{last.neuron.kind} membranes"
        error = float(np.abs(golden.output - reference_out).max())
        agreement = float((golden.output.argmax(axis=1) == reference_out.argmax(axis=1)).mean())
    result = Comparison(len(x), layers, kind, agreement, error, same,
                        input_max=compiled.quant.input.scale * isa.PAYLOAD_MAX, inputs_clipped=golden.inputs_clipped,
                        input_values=int(x.size))
    if compiled.quant.saturations:
        result.notes += [f"warning: {event.line()}" for event in compiled.quant.saturations]
    if rtl:
        result.rtl = rtl_verdict(compiled, x)
    return result


@dataclass
class ClassAgreement:
    """The readout's predicted class, float reference vs SpikeCore, over ``sequences`` random inputs.

    ``agreement`` is the fraction of the ``untied`` sequences (those whose reference readout has one largest
    count) on which the classes are the same; a tied sequence has no class to agree on (nothing firing ties
    every neuron at 0), so it is counted in ``ties`` and not in ``agreement`` (NaN when every sequence tied).
    """

    sequences: int
    agreement: float
    ties: int

    @property
    def untied(self) -> int:
        return self.sequences - self.ties

    def line(self) -> str:
        head = "  readout class (most spikes, or largest summed membrane): "
        if not self.untied:
            return (f"{head}not compared: all {self.sequences} random input sequences have a tie in the reference "
                    "(give a higher --rate or more --steps)")
        return (f"{head}same on {self.agreement:.2%} of {self.untied} untied random input sequences "
                f"({self.ties} of {self.sequences} with a tie in the reference, not counted)")


def predicted_class(readout: np.ndarray) -> np.ndarray:
    """``(N,)`` the class of each of ``N`` readouts ``(N, T, classes)``: the neuron with the most spikes (or the
    largest summed membrane of a non-spiking readout), the lowest index on a tie."""
    return np.asarray(readout, dtype=np.float64).sum(axis=1).argmax(axis=1)


def class_agreement(graph: Any, compiled, xs: np.ndarray, reset: str | None = None) -> ClassAgreement:
    """Predicted classes (:func:`predicted_class`) of the float reference and of the batched golden model
    (:func:`~spikecore.app.nir_runtime.run_nir_batch`) on ``xs`` ``(N, T, *input_shape)``."""
    from spikecore.app.nir_runtime import run_nir_batch
    from spikecore.compiler.nir.reference import simulate_float

    xs = np.asarray(xs, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        chip = run_nir_batch(compiled, xs)
    floats = np.stack([simulate_float(graph, x, compiled.quant.dt, reset or "value").output.reshape(len(x), -1)
                       for x in xs])
    sums = np.sort(floats.sum(axis=1), axis=1)
    tied = sums[:, -1] == sums[:, -2] if sums.shape[1] > 1 else np.zeros(len(xs), dtype=bool)
    same = (predicted_class(floats) == predicted_class(chip))[~tied]
    return ClassAgreement(len(xs), float(same.mean()) if same.size else float("nan"), int(tied.sum()))


def rtl_verdict(compiled, x: np.ndarray) -> str:
    """Co-simulate the image and stimulus on the RTL with the scoreboard; a sentence saying how it went."""
    from spikecore.app.nir_runtime import nir_stimulus
    from spikecore.image import save_image

    try:
        from spikecore.verif.cocotb_array import RunSpec
        from spikecore.verif.sim import cosimulate
    except Exception as err:   # the verif package or cocotb missing: a sentence, not a traceback
        return f"not available ({type(err).__name__}: {err})"
    stimulus, steps = nir_stimulus(compiled, x)
    with tempfile.TemporaryDirectory(prefix="spikecore-compare-") as folder:
        path = Path(folder)
        with outputs.immediate():  # the simulator reads them back at once
            save_image(compiled.image, path / "image.bin")
            stimulus.save(path / "stimulus.json")
        spec = RunSpec(image=str(path / "image.bin"), stimulus=str(path / "stimulus.json"), steps=steps,
                       result=str(path / "result.json"), check="fast")
        try:
            (result,) = cosimulate([spec], compiled.image.config, path / "sim", log=lambda *_: None)
        except Exception as err:   # no Verilator, build failure, ...: report, do not crash the comparison
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            return f"not available ({first})"
    verdict = "RTL == golden" if result.get("passed") else "RTL DIFFERS from golden"
    return (f"{verdict}: {result.get('records_matched', 0)} of {result.get('records_compared', 0)} trace records "
            f"matched over {result.get('cycles', 0)} cycles")


#: Largest ``--sequences`` (docs/spec.md §12): each sequence is a float run of the reference, kept in memory.
MAX_SEQUENCES = 10_000


def _compare(args: argparse.Namespace) -> int:
    from spikecore.app.cli import check_steps
    from spikecore.app.cli_compile import input_twins, load_array
    from spikecore.app.nir_inputs import check_samples, graph_input_shape
    from spikecore.app.nir_inputs import in_file as _in_file
    from spikecore.compiler.frontends import nir as frontend_nir
    from spikecore.config import parse_chip

    twins = input_twins(args)
    if not 0 <= args.sequences <= MAX_SEQUENCES:
        raise SpikeCoreError(f"--sequences must be 0..{MAX_SEQUENCES}, not {args.sequences}")
    if not args.inputs:
        check_steps(args.steps, least=0)
    graph = frontend_nir.read_nir(args.model)
    shape = _in_file(args.model, lambda: graph_input_shape(graph))
    if args.inputs:
        x = load_array(args.inputs, "input file")
        check_samples(args.inputs, x, shape, args.model)
    else:
        x = random_spikes(shape, args.steps, args.rate, args.seed)
    config = parse_chip(args.chip) if args.chip else None
    fine = True if args.fine_weights else None
    data = load_array(args.calib) if args.calib else None
    if data is not None:
        check_samples(args.calib, data, shape, args.model, "calibration file", "N")
    if args.percentile is not None and data is None and not args.inputs:
        raise SpikeCoreError("--percentile picks the input range from data: give --calib data.npy or --inputs")
    percentile = 100.0 if args.percentile is None else args.percentile
    result = _in_file(args.model, lambda: compare(
        graph, x, dt=args.dt, reset=args.reset, config=config, rtl=args.rtl, fine_weights=fine,
        input_max=args.input_max, calibration_data=data, percentile=percentile, allow_saturation=args.allow_saturation,
        fine_inputs=twins))
    if args.sequences:
        from spikecore.compiler.pipeline import compile_nir

        compiled = _in_file(args.model, lambda: compile_nir(
            graph, dt=args.dt, reset=args.reset, config=config, fine_weights=fine, input_max=args.input_max,
            calibration_data=x if data is None else data, percentile=percentile,
            allow_saturation=args.allow_saturation, fine_inputs=twins))
        xs = np.stack([random_spikes(x.shape[1:], len(x), args.rate, args.seed + 1 + i)
                       for i in range(args.sequences)])
        result.notes.append(_in_file(args.model, lambda: class_agreement(graph, compiled, xs, args.reset)).line())
    print(result.text())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command to the ``spikecore`` parser."""
    parser = subparsers.add_parser("compare", help="compare a NIR graph's float reference with SpikeCore",
                                   description="Compile a NIR graph and print raster agreement, spike-time "
                                               "differences and output agreement between the float NIR reference "
                                               "and SpikeCore (golden model; RTL with --rtl).")
    parser.add_argument("model", help="NIR graph (.nir)")
    parser.add_argument("--dt", type=float, default=None, help="seconds per step, if the graph's metadata has none")
    parser.add_argument("--reset", choices=("value", "subtract"), default=None,
                        help="IF/LIF reset when the graph does not say: value (NIR, default) or subtract (snnTorch)")
    parser.add_argument("--steps", type=int, default=100, help="input steps of the random input (default 100)")
    parser.add_argument("--rate", type=float, default=0.2, help="spike probability per input and step (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    parser.add_argument("--inputs", metavar="X", help="a .npy float array (T, *input_shape) instead of random spikes")
    parser.add_argument("--chip", metavar="CONFIG", help='chip configuration, e.g. "cores=16 weight_bytes=512"')
    parser.add_argument("--input-max", type=float, default=None, dest="input_max",
                        help="input value injected as payload 127, as for compile (default: the graph's metadata, "
                             "else the data: --calib, else --inputs; 1 for the random spikes)")
    parser.add_argument("--calib", metavar="DATA", help="a .npy float array whose non-zero |values| set the input "
                                                       "range, as for compile")
    parser.add_argument("--percentile", type=float, default=None,
                        help="input range as a percentile of the data's non-zero |values| (default 100 = max)")
    parser.add_argument("--allow-saturation", action="store_true", dest="allow_saturation",
                        help="clip values that do not fit the chip, with a warning, instead of refusing the graph")
    parser.add_argument("--fine-weights", action="store_true", dest="fine_weights",
                        help="compile with fine weights (~15-bit, twice the axons; docs/nir.md)")
    parser.add_argument("--fine-inputs", action="store_true", dest="fine_inputs",
                        help="fine weights on the first layer only (input twins from the host; the default unless "
                             "a recurrent edge enters an earlier layer; docs/nir.md)")
    parser.add_argument("--coarse-inputs", action="store_true", dest="coarse_inputs",
                        help="int8 weights on the first layer too (no input twins; docs/nir.md)")
    parser.add_argument("--rtl", action="store_true",
                        help="also co-simulate the RTL against the golden model; the first run on a chip config "
                             "builds its whole Verilator model (the 128-core product chip without --chip: minutes; "
                             "a small --chip is quicker), later runs reuse it")
    parser.add_argument("--sequences", type=int, default=0, metavar="N",
                        help="also compare the readout's predicted class on N more random sequences (seeds seed+1..)")
    parser.set_defaults(handler=_compare)
