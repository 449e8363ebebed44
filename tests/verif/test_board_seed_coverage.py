"""The board seeds of a short ``make regress`` reach every link bin and every split-neuron / merge bin, on the
golden board alone (no simulator: fast). Expected bins by hand from docs/spec.md §10 (``fan_in_split``) and §13
with verif/random_board.py's link coverpoint (idle, busy, every ordered pair of chips, every pair's full queue on
3 chips or more), not from the code that counts them."""

from __future__ import annotations

from spikecore.config import ChipConfig
from spikecore.isa import TraceKind
from spikecore.verif.board_coverage import golden_board_coverage
from spikecore.verif.board_edges import flood_every_chip, split_across_chips
from spikecore.verif.board_regress import board_of_seed, board_program, board_seeds
from spikecore.verif.random_board import random_board, run_random

#: The ordered chip pairs of boards of 2, 3 and 4 chips, written out.
PAIRS = {2: ["0->1", "1->0"],
         3: ["0->1", "0->2", "1->0", "1->2", "2->0", "2->1"],
         4: ["0->1", "0->2", "0->3", "1->0", "1->2", "1->3", "2->0", "2->1", "2->3", "3->0", "3->1", "3->2"]}
#: docs/spec.md §10, coverpoint fan_in_split.
SPLIT_BINS = ["wide_fits", "wide_clip_high", "wide_clip_low", "merge_no_events", "merge_add", "merge_outside",
              "merge_wide_payload", "merge_clip_high", "merge_clip_low"]


def expected_link_bins(chips: int) -> set[str]:
    return {"idle", "busy", *PAIRS[chips], *([f"{p}/full" for p in PAIRS[chips]] if chips >= 3 else [])}


def board(chips: int) -> ChipConfig:
    return ChipConfig(cores=2, neurons=8, weight_bytes=64, imem_depth=16, event_depth=16, fanout_depth=16,
                      chips=chips)


def test_the_board_seeds_of_48_seeds_cover_every_bin() -> None:
    every = 8
    seeds = board_seeds(range(48), every)
    assert seeds == [7, 15, 23, 31, 39, 47]                    # every 8th seed: two per board size
    links: dict[int, dict[str, int]] = {}
    split = dict.fromkeys(SPLIT_BINS, 0)
    records = 0
    for seed in seeds:
        config = board_of_seed(seed, every)
        image, stimulus, steps, _ = board_program(seed, config, every)
        hits, coverage = golden_board_coverage(image, stimulus, steps)
        assert set(hits) == expected_link_bins(config.chips)
        total = links.setdefault(config.chips, dict.fromkeys(hits, 0))
        for name, count in hits.items():
            total[name] += count
        bins = coverage.to_dict()["coverpoints"]["fan_in_split"]["bins"]
        assert set(bins) == set(SPLIT_BINS)
        for name, count in bins.items():
            split[name] += count
        records += coverage.steps
    assert sorted(links) == [2, 3, 4] and records > 0
    for chips, total in links.items():
        assert [name for name, hits in total.items() if not hits] == [], f"{chips} chips"
    assert [name for name, hits in split.items() if not hits] == []


def test_the_board_seeds_take_turns_random_and_edge() -> None:
    kinds = [board_program(seed, board_of_seed(seed, 8), 8)[3] for seed in board_seeds(range(96), 8)]
    assert kinds == ["random"] * 3 + ["split", "flood", "flood"] + ["random"] * 3 + ["split", "flood", "flood"]


def test_the_flood_fills_every_link_and_ends_with_an_idle_step() -> None:
    for chips in (3, 4):
        image, stimulus, steps = flood_every_chip(board(chips))
        assert steps == chips + 1 and stimulus.at(chips) == []
        hits, _ = golden_board_coverage(image, stimulus, steps)
        assert all(hits[f"{p}/full"] for p in PAIRS[chips]), hits
        assert hits["idle"] == 1                                 # the last step only: every other one floods


def test_the_split_program_crosses_both_links_of_two_chips() -> None:
    hits, coverage = golden_board_coverage(*split_across_chips(board(2)))
    # 4 entries a run step (axons 0, 1, 2, 7) each way, steps 0 and 2 run (period 2): 8 events per link
    assert hits["0->1"] == hits["1->0"] == 8 and hits["idle"] == 1
    assert coverage.to_dict()["coverpoints"]["fan_in_split"]["missing"] == []


def test_a_quiet_random_board_uses_no_link_in_its_odd_steps() -> None:
    config = board(3)
    even_link_events = 0
    for seed in range(6):
        image, events, steps = random_board(seed, config, quiet=True, density=0.8)
        assert steps >= 2
        golden, trace, _ = run_random(image, events, steps)
        starts = [*golden.step_starts, golden.cycle]
        linked = trace[trace["kind"] == int(TraceKind.LINK)]
        for step in range(steps):
            inside = int(((linked["cycle"] >= starts[step]) & (linked["cycle"] < starts[step + 1])).sum())
            if step % 2:
                assert inside == 0, f"seed {seed} step {step}"
            else:
                even_link_events += inside
    assert even_link_events > 0                                 # the links are used, in the even steps


def test_entries_kept_on_a_chip_name_that_chip() -> None:
    # 30 % of the core-to-core entries stay on their chip: on chip 1 of 2 some must name chip 1 (not chip 0)
    config = board(2)
    on_chip_1 = 0
    for seed in range(10):
        image, _, _ = random_board(seed, config, quiet=False, density=0.8)
        for core_id, section in image.cores.items():
            if core_id // config.cores == 1:
                on_chip_1 += sum(1 for e in section.fanout if not e.to_host and e.chip == 1)
    assert on_chip_1 > 0


def test_quiet_is_drawn_for_a_share_of_the_seeds() -> None:
    config = board(2)
    quiet = 0
    for seed in range(40):
        image, _, _ = random_board(seed, config, density=0.8)
        plain, _, _ = random_board(seed, config, quiet=False, density=0.8)
        quiet += any(s.period != p.period for s, p in zip(image.cores.values(), plain.cores.values(), strict=True))
    assert 4 <= quiet <= 24                                     # about 30 % of 40: neither none nor all
