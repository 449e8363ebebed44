"""Functional coverage (spikecore.verif.coverage, docs/spec.md §10), sampled from the golden model.

Each bin test runs a small hand-written program whose behaviour is worked out in the comments, then
checks exactly which bins it hit. The last tests measure the random generator itself.
"""

from __future__ import annotations

import pytest

from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.image import encode_image
from spikecore.isa import ACC_MAX
from spikecore.stimulus import Stimulus
from spikecore.verif.coverage import FunctionalCoverage, TraceWalkError, coverpoints, export_cocotb_xml
from spikecore.verif.edge_programs import program_for_seed
from spikecore.verif.scoreboard import Scoreboard
from tests.helpers import PERIOD_PAIR


def sample(text: str, events: dict[int, list[tuple[int, int, int]]], steps: int) -> FunctionalCoverage:
    image = assemble(text, "test.s")
    board = Scoreboard(image, Stimulus(events))
    cov = FunctionalCoverage(image.config)
    for _ in range(steps):
        cov.sample_step(board.expect_step(), board.golden.loaded)
    return cov


def hit_bins(cov: FunctionalCoverage, point: str) -> set[str]:
    return set(cov.covered(point))


def test_threshold_equal_sub_reset_binary_and_max_weight():
    # One event (axon 0, payload 1) x weight 127 -> membrane 0 + 127 = 127 = threshold: fires (v = thr),
    # binary payload, reset by subtraction writes 127 - 127 = 0. Buffer holds 1 of 64 events: partial.
    cov = sample("""
        .chip cores=1
        .core 0
            acc  neuron=0, count=1, wbase=0
            fire neuron=0, count=1, shift=0, reset=sub, graded=0
            halt
        .weights 0: 127
        .neuron 0 threshold=127 reset=0 init=0 decay=0 fanout_start=0 fanout_count=0
    """, {0: [(0, 0, 1)]}, 1)
    assert hit_bins(cov, "threshold_compare") == {"equal"}
    assert hit_bins(cov, "reset_fired") == {"sub/fired"}
    assert hit_bins(cov, "graded_payload") == {"binary"}
    assert hit_bins(cov, "acc_operands") == {"weight_max"}
    assert hit_bins(cov, "event_buffer") == {"partial"}
    assert hit_bins(cov, "opcode_core") == {"ACC@core0", "FIRE@core0", "HALT@core0"}
    assert hit_bins(cov, "opcode_transition") == {"ACC->FIRE", "FIRE->HALT"}
    assert hit_bins(cov, "saturation") == set()
    assert hit_bins(cov, "router") == {"no_deliveries"}            # the neuron has no fan-out
    assert hit_bins(cov, "array_activity") == {"all_cores_active"}  # 1 core: any cycle with a record
    assert cov.hits["threshold_compare"]["equal"] == 1


def test_saturation_graded_clip_and_leak_sign():
    # Neuron 0: init ACC_MAX - 10, + 1 x 127 = ACC_MAX + 117 exactly -> clipped to ACC_MAX (acc_clip_high).
    # Neuron 1: init -1000, + 1 x (-128) = -1128 (no clip). FIRE graded shift 0 on both, threshold -2000:
    # neuron 0: round_shift(ACC_MAX, 0) = ACC_MAX > 127 -> graded_clip_high; neuron 1: -1128 < -128 ->
    # graded_clip_low; both above threshold. reset=always writes reset 5 into both. LEAK then sees 5 > 0.
    cov = sample(f"""
        .chip cores=1
        .core 0
            acc  neuron=0, count=2, wbase=0
            fire neuron=0, count=2, shift=0, reset=always, graded=1
            leak neuron=0, count=2
            halt
        .weights 0: 127 -128
        .neuron 0 threshold=-2000 reset=5 init={ACC_MAX - 10} decay=32768
        .neuron 1 threshold=-2000 reset=5 init=-1000 decay=32768
    """, {0: [(0, 0, 1)]}, 1)
    assert hit_bins(cov, "saturation") == {"acc_clip_high"}
    assert hit_bins(cov, "graded_payload") == {"graded_clip_high", "graded_clip_low"}
    assert hit_bins(cov, "threshold_compare") == {"above"}
    assert hit_bins(cov, "reset_fired") == {"always/fired"}
    assert hit_bins(cov, "acc_operands") == {"weight_max", "weight_min"}
    assert hit_bins(cov, "leak") == {"positive"}


