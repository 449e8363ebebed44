"""``spikecore compile``: a saved PyTorch model or a NIR graph to a SpikeCore image, listing and report.

    spikecore compile model.pt --encoding graded|rate [--T 32] [--out prog.bin] [--listing prog.s] [--report]
                      [--dump-ir float|quant|placed|all] [--calib data.npy] [--percentile P] [--input-max X]
                      [--chip "cores=16 weight_bytes=512"] [--allow-saturation]
                      [--frontend torch|tvm] [--dump-ir partition]
    spikecore compile model.nir [--dt SECONDS] [--reset value|subtract] [--input-max X | --calib x.npy]
                      [--fine-weights | --fine-inputs | --coarse-inputs] [--out ...] [...]

``--input-max``, ``--calib``, ``--percentile``, ``--chip`` and ``--allow-saturation`` mean the same for both
kinds of model (and on ``spikecore compare``); ``--encoding``/``--T`` are PyTorch-only, ``--dt``/``--reset``/
``--fine-weights``/``--fine-inputs``/``--coarse-inputs`` NIR-only; ``--frontend`` is PyTorch-only. ``--mode`` is
the old spelling of ``--encoding`` (the ``encoding`` argument of
:func:`~spikecore.compiler.pipeline.compile_model`), still accepted.

A ``.nir`` file is a NIR graph (docs/nir.md): read with ``nir.read``, discretised at ``dt`` (the graph's
metadata ``dt``, else ``--dt``) and laid out by the same placement and codegen.

``model.pt`` is a whole module saved with ``torch.save(model, path)`` (loaded with ``weights_only=False``:
only compile files you trust) or an exported program saved with ``torch.export.save`` (``.pt2``).
``--calib`` is a ``.npy`` float array ``(N, ...)`` of representative inputs; without it the compiler
calibrates on uniform [0, 1) inputs and says so on stderr. Register with ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from spikecore import outputs
from spikecore.app.cli_support import OneMeaning, notice
from spikecore.compiler.ir import STAGES
from spikecore.config import parse_chip
from spikecore.errors import SpikeCoreError
from spikecore.wording import plural

UNIFORM_CALIBRATION_SAMPLES = 256


def load_array(path: str | Path, what: str = "calibration file") -> np.ndarray:
    """A float ``.npy`` array (no pickles); ``what`` names the file in error messages."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise SpikeCoreError(f"{what} {path}: not found") from None
    except (ValueError, OSError) as err:
        raise SpikeCoreError(f"{what} {path}: not a .npy array ({err})") from None
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "fiub" or data.ndim < 2:
        raise SpikeCoreError(f"{what} {path}: expected a numeric array (N, features...), "
                             f"got {getattr(data, 'dtype', type(data))} {getattr(data, 'shape', '')}")
    if len(data) == 0 or data[0].size == 0:
        raise SpikeCoreError(f"{what} {path}: holds no samples (shape {data.shape})")
    data = data.astype(np.float32)
    if not np.isfinite(data).all():
        raise SpikeCoreError(f"{what} {path}: holds NaN or infinity")
    return data


