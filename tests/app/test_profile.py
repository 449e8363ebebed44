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
    (["--steps", "0"], "--steps must be 1..10000000, not 0"),
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


# --- boards and periods (a fresh user's faults: a board image was refused, chip steps read as input steps) -------

BOARD = """\
.chip cores=2 chips=2
.core 0                                            ; chip 0 core 0 (global core 0)
    acc  neuron=0, count=1, wbase=0
    fire neuron=0, count=1, shift=0, reset=always, graded=1
    halt
.weights 0: 5
.neuron 0 threshold=1 fanout_start=0 fanout_count=1
.fanout 0: 1:1:0                                   ; over link 0->1 to chip 1 core 1
.core 1:1                                          ; chip 1 core 1 (global core 3)
    acc  neuron=0, count=1, wbase=0
    fire neuron=0, count=1, shift=0, reset=always, graded=1
    halt
.weights 0: 3
.neuron 0 threshold=1 fanout_start=0 fanout_count=1
.fanout 0: host:0
"""


def test_board_energy_is_the_cores_of_every_chip_summed_and_links_not_priced_by_hand():
    # The one rule of spikecore profile and make sim NET=mnist (golden.energy.price_runs) on the 2 x 2 board, two
    # inferences of 4 steps. By hand (docs/spec.md §4, §13), Loihi 23.6 pJ/synaptic op, 52 pJ/update,
    # 1.7 pJ/delivery, 3.0 / 4.0 pJ per E-W / N-S hop:
    #   A (payload 10 at step 0, 20 at step 1): core 0 and core 3 each 2 synaptic ops, 4 updates, 2 spikes and
    #     2 deliveries; core 0's cross link 0->1 (2 link events, no hop), core 3's reach the host (1 E-W + 1 N-S
    #     hop each);
    #   B (payload 10 at step 0 only): the same with 1 synaptic op, 1 spike, 1 delivery each (1 link event).
    from spikecore.compiler.asm import assemble
    from spikecore.golden.energy import TABLES, price_runs
    from spikecore.stimulus import Stimulus

    chip0_a, chip0_b = 2 * 23.6 + 4 * 52 + 2 * 1.7, 1 * 23.6 + 4 * 52 + 1 * 1.7
    chip1_a, chip1_b = chip0_a + 2 * 3.0 + 2 * 4.0, chip0_b + 1 * 3.0 + 1 * 4.0
    stimuli = [Stimulus({0: [(0, 0, 10)], 1: [(0, 0, 20)]}), Stimulus({0: [(0, 0, 10)]})]
    report = price_runs(assemble(BOARD), stimuli, 4, TABLES["loihi"])
    assert report.inferences == 2 and report.chips == 2
    assert report.chip_pj() == pytest.approx([(chip0_a + chip0_b) / 2, (chip1_a + chip1_b) / 2])
    assert report.energy_pj == pytest.approx((chip0_a + chip0_b + chip1_a + chip1_b) / 2)   # nothing for the link
    assert report.link_rows() == [(0, 1, 1.5, 0.0)]
    assert report.to_dict()["links_priced"] is False


