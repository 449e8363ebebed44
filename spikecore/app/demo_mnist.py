"""``make sim NET=mnist``: SpikeCoreLab's 784→64→10 MLP end to end on a board of chips (issue 13).

The flow of ``make sim`` (:mod:`spikecore.app.demo`) for a model larger than a core and a chip:

1. data: MNIST IDX files from ``--mnist`` (a folder; nothing is downloaded), else scikit-learn's 8x8 digits
   upsampled to 28x28 (the output says which, :mod:`spikecore.app.mnist`);
2. model: a seeded 784→64→10 ReLU MLP trained here (a few seconds on one core), or a saved one (``--model``);
3. compile: graded mode (or ``--encoding rate``), fan-in split over partial-sum cores (docs/spec.md §4.8), placed
   on the fewest product chips, up to ``--max-chips``, that hold it (§13; the compiler picks the count, printed);
4. golden: every held-out sample on the functional golden board, checked against the compiler's integer
   reference; the links' events counted;
5. RTL: the first ``--rtl-samples`` held-out samples (default 20, or all if fewer; more is refused) through the
   RTL entry ``make sim`` uses
   (:func:`spikecore.app.demo.cosimulate_samples`: every record scoreboarded against the cycle-accurate golden
   model);
6. report: the table of ``make sim`` plus the board (chips) and the link traffic, on stdout and in
   ``build/sim/report.json``, and two PNGs (weights, float vs SpikeCore).

Energy follows ``spikecore profile``'s rule (:func:`spikecore.golden.energy.price_runs`): the events of the first
:data:`ENERGY_SAMPLES` held-out samples counted on the functional golden board and priced with ``--table`` (default
Loihi, Davies et al. 2018) per core of every chip, summed over the chips; link energy is not included (no cited
figure for a chip-to-chip link is in the tables; the link events per inference are reported).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from spikecore import isa
from spikecore.app import demo_report
from spikecore.app.cli_support import USER_ERRORS, ArgumentParser, OneMeaning, flow_parser
from spikecore.app.demo import (
    DEFAULT_RTL_SAMPLES,
    MAKE_KNOBS,
    REPO_ROOT,
    REPORT_VERSION,
    cosimulate_samples,
    progress,
    rtl_sample_count,
)
from spikecore.config import ChipConfig, parse_chip
from spikecore.errors import SpikeCoreError
from spikecore.golden.energy_tables import DEFAULT_CLOCK_MHZ, DEFAULT_TABLE, check_clock, resolve_table
from spikecore.wording import plural


def parse_args(argv: list[str] | None) -> tuple[ArgumentParser, argparse.Namespace]:
    """The parser of ``make sim NET=mnist`` and the parsed ``argv`` (a usage error exits 2 in one line)."""
    parser = flow_parser("make sim NET=mnist", MAKE_KNOBS, make="make sim NET=mnist", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", help="folder with the MNIST IDX files (train/t10k images/labels, optionally .gz)")
    parser.add_argument("--rtl-samples", type=int, default=None,
                        help=f"held-out samples run on the RTL board (0: none; default {DEFAULT_RTL_SAMPLES}, or all "
                             "if fewer; more than the held-out samples is refused)")
    parser.add_argument("--waves", action=argparse.BooleanOptionalAction, default=True,
                        help="write a VCD + .gtkw of RTL sample 0 (default on)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-chips", type=int, default=isa.MAX_CHIPS, dest="max_chips",
                        help=f"most chips the board may have (1..{isa.MAX_CHIPS}); the compiler takes the fewest that "
                             "hold the model")
    parser.add_argument("--chip", default=None,
                        help='the chip of the board in the chip text form, e.g. "cores=16 weight_bytes=4096" '
                             "(default: the product chip; chips=N in it is the most chips, as --max-chips)")
    parser.add_argument("--held-out", type=int, default=None, dest="held_out",
                        help="run only the first N held-out samples on the golden board (default: all)")
    parser.add_argument("--model", help="a saved torch.nn.Module (torch.save) taking 784 features; default: train one")
    parser.add_argument("--encoding", "--mode", dest="encoding", action=OneMeaning, choices=("graded", "rate"),
                        default="graded", help="compile encoding (--mode: the old spelling)")
    parser.add_argument("--allow-saturation", action="store_true", dest="allow_saturation",
                        help="clip model values that do not fit the chip (counted in report.json) instead of refusing")
    parser.add_argument("--table", default=DEFAULT_TABLE,
                        help="energy table of the board's cores: loihi (default), odin, reckon or a .json/.toml file "
                             "(links are not priced)")
    parser.add_argument("--out", default=str(REPO_ROOT / "build" / "sim"))
    parser.add_argument("--clock-mhz", type=float, default=None, dest="clock_mhz",
                        help=f"clock for latency (default {DEFAULT_CLOCK_MHZ:g} MHz, an assumed clock, as make sim)")
    return parser, parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the flow; 0 when golden == integer reference and every RTL sample matched (with records compared),
    1 otherwise, 2 with one stderr line for bad input (options, MNIST files, model, a board too small)."""
    parser, args = parse_args(argv)
    try:
        if args.rtl_samples is not None and args.rtl_samples < 0:
            raise SpikeCoreError(f"--rtl-samples must be 0 or more, not {args.rtl_samples}")
        if not 0 <= args.seed < 1 << 32:
            raise SpikeCoreError(f"--seed must be 0..{(1 << 32) - 1}, not {args.seed}")
        if not 1 <= args.max_chips <= isa.MAX_CHIPS:
            raise SpikeCoreError(f"--max-chips must be 1..{isa.MAX_CHIPS}, not {args.max_chips}")
        chip = parse_chip(args.chip)
        if args.chip and "chips" in args.chip:
            args.max_chips = chip.chips
        args.config = dataclasses.replace(chip, chips=args.max_chips)
        if args.held_out is not None and args.held_out < 1:
            raise SpikeCoreError(f"--held-out must be 1 or more, not {args.held_out}")
        resolve_table(args.table)      # a bad table is refused before minutes of work
        if args.clock_mhz is not None:
            check_clock(args.clock_mhz)
        return run_flow(args)
    except USER_ERRORS as error:
        return parser.report_error(error)


