"""``make sim``: the product end to end on real handwritten digits.

The data path reads top to bottom, as :func:`main` runs it:

1. data: scikit-learn's bundled ``load_digits`` (8x8, no download), or MNIST IDX files from a local folder
   (``--mnist``), average-pooled to the same 8x8 so that the same 64-input network fits a core's 256 B;
2. model: a seeded 64→32→10 MLP trained here (under a second), or a saved module (``--model``);
3. compile: quantise, place and generate the SpikeCore image (:func:`compile_model`);
4. golden: every held-out sample on the functional golden model, all samples at once
   (:class:`~spikecore.golden.batch.BatchFunctionalChip`), checked against the compiler's integer reference;
5. RTL: the first ``--rtl-samples`` held-out samples on the 128-core array under Verilator, every
   cycle's records scoreboarded against the cycle-accurate golden model (:mod:`spikecore.verif.sim`);
6. energy: every held-out sample's events counted on the golden model and priced with a cited table
   (:mod:`spikecore.golden.energy`; default Loihi, Davies et al. 2018), latency at a stated clock;
7. report: one table on stdout, ``build/sim/report.json``, four PNGs and a VCD + ``.gtkw`` of one sample.

``--example NAME`` instead runs one of ``examples/*.s`` on the golden model and prints its summary.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from spikecore.app.cli_support import USER_ERRORS, OneMeaning, flow_parser
from spikecore.app.demo_report import (
    accuracy_fields,
    activity_fields,
    activity_rows,
    closing_fields,
    finish,
    head_rows,
    rtl_row,
    write_report,
)
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
REPORT_VERSION = 1


def progress(message: str) -> None:
    print(f"[sim] {message}", flush=True)


# --- 1. data -----------------------------------------------------------------------------------------------


def load_data(mnist: str | None, seed: int):
    from spikecore.app.digits import Dataset, load_digits_split, load_mnist

    if not mnist:
        return load_digits_split(seed), "sklearn load_digits (8x8)"
    full = load_mnist(mnist)
    pooled = [pool_to_8x8(x) for x in (full.x_train, full.x_test)]
    return Dataset(pooled[0], full.y_train, pooled[1], full.y_test), f"MNIST from {mnist}, pooled 28x28 -> 8x8"


def pool_to_8x8(x: np.ndarray) -> np.ndarray:
    """28x28 images → 8x8 by zero-padding to 32x32 and averaging 4x4 blocks (the digits' resolution)."""
    images = x.reshape(len(x), 28, 28)
    padded = np.zeros((len(x), 32, 32), dtype=np.float32)
    padded[:, 2:30, 2:30] = images
    return padded.reshape(len(x), 8, 4, 8, 4).mean(axis=(2, 4)).reshape(len(x), 64)


# --- 2. model ----------------------------------------------------------------------------------------------


def load_or_train(model_path: str | None, data, seed: int):
    import torch

    from spikecore.app.digits import train_digits_mlp

    if model_path:
        from spikecore.compiler.frontends.torch import load_model

        model = load_model(model_path)
        if not isinstance(model, torch.nn.Module):
            raise SpikeCoreError(f"model file {model_path}: expected a saved torch.nn.Module, found "
                                 f"{type(model).__name__}")
        check_digits_model(model.eval(), data, model_path)
        return model, f"loaded from {model_path}"
    model, _ = train_digits_mlp(seed=seed, data=data)
    return model, f"64-32-10 MLP trained with seed {seed}"


def check_digits_model(model, data, model_path: str) -> None:
    """Refuse, in one line, a model that does not map the data's features to one score per digit."""
    import torch

    features = data.x_train.shape[1]
    classes = int(max(data.y_train.max(), data.y_test.max())) + 1
    try:
        with torch.no_grad():
            scores = model(torch.as_tensor(data.x_train[:1], dtype=torch.float32))
    except (RuntimeError, TypeError, ValueError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SpikeCoreError(f"model file {model_path}: does not take the {features} input features of the data "
                             f"({first_line})") from None
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (1, classes):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise SpikeCoreError(f"model file {model_path}: returns {shape} for one sample, expected (1, {classes}): "
                             "one score per digit")


# --- 5. RTL ------------------------------------------------------------------------------------------------


def cosimulate_samples(compiled, x_q: np.ndarray, out_dir: Path, waves: bool, make_args: str = "") -> dict:
    """Co-simulate each sample on the 128-core array: a fresh load and reset per sample, full scoreboard.
    ``make_args`` goes into each run's reproduce line (``make sim{make_args} RTL_SAMPLES=n``)."""
    from spikecore.image import save_image
    from spikecore.verif.cocotb_array import RunSpec
    from spikecore.verif.sim import cosimulate

    rtl_dir = out_dir / "rtl"
    rtl_dir.mkdir(parents=True, exist_ok=True)
    image_path = rtl_dir / "image.bin"
    save_image(compiled.image, image_path)
    runs = []
    for i, sample in enumerate(x_q):
        stimulus_path = rtl_dir / f"sample{i:03d}.stimulus.json"
        compiled.stimulus(sample, quantized=True).save(stimulus_path)
        runs.append(RunSpec(image=str(image_path), steps=compiled.steps, result=str(rtl_dir / f"sample{i:03d}.json"),
                            stimulus=str(stimulus_path), seed=i, check="full",
                            reproduce=f"make sim{make_args} RTL_SAMPLES={i + 1}"))
    started = time.perf_counter()
    results = cosimulate(runs, compiled.image.config, rtl_dir, waves=False, log=progress)
    wave_files = {}
    if waves:
        progress("re-running sample 0 with waves")
        wave_dir = out_dir / "waves"
        wave_runs = [RunSpec(image=runs[0].image, steps=runs[0].steps, result=str(wave_dir / "sample000.json"),
                             stimulus=runs[0].stimulus, seed=0, check="full")]
        wave_result = cosimulate(wave_runs, compiled.image.config, wave_dir, waves=True, log=progress)[0]
        wave_files = {"vcd": wave_result.get("vcd"), "gtkw": wave_result.get("gtkw")}
    return {
        "samples": len(results),
        "passed": sum(bool(r["passed"]) for r in results),
        "records_compared": int(sum(r["records_compared"] for r in results)),
        "mismatches": int(sum(r["mismatches"] for r in results)),
        "cycles": int(sum(r["cycles"] for r in results)),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "failures": [r.get("report", r.get("reason", "")) for r in results if not r["passed"]],
        **wave_files,
    }


# --- 6. report ---------------------------------------------------------------------------------------------


#: Held-out samples run on the RTL when RTL_SAMPLES (--rtl-samples) is not given, or all of them if fewer.
DEFAULT_RTL_SAMPLES = 20


def rtl_sample_count(given: int | None, available: int, holder: str) -> int:
    """The held-out samples to run on the RTL: ``given`` (``RTL_SAMPLES=``, ``--rtl-samples``), or when not given
    :data:`DEFAULT_RTL_SAMPLES`, or all ``available`` if fewer.

    Raises :class:`SpikeCoreError` (one line naming RTL_SAMPLES, its value and the maximum) for ``given`` above
    ``available`` instead of running fewer samples than asked; ``holder`` says whose samples they are, with its
    verb (``"HELD_OUT=5 keeps"``, ``"MNIST's t10k split in mnist/ has"``).
    """
    if given is None:
        return min(DEFAULT_RTL_SAMPLES, available)
    if given > available:
        raise SpikeCoreError(f"RTL_SAMPLES={given} (--rtl-samples): {holder} {available} held-out samples; "
                             f"RTL_SAMPLES must be 0..{available}")
    return given


#: The make variable of each flag (the Makefile's ``sim`` target), for messages: ``RTL_SAMPLES=-1 (--rtl-samples)``.
MAKE_KNOBS = {"--rtl-samples": "RTL_SAMPLES", "--model": "MODEL", "--encoding": "ENCODING", "--mode": "MODE",
              "--mnist": "MNIST", "--table": "TABLE", "--clock-mhz": "CLOCK_MHZ", "--held-out": "HELD_OUT",
              "--chip": "CHIP"}


def main(argv: list[str] | None = None) -> int:
    parser = flow_parser("make sim", MAKE_KNOBS, make="make sim", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a saved torch.nn.Module (torch.save) taking 64 features; default: train one")
    parser.add_argument("--encoding", "--mode", dest="encoding", action=OneMeaning, choices=("graded", "rate"),
                        default="graded",
                        help="compile encoding (--mode: the old spelling)")
    parser.add_argument("--T", type=int, default=None, help="rate encoding: timesteps per inference")
    parser.add_argument("--rtl-samples", type=int, default=None,
                        help=f"held-out samples run on the RTL (0: none; default {DEFAULT_RTL_SAMPLES}, or all if "
                             "fewer; more than the held-out samples is refused)")
    parser.add_argument("--waves", action=argparse.BooleanOptionalAction, default=True,
                        help="write a VCD + .gtkw of sample 0 (default on)")
    parser.add_argument("--mnist", help="folder with MNIST IDX files (nothing is downloaded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--allow-saturation", action="store_true", dest="allow_saturation",
                        help="clip model values that do not fit the chip (counted in report.json) instead of refusing")
    parser.add_argument("--out", default=str(REPO_ROOT / "build" / "sim"))
    parser.add_argument("--example", help="instead: run examples/NAME.s on the golden model")
    parser.add_argument("--table", default="loihi",
                        help="energy table: loihi (default), odin, reckon or a .json/.toml file")
    parser.add_argument("--clock-mhz", type=float, default=None, dest="clock_mhz",
                        help="clock for latency (default 100 MHz, an assumed clock)")
    args = parser.parse_args(argv)
    try:
        if args.example:
            return run_example(args.example)
        if args.rtl_samples is not None and args.rtl_samples < 0:
            raise SpikeCoreError(f"--rtl-samples must be 0 or more, not {args.rtl_samples}")
        if not 0 <= args.seed < 1 << 32:
            raise SpikeCoreError(f"--seed must be 0..{(1 << 32) - 1}, not {args.seed}")
        return run_flow(args)
    except USER_ERRORS as error:
        return parser.report_error(error)


def energy_per_inference(compiled, x_q: np.ndarray, table_spec: str, clock_mhz: float | None):
    """Count every sample's events on the functional golden model (the golden board for a board image) and price
    them per core, kind and layer: :func:`spikecore.golden.energy.price_runs`, as ``spikecore profile`` does (on
    a board: every chip's cores; link events counted, not priced)."""
    from spikecore.golden.energy import price_runs
    from spikecore.golden.energy_tables import DEFAULT_CLOCK_MHZ, resolve_table

    table = resolve_table(table_spec)
    stimuli = (compiled.stimulus(sample, quantized=True) for sample in x_q)
    layer_of_core = {pc.core: pc.layer for pc in compiled.placed.cores}
    return price_runs(compiled.image, stimuli, compiled.steps, table,
                      DEFAULT_CLOCK_MHZ if clock_mhz is None else clock_mhz, layer_of_core)


def run_flow(args: argparse.Namespace) -> int:
    from spikecore.app.demo_plots import plot_all
    from spikecore.app.digits import predict
    from spikecore.app.profile import plot_energy
    from spikecore.app.runtime import run_batch
    from spikecore.compiler.pipeline import compile_model
    from spikecore.golden.energy_tables import check_clock, resolve_table

    resolve_table(args.table)           # a bad table or clock is refused before minutes of work
    if args.clock_mhz is not None:
        check_clock(args.clock_mhz)
    started = time.perf_counter()

    progress("loading data")
    data, data_name = load_data(args.mnist, args.seed)
    rtl_samples = rtl_sample_count(args.rtl_samples, len(data.x_test), f"{data_name} has")
    progress("training / loading the model")
    model, model_name = load_or_train(args.model, data, args.seed)
    float_pred = predict(model, data.x_test)

    progress(f"compiling ({args.encoding} mode)")
    t0 = time.perf_counter()
    compiled = compile_model(model, data.x_train[:1], data.x_train, encoding=args.encoding, T=args.T,
                             config=ChipConfig(), allow_saturation=args.allow_saturation)
    for event in compiled.quant.saturations:
        progress(f"warning: {event.line()}")
    compile_seconds = time.perf_counter() - t0

    progress(f"golden model: {len(data.x_test)} held-out samples")
    x_q = compiled.quantize_input(data.x_test)
    reference = compiled.reference(x_q, quantized=True)
    golden = run_batch(compiled, x_q, chip="batch", quantized=True, reference=reference)
    golden_equals_reference = bool(np.array_equal(golden.logits, reference.logits))
    progress(f"energy: counting and pricing the events of {len(x_q)} samples")
    energy = energy_per_inference(compiled, x_q, args.table, args.clock_mhz)

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)   # after every input check: a refused run writes nothing
    rtl = None
    if rtl_samples:
        n = rtl_samples
        cores = compiled.image.config.cores
        progress(f"RTL: {n} samples on the {cores}-core array (Verilator; the first build takes minutes)")
        rtl = cosimulate_samples(compiled, x_q[:n], out_dir, args.waves)

    placed = compiled.placed
    report = {
        "version": REPORT_VERSION,
        **accuracy_fields(data_name=data_name, model_name=model_name, encoding=args.encoding, steps=compiled.steps,
                          float_pred=float_pred, predictions=golden.predictions, labels=data.y_test,
                          golden_equals_reference=golden_equals_reference),
        **activity_fields(golden),
        "energy_pj_per_inference": energy.energy_pj,
        "latency_us_per_inference": energy.latency_us,
        "energy": energy.to_dict(),
        "cores_used": len(placed.cores),
        "weight_bytes_used": int(sum(np.asarray(c.weights).size for c in placed.cores)),
        "compile_seconds": round(compile_seconds, 3),
        **closing_fields(compiled, data.x_test, rtl),
    }
    progress("writing plots")
    files = plot_all(out_dir, compiled, model, data, float_pred, golden, x_q)
    plot_energy(out_dir / "energy_breakdown.png", energy)
    files["energy"] = str(out_dir / "energy_breakdown.png")
    write_report(out_dir, report, files, rtl, started)

    rows = [
        *head_rows(report),
        rtl_row(rtl, "RTL vs golden (128 cores)"),
        *activity_rows(report),
        ("energy per inference", f"{energy.energy_pj / 1000:.3f} nJ  (table {energy.table.name}: "
                                 f"{energy.table.reference}; per kind and layer in report.json)"),
        ("latency per inference", f"{energy.latency_us:.3f} us  ({energy.cycles:.1f} cycles at "
                                  f"{energy.clock_mhz:g} MHz, {'assumed' if args.clock_mhz is None else 'given'})"),
        ("cores / weight bytes used", f"{report['cores_used']} / {report['weight_bytes_used']}"),
        ("report", str(out_dir / "report.json")),
    ]
    return finish(rows, report)


def run_example(name: str) -> int:
    from spikecore.compiler.asm import assemble
    from spikecore.golden.run import run
    from spikecore.golden.summary import summarize
    from spikecore.stimulus import Stimulus

    source = EXAMPLES / f"{name}.s"
    if not source.exists():
        names = ", ".join(sorted(p.stem for p in EXAMPLES.glob("*.s")))
        raise SpikeCoreError(f"--example {name}: no examples/{name}.s (have: {names})")
    image = assemble(source.read_text(), name=source.name)
    stimulus_path = EXAMPLES / f"{name}.stim.csv"
    stimulus = Stimulus.load(stimulus_path) if stimulus_path.exists() else None
    steps = 1 + max(stimulus.events, default=0) if stimulus else 1
    result = run(image, stimulus, steps=max(steps, 2))
    print(f"examples/{name}.s on the golden model ({image.config.describe()})")
    print(summarize(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
