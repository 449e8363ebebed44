"""Event counts and the energy model: counts of the hand-worked examples (docs/examples.md) derived by hand,
energy computed by hand from the published tables, user tables and their one-line errors.

Hand counts (docs/spec.md §4, §5; docs/examples.md):

- IF neuron, 10 steps (``acc count=1; fire count=1``; one event per step; fires in steps 3, 6, 9; one
  fan-out entry to the host): 10 synaptic ops, 10 neuron updates, 3 spikes, 3 deliveries, 0 drops; 66 cycles.
- LIF neuron, 10 steps (``leak; acc; fire``, one event per step; fires in steps 2, 5, 8): 10 synaptic ops,
  20 neuron updates (LEAK and FIRE), 3 spikes, 3 deliveries; 1 + 1 + 1 + 1 issue and work cycles each for
  LEAK, ACC, FIRE, then HALT 1, barrier 1: 8 cycles a quiet step, 10 a firing step (push + delivery).
- Graded MLP, 2 steps: core 0 and core 1 each ACC 2 events x 2 neurons in step 0 (4 synaptic ops) and none
  in step 1 (their buffers are empty); each FIREs 2 neurons per step (4 updates); core 0 fires h0, h1 in both
  steps (4 spikes, 4 deliveries), core 1 only h3 (2 spikes, 2 deliveries). Core 2 FIREs 2 neurons per step
  (4 updates, never fires) and ACCs the 3 delivered events x 2 neurons in step 1 (6 synaptic ops).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.counters import EVENT_KINDS, count_runs, mesh_hops
from spikecore.golden.energy import price
from spikecore.golden.energy_tables import ITEMS, TABLES, load_table, resolve_table
from spikecore.golden.run import run
from spikecore.stimulus import Stimulus
from spikecore.verif.random_program import random_image
from tests.helpers import EXAMPLES


def example(name: str):
    image = assemble((EXAMPLES / f"{name}.s").read_text(), f"{name}.s")
    return image, Stimulus.load(EXAMPLES / f"{name}.stim.csv")


# --- counts of the hand-worked examples -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["cycle", "functional"])
def test_if_and_lif_neuron_counts_equal_the_hand_counts(mode):
    hand = (("if_neuron", [10, 10, 3, 3, 0], 66), ("lif_neuron", [10, 20, 3, 3, 0], 7 * 8 + 3 * 10))
    for name, expected, cycles in hand:
        image, stimulus = example(name)
        result = run(image, stimulus, steps=10, chip=mode)
        assert result.event_counts.tolist() == [expected], name
        assert result.routes.tolist() == [[0, 3]], name           # three deliveries, all to the host
        assert result.cycles == cycles, name


@pytest.mark.parametrize("mode", ["cycle", "functional"])
def test_graded_mlp_counts_equal_the_hand_counts(mode):
    image, stimulus = example("graded_mlp")
    result = run(image, stimulus, steps=2, chip=mode)
    #                                synops updates spikes deliveries drops
    assert result.event_counts.tolist() == [[4, 4, 4, 4, 0],
                                            [4, 4, 2, 2, 0],
                                            [6, 4, 0, 0, 0]]
    # routes[source, destination]: cores 0 and 1 deliver to core 2 only; column 3 is the host.
    assert result.routes.tolist() == [[0, 0, 4, 0], [0, 0, 2, 0], [0, 0, 0, 0]]
    assert result.cycles == 30


def test_state_reset_clears_every_counter_and_count_runs_sums_inferences():
    image, stimulus = example("if_neuron")
    counts = count_runs(image, [stimulus, stimulus, stimulus], steps=10)
    assert counts.inferences == 3
    assert counts.per_core.tolist() == [[30, 30, 9, 9, 0]]     # 3 x the one-run hand counts
    assert counts.cycles == 3 * 66
    assert count_runs(image, [stimulus], steps=10, chip="cycle").per_core.tolist() == [[10, 10, 3, 3, 0]]
    with pytest.raises(SpikeCoreError, match="no stimulus"):
        count_runs(image, [], steps=10)


def test_functional_and_cycle_models_count_the_same_events_on_random_programs():
    config = ChipConfig(cores=4, neurons=16, weight_bytes=64, imem_depth=16, event_depth=8, fanout_depth=16)
    busy = 0
    for seed in range(25):
        image, stimulus, steps = random_image(seed, config)
        cycle = run(image, stimulus, steps, chip="cycle")
        functional = run(image, stimulus, steps, chip="functional")
        assert np.array_equal(cycle.event_counts, functional.event_counts), seed
        assert np.array_equal(cycle.routes, functional.routes), seed
        # The counters agree with the trace records they stand for.
        kinds = np.bincount(cycle.trace["kind"], minlength=5)
        assert cycle.event_counts[:, EVENT_KINDS.index("spikes")].sum() == kinds[1]
        assert cycle.event_counts[:, EVENT_KINDS.index("deliveries")].sum() == kinds[2] + kinds[3] + kinds[4]
        assert cycle.event_counts[:, EVENT_KINDS.index("drops")].sum() == kinds[3]
        busy += int(cycle.event_counts.sum() > 0)
    assert busy >= 20


# --- energy, computed by hand from the tables ----------------------------------------------------------------


def test_if_neuron_energy_by_hand_for_every_builtin_table():
    image, stimulus = example("if_neuron")
    counts = count_runs(image, [stimulus], steps=10)
    # One core at mesh (0, 0), the host port at (0, -1): each of the 3 host deliveries takes one N-S hop.
    loihi = price(counts, TABLES["loihi"], clock_mhz=100.0)
    assert loihi.energy_pj == pytest.approx(10 * 23.6 + 10 * 52 + 3 * 1.7 + 3 * 4.0)   # 773.1 pJ
    assert loihi.latency_us == pytest.approx(66 / 100)
    assert price(counts, TABLES["loihi"], clock_mhz=50.0).latency_us == pytest.approx(66 / 50)
    assert price(counts, TABLES["odin"]).energy_pj == pytest.approx(10 * 12.7)
    assert price(counts, TABLES["reckon"]).energy_pj == pytest.approx(10 * 5.3)


def test_graded_mlp_energy_per_core_per_kind_and_per_layer_by_hand():
    image, stimulus = example("graded_mlp")
    counts = count_runs(image, [stimulus], steps=2)
    # 3 cores on a mesh of ceil(sqrt(3)) = 2 columns: core 0 (0,0), core 1 (1,0), core 2 (0,1).
    # Core 0 -> core 2: 4 deliveries x (0 E-W, 1 N-S); core 1 -> core 2: 2 x (1 E-W, 1 N-S).
    assert [h.tolist() for h in mesh_hops(counts.routes, image.config)] == [[0, 2, 0], [4, 2, 0]]
    report = price(counts, TABLES["loihi"], 100.0, layer_of_core={0: "hidden", 1: "hidden", 2: "output"})
    assert report.item_pj == pytest.approx({"synaptic_op": 14 * 23.6, "neuron_update": 12 * 52.0, "spike": 0.0,
                                            "delivery": 6 * 1.7, "hop_ew": 2 * 3.0, "hop_ns": 6 * 4.0})
    assert report.energy_pj == pytest.approx(994.6)
    assert report.core_pj.sum(axis=1) == pytest.approx([4 * 23.6 + 4 * 52 + 4 * 1.7 + 4 * 4.0,
                                                        4 * 23.6 + 4 * 52 + 2 * 1.7 + 2 * 3.0 + 2 * 4.0,
                                                        6 * 23.6 + 4 * 52])
    assert sum(report.layer_pj["hidden"].values()) == pytest.approx(report.core_pj[:2].sum())
    assert sum(report.layer_pj["output"].values()) == pytest.approx(6 * 23.6 + 4 * 52)
    data = report.to_dict()
    assert data["energy_pj_per_inference"] == pytest.approx(994.6)
    assert data["latency_us_per_inference"] == pytest.approx(0.3)
    assert data["per_kind"]["synaptic_op"]["source"].startswith("Davies et al., IEEE Micro 38(1)")
    text = report.format()
    assert "994.6 pJ" in text and "0.300 us (30.0 cycles at 100 MHz)" in text
    assert "Within-tile spike energy 1.7 pJ" in text and "doi:10.1109/MM.2018.112130359" in text


def test_every_builtin_price_names_its_source():
    for table in TABLES.values():
        assert set(table.prices) == set(ITEMS)
        assert all(p.source.strip() and p.pj >= 0 for p in table.prices.values())
    assert TABLES["loihi"].price("synaptic_op").pj == 23.6 and TABLES["loihi"].price("neuron_update").pj == 52.0
    assert TABLES["loihi"].price("delivery").pj == 1.7
    assert (TABLES["loihi"].price("hop_ew").pj, TABLES["loihi"].price("hop_ns").pj) == (3.0, 4.0)


# --- user tables -------------------------------------------------------------------------------------------


def test_user_tables_in_toml_and_json_price_by_hand(tmp_path):
    toml = tmp_path / "chip.toml"
    toml.write_text('name = "mine"\ncitation = "bench notes"\n[synaptic_op]\npj = 2\nsource = "measured"\n'
                    '[delivery]\npj = 0.5\nsource = "estimated"\n')
    js = tmp_path / "chip.json"
    js.write_text(json.dumps({"name": "mine", "citation": "bench notes",
                              "synaptic_op": {"pj": 2, "source": "measured"},
                              "neuron_update": {"pj": 1.5, "source": "measured"}}))
    image, stimulus = example("if_neuron")
    counts = count_runs(image, [stimulus], steps=10)
    assert price(counts, resolve_table(str(toml))).energy_pj == pytest.approx(10 * 2 + 3 * 0.5)
    table = load_table(js)
    assert price(counts, table).energy_pj == pytest.approx(10 * 2 + 10 * 1.5)
    assert table.price("hop_ns").source == "not given in chip.json: priced 0"


@pytest.mark.parametrize("text, message", [
    ('{"name": "x", "citation": "y"}', "'synaptic_op' is required"),
    ('{"name": "x", "citation": "y", "synaptic_op": {"pj": -1, "source": "s"}}', "'synaptic_op.pj' must be a finite"),
    ('{"name": "x", "citation": "y", "synaptic_op": {"pj": 1}}', "'synaptic_op.source' must say where"),
    ('{"name": "x", "citation": "y", "synaptic_op": {"pj": 1, "source": "s"}, "sop": 3}', "unknown key 'sop'"),
    ('{"name": "x", "synaptic_op": {"pj": 1, "source": "s"}}', "'citation' must be a non-empty string"),
    ('{"name": "x", "citation": "y", "synaptic_op": {"pj": true, "source": "s"}}', "'synaptic_op.pj' must be"),
    ('{"name": "x", "citation": "y", "synaptic_op": 5}', "'synaptic_op' must be a table"),
    ('[1, 2]', "expected a table of keys"),
    ('{"name": ', "malformed JSON"),
])
def test_bad_user_tables_are_one_line_errors_naming_the_file(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SpikeCoreError, match=message) as err:
        load_table(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_unknown_table_names_and_bad_clocks_are_refused(tmp_path):
    with pytest.raises(SpikeCoreError, match=r"expected loihi, odin, reckon or a \.json/\.toml"):
        resolve_table("truenorth")
    bad = tmp_path / "x.toml"
    bad.write_text("name = \n")
    with pytest.raises(SpikeCoreError, match="malformed TOML"):
        load_table(bad)
    image, stimulus = example("if_neuron")
    counts = count_runs(image, [stimulus], steps=10)
    for clock in (0, -5.0, float("nan"), float("inf")):
        with pytest.raises(SpikeCoreError, match="--clock-mhz must be"):
            price(counts, TABLES["loihi"], clock)
