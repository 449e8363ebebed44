"""The .gtkw views in the real viewer: GTKWave 3.3 under Xvfb, asked over Tcl what it displays.

A small passing and a small failing run (the failure planted with the ``golden:`` fault) on the 4-core
array with VCD tracing, a passing run on the 1-core array with FST tracing, and one on a 2-core array built
hierarchically with FST tracing (the form of make sim's 128-core array). For each, every signal the
save file names must be displayed by GTKWave (a misspelt vector name is silently dropped by GTKWave),
the groups must hold what the module says, and the marker and view window must be where the run says.
Skips, saying why, where gtkwave or Xvfb is not installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from vcdvcd import VCDVCD

from spikecore.config import ChipConfig
from spikecore.image import load_image
from spikecore.isa import TraceKind
from spikecore.rtl.core import CoreState
from spikecore.stimulus import Stimulus
from spikecore.verif.build import build_array
from spikecore.verif.gtkwave import displayed, missing_tools
from spikecore.verif.scoreboard import Scoreboard
from spikecore.verif.sim import cosimulate, prepare_seed
from spikecore.verif.vcd_check import check_vcd

MISSING = missing_tools(screenshot=True)
pytestmark = [pytest.mark.rtl, pytest.mark.slow, pytest.mark.xdist_group("verilator"),
              pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)} (installed by .ci/run)")]

FOUR, TWO, ONE = ChipConfig(cores=4), ChipConfig(cores=2), ChipConfig(cores=1)
SEED = 17
#: Golden record the failing run corrupts (its value raised by 3): the first mismatch is this record.
FAULT_RECORD = 40


@pytest.fixture(scope="module")
def build4_vcd():
    return build_array(FOUR, waves=True, trace_format="vcd")


@pytest.fixture(scope="module")
def build1_fst():
    return build_array(ONE, waves=True, trace_format="fst")


@pytest.fixture(scope="module")
def build2_hier_fst():
    """The form make sim's 128-core array is built in (hierarchy blocks, FST), on 2 cores."""
    return build_array(TWO, waves=True, trace_format="fst", hierarchical=True)


def requested(gtkw) -> list[str]:
    """The signal names a save file asks for, in order (``+{alias} name`` lines)."""
    return [line.split("} ", 1)[1] for line in gtkw.read_text().splitlines() if line.startswith("+{")]


def must_show(cores: int, escape: bool) -> set[str]:
    """Signals written down by hand from the RTL (rtl/core.py, rtl/array.py) that each view must show."""
    dot = "\\" if escape else ""
    names = {"spikecore.clk", "spikecore.step", "spikecore.cycle[63:0]", "spikecore.trace_cycle[63:0]",
             "spikecore.inj_core[7:0]", "spikecore.cfg_addr[31:0]", f"spikecore.{dot}record.kind[2:0]",
             f"spikecore.{dot}record.payload[23:0]"}
    for core in range(cores):
        names |= {f"spikecore.core{core}.state[3:0]", f"spikecore.core{core}.pc[5:0]",
                  f"spikecore.core{core}.imem_rd__data[31:0]", f"spikecore.core{core}.{dot}trace_out.acc_value[31:0]",
                  f"spikecore.core{core}.{dot}trace_out.spike_valid"}
    return names


def vcd_times(vcd, name: str, value: str) -> list[int]:
    """Times at which signal ``name`` of ``vcd`` takes ``value`` (read with vcdvcd, not the code under test)."""
    data = VCDVCD(str(vcd), signals=[name], store_tvs=True)
    return [int(t) for t, v in data[name].tv if v == value]


def test_passing_run_shows_every_signal_over_the_whole_run(build4_vcd, tmp_path):
    spec = prepare_seed(SEED, FOUR, tmp_path, check="fast")
    (result,) = cosimulate([spec], FOUR, tmp_path, build=build4_vcd, waves=True)
    assert result["passed"] and result["vcd"].endswith("dump.vcd")
    gtkw = tmp_path / "waves.gtkw"
    view = displayed(gtkw)
    names = requested(gtkw)
    assert len(names) > 80 and [n for n in names if n not in view.signals] == []
    assert must_show(4, escape=True) <= set(view.signals)
    assert view.marker == -1
    # the view holds every step: from before the first step strobe to past the last fall of busy
    strobes = vcd_times(tmp_path / "dump.vcd", "spikecore.step", "1")
    falls = vcd_times(tmp_path / "dump.vcd", "spikecore.busy", "0")
    assert len(strobes) == spec.steps
    assert view.window[0] <= strobes[0] and view.window[1] >= falls[-1]
    assert view.window[0] > 0          # the image load before the first step is out of view