def test_synaptic_bins_sacc_clip_and_current_signs():
    # Neuron 0: syn_init ACC_MAX - 10; SACC adds 1 x 127 -> ACC_MAX + 117, clipped (sacc_clip_high). SYN then
    # integrates ACC_MAX into membrane init 5 -> ACC_MAX + 5, clipped (integrate_clip_high), current positive.
    # Neuron 1: syn_init -1000; SACC adds 1 x (-128) = -1128 (no clip); SYN: membrane -3 - 1128 (no clip),
    # current negative. The SYN of 2 neurons writes ACC then SYN on each of its 2 cycles.
    cov = sample(f"""
        .chip cores=1
        .core 0
            sacc neuron=0, count=2, wbase=0
            syn  neuron=0, count=2
            halt
        .weights 0: 127 -128
        .neuron 0 init=5 syn_init={ACC_MAX - 10} syn_decay=32768
        .neuron 1 init=-3 syn_init=-1000 syn_decay=32768
    """, {0: [(0, 0, 1)]}, 1)
    assert hit_bins(cov, "synaptic") == {"sacc_clip_high", "integrate_clip_high", "current_negative",
                                         "current_positive"}
    assert hit_bins(cov, "saturation") == set()          # SACC's clip is not a membrane clip
    assert hit_bins(cov, "opcode_transition") == {"SACC->SYN", "SYN->HALT"}
    # an empty buffer: SACC writes nothing (sacc_no_events), SYN of the same currents clips the other way
    cov = sample(f"""
        .chip cores=1
        .core 0
            sacc neuron=0, count=1, wbase=0
            syn  neuron=0, count=1
            halt
        .neuron 0 init=-10 syn_init={-ACC_MAX}
    """, {}, 1)
    assert hit_bins(cov, "synaptic") == {"sacc_no_events", "integrate_clip_low", "current_negative"}


def test_full_buffer_drop_fan_in_and_host_delivery():
    # event_depth 2. Cores 0 and 1 each fire neuron 0 (threshold ACC_MIN... = -2^31 <= 0) into core 2,
    # two entries each, plus one entry to the host from core 1: deliveries (source ascending) are
    # c0->c2, c0->c2, c1->c2, c1->c2, c1->host. Core 2's buffer takes 2 (EVENT, EVENT) then drops 2.
    # Step 1: core 2 starts EXEC with a full buffer (2 of 2); cores 0, 1 start empty.
    cov = sample("""
        .chip cores=3 event_depth=2
        .core 0
            fire neuron=0, count=1, shift=0, reset=none, graded=0
            halt
        .neuron 0 threshold=-2147483648 fanout_start=0 fanout_count=2
        .fanout 0: 2:0 2:1
        .core 1
            fire neuron=0, count=1, shift=0, reset=none, graded=0
            halt
        .neuron 0 threshold=-2147483648 fanout_start=0 fanout_count=3
        .fanout 0: 2:0 2:1 host:7
    """, {}, 2)
    assert hit_bins(cov, "event_buffer") == {"empty", "full", "drop"}
    assert hit_bins(cov, "router") == {"many_sources", "fan_in"}
    assert hit_bins(cov, "host_delivery") == {"out", "out_and_event"}
    assert hit_bins(cov, "reset_fired") == {"none/fired"}
    # cores 0 and 1 spike on the same cycle (FIRE issued on 0, neuron evaluated on 1); core 2 never does
    assert hit_bins(cov, "array_activity") == {"multi_core_spike"}


