"""GTKWave views of a co-simulation wave file (VCD or FST): a ``.gtkw`` save file that GTKWave loads whole.

:func:`write_gtkw` reads the wave file's signal list (with pywellen, which reads VCD and FST alike) and
writes a save file that shows, in order:

- ``host``: clock, reset, step/busy/done, the cycle counter and the cycle the trace port shows, host
  injections and outputs, the configuration bus;
- ``router``: the record the router puts on the trace this cycle (valid, kind by name, core, axon,
  payload), whether it is delivering, the out-queue entry and index it reads, the non-empty cores;
- ``core N``, one group per core: its state by name, pc, the instruction word read from its memory by
  mnemonic, the neuron range (neuron, count, j), the event buffer (e, ev_count), the out-queue fill
  (tail), the drop counter, and the ACC/SPIKE record it emits;
- ``trace port (packed)``, closed: the raw word the testbench reads.

A board's wave file (docs/spec.md §13) is grouped per chip instead (:func:`board_signals`): ``board`` (its
host ports), then for each chip ``c`` the groups above named ``chip c host``, ``chip c router``, ``chip c
core n``, ``chip c config bus``, plus ``chip c links`` (the links it sends on and takes from).

A save file must name each signal as GTKWave knows it, or GTKWave silently leaves it out: a vector
carries its bit range (``spikecore.cycle[63:0]``), and in a VCD a name holding the hierarchy separator
(the fields of a core's trace record, ``trace_out.acc_valid``: the core's ``trace`` port as the generated
Verilog names it, :data:`spikecore.rtl.instanced.CORE_TRACE_PORT`) is an escaped identifier
(``spikecore.core0.\\trace_out.acc_valid``; GTKWave's FST reader keeps such a name as it is).
:func:`gtkwave_name` spells that, and the headless GTKWave test (tests/verif/test_waves_gtkwave.py) checks
that every signal written is displayed. Only signals present in the wave file are listed, so a renamed
RTL signal drops out of the view instead of breaking it.

Three translation filter files are written beside it, so values read as names: the core state
(``ISSUE``, ``ACC``, ``FIRE``, …, from ``rtl.core.CoreState``), the router record kind (``EVENT``,
``DROP``, ``OUT``, from ``isa.TraceKind``), and — when the image is given — every instruction word of
the program shown as its disassembly (``acc neuron=0, count=4, wbase=16``).

The view opens zoomed to the whole run, or with ``marker_ps`` to :data:`MISMATCH_WINDOW_CYCLES` clock
cycles around that time with GTKWave's marker on it (the first mismatch of a failing run).

``spikecore waves RUN_DIR`` (:mod:`spikecore.app.waves`, ``make waves``) rewrites the save file
of a run folder and opens GTKWave, or renders it to a PNG with ``--screenshot``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from vcd.gtkw import GTKWSave, make_translation_filter

from spikecore import outputs
from spikecore.compiler.disasm import disassemble_word
from spikecore.errors import SpikeCoreError
from spikecore.image import Image, load_image
from spikecore.isa import TraceKind
from spikecore.rtl.core import CoreState
from spikecore.rtl.instanced import CORE_TRACE_PORT
from spikecore.verif.build import TOPLEVEL, TRACE_PORT
from spikecore.verif.tb.monitor import CLOCK_NS
from spikecore.verif.tb.report import read_result
from spikecore.verif.wave_format import find_dump

#: Core groups shown expanded when GTKWave opens (the others start closed: a 128-core view stays usable).
OPEN_CORES = 4
#: Clock cycles shown on each side of the marker in the view of a failing run.
MISMATCH_WINDOW_CYCLES = 24
#: Width of GTKWave's window the zoom is computed for (its default, 1000 pixels) and of the signal-name
#: pane. The save file names no window size: GTKWave 3.3.118 drops ``[timestart]`` when it applies ``[size]``.
WINDOW_WIDTH = 1000
SIGNALS_WIDTH = 300
#: GTKWave's time per pixel is ``2 ** -zoom / PIXELS_PER_FRAME`` (its ``calczoom``; zoom base 2).
PIXELS_PER_FRAME = 200
#: Pixels of the window not used by waves besides the signal pane (borders, scrollbars; measured: 64).
WINDOW_CHROME = 64

# (name relative to its scope, display style, alias); styles: bin, dec, hex, signed, and the three
# translated ones: state, kind, word.
HOST_SIGNALS = [
    ("clk", "bin"), ("rst", "bin"), ("step", "bin"), ("busy", "bin"), ("done", "bin"), ("cycle", "dec"),
    ("trace_cycle", "dec"), ("trace_active", "bin"),
    ("inj_valid", "bin"), ("inj_core", "dec"), ("inj_axon", "dec"), ("inj_payload", "signed"),
    ("inj_accepted", "bin"), ("out_valid", "bin"), ("out_core", "dec"), ("out_axon", "dec"),
    ("out_payload", "signed"),
]
#: The configuration bus only moves while an image loads (before the first step): a group of its own.
CONFIG_SIGNALS = [("cfg_write", "bin"), ("cfg_read", "bin"), ("cfg_addr", "hex"), ("cfg_wdata", "hex"),
                  ("cfg_rdata", "hex")]
# The routed record is a signal of the top (the router drives it); the rest lives in the router's scope.
ROUTER_SIGNALS = [
    ("record.valid", "bin"), ("record.kind", "kind"), ("record.core", "dec"), ("record.axon", "dec"),
    ("record.payload", "signed"),
    ("router.delivering", "bin"), ("router.index", "dec"), ("router.nonempty", "bin"),
    ("router.entry.core", "dec"), ("router.entry.axon", "dec"), ("router.entry.payload", "signed"),
]
CORE_SIGNALS = [
    ("state", "state"), ("pc", "dec"), ("imem_rd__data", "word"), ("neuron", "dec"), ("count", "dec"),
    ("j", "dec"), ("e", "dec"), ("ev_count", "dec"), ("tail", "dec"), ("drops", "dec"),
    *((f"{CORE_TRACE_PORT}.{field}", style) for field, style in (
        ("acc_valid", "bin"), ("acc_neuron", "dec"), ("acc_value", "signed"), ("spike_valid", "bin"),
        ("spike_neuron", "dec"), ("spike_payload", "signed"), ("syn_valid", "bin"), ("syn_neuron", "dec"),
        ("syn_value", "signed"))),
]

_CHIP_SCOPE = re.compile(rf"{re.escape(TOPLEVEL)}\.chip(\d+)\.")
#: A link's signals in a board's view (rtl/link.py): the sender's side, then the receiver's.
LINK_SEND_SIGNALS = [("push_valid", "bin"), ("full", "bin"), ("fill", "dec")]
LINK_TAKE_SIGNALS = [("due", "bin"), ("take", "bin")]


@dataclass(frozen=True)
class WaveInfo:
    """What a save file needs from a wave file: GTKWave's name of each signal and the run's times.

    ``names`` maps a signal's plain dotted path (``spikecore.core0.trace_out.acc_valid``) to the name GTKWave
    gives it; ``end`` is the last time stamp, ``first_step`` the first time the host strobes ``step``
    and ``last_busy`` the last time ``busy`` falls (None if they never do; the membrane read-out after
    the last step is not part of the run's view); times in the dump's unit, ps for Verilator's dumps.
    """

    names: dict[str, str]
    end: int
    path: Path
    first_step: int | None = None
    last_busy: int | None = None


def gtkwave_name(scope: str, name: str, width: int, escape: bool = True) -> str:
    """The name GTKWave 3.3 gives variable ``name`` (width ``width`` bits) of hierarchy ``scope``.

    Vectors get their ``[msb:lsb]`` range (Amaranth declares every vector ``[width-1:0]``); with ``escape``
    (a VCD) a name holding the hierarchy separator ``.`` is an escaped identifier: a leading backslash.
    """
    leaf = f"\\{name}" if escape and "." in name else name
    return f"{scope}.{leaf}" + (f"[{width - 1}:0]" if width > 1 else "")


def read_wave_info(dump: str | Path) -> WaveInfo:
    """The signal names and end time of ``dump`` (.vcd or .fst). Raises :class:`SpikeCoreError` if the
    file is not a wave file of the co-simulation top, ``FileNotFoundError`` if it is missing."""
    import pywellen

    dump = Path(dump)
    if not dump.exists():
        raise FileNotFoundError(2, "No such file or directory", str(dump))
    try:
        wave = pywellen.Waveform(str(dump))
    except Exception as err:    # pywellen raises plain exceptions for unreadable files
        raise SpikeCoreError(f"{dump}: not a readable VCD or FST file ({err})") from None
    names: dict[str, str] = {}
    escape = str(wave.file_format).upper() == "VCD"
    for var in wave.all_vars():
        full, leaf = var.full_name, var.name
        scope = full[: -len(leaf) - 1]
        names[full] = gtkwave_name(scope, leaf, var.bitwidth, escape)
    clock = f"{TOPLEVEL}.clk"
    if clock not in names:
        raise SpikeCoreError(f"{dump}: declares no {clock} (not a wave file written by a co-simulation with --waves)")
    changes = list(wave[clock].tv)
    end = int(changes[-1][0]) if changes else 0
    step, busy = f"{TOPLEVEL}.step", f"{TOPLEVEL}.busy"
    strobes = [int(t) for t, v in wave[step].tv if v in (1, "1")] if step in names else []
    falls = [int(t) for t, v in wave[busy].tv if v in (0, "0")] if busy in names else []
    return WaveInfo(names, end, dump, strobes[0] if strobes else None,
                    falls[-1] if falls and strobes and falls[-1] > strobes[0] else None)


def write_filters(directory: Path, image: Image | None) -> dict[str, Path]:
    """The translation filter files (state, kind, and — with an image — instruction words)."""
    directory.mkdir(parents=True, exist_ok=True)
    filters = {
        "state": (directory / "core_state.filter", [(int(s.value), s.name) for s in CoreState], "dec", None),
        "kind": (directory / "trace_kind.filter", [(int(k), k.name) for k in TraceKind], "dec", None),
    }
    if image is not None:
        words = {word for section in image.cores.values() for word in section.program}
        filters["word"] = (directory / "instructions.filter",
                           [(word, disassemble_word(word)) for word in sorted(words)], "hex", 32)
    paths = {}
    for kind, (path, translations, datafmt, size) in filters.items():
        outputs.write_text(path, make_translation_filter(translations, datafmt=datafmt, size=size) + "\n")
        paths[kind] = path.resolve()     # GTKWave reads a relative path against its own working folder
    return paths


def view_window(end: int, marker: int | None, first_step: int | None = None,
                last_busy: int | None = None) -> tuple[int, int]:
    """``(start, stop)`` in ps that the view shows: the run, from 4 cycles before ``first_step`` to 4
    cycles after ``last_busy`` (the image load before it and the read-out after it left out of view), or
    a window around ``marker``."""
    clock_ps = CLOCK_NS * 1000
    if marker is None:
        start = 0 if first_step is None else max(0, first_step - 4 * clock_ps)
        stop = end if last_busy is None else min(end, last_busy + 4 * clock_ps)
        return start, max(stop, start + 1)
    half = MISMATCH_WINDOW_CYCLES * clock_ps
    start = max(0, marker - half)
    return start, max(start + 1, min(end, marker + half))


def zoom_and_start(start: int, stop: int, end: int, window_width: int = WINDOW_WIDTH,
                   signals_width: int = SIGNALS_WIDTH) -> tuple[float, int]:
    """GTKWave's zoom factor that shows ``start..stop`` (plus 5 %) in the wave pane of a ``window_width``
    window, and the start time to save with it.

    GTKWave 3.3 starts the view at 0 when the saved start plus the visible span passes the dump's
    ``end``, so the start is moved left as far as needed to keep the view inside the dump.
    """
    pixels = max(100, window_width - signals_width - WINDOW_CHROME)
    per_pixel = max(stop - start, 1) * 1.05 / pixels
    visible = per_pixel * pixels
    start = int(max(0, min(start, end - visible * 1.03)))     # 3 %: the pane may be a few pixels wider
    return -math.log2(PIXELS_PER_FRAME * per_pixel), start


def _trace(save: GTKWSave, name: str, style: str, filters: dict[str, Path], alias: str) -> None:
    if style in ("state", "kind", "word"):
        datafmt = "hex" if style == "word" else "dec"
        filter_file = filters.get(style)
        save.trace(name, alias=alias, datafmt=datafmt, translate_filter_file=str(filter_file) if filter_file else None)
    else:
        save.trace(name, alias=alias, datafmt=style)


def requested_signals(info: WaveInfo, cores: int | None = None) -> dict[str, list[tuple[str, str, str]]]:
    """Per group, the ``(gtkwave name, style, alias)`` of each signal the view shows, in order.

    A board's wave file (scopes ``spikecore.chip<c>``, docs/spec.md §13) gets :func:`board_signals` instead."""
    if any(_CHIP_SCOPE.match(name) for name in info.names):
        return board_signals(info, cores)
    return _chip_signals(info, TOPLEVEL, cores)


def _chip_signals(info: WaveInfo, top: str, cores: int | None, label: str = "",
                  prefix: str = "") -> dict[str, list[tuple[str, str, str]]]:
    """The groups of one chip whose array is scope ``top``: group names start with ``label``, core aliases
    with ``prefix`` (both empty for the one-chip view, whose names the tests pin)."""
    groups: dict[str, list[tuple[str, str, str]]] = {f"{label}host": [], f"{label}router": [],
                                                     f"{label}config bus": []}
    for group, table in (("host", HOST_SIGNALS), ("router", ROUTER_SIGNALS), ("config bus", CONFIG_SIGNALS)):
        for name, style in table:
            if f"{top}.{name}" in info.names:
                # GTKWave shows an alias from its last dot on: record.kind and entry.core need their prefix
                alias = name.removeprefix("router.").replace(".", "_")
                groups[f"{label}{group}"].append((info.names[f"{top}.{name}"], style, f"{prefix}{alias}"))
    scope = re.compile(rf"{re.escape(top)}\.core(\d+)")
    core_ids = sorted({int(m.group(1)) for name in info.names if (m := scope.match(name))
                       and name == f"{m.group(0)}.state"})
    for core in core_ids if cores is None else [c for c in core_ids if c < cores]:
        rows = groups.setdefault(f"{label}core {core}", [])
        for name, style in CORE_SIGNALS:
            full = f"{top}.core{core}.{name}"
            if full in info.names:
                alias = "instruction" if name == "imem_rd__data" else name.removeprefix(f"{CORE_TRACE_PORT}.")
                rows.append((info.names[full], style, f"{prefix}c{core}.{alias}"))
    if not label and f"{top}.{TRACE_PORT}" in info.names:
        groups["trace port (packed)"] = [(info.names[f"{top}.{TRACE_PORT}"], "hex", TRACE_PORT)]
    return groups


def board_signals(info: WaveInfo, cores: int | None = None) -> dict[str, list[tuple[str, str, str]]]:
    """The groups of a board's view: ``board`` (the board's host ports), then per chip ``c``: ``chip c host``,
    ``chip c router``, ``chip c links`` (each link ``c -> b`` it sends on: push, full, fill; and each link
    ``a -> c`` it takes from: due, take), ``chip c config bus``, ``chip c core n``; then every chip's packed
    trace port, closed. Aliases start with ``k<c>.`` so that a signal names its chip."""
    top = TOPLEVEL
    groups: dict[str, list[tuple[str, str, str]]] = {"board": []}
    for name, style in [*HOST_SIGNALS[:6], ("inj_valid", "bin"), ("inj_chip", "dec"), ("inj_core", "dec"),
                        ("inj_axon", "dec"), ("inj_payload", "signed"), ("inj_accepted", "bin")]:
        if f"{top}.{name}" in info.names:
            groups["board"].append((info.names[f"{top}.{name}"], style, name))
    chips = sorted({int(m.group(1)) for name in info.names if (m := _CHIP_SCOPE.match(name))})
    for chip in chips:
        groups.update(_chip_signals(info, f"{top}.chip{chip}", cores, f"chip {chip} ", f"k{chip}."))
        rows = []
        for other in chips:
            for a, b, signals in ((chip, other, LINK_SEND_SIGNALS), (other, chip, LINK_TAKE_SIGNALS)):
                for name, style in signals:
                    full = f"{top}.link{a}_{b}.{name}"
                    if a != b and full in info.names:
                        rows.append((info.names[full], style, f"link{a}_{b}.{name}"))
        groups[f"chip {chip} links"] = rows
        # the chip's config bus after its cores: it only moves while the image loads
        groups[f"chip {chip} config bus"] = groups.pop(f"chip {chip} config bus")
    for chip in chips:
        port = f"{top}.{TRACE_PORT}__{chip}"
        if port in info.names:
            groups.setdefault("trace ports (packed)", []).append((info.names[port], "hex", f"{TRACE_PORT}__{chip}"))
    return groups


def write_gtkw(dump: str | Path, gtkw: str | Path, cores: int | None = None, image: Image | None = None,
               marker_ps: int | None = None, focus_core: int | None = None, focus_chip: int | None = None) -> Path:
    """Write the save file ``gtkw`` for wave file ``dump`` (.vcd or .fst); returns its path.

    ``cores`` limits the per-core groups to cores ``0..cores-1``; ``image`` adds the instruction filter;
    ``marker_ps`` puts GTKWave's marker at that time (ps) and zooms to a window around it;
    ``focus_core`` (the core of the first mismatch) is the only core group opened, and comes first.
    Without it the first :data:`OPEN_CORES` core groups are open. The config bus and packed trace port
    groups start closed. A board's view (:func:`board_signals`) groups every signal by chip; ``focus_chip``
    names the failing core's chip (its ``chip c core n`` group is the one opened, right under ``board``).
    """
    dump, gtkw = Path(dump), Path(gtkw)
    info = read_wave_info(dump)
    filters = write_filters(gtkw.parent, image)
    start, stop = view_window(info.end, marker_ps, info.first_step, info.last_busy)
    groups = requested_signals(info, cores)
    board = "board" in groups
    focus = f"chip {focus_chip or 0} core {focus_core}" if board else f"core {focus_core}"
    if focus in groups:     # the failing core's group right under host and router
        first = ["board", focus] if board else ["host", "router", focus]
        groups = {name: groups[name] for name in [*first, *groups] if name in groups}

    def closed(group: str) -> bool:
        if " core " in f" {group}":
            return group != focus if focus in groups else int(group.split()[-1]) >= OPEN_CORES
        if board and group.startswith("chip "):    # a board: chip 0's groups open, the others closed
            return group.endswith("config bus") or not group.startswith("chip 0 ")
        return group in ("config bus", "trace port (packed)", "trace ports (packed)")

    with outputs.open_output(gtkw, "w") as handle:
        save = GTKWSave(handle)
        save.comment(f"SpikeCore co-simulation view of {dump.name}: host, router, one group per core")
        save.dumpfile(str(dump.resolve()))
        save.savefile(str(gtkw.resolve()))
        zoom, start = zoom_and_start(start, stop, info.end)
        save.timestart(start)
        save.zoom_markers(zoom, marker=-1 if marker_ps is None else int(marker_ps))
        save.treeopen(f"{TOPLEVEL}.")
        save.sst_expanded(False)     # the hierarchy pane: room for the waves
        save.signals_width(SIGNALS_WIDTH)
        for group, rows in groups.items():
            if not rows:
                continue
            with save.group(group, closed=closed(group)):
                for name, style, alias in rows:
                    _trace(save, name, style, filters, alias)
    return gtkw


def chip_of_result(result: dict) -> int | None:
    """The chip of a board run's first mismatch (``None``: one chip, or passed)."""
    chip = (result.get("first_mismatch") or {}).get("chip")
    return chip if isinstance(chip, int) else None


def mismatch_of_result(result: dict) -> tuple[int | None, int | None]:
    """``(time in ps, core)`` of the first mismatch of a run's result dict; ``(None, None)`` if it passed."""
    first = result.get("first_mismatch") or {}
    marker = int(first["sim_time_ns"]) * 1000 if first.get("sim_time_ns") is not None else None
    core = first.get("core")
    return marker, core if isinstance(core, int) else None


def write_run_gtkw(run: Path) -> Path:
    """(Re)write ``run/waves.gtkw`` for the wave file of run folder ``run`` (image and result if present)."""
    if not run.is_dir():
        raise SpikeCoreError(f"{run}: no such run folder (give the folder a simulation with --waves wrote)")
    dump = find_dump(run)
    image = load_image(run / "image.bin") if (run / "image.bin").exists() else None
    result = read_result(run / "result.json") if (run / "result.json").exists() else {}
    marker, core = mismatch_of_result(result)
    return write_gtkw(dump, run / "waves.gtkw", image=image, marker_ps=marker, focus_core=core,
                      focus_chip=chip_of_result(result))