def test_profile_runs_a_board_image_per_chip_with_link_events_counted(tmp_path, capsys):
    from spikecore.app import cli

    source, stim, out = tmp_path / "board.s", tmp_path / "stim.csv", tmp_path / "p.json"
    source.write_text(BOARD)
    stim.write_text("step,core,axon,payload\n0,0,0,10\n1,0,0,20\n")
    layers = tmp_path / "map.json"
    layers.write_text(json.dumps({"layers": {"hidden": [0], "output": [3]}}))
    status = cli.main(["profile", str(source), "--inputs", str(stim), "--steps", "4", "--layers", str(layers),
                       "--json", str(out)])
    text = capsys.readouterr().out
    assert status == 0
    # By hand (docs/spec.md §4, §13): each used core ACCs one event in steps 0 and 1 (2 synaptic ops), FIREs its
    # one neuron in all 4 steps (4 updates) and fires in steps 0 and 1 (membranes 50, 100, then 0): 2 spikes,
    # 2 deliveries each. Core 0's go over link 0->1 (no mesh hop); core 3's reach the host from (1, 0) of chip 1's
    # mesh to its port at (0, -1): 1 E-W and 1 N-S hop each. Loihi: 23.6 pJ/synaptic op, 52 pJ/update,
    # 1.7 pJ/delivery, 3.0 / 4.0 pJ per E-W / N-S hop.
    chip0 = 2 * 23.6 + 4 * 52 + 2 * 1.7
    chip1 = chip0 + 2 * 3.0 + 2 * 4.0
    assert "on the golden board (2 chips x 2 cores" in text
    assert f"  chip 0   {chip0:>12.1f}" in text and f"  chip 1   {chip1:>12.1f}" in text
    assert "3 (chip 1 core 1)" in text
    assert "link 0->1           2.0 events, 0.0 stall cycles" in text
    assert f"energy per inference    {chip0 + chip1:.1f} pJ" in text
    energy = json.loads(out.read_text())["energy"]
    assert energy["energy_pj_per_inference"] == pytest.approx(chip0 + chip1)
    assert [c["pj_per_inference"] for c in energy["per_chip"]] == pytest.approx([chip0, chip1])
    assert energy["links"] == [{"from": 0, "to": 1, "events_per_inference": 2.0, "stall_cycles_per_inference": 0.0}]
    assert energy["per_layer"]["output"]["total"] == pytest.approx(chip1)
    assert [(c["core"], c["synaptic_ops"], c["neuron_updates"], c["spikes"], c["deliveries"])
            for c in energy["per_core"]] == [(0, 2, 4, 2, 2), (3, 2, 4, 2, 2)]


def _if_neuron_with_period(tmp_path, period_lines: str):
    # examples/if_neuron.s (weight 30, threshold 100, reset by subtraction) with a period per core
    source = tmp_path / "period.s"
    source.write_text((EXAMPLES / "if_neuron.s").read_text().replace(".core 0\n", ".core 0\n" + period_lines))
    stim = tmp_path / "stim.csv"
    stim.write_text("step,core,axon,payload\n" + "".join(f"{s},0,0,1\n" for s in range(8)))
    return source, stim


