"""``spikecore profile``: energy and latency per inference printed and written, bad input as one line."""

from __future__ import annotations

import json

import pytest

from tests.helpers import EXAMPLES

# --- spikecore profile ---------------------------------------------------------------------------------------


def test_profile_command_prints_and_writes_energy_latency_and_a_plot(tmp_path, capsys):
    from spikecore.app import cli

    out_json, out_png, layers = tmp_path / "p.json", tmp_path / "p.png", tmp_path / "map.json"
    layers.write_text(json.dumps({"layers": {"hidden": [0, 1], "output": [2]}}))
    status = cli.main(["profile", str(EXAMPLES / "graded_mlp.s"), "--inputs", str(EXAMPLES / "graded_mlp.stim.csv"),
                       str(EXAMPLES / "graded_mlp.stim.csv"), "--steps", "2", "--clock-mhz", "50",
                       "--layers", str(layers), "--json", str(out_json), "--plot", str(out_png)])
    text = capsys.readouterr().out
    assert status == 0
    assert "2 inferences of 2 steps" in text
    assert "energy per inference    994.6 pJ" in text and "latency per inference   0.600 us" in text   # 30 cycles
    assert "given with --clock-mhz" in text and "'Energy per synaptic spike op (min) 23.6 pJ'" in text
    data = json.loads(out_json.read_text())
    assert data["energy_pj_per_inference"] == pytest.approx(994.6)
    assert data["latency_us_per_inference"] == pytest.approx(30 / 50)
    assert data["energy"]["per_layer"]["output"]["total"] == pytest.approx(6 * 23.6 + 4 * 52)
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("extra, message", [
    (["--table", "truenorth"], "--table 'truenorth': expected loihi, odin, reckon or a .json/.toml table file"),
    (["--clock-mhz", "0"], "--clock-mhz must be a clock frequency > 0 MHz, not 0.0"),
    (["--steps", "0"], "--steps must be 1 or more, not 0"),
    (["--json", "out.txt"], "out.txt: must end in .json"),
    (["--layers", "map.json"], "map.json: layer 'x': core 7 is not a core of the chip (0..0)"),
])
def test_profile_command_bad_input_is_one_line(tmp_path, monkeypatch, capsys, extra, message):
    from spikecore.app import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "map.json").write_text(json.dumps({"layers": {"x": [7]}}))
    status = cli.main(["profile", str(EXAMPLES / "if_neuron.s"), *extra])
    err = capsys.readouterr().err
    assert status == 2 and err == f"spikecore: error: {message}\n"
    assert not (tmp_path / "out.txt").exists()
