"""The .gtkw view of a board run (verif/waves.py, docs/spec.md §13): signals grouped per chip, every one of them
displayed by GTKWave (headless, when installed), and a failing run opened on its chip's failing core."""

from __future__ import annotations

import pytest

from spikecore.config import ChipConfig
from spikecore.image import save_image
from spikecore.verif.build import build_array
from spikecore.verif.cocotb_array import RunSpec
from spikecore.verif.gtkwave import displayed, missing_tools
from spikecore.verif.random_board import injectable, random_board
from spikecore.verif.sim import cosimulate

pytestmark = [pytest.mark.rtl, pytest.mark.slow, pytest.mark.xdist_group("verilator")]

BOARD = ChipConfig(cores=2, neurons=8, weight_bytes=64, imem_depth=16, event_depth=16, fanout_depth=16, chips=2)


def groups(gtkw) -> dict[str, list[str]]:
    """The save file's groups (``-name`` opens one, ``@1000200`` / ``@1401200`` closes it) and their signal names."""
    out: dict[str, list[str]] = {}
    current = None
    for line in gtkw.read_text().splitlines():
        if line.startswith("-") and current is None:
            current = line[1:]
            out[current] = []
        elif line.startswith("-") and line[1:] == current:
            current = None
        elif line.startswith("+{") and current is not None:
            out[current].append(line.split("} ", 1)[1])
    return out


@pytest.fixture(scope="module")
def build():
    return build_array(BOARD, waves=True, trace_format="vcd")


def test_a_board_view_groups_every_signal_per_chip(build, tmp_path):
    image, events, steps = random_board(0, BOARD, density=0.8)
    save_image(image, tmp_path / "image.bin")
    injectable(image, events, steps).save(tmp_path / "stim.json")
    spec = RunSpec(image=str(tmp_path / "image.bin"), stimulus=str(tmp_path / "stim.json"), steps=steps,
                   result=str(tmp_path / "result.json"), seed=0, check="fast", fault="golden:40:1")
    (result,) = cosimulate([spec], BOARD, tmp_path, build=build, waves=True)
    assert not result["passed"] and result["vcd"].endswith("dump.vcd")
    chip, core = result["first_mismatch"]["chip"], result["first_mismatch"]["core"]
    found = groups(tmp_path / "waves.gtkw")
    names = list(found)
    # the board's ports, then the failing core's group, then chip by chip
    assert names[:2] == ["board", f"chip {chip} core {core}"]
    for c in range(2):
        for group in ("host", "router", "links", "config bus", "core 0", "core 1"):
            assert found[f"chip {c} {group}"], (c, group)
        assert all(f"spikecore.chip{c}." in n for n in found[f"chip {c} router"])
        assert f"spikecore.chip{c}.core1.state[3:0]" in found[f"chip {c} core 1"]
    assert "spikecore.link0_1.fill[2:0]" in found["chip 0 links"]      # chip 0 sends on 0 -> 1
    assert "spikecore.link0_1.take" in found["chip 1 links"]           # chip 1 takes from it
    assert "spikecore.inj_chip[3:0]" in found["board"]
    if missing_tools():
        pytest.skip(f"needs {', '.join(missing_tools())} to ask GTKWave what it displays")
    view = displayed(tmp_path / "waves.gtkw")
    requested = [n for rows in found.values() for n in rows]
    assert len(requested) > 80 and [n for n in requested if n not in view.signals] == []