def test_failing_run_opens_on_the_first_mismatch(build4_vcd, tmp_path):
    spec = prepare_seed(SEED, FOUR, tmp_path, check="fast", fault=f"golden:{FAULT_RECORD}:3")
    image, stimulus = load_image(spec.image), Stimulus.load(spec.stimulus)
    board = Scoreboard(image, stimulus)
    golden = np.concatenate([board.expect_step().records for _ in range(spec.steps)])
    bad = golden[FAULT_RECORD]
    (result,) = cosimulate([spec], FOUR, tmp_path, build=build4_vcd, waves=True)
    assert not result["passed"] and result["first_mismatch"]["cycle"] == int(bad["cycle"])
    gtkw = tmp_path / "waves.gtkw"
    core = int(bad["core"])
    view = displayed(gtkw, screenshot=tmp_path / "view.png",
                     at_marker=("trace_cycle", f"c{core}.state", "record_kind"))
    names = requested(gtkw)
    assert [n for n in names if n not in view.signals] == []
    assert must_show(4, escape=True) <= set(view.signals)
    # the failing core's group comes right after host and router
    first_core = next(n for n in view.signals if re.match(r"spikecore\.core\d+\.", n))
    assert first_core == f"spikecore.core{core}.state[3:0]"
    # the marker is where the trace port shows the corrupted record's cycle, inside a zoomed-in window
    assert view.marker == result["first_mismatch"]["sim_time_ns"] * 1000
    assert view.at_marker["trace_cycle"] == str(int(bad["cycle"]))
    assert view.window[0] < view.marker < view.window[1]
    assert view.window[1] - view.window[0] < (view.dump_times[1] - view.dump_times[0]) / 10
    # translation filters: the state reads as a CoreState name, the record kind as a TraceKind name
    assert view.at_marker[f"c{core}.state"] in {s.name for s in CoreState}
    assert view.at_marker["record_kind"] in {k.name for k in TraceKind}
    assert (tmp_path / "view.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fst_run_checks_offline_and_shows_every_signal(build1_fst, tmp_path):
    spec = prepare_seed(5, ONE, tmp_path, check="fast")
    (result,) = cosimulate([spec], ONE, tmp_path, build=build1_fst, waves=True)
    assert result["passed"] and result["waves_format"] == "fst"
    dump = tmp_path / "dump.fst"
    assert dump.read_bytes()[:1] == b"\x00"             # FST block type 0 (header), not VCD text
    assert not (tmp_path / "dump.vcd").exists()
    check = check_vcd(dump, load_image(spec.image), Stimulus.load(spec.stimulus), spec.steps)
    assert check.passed and check.matched == result["records_compared"] > 0
    gtkw = tmp_path / "waves.gtkw"
    view = displayed(gtkw)
    names = requested(gtkw)
    assert len(names) > 40 and [n for n in names if n not in view.signals] == []
    assert must_show(1, escape=False) <= set(view.signals)


def test_hierarchical_build_view_shows_every_core_signal(build2_hier_fst, tmp_path):
    spec = prepare_seed(SEED, TWO, tmp_path, check="fast")
    (result,) = cosimulate([spec], TWO, tmp_path, build=build2_hier_fst, waves=True)
    assert result["passed"] and result["waves_format"] == "fst"
    gtkw = tmp_path / "waves.gtkw"
    view = displayed(gtkw)
    names = requested(gtkw)
    assert len(names) > 60 and [n for n in names if n not in view.signals] == []
    assert must_show(2, escape=False) <= set(view.signals)


@pytest.mark.skipif(shutil.which("gtkwave") is None, reason="needs gtkwave")
def test_cli_screenshot(build4_vcd, tmp_path, capsys):
    from spikecore.app.cli import main

    spec = prepare_seed(SEED, FOUR, tmp_path, check="fast")
    cosimulate([spec], FOUR, tmp_path, build=build4_vcd, waves=True)
    assert main(["waves", str(tmp_path), "--screenshot", str(tmp_path / "shot.png")]) == 0
    out = capsys.readouterr().out
    count = len(requested(tmp_path / "waves.gtkw"))
    assert f"({count} of {count} signals displayed)" in out
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
