"""GTKWave views of a co-simulation VCD: a ``.gtkw`` save file with per-core groups and named values.

:func:`write_gtkw` reads the VCD's signal list (header only) and writes a save file that shows, in order:
the host interface (clock, reset, step/busy/done, cycle counter, injections, host outputs), the router's
record, and one group per core (its state, pc, fetched word, loop counters, buffer and out-queue fill,
and the ACC/SPIKE record it emits). Only signals present in the VCD are listed, so a renamed RTL signal
drops out of the view instead of breaking it.

Three translation filter files are written beside it, so values read as names: the core state
(``ISSUE``, ``ACC``, ``FIRE``, …, from ``rtl.core.CoreState``), the router record kind (``EVENT``,
``DROP``, ``OUT``, from ``isa.TraceKind``), and — when the image is given — every instruction word of
the program shown as its disassembly (``acc neuron=0, count=4, wbase=16``).

``python -m spikecore.app.waves [RUN_DIR]`` (``make waves``) rewrites the save file of a run folder
(default: the newest ``build/sim/*/dump.vcd``) and opens GTKWave if it is installed, else prints the
exact command to run.
"""

from __future__ import annotations

import re
from pathlib import Path

from vcd.gtkw import GTKWSave, make_translation_filter

from spikecore.compiler.disasm import disassemble_word
from spikecore.errors import SpikeCoreError
from spikecore.image import Image
from spikecore.isa import TraceKind
from spikecore.rtl.core import CoreState
from spikecore.verif.build import TOPLEVEL, TRACE_PORT

SIM_ROOT = Path(__file__).resolve().parent.parent / "build" / "sim"
#: Core groups shown expanded when GTKWave opens (the others start closed: a 128-core view stays usable).
OPEN_CORES = 4

_RANGE = re.compile(r"\[\d+:\d+\]$")

HOST_SIGNALS = [
    ("clk", "bin"), ("rst", "bin"), ("step", "bin"), ("busy", "bin"), ("done", "bin"), ("cycle", "dec"),
    ("inj_valid", "bin"), ("inj_core", "dec"), ("inj_axon", "dec"), ("inj_payload", "signed"),
    ("inj_accepted", "bin"), ("out_valid", "bin"), ("out_core", "dec"), ("out_axon", "dec"),
    ("out_payload", "signed"), ("cfg_write", "bin"), ("cfg_read", "bin"), ("cfg_addr", "hex"),
    ("cfg_wdata", "hex"), ("cfg_rdata", "hex"),
]
ROUTER_SIGNALS = [("record.valid", "bin"), ("record.kind", "kind"), ("record.core", "dec"),
                  ("record.axon", "dec"), ("record.payload", "signed")]
CORE_SIGNALS = [
    ("state", "state"), ("pc", "dec"), ("imem_rd__data", "word"), ("neuron", "dec"), ("count", "dec"),
    ("j", "dec"), ("e", "dec"), ("ev_count", "dec"), ("tail", "dec"), ("drops", "dec"),
    ("trace.acc_valid", "bin"), ("trace.acc_neuron", "dec"), ("trace.acc_value", "signed"),
    ("trace.spike_valid", "bin"), ("trace.spike_neuron", "dec"), ("trace.spike_payload", "signed"),
    ("trace.syn_valid", "bin"), ("trace.syn_neuron", "dec"), ("trace.syn_value", "signed"),
]


def vcd_signals(vcd: str | Path) -> set[str]:
    """Every signal name the VCD declares, without its ``[msb:lsb]`` suffix (header only, fast)."""
    from vcdvcd import VCDVCD

    return {_RANGE.sub("", name) for name in VCDVCD(str(vcd), only_sigs=True).signals}


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
        path.write_text(make_translation_filter(translations, datafmt=datafmt, size=size) + "\n")
        paths[kind] = path
    return paths


def _trace(save: GTKWSave, name: str, style: str, filters: dict[str, Path], alias: str | None = None) -> None:
    if style in ("state", "kind", "word"):
        datafmt = "hex" if style == "word" else "dec"
        filter_file = filters.get(style)
        save.trace(name, alias=alias, datafmt=datafmt, translate_filter_file=str(filter_file) if filter_file else None)
    else:
        save.trace(name, alias=alias, datafmt=style)


def write_gtkw(vcd: str | Path, gtkw: str | Path, cores: int | None = None, image: Image | None = None,
               marker_ps: int | None = None) -> Path:
    """Write the save file ``gtkw`` for ``vcd``; ``marker_ps`` puts GTKWave's marker at that time (ps)."""
    vcd, gtkw = Path(vcd), Path(gtkw)
    present = vcd_signals(vcd)
    if not any(name.startswith(f"{TOPLEVEL}.") for name in present):
        raise SpikeCoreError(f"{vcd}: declares no {TOPLEVEL}.* signal (not a VCD written by "
                             "'python -m spikecore.app.sim --waves')")
    filters = write_filters(gtkw.parent, image)
    top = TOPLEVEL
    array = top   # the cores and the router are direct children of the top module
    core_state = re.compile(rf"{re.escape(array)}\.core(\d+)\.state")
    core_ids = sorted(int(m.group(1)) for name in present if (m := core_state.fullmatch(name)))
    if cores is not None:
        core_ids = [c for c in core_ids if c < cores]
    with gtkw.open("w") as handle:
        save = GTKWSave(handle)
        save.comment(f"SpikeCore co-simulation view of {vcd.name}: host, router, one group per core")
        save.dumpfile(str(vcd.resolve()))
        save.savefile(str(gtkw.resolve()))
        if marker_ps is not None:
            save.zoom_markers(-8.0, marker=int(marker_ps))
        save.treeopen(top)
        save.signals_width(260)
        with save.group("host"):
            for name, style in HOST_SIGNALS:
                if f"{top}.{name}" in present:
                    _trace(save, f"{top}.{name}", style, filters, alias=name)
        with save.group("router"):
            for name, style in ROUTER_SIGNALS:
                if f"{array}.router.{name}" in present:
                    _trace(save, f"{array}.router.{name}", style, filters, alias=name)
        for core in core_ids:
            with save.group(f"core {core}", closed=core >= OPEN_CORES):
                for name, style in CORE_SIGNALS:
                    full = f"{array}.core{core}.{name}"
                    if full in present:
                        _trace(save, full, style, filters, alias=f"c{core}.{name}")
        if f"{top}.{TRACE_PORT}" in present:
            with save.group("trace port (packed)", closed=True):
                save.trace(f"{top}.{TRACE_PORT}", datafmt="hex")
    return gtkw


def newest_run(root: Path = SIM_ROOT) -> Path:
    runs = sorted(root.glob("*/dump.vcd"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise SpikeCoreError(f"no VCD under {root}; run e.g. 'python -m spikecore.app.sim --seed 1 --waves' first")
    return runs[-1].parent
