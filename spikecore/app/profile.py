"""``spikecore profile prog.bin``: energy and latency per inference of any image, from the golden model's counts.

    spikecore profile prog.bin --inputs a.csv [b.csv ...] [--steps N] [--table loihi|odin|reckon|FILE]
                               [--clock-mhz F] [--layers map.json] [--json out.json] [--plot out.png]

Each ``--inputs`` file is one inference (a state reset before each); the figures are means over them.
Without ``--inputs`` one inference runs with no host events. A board image (``chips > 1``, docs/spec.md §13)
runs on the golden board: stimuli name global core ids, the figures are per core of every chip and per chip,
and link events are counted but not priced. ``--steps`` and the stimulus steps are chip steps; an image whose
cores run every ``D``-th chip step (``.period D``, docs/spec.md §2: a compiled recurrent loop through ``D``
layers) takes ``D`` chip steps per input step, and the output says both; ``--steps`` must be a multiple of
``D`` (whole input steps; the default rounds up to one). The counts come from the functional golden
model, priced by :func:`spikecore.golden.energy.price_runs` (the rule of ``make sim`` too). A
layer map (``--layers``: JSON ``{"layers": {"name": [core, ...]}}``, as ``spikecore compile --layer-map``
writes it) adds a per-layer breakdown; without one the plot has one bar per core.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikecore import outputs
from spikecore.errors import SpikeCoreError
from spikecore.wording import plural

# --- layer maps ----------------------------------------------------------------------------------------------


def layer_map_dict(layer_of_core: dict[int, str]) -> dict[str, object]:
    """The JSON form of a layer map: ``{"layers": {name: [cores ascending]}}`` in first-core order."""
    layers: dict[str, list[int]] = {}
    for core in sorted(layer_of_core):
        layers.setdefault(layer_of_core[core], []).append(int(core))
    return {"layers": layers}


def load_layer_map(path: str | Path, cores: int, chips: int = 1) -> dict[int, str]:
    """``{core: layer name}`` from a layer map file; one-line :class:`SpikeCoreError` naming the file if invalid.

    ``cores`` counts every core the image has: on a board (``chips > 1``) the global core ids, and the message
    says board."""
    holder = "chip" if chips == 1 else f"board of {chips} chips"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SpikeCoreError(f"{path}: malformed JSON: {err.msg} (line {err.lineno}, column {err.colno})") from None
    except UnicodeDecodeError:
        raise SpikeCoreError(f"{path}: not UTF-8 text") from None
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, dict):
        raise SpikeCoreError(f'{path}: expected {{"layers": {{"name": [core, ...]}}}}')
    layer_of_core: dict[int, str] = {}
    for name, core_list in layers.items():
        if not isinstance(core_list, list):
            raise SpikeCoreError(f"{path}: layer {name!r}: expected a list of cores, not {type(core_list).__name__}")
        for core in core_list:
            if isinstance(core, bool) or not isinstance(core, int) or not 0 <= core < cores:
                raise SpikeCoreError(f"{path}: layer {name!r}: core {core!r} is not a core of the {holder} "
                                     f"(0..{cores - 1})")
            if core in layer_of_core:
                raise SpikeCoreError(f"{path}: core {core} is in two layers ({layer_of_core[core]!r} and {name!r})")
            layer_of_core[core] = name
    return layer_of_core


# --- the plot ------------------------------------------------------------------------------------------------


def plot_energy(path: str | Path, report, title: str = "") -> None:
    """A stacked bar chart of energy per inference (pJ): one bar per layer (per active core without a layer
    map), one colour per priced event kind; the table and clock in the caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from spikecore.golden.energy import LABELS
    from spikecore.golden.energy_tables import ITEMS

    if report.layer_pj:
        names = list(report.layer_pj)
        values = np.array([[report.layer_pj[name][item] for item in ITEMS] for name in names])
        xlabel = "layer"
    else:
        active = np.flatnonzero(report.core_pj.any(axis=1))
        names = [f"core {report.core_name(int(c))}" for c in active]
        values = report.core_pj[active]
        xlabel = "core"
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(names) + 3), 4.2))
    bottom = np.zeros(len(names))
    for i, item in enumerate(ITEMS):
        if values[:, i].any():
            ax.bar(names, values[:, i], bottom=bottom, label=LABELS[item])
            bottom += values[:, i]
    ax.set_ylabel("energy per inference (pJ)")
    ax.set_xlabel(xlabel)
    ax.set_title(title or f"Energy per inference: {report.energy_pj:.1f} pJ, latency {report.latency_us:.3f} us")
    ax.margins(y=0.3)          # room above the tallest bar for the legend
    ax.legend(fontsize=8, loc="upper left", ncol=3)
    fig.text(0.01, 0.01, f"table {report.table.name}; clock {report.clock_mhz:g} MHz", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    with outputs.output_path(path) as temporary:     # renamed into place once the command succeeded
        fig.savefig(temporary, dpi=110)
    plt.close(fig)


# --- chip steps and input steps --------------------------------------------------------------------------------


def input_step_period(image) -> int | None:
    """Chip steps per input step: the period ``D`` every core section of ``image`` shares (docs/spec.md §2; 1 when
    none sets one), or ``None`` when the sections' periods differ (no single input step)."""
    periods = {core.period for core in image.cores.values()} or {1}
    return periods.pop() if len(periods) == 1 else None


def describe_steps(image, steps: int) -> str:
    """``"20 steps"``, or with periods ``"20 chip steps = 10 input steps (every core runs every 2 chip steps:
    period 2, docs/spec.md §2)"``; with different periods the periods are listed and no input step is named."""
    period = input_step_period(image)
    if period == 1:
        return plural(steps, "step")
    if period is None:
        periods = sorted({core.period for core in image.cores.values()})
        return (f"{plural(steps, 'chip step')} (the cores' periods differ: "
                f"{', '.join(map(str, periods))}; no single input step, docs/spec.md §2)")
    return (f"{plural(steps, 'chip step')} = {plural(steps // period, 'input step')} (every core runs every "
            f"{period} chip steps: period {period}, docs/spec.md §2)")


def check_whole_input_steps(image, steps: int) -> None:
    """Raise :class:`SpikeCoreError` unless ``steps`` chip steps are a whole number of input steps of ``image``
    (a multiple of its period ``D``, docs/spec.md §2): half an input step has no energy or latency per input."""
    period = input_step_period(image)
    if period is not None and steps % period:
        nearest = sorted({steps - steps % period, steps - steps % period + period} - {0})
        raise SpikeCoreError(f"--steps {steps}: the image runs every {period} chip steps (period {period}, "
                             f"docs/spec.md §2); give a multiple of {period}, e.g. {' or '.join(map(str, nearest))}")


# --- the command ---------------------------------------------------------------------------------------------


def _profile(args: argparse.Namespace) -> int:
    from spikecore.app.cli import check_steps, load_program
    from spikecore.golden.energy import price_runs
    from spikecore.golden.energy_tables import check_clock, resolve_table
    from spikecore.golden.run import check_stimulus
    from spikecore.stimulus import Stimulus

    table = resolve_table(args.table)
    clock = check_clock(args.clock_mhz)
    for output, suffix in ((args.json, ".json"), (args.plot, ".png")):
        if output is not None and Path(output).suffix.lower() != suffix:
            raise SpikeCoreError(f"{output}: must end in {suffix}")
    outputs.refuse_overlap([("program", args.program), *(("--inputs", path) for path in args.inputs or []),
                            ("--layers", args.layers), ("--table", args.table)],
                           [("--json", args.json), ("--plot", args.plot)])
    image = load_program(args.program)
    stimuli = [Stimulus.load(path) for path in args.inputs] if args.inputs else [None]
    steps = args.steps
    if steps is None:   # through the last stimulus step, rounded up to whole input steps (docs/spec.md §2)
        steps = 1 + max((max(s.events, default=0) for s in stimuli if s is not None), default=0)
        period = input_step_period(image) or 1
        steps += -steps % period
    check_steps(steps)
    check_whole_input_steps(image, steps)
    for stimulus in stimuli:   # the check and words of run and sim: a late event, a core the image lacks, ...
        if stimulus is not None:
            check_stimulus(image, stimulus, steps)
    layer_of_core = (load_layer_map(args.layers, image.config.board_cores, image.config.chips) if args.layers
                     else None)
    report = price_runs(image, stimuli, steps, table, clock, layer_of_core)
    model = "golden board" if image.config.chips > 1 else "golden model"
    print(f"{args.program}: {len(stimuli)} inference{'s' if len(stimuli) > 1 else ''} of {describe_steps(image, steps)}"
          f" on the {model} ({image.config.describe()})")
    print(report.format())
    if args.json:
        period = input_step_period(image)
        data = {"program": str(args.program), "steps": steps, "chip_steps": steps, "period": period,
                "input_steps": None if period is None else steps // period, "inputs": list(args.inputs or []),
                "energy_pj_per_inference": report.energy_pj, "latency_us_per_inference": report.latency_us,
                "energy": report.to_dict()}
        outputs.write_text(args.json, json.dumps(data, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        plot_energy(args.plot, report)
        print(f"wrote {args.plot}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``profile`` sub-command to the ``spikecore`` parser."""
    from spikecore.golden.energy_tables import DEFAULT_CLOCK_MHZ, DEFAULT_TABLE

    parser = subparsers.add_parser(
        "profile", help="energy and latency per inference of an image (golden model counts, cited tables)",
        description="Count synaptic ops, neuron updates, spikes, deliveries and drops of each inference on the "
                    "golden model (the golden board for a board image: per chip, link events counted, not "
                    "priced) and price them with a published energy table; latency from cycles at a clock. Steps "
                    "are chip steps; an image of period D (docs/spec.md §2) runs D per input step, and the output "
                    "says both.")
    parser.add_argument("program", help="binary image, or assembly source (.s, .asm); one chip or a board")
    parser.add_argument("--inputs", nargs="+", metavar="STIM",
                        help="stimulus files (.csv or .json), one inference each (default: one with no events)")
    parser.add_argument("--steps", type=int, default=None,
                        help="chip steps per inference (an image of period D takes D per input step; default: "
                             "1 + the last step any stimulus uses)")
    parser.add_argument("--table", default=DEFAULT_TABLE,
                        help="energy table: loihi (Davies et al. 2018, default), odin (Frenkel et al. 2019), "
                             "reckon (Frenkel & Indiveri 2022), or a .json/.toml file")
    parser.add_argument("--clock-mhz", type=float, default=DEFAULT_CLOCK_MHZ, dest="clock_mhz",
                        help=f"clock for latency (default {DEFAULT_CLOCK_MHZ:g} MHz, an assumed clock, not measured)")
    parser.add_argument("--layers", metavar="MAP", help="layer map JSON (spikecore compile --layer-map)")
    parser.add_argument("--json", metavar="OUT", help="write the figures to OUT (.json)")
    parser.add_argument("--plot", metavar="OUT", help="write a stacked bar chart to OUT (.png)")
    parser.set_defaults(handler=_profile)