def test_profile_of_a_period_image_names_chip_steps_and_input_steps(tmp_path, capsys):
    from spikecore.app import cli

    source, stim = _if_neuron_with_period(tmp_path, ".period 2\n")
    out = tmp_path / "p.json"
    assert cli.main(["profile", str(source), "--inputs", str(stim), "--steps", "8", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert ("1 inference of 8 chip steps = 4 input steps (every core runs every 2 chip steps: period 2, "
            "docs/spec.md §2)") in text
    # By hand (§2): the core runs in chip steps 0, 2, 4, 6 with 1, 2, 2, 2 events waiting (step 7's is never
    # read): 7 synaptic ops, 4 FIREs, membranes 30, 90, 150 -> fires (50), 110 -> fires (10): 2 spikes.
    data = json.loads(out.read_text())
    assert (data["chip_steps"], data["period"], data["input_steps"]) == (8, 2, 4)
    assert data["energy"]["per_core"][0]["synaptic_ops"] == 7
    assert data["energy"]["per_core"][0]["neuron_updates"] == 4
    assert data["energy"]["per_core"][0]["spikes"] == 2


@pytest.mark.parametrize("steps", ["1", "3"])
def test_profile_refuses_steps_that_are_not_whole_input_steps(tmp_path, capsys, steps):
    # A fresh user's finding: --steps 3 on a period-2 image printed "3 chip steps = 1.5 input steps".
    from spikecore.app import cli

    source, _ = _if_neuron_with_period(tmp_path, ".period 2\n")
    out = tmp_path / "p.json"
    assert cli.main(["profile", str(source), "--steps", steps, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"spikecore: error: --steps {steps}: the image runs every 2 chip steps")
    # by hand: the multiples of 2 next to 1 and 3 (no 0: a run of no step is refused)
    assert err.endswith({"1": "multiple of 2, e.g. 2\n", "3": "multiple of 2, e.g. 2 or 4\n"}[steps])
    assert err.count("\n") == 1
    assert not out.exists()


def test_profile_of_one_input_step_says_step_not_steps(tmp_path, capsys):
    from spikecore.app import cli

    source, _ = _if_neuron_with_period(tmp_path, ".period 2\n")
    assert cli.main(["profile", str(source), "--steps", "2"]) == 0
    assert "1 inference of 2 chip steps = 1 input step (every core" in capsys.readouterr().out


def test_profile_of_cores_with_different_periods_names_no_input_step(tmp_path, capsys):
    from spikecore.app import cli

    source = tmp_path / "two.s"
    source.write_text(".chip cores=2\n.core 0\n.period 2\n    halt\n.core 1\n.period 3 1\n    halt\n")
    assert cli.main(["profile", str(source), "--steps", "6"]) == 0
    assert ("1 inference of 6 chip steps (the cores' periods differ: 2, 3; no single input step, docs/spec.md §2)"
            in capsys.readouterr().out)


@pytest.mark.parametrize(("rows", "steps", "message"), [
    # 2 x 2 cores: the words of run and sim (tests/app/test_sim_stimulus_checks.py), not the golden model's
    ("0,4,0,10\n", [], "stimulus file {stim}:2: core 4 out of range 0..3 (the image's board of 2 chips has 4 cores)"),
    ("0,0,0,10\n3,0,0,10\n", ["--steps", "2"],
     "stimulus file {stim}:3: event at step 3, but the run has only 2 steps (0..1); give --steps 4 or more"),
])
def test_profile_refuses_a_stimulus_it_cannot_inject_naming_its_line(tmp_path, capsys, rows, steps, message):
    # Of the same kind as the board refusal: what profile cannot run is one line naming the input, never dropped.
    from spikecore.app import cli

    source, stim, out = tmp_path / "board.s", tmp_path / "stim.csv", tmp_path / "p.json"
    source.write_text(BOARD)
    stim.write_text("step,core,axon,payload\n" + rows)
    assert cli.main(["profile", str(source), "--inputs", str(stim), *steps, "--json", str(out)]) == 2
    assert capsys.readouterr().err == f"spikecore: error: {message.format(stim=stim)}\n"
    assert not out.exists()


def test_profile_refuses_a_core_outside_one_chip_in_the_words_of_run(tmp_path, capsys):
    # examples/if_neuron.s is one chip of 1 core (a fresh user saw the internal "inject: core must be ...")
    from spikecore.app import cli

    stim = tmp_path / "stim.csv"
    stim.write_text("step,core,axon,payload\n0,4,0,10\n")
    program = str(EXAMPLES / "if_neuron.s")
    assert cli.main(["profile", program, "--inputs", str(stim)]) == 2
    profile_err = capsys.readouterr().err
    assert cli.main(["run", program, "--inputs", str(stim)]) == 2
    assert profile_err == capsys.readouterr().err
    assert profile_err.startswith(f"spikecore: error: stimulus file {stim}:2: core 4 out of range 0..")
    assert "inject" not in profile_err


def test_profile_layer_map_of_a_board_says_board(tmp_path, capsys):
    from spikecore.app import cli

    source, layers = tmp_path / "board.s", tmp_path / "map.json"
    source.write_text(BOARD)
    layers.write_text(json.dumps({"layers": {"x": [4]}}))
    assert cli.main(["profile", str(source), "--steps", "2", "--layers", str(layers)]) == 2
    assert capsys.readouterr().err == (f"spikecore: error: {layers}: layer 'x': core 4 is not a core of the board "
                                       "of 2 chips (0..3)\n")