def _example_shape(model) -> tuple[int, ...] | None:
    """The per-sample input shape of a module whose first layer is a Linear (others need --calib)."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            return (module.in_features,)
        if isinstance(module, torch.nn.Conv2d):
            return None
    return None


def _input_shape(model) -> tuple[int, ...] | None:
    from torch.export import ExportedProgram

    if isinstance(model, ExportedProgram):
        for spec in model.graph_signature.input_specs:
            if spec.kind.name == "USER_INPUT":
                node = next(n for n in model.graph.nodes if n.name == spec.arg.name)
                return tuple(int(d) for d in node.meta["val"].shape[1:])
        return None
    return _example_shape(model)


#: Options that mean something for one kind of model only. ``--input-max``, ``--calib``, ``--percentile``,
#: ``--chip`` and ``--allow-saturation`` mean the same for both (and on ``spikecore compare``): the input value
#: sent as payload 127, the data the ranges come from, which percentile of it, the chip, clip-and-warn.
NIR_ONLY = ("dt", "reset", "fine_weights", "fine_inputs", "coarse_inputs")
TORCH_ONLY = ("encoding", "T", "frontend")


def saturation_report(quant) -> str:
    """What ``--allow-saturation`` clipped: one warning line per clipped chip field, or that nothing was."""
    if not quant.saturations:
        return "saturation: none (every weight, bias, threshold, decay and initial membrane is represented)"
    total = sum(event.count for event in quant.saturations)
    return "\n".join([f"saturation: {total} values clipped (--allow-saturation)",
                      *(f"warning: {event.line()}" for event in quant.saturations)])


def _flag(args: argparse.Namespace, name: str) -> str:
    """The option as the user typed it (``--mode`` for the old spelling of ``--encoding``)."""
    typed = getattr(args, f"_spelled_{name}", None)
    if typed:
        return list(typed)[-1]
    return "--" + name.replace("_", "-") if name != "T" else "--T"


def _compile(args: argparse.Namespace) -> int:
    is_nir = Path(args.model).suffix.lower() == ".nir"
    for name in TORCH_ONLY if is_nir else NIR_ONLY:
        if getattr(args, name) is not None:
            kind = "PyTorch models" if is_nir else "NIR graphs (.nir)"
            raise SpikeCoreError(f"{_flag(args, name)} applies to {kind} only")
    if is_nir:
        return _compile_nir(args)
    from spikecore.compiler.frontends.torch import load_model
    from spikecore.compiler.pipeline import compile_model

    args.encoding = args.encoding or "graded"
    args.frontend = args.frontend or "torch"
    if "partition" in (args.dump_ir or []) and args.frontend != "tvm":
        raise SpikeCoreError("--dump-ir partition: the partitioned Relax module exists only with --frontend tvm")
    args.percentile = 100.0 if args.percentile is None else args.percentile
    if args.T is not None and args.encoding != "rate":
        raise SpikeCoreError("--T applies to --encoding rate only")
    config = parse_chip(args.chip)
    _refuse_overlap(args)
    model = load_model(args.model)
    shape = _input_shape(model)
    if args.calib:
        calibration = load_array(args.calib)
        if shape is not None and calibration[0].size != int(np.prod(shape)):
            raise SpikeCoreError(f"calibration file {args.calib}: samples of shape {calibration.shape[1:]} do not "
                                 f"match the model input {shape}")
    else:
        if shape is None:
            raise SpikeCoreError(f"{args.model}: cannot tell the input shape; give --calib data.npy")
        calibration = np.random.default_rng(0).random((UNIFORM_CALIBRATION_SAMPLES, *shape), dtype=np.float32)
        notice("spikecore compile: no --calib given; calibrating on uniform [0, 1) inputs")
    try:
        compiled = compile_model(model, calibration[:1], calibration, encoding=args.encoding, T=args.T, config=config,
                                 percentile=args.percentile, title=Path(args.model).name, input_max=args.input_max,
                                 allow_saturation=args.allow_saturation, frontend=args.frontend)
    except SpikeCoreError as err:
        raise SpikeCoreError(f"model file {args.model}: {err}") from None
    return _write_outputs(args, compiled)


def _compile_nir(args: argparse.Namespace) -> int:
    from spikecore.compiler.pipeline import compile_nir

    twins = input_twins(args)
    config = parse_chip(args.chip) if args.chip else None
    data = load_array(args.calib) if args.calib else None
    if data is not None:  # checked as compare's --inputs are
        from spikecore.app.nir_inputs import check_samples, graph_input_shape, in_file
        from spikecore.compiler.frontends import nir as frontend_nir

        graph = frontend_nir.read_nir(args.model)
        check_samples(args.calib, data, in_file(args.model, lambda: graph_input_shape(graph)), args.model,
                      "calibration file", "N")
    if args.percentile is not None and data is None:
        raise SpikeCoreError("--percentile picks the input range from data: give --calib data.npy too")
    _refuse_overlap(args)
    compiled = compile_nir(args.model, dt=args.dt, reset=args.reset, config=config, input_max=args.input_max,
                           title=Path(args.model).name, fine_weights=args.fine_weights, calibration_data=data,
                           percentile=100.0 if args.percentile is None else args.percentile,
                           allow_saturation=args.allow_saturation, fine_inputs=twins)
    return _write_outputs(args, compiled)


def input_twins(args: argparse.Namespace) -> bool | None:
    """``compile_nir``'s ``fine_inputs`` from ``--fine-inputs`` / ``--coarse-inputs`` (``None``: the graph's
    default, docs/spec.md §11); any two of ``--fine-weights``, ``--fine-inputs`` and ``--coarse-inputs``, and a
    NIR ``--calib`` with ``--input-max`` (either one sets the input range), are refused in one line."""
    if args.coarse_inputs and args.fine_inputs:
        raise SpikeCoreError("--fine-inputs and --coarse-inputs contradict each other; pass one of them")
    if args.fine_inputs and args.fine_weights:
        raise SpikeCoreError("--fine-inputs and --fine-weights exclude each other (fine weights include the first "
                             "layer's); pass one of them")
    if getattr(args, "calib", None) and args.input_max is not None:
        raise SpikeCoreError("--calib and --input-max exclude each other (each sets the input range); pass one "
                             "of them")
    if args.coarse_inputs and args.fine_weights:
        raise SpikeCoreError("--coarse-inputs contradicts --fine-weights (fine weights include the first layer's)")
    return False if args.coarse_inputs else True if args.fine_inputs else None


def _output(args: argparse.Namespace) -> Path:
    return Path(args.out) if args.out else Path(args.model).with_suffix(".bin")


def _refuse_overlap(args: argparse.Namespace) -> None:
    outputs.refuse_overlap([("model", args.model), ("--calib", getattr(args, "calib", None))],
                           [("--out", _output(args)), ("--listing", args.listing),
                            ("--layer-map", args.layer_map)])


def _write_outputs(args: argparse.Namespace, compiled) -> int:
    from spikecore.image import encode_image

    out = _output(args)
    data = encode_image(compiled.image, str(out))
    outputs.write_bytes(out, data)  # both files appear only once the whole command has succeeded
    if args.listing:
        outputs.write_text(args.listing, compiled.listing)
    if args.layer_map:
        import json

        from spikecore.app.profile import layer_map_dict

        layer_map = layer_map_dict({pc.core: pc.layer for pc in compiled.placed.cores})
        outputs.write_text(args.layer_map, json.dumps(layer_map, indent=2) + "\n")
    for stage in args.dump_ir or []:
        every = (("partition",) if compiled.partition is not None else ()) + STAGES
        for name in every if stage == "all" else (stage,):
            print(compiled.dump(name))
    if args.report and compiled.encoding == "nir":
        from spikecore.compiler.nir.discretize import discretisation_report
        from spikecore.compiler.report import utilisation

        print(utilisation(compiled.placed))
        print(discretisation_report(compiled.quant))
    elif args.report:
        print(compiled.report())
    if args.report:
        print(saturation_report(compiled.quant))
    elif compiled.quant.saturations:
        notice(saturation_report(compiled.quant))
    if compiled.encoding == "nir" and compiled.quant.period > 1:   # a recurrent edge into an earlier layer
        period = compiled.quant.period
        print(f"{out}: {len(data)} bytes, {plural(len(compiled.image.cores), 'core')}, NIR graph at "
              f"dt={compiled.quant.dt:g} s, {plural(len(compiled.quant.layers), 'layer')} ({period} chip steps per "
              f"dt; layer k works on input step t in chip step {period}t + k)")
    elif compiled.encoding == "nir":
        print(f"{out}: {len(data)} bytes, {plural(len(compiled.image.cores), 'core')}, NIR graph at "
              f"dt={compiled.quant.dt:g} s, {plural(len(compiled.quant.layers), 'layer')} (one chip step per dt; "
              "layer k lags the input by k steps)")
    else:
        host = f"; host work after the chip: {', '.join(compiled.host_work)}" if compiled.host_work else ""
        print(f"{out}: {len(data)} bytes, {plural(len(compiled.image.cores), 'core')}, {compiled.encoding} mode, "
              f"{plural(compiled.steps, 'step')} per inference{host}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compile`` sub-command to the ``spikecore`` parser."""
    parser = subparsers.add_parser("compile", help="compile a PyTorch model or a NIR graph to a SpikeCore image",
                                   description="Compile a saved PyTorch model (torch.save module or .pt2 exported "
                                               "program) or a NIR graph (.nir) to a SpikeCore image, with listing "
                                               "and report.")
    parser.add_argument("model", help="model file: torch.save(module) (.pt), torch.export.save (.pt2) or NIR (.nir)")
    parser.add_argument("--encoding", "--mode", dest="encoding", action=OneMeaning, choices=("graded", "rate"),
                        default=None,
                        help="graded: exact integer inference, one step per layer (default); rate: binary spikes "
                             "(--mode: the old spelling)")
    parser.add_argument("--T", type=int, default=None, help="rate encoding: presentation steps (default 32)")
    parser.add_argument("--out", help="image file to write (default: the model path with suffix .bin)")
    parser.add_argument("--listing", metavar="FILE", help="write the commented assembly listing to FILE")
    parser.add_argument("--report", action="store_true", help="print utilisation and quantisation")
    parser.add_argument("--layer-map", metavar="FILE", dest="layer_map",
                        help="write the layer map (JSON {\"layers\": {name: [cores]}}) for spikecore profile --layers")
    parser.add_argument("--dump-ir", action="append", choices=("partition", *STAGES, "all"), metavar="STAGE",
                        help="print the IR after a stage: float, quant, placed or all (repeatable); partition: the "
                             "partitioned Relax module (--frontend tvm)")
    parser.add_argument("--frontend", choices=("torch", "tvm"), default=None,
                        help="torch: walk the torch.export graph (default); tvm: TVM Relax BYOC partition and the "
                             "relax.ext.spikecore codegen (same image; needs spikecore[tvm])")
    parser.add_argument("--calib", metavar="DATA", help="calibration inputs, a .npy float array (N, ...); NIR: the "
                                                       "input range comes from it")
    parser.add_argument("--percentile", type=float, default=None,
                        help="calibrated range as a percentile of the activations (NIR: of the non-zero |inputs| "
                             "of --calib) (default 100 = max)")
    parser.add_argument("--input-max", type=float, default=None, dest="input_max",
                        help="input value injected as payload 127 (default: the graph's metadata, else the --calib "
                             "data, else 1 for NIR spikes)")
    parser.add_argument("--allow-saturation", action="store_true", dest="allow_saturation",
                        help="clip a weight, bias, threshold, decay or initial membrane that does not fit the chip, "
                             "with a warning and counts in --report, instead of refusing the model")
    parser.add_argument("--chip", metavar="CONFIG", help='chip configuration, e.g. "cores=16 weight_bytes=512"; '
                        '"chips=2" compiles for a board of 2 such chips (docs/spec.md §13) '
                        "(NIR: default the chip in the graph's metadata)")
    nir_group = parser.add_argument_group("NIR graphs (.nir; docs/nir.md)")
    nir_group.add_argument("--dt", type=float, default=None,
                           help="seconds per chip step, when the graph's metadata has no dt (snnTorch: 1e-4)")
    nir_group.add_argument("--reset", choices=("value", "subtract"), default=None,
                           help="IF/LIF reset when the node's metadata does not say: value (v := v_reset, NIR; "
                                "default) or subtract (v -= v_threshold - v_reset; snnTorch's default)")
    nir_group.add_argument("--fine-weights", action="store_true", default=None, dest="fine_weights",
                           help="~15-bit weights and exact biases through payload-1 twin spikes, at twice the "
                                "axons and source neurons (densely firing networks; docs/nir.md)")
    nir_group.add_argument("--fine-inputs", action="store_true", default=None, dest="fine_inputs",
                           help="fine weights on the first layer only: the host injects each input's payload-1 "
                                "twin (twice the input events and first-layer axons, no neurons; the default "
                                "unless a recurrent edge enters an earlier layer; docs/nir.md)")
    nir_group.add_argument("--coarse-inputs", action="store_true", default=None, dest="coarse_inputs",
                           help="int8 weights on the first layer too: no input twins (half the input events "
                                "and first-layer axons, less exact; docs/nir.md)")
    parser.set_defaults(handler=_compile)