#: Held-out samples whose events are counted and priced (the first ones; ~0.1 s of CPU each on the 2 x 128-core
#: functional golden board, so MNIST's 10,000 would take a quarter of an hour); the output says how many.
ENERGY_SAMPLES = 100


def held_out_source(mnist: str | None) -> str:
    """Whose held-out samples ``make sim NET=mnist`` runs, for a message."""
    return f"MNIST's t10k split in {mnist}" if mnist else "scikit-learn's digits (20 % held out)"


def check_held_out(held_out: int, available: int, mnist: str | None) -> None:
    """Refuse ``--held-out`` (``HELD_OUT=``) above the ``available`` held-out samples in one line naming both,
    instead of running fewer samples than asked."""
    if held_out > available:
        source = held_out_source(mnist)
        raise SpikeCoreError(f"HELD_OUT={held_out} (--held-out): {source} has {available} held-out samples; "
                             f"HELD_OUT must be 1..{available}")


def run_flow(args: argparse.Namespace) -> int:
    """Steps 1-6 of the module docstring for checked ``args`` (``args.config``: the chip, ``chips`` the most)."""
    import torch

    from spikecore.app.board_cost import link_rows
    from spikecore.app.demo import check_digits_model, energy_per_inference
    from spikecore.app.demo_plots import float_vs_spikecore, weight_distribution
    from spikecore.app.digits import Dataset, predict
    from spikecore.app.mnist import SIZES, load_28x28, train_mnist_mlp
    from spikecore.app.runtime import run_batch
    from spikecore.compiler.frontends.torch import load_model
    from spikecore.compiler.pipeline import compile_model
    from spikecore.compiler.report import link_traffic

    started = time.perf_counter()

    progress("loading data")
    data, data_name = load_28x28(args.mnist, args.seed)
    if args.held_out is not None:
        check_held_out(args.held_out, len(data.x_test), args.mnist)
        data = Dataset(data.x_train, data.y_train, data.x_test[:args.held_out], data.y_test[:args.held_out])
    holder = f"HELD_OUT={args.held_out} keeps" if args.held_out is not None else f"{held_out_source(args.mnist)} has"
    rtl_samples = rtl_sample_count(args.rtl_samples, len(data.x_test), holder)
    progress(data_name)
    t0 = time.perf_counter()
    if args.model:
        progress(f"loading the model {args.model}")
        model = load_model(args.model)
        if not isinstance(model, torch.nn.Module):
            raise SpikeCoreError(f"model file {args.model}: expected a saved torch.nn.Module, found "
                                 f"{type(model).__name__}")
        check_digits_model(model.eval(), data, args.model)
        model_name = f"loaded from {args.model}"
    else:
        progress("training the 784-64-10 MLP")
        model = train_mnist_mlp(data, args.seed)
        model_name = f"{'-'.join(map(str, SIZES))} ReLU MLP trained with seed {args.seed}"
    train_seconds = time.perf_counter() - t0
    float_pred = predict(model, data.x_test)

    what = "product chip" if args.config == ChipConfig(chips=args.max_chips) else "chip"
    progress(f"compiling ({args.encoding} mode) for the smallest board of at most {plural(args.max_chips, what)}")
    t0 = time.perf_counter()
    compiled = compile_model(model, data.x_train[:1], data.x_train, encoding=args.encoding,
                             config=args.config, fit_chips=True,
                             allow_saturation=args.allow_saturation)
    for event in compiled.quant.saturations:
        progress(f"warning: {event.line()}")
    compile_seconds = time.perf_counter() - t0
    config = compiled.image.config
    placed = compiled.placed
    progress(f"board: {plural(config.chips, 'chip')} ({config.describe()}), the fewest that hold "
             f"the model's {len(placed.cores)} cores")

    progress(f"golden board: {len(data.x_test)} held-out samples (the functional board over the batch)")
    x_q = compiled.quantize_input(data.x_test)
    reference = compiled.reference(x_q, quantized=True)
    golden = run_batch(compiled, x_q, chip="batch", quantized=True, reference=reference)
    golden_equals_reference = bool(np.array_equal(golden.logits, reference.logits))

    priced = min(ENERGY_SAMPLES, len(x_q))
    progress(f"energy: counting and pricing the events of {priced} samples on the functional golden board")
    energy = energy_per_inference(compiled, x_q[:priced], args.table, args.clock_mhz)

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)   # after every input check: a refused run writes nothing
    rtl = None
    if rtl_samples:
        n = rtl_samples
        progress(f"RTL: {n} samples on the board of {config.chips} x {config.cores} cores (Verilator; the first "
                 "build takes minutes)")
        rtl = cosimulate_samples(compiled, x_q[:n], out_dir, args.waves, make_args=" NET=mnist")

    inferences = len(x_q)
    links = link_rows(golden.link_events if golden.link_events is not None else np.zeros((1, 1), np.int64),
                      inferences)
    entries = link_traffic(placed)
    for row in links:
        row["fanout_entries"] = entries.get((row["from"], row["to"]), 0)
        row["stall_cycles"] = int(golden.link_stalls[row["from"], row["to"]])
    clock = DEFAULT_CLOCK_MHZ if args.clock_mhz is None else args.clock_mhz
    cycles = float(golden.cycles.mean())
    report = {
        "version": REPORT_VERSION,
        "net": "mnist",
        **demo_report.accuracy_fields(data_name=data_name, model_name=model_name, encoding=args.encoding,
                                      steps=compiled.steps, float_pred=float_pred, predictions=golden.predictions,
                                      labels=data.y_test, golden_equals_reference=golden_equals_reference),
        "chips": config.chips,
        "board": config.describe(),
        **demo_report.activity_fields(golden),
        "energy_pj_per_inference": energy.energy_pj,
        "latency_us_per_inference": cycles / clock,
        "energy": energy.to_dict() | {"link_energy_included": False},
        "links": links,
        "link_events_per_inference": float(sum(r["events"] for r in links)) / max(1, inferences),
        "cores_used": len(placed.cores),
        "cores_per_chip": [sum(1 for pc in placed.cores if pc.core // config.cores == c) for c in range(config.chips)],
        "weight_bytes_used": int(sum(np.asarray(c.weights).size for c in placed.cores)),
        "train_seconds": round(train_seconds, 3),
        "compile_seconds": round(compile_seconds, 3),
        **demo_report.closing_fields(compiled, data.x_test, rtl),
    }
    progress("writing plots")
    files = {"weights": out_dir / "weight_distribution.png", "comparison": out_dir / "float_vs_spikecore.png"}
    weight_distribution(files["weights"], compiled)
    float_vs_spikecore(files["comparison"], compiled, model, data, float_pred, golden)
    demo_report.write_report(out_dir, report, files, rtl, started)

    rows = [
        *demo_report.head_rows(report, [("board", f"{plural(config.chips, 'chip')} of {config.cores} cores (the "
                                                  f"fewest of at most {args.max_chips} that hold the model)")]),
        demo_report.rtl_row(rtl, f"RTL vs golden ({plural(config.chips, 'chip')})"),
        *demo_report.activity_rows(report),
        ("energy per inference", f"{energy.energy_pj / 1000:.3f} nJ  (the cores of {plural(config.chips, 'chip')}, "
                                 f"table {energy.table.name}: {energy.table.reference}; mean of "
                                 f"{'the first ' if priced < inferences else ''}{plural(priced, 'held-out sample')}; "
                                 "link energy not included: no table prices a chip-to-chip link)"),
        ("latency per inference", f"{cycles / clock:.3f} us  ({cycles:.1f} cycles at {clock:g} MHz, "
                                  f"{'assumed' if args.clock_mhz is None else 'given'})"),
        ("cores / weight bytes used", f"{report['cores_used']} / {report['weight_bytes_used']}  (per chip: "
                                      f"{', '.join(map(str, report['cores_per_chip']))} cores)"),
    ]
    if links:
        rows += [(f"link {r['from']}->{r['to']}", f"{r['events_per_inference']:.1f} events per inference "
                                                  f"({r['fanout_entries']} fan-out entries cross it, "
                                                  f"{r['stall_cycles']} stall cycles in all)") for r in links]
    else:
        rows.append(("links", "no event crossed a link"))
    rows.append(("report", str(out_dir / "report.json")))
    return demo_report.finish(rows, report)


if __name__ == "__main__":
    sys.exit(main())
