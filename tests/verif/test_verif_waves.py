"""GTKWave save files (spikecore.verif.waves) and the offline VCD checker (spikecore.verif.vcd_check).

The VCDs here are written with pyvcd in the layout the Verilator build produces (top scope
``spikecore``, the packed ``trace_port``, ``core<N>.*``); their trace port values are encoded
with the RTL's own TraceDecoder from the hand trace of the IF neuron (see test_verif_scoreboard.py).
A VCD recorded by a real Verilator run is checked in test_verif_cosim.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from vcd import VCDWriter

from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.isa import TraceKind
from spikecore.rtl.trace_port import trace_layout
from spikecore.stimulus import Stimulus
from spikecore.verif.build import TOPLEVEL, TRACE_PORT, build_flags, build_name
from spikecore.verif.trace_decode import TraceDecoder
from spikecore.verif.vcd_check import check_vcd, records_from_vcd
from spikecore.verif.wave_format import find_dump, trace_format
from spikecore.verif.waves import gtkwave_name, view_window, write_gtkw, zoom_and_start
from tests.helpers import EXAMPLES
from tests.verif.test_verif_scoreboard import HAND_TRACE, STEPS


def write_vcd(path: Path, rows: list[tuple[int, int, int, int, int]], cycles: int, passes: int = 1) -> None:
    """A VCD whose trace port shows every cycle 0..cycles-1 (its records from ``rows``), ``passes`` times."""
    decoder = TraceDecoder(cores=1)
    with path.open("w") as handle, VCDWriter(handle, timescale="1 ps", date="today") as writer:
        port = writer.register_var(TOPLEVEL, TRACE_PORT, "wire", size=trace_layout(1).size)
        clk = writer.register_var(TOPLEVEL, "clk", "wire", size=1)
        state = writer.register_var(f"{TOPLEVEL}.core0", "state", "wire", size=4)
        kind = writer.register_var(TOPLEVEL, "record.kind", "wire", size=3)   # Amaranth's dotted field name
        time = 0
        for _ in range(passes):
            for cycle in range(cycles):
                records = [(core, kind_, index, value) for c, core, kind_, index, value in rows if c == cycle]
                time += 10_000
                writer.change(clk, time, 1)
                writer.change(port, time, decoder.encode(cycle=cycle, records=records))
                writer.change(state, time, cycle % 4)
                writer.change(kind, time, 0)
                writer.change(clk, time + 5_000, 0)


def if_neuron():
    image = assemble((EXAMPLES / "if_neuron.s").read_text(), "if_neuron.s")
    return image, Stimulus({s: [(0, 0, 1)] for s in range(STEPS)})


def test_vcd_check_matches_the_hand_trace(tmp_path):
    write_vcd(tmp_path / "dump.vcd", HAND_TRACE, cycles=26)
    image, stimulus = if_neuron()
    check = check_vcd(tmp_path / "dump.vcd", image, stimulus, STEPS)
    assert check.passed and check.matched == 7 and check.cycles == 26
    assert check.lines() == ["matched 7 records"]


def test_vcd_check_reports_a_wrong_record(tmp_path):
    rows = list(HAND_TRACE)
    rows[3] = (19, 0, int(TraceKind.ACC), 0, 119)
    write_vcd(tmp_path / "dump.vcd", rows, cycles=26)
    image, stimulus = if_neuron()
    check = check_vcd(tmp_path / "dump.vcd", image, stimulus, STEPS)
    assert not check.passed
    assert check.lines()[0] == ("ACC mismatch, DUT: cycle 19 core 0 ACC n=0 value=119 "
                                "expected: cycle 19 core 0 ACC n=0 value=120")


def test_vcd_passes_and_truncated_runs(tmp_path):
    # two passes (a FAST run and its FULL re-run); the first stops after cycle 13: only golden records up
    # to cycle 13 are expected of it (cycles 1, 7, 13).
    write_vcd(tmp_path / "dump.vcd", HAND_TRACE, cycles=14, passes=2)
    passes = records_from_vcd(tmp_path / "dump.vcd", cores=1)
    assert [len(r) for r, _ in passes] == [3, 3] and [end for _, end in passes] == [13, 13]
    image, stimulus = if_neuron()
    check = check_vcd(tmp_path / "dump.vcd", image, stimulus, STEPS, segment=1)
    assert check.passed and check.matched == 3 and check.passes == 2


def test_gtkw_groups_present_signals_with_translation_filters(tmp_path):
    write_vcd(tmp_path / "dump.vcd", HAND_TRACE, cycles=4)
    image, _ = if_neuron()
    gtkw = write_gtkw(tmp_path / "dump.vcd", tmp_path / "waves.gtkw", image=image, marker_ps=23_000)
    text = gtkw.read_text()
    assert f'[dumpfile] "{(tmp_path / "dump.vcd").resolve()}"' in text
    assert "-host" in text and "-router" in text and "-core 0" in text
    # GTKWave's names: vectors with their range, a dotted VCD name escaped with a backslash
    assert f"+{{clk}} {TOPLEVEL}.clk\n" in text and f"+{{c0.state}} {TOPLEVEL}.core0.state[3:0]\n" in text
    assert f"+{{record_kind}} {TOPLEVEL}.\\record.kind[2:0]\n" in text
    assert f"{TOPLEVEL}.step" not in text                          # not in this VCD: left out
    assert f"^1 {(tmp_path / 'trace_kind.filter').resolve()}" in text and "core_state.filter" in text
    # marker at 23 ns; the window: 24 cycles of 10 ns each side, clipped to 0..35 ns (the dump's end),
    # then 5 % wider and moved left to stay inside the dump: it starts at 0.
    assert "[timestart] 0\n" in text and " 23000 -1 " in text
    state_filter = (tmp_path / "core_state.filter").read_text().splitlines()
    assert "2 ACC" in state_filter and "3 FIRE" in state_filter and "1 ISSUE" in state_filter
    assert "4 OUT" in (tmp_path / "trace_kind.filter").read_text().splitlines()
    words = (tmp_path / "instructions.filter").read_text().splitlines()
    acc_word = image.cores[0].program[0]
    assert f"{acc_word:08x} acc neuron=0, count=1, wbase=0" in words


def test_gtkw_without_image_has_no_instruction_filter(tmp_path):
    write_vcd(tmp_path / "dump.vcd", [], cycles=2)
    text = write_gtkw(tmp_path / "dump.vcd", tmp_path / "w.gtkw").read_text()
    assert "instructions.filter" not in text
    with pytest.raises(FileNotFoundError):
        write_gtkw(tmp_path / "missing.vcd", tmp_path / "x.gtkw")


def test_gtkwave_names():
    assert gtkwave_name("spikecore", "clk", 1) == "spikecore.clk"
    assert gtkwave_name("spikecore", "cycle", 64) == "spikecore.cycle[63:0]"
    assert gtkwave_name("spikecore.core3", "trace_out.acc_value", 32) == "spikecore.core3.\\trace_out.acc_value[31:0]"
    assert (gtkwave_name("spikecore.core3", "trace_out.acc_valid", 1, escape=False)
            == "spikecore.core3.trace_out.acc_valid")


def test_zoom_fits_the_window_in_the_pane():
    # GTKWave shows 2**-zoom / 200 time units per pixel; the pane of a 1000-pixel window with a 300-pixel
    # signal pane is 1000 - 300 - 64 = 636 pixels wide: it must show the asked span plus 5 %.
    zoom, start = zoom_and_start(1_000_000, 3_000_000, end=10_000_000)
    assert start == 1_000_000
    assert 2 ** -zoom / 200 * 636 == pytest.approx(2_000_000 * 1.05)
    # near the dump's end the start moves left so that start + 1.03 x visible span stays inside the dump
    zoom, start = zoom_and_start(9_000_000, 10_000_000, end=10_000_000)
    assert start == int(10_000_000 - 1_000_000 * 1.05 * 1.03)


def test_view_window_around_the_marker_and_from_the_first_step():
    assert view_window(10_000_000, None, first_step=2_000_000) == (2_000_000 - 40_000, 10_000_000)
    assert view_window(10_000_000, None, first_step=2_000_000, last_busy=3_000_000) == (1_960_000, 3_040_000)
    assert view_window(10_000_000, 5_000_000) == (5_000_000 - 240_000, 5_000_000 + 240_000)
    assert view_window(10_000_000, 100_000) == (0, 340_000)


def test_trace_format_by_size_and_override(monkeypatch):
    monkeypatch.delenv("WAVES_FORMAT", raising=False)
    assert trace_format(ChipConfig(cores=4)) == "vcd" and trace_format(ChipConfig(cores=128)) == "fst"
    assert trace_format(ChipConfig(cores=4), "FST") == "fst"
    monkeypatch.setenv("WAVES_FORMAT", "fst")
    assert trace_format(ChipConfig(cores=1)) == "fst"
    monkeypatch.setenv("WAVES_FORMAT", "lxt")
    with pytest.raises(SpikeCoreError, match="WAVES_FORMAT must be vcd or fst, not 'lxt'"):
        trace_format(ChipConfig(cores=1))
    # tracing is compiled into every build (one build per configuration): only the format shows in the name
    assert build_name(ChipConfig(cores=128), True, "fst") == "array128-fst"
    assert build_name(ChipConfig(cores=4), True) == "array4"
    assert build_name(ChipConfig(cores=4), False) == "array4-notrace"
    assert build_name(ChipConfig(cores=4), False, "fst") == "array4-notrace"
    assert "--trace-fst" in build_flags(True, trace_format="fst") and "--trace-fst" not in build_flags(True)


def test_find_dump(tmp_path):
    with pytest.raises(SpikeCoreError, match=r"holds no dump\.vcd or dump\.fst"):
        find_dump(tmp_path)
    (tmp_path / "dump.fst").write_bytes(b"")
    assert find_dump(tmp_path) == tmp_path / "dump.fst"