def test_bins_depend_on_core_count():
    one, four = coverpoints(ChipConfig(cores=1)), coverpoints(ChipConfig(cores=4))
    assert len(next(p for p in one if p.name == "opcode_core").bins) == 8          # 8 opcodes x 1 core
    assert len(next(p for p in four if p.name == "opcode_core").bins) == 32        # 8 opcodes x 4 cores
    assert "fan_in" not in next(p for p in one if p.name == "router").bins
    assert len(next(p for p in four if p.name == "opcode_transition").bins) == 56  # 7 non-HALT x 8


def test_inconsistent_trace_is_refused():
    image = assemble(".chip cores=1\n.core 0\n leak neuron=0, count=2\n halt\n", "leak.s")
    board = Scoreboard(image)
    exp = board.expect_step()
    exp.records = exp.records[:1]                      # LEAK of 2 neurons must write 2 records
    with pytest.raises(TraceWalkError, match="LEAK needs 2 records, 1 left"):
        FunctionalCoverage(image.config).sample_step(exp, board.golden.loaded)


def test_percentages_merge_and_json_round_trip(tmp_path):
    config = ChipConfig(cores=1)
    a, b = FunctionalCoverage(config), FunctionalCoverage(config)
    a.hit("threshold_compare", "equal")
    b.hit("threshold_compare", "below", 3)
    a.merge(b)
    assert a.percent("threshold_compare") == pytest.approx(200 / 3)          # 2 of 3 bins
    points = len(a.points)
    assert a.average() == pytest.approx((200 / 3) / points)                    # every other point at 0 %
    again = FunctionalCoverage.from_dict(config, a.to_dict())
    assert again.hits["threshold_compare"]["below"] == 3
    assert again.to_dict() == a.to_dict()
    with pytest.raises(KeyError):
        a.hit("threshold_compare", "sideways")
    export_cocotb_xml([a], tmp_path / "coverage.xml")
    xml = (tmp_path / "coverage.xml").read_text()
    assert "threshold_compare" in xml and "equal" in xml


def test_generator_reaches_full_coverage_on_golden_alone():
    """The seeded generator (plain random programs mixed with the edge variants, as the regression runs
    them) covers every bin of a 4-core chip within 300 seeds, golden model only."""
    config = ChipConfig(cores=4)
    cov = FunctionalCoverage(config)
    records = 0
    for seed in range(300):
        image, stimulus, steps, _ = program_for_seed(seed, config)
        board = Scoreboard(image, stimulus)
        for _ in range(steps):
            exp = board.expect_step()
            records += len(exp.records)
            cov.sample_step(exp, board.golden.loaded)
    assert records > 0
    missing = {p: cov.missing(p) for p in cov.points if cov.missing(p)}
    assert not missing, missing
    assert cov.average() == 100.0


def test_every_seed_program_emits_records():
    config = ChipConfig(cores=4)
    for seed in (42, 44, 47):            # seeds whose first draw had no record at all
        image, stimulus, steps, variant = program_for_seed(seed, config)
        board = Scoreboard(image, stimulus)
        assert sum(len(board.expect_step().records) for _ in range(steps)) > 0, variant
    first, again = program_for_seed(7, config), program_for_seed(7, config)       # reproducible
    assert encode_image(first[0]) == encode_image(again[0]) and first[1:] == again[1:]


def test_period_bins_idle_run_and_idle_event():
    # Core 0 fires every step into core 1, which runs only in odd steps (period 2, phase 1): step 0 is an idle
    # step of core 1 receiving an event, step 1 a run step; core 0 (period 1) adds nothing to the coverpoint.
    text = PERIOD_PAIR.format(period=2, phase=1)
    first = sample(text, {0: [(0, 0, 1)]}, 1)
    assert first.hits["period"] == {"idle_step": 1, "idle_event": 1}
    both = sample(text, {0: [(0, 0, 1)]}, 2)
    assert both.hits["period"] == {"idle_step": 1, "idle_event": 1, "run_step": 1}
