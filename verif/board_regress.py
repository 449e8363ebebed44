"""The multi-chip seeds of the regression: random board programs on the Verilator-built RTL board (docs/spec.md §13).

A regression with ``board_every = N`` also runs every seed ``s`` with ``s % N == N - 1`` as a board program:
:func:`~spikecore.verif.random_board.random_board` on a board of :func:`board_of_seed` ``(s)`` — 2, 3 or 4 chips
in turn (``2 + (s // N) % 3``) of :data:`BOARD_CORES` small cores — with the stimulus a host can inject
(:func:`~spikecore.verif.random_board.injectable`), every other one of a size an edge program instead
(:func:`board_program`) — co-simulated under the board scoreboard
(:mod:`spikecore.verif.cocotb_board`), FULL check on every other board seed, FAST on the rest. One
Verilator build per board size. :func:`board_summary` sums what they did: programs, records compared,
mismatches, failures with a reproduce line, the link coverage bins (idle, busy, every direction, full queue on
3 chips or more; :func:`~spikecore.verif.random_board.link_coverage`) per board size and the split-neuron /
merge bins (coverpoint ``fan_in_split``) summed over every chip, and the bins of both never hit
(``links_missed``, ``split_missed``).

>>> board_of_seed(7, 8).chips, board_of_seed(15, 8).chips, board_of_seed(23, 8).chips
(2, 3, 4)
>>> board_seeds(range(20), 8)
[7, 15]
"""

from __future__ import annotations

from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.image import Image, save_image
from spikecore.stimulus import Stimulus
from spikecore.verif.board_edges import flood_every_chip, split_across_chips
from spikecore.verif.build import build_array
from spikecore.verif.cocotb_array import RunSpec
from spikecore.verif.coverage import coverpoints
from spikecore.verif.random_board import injectable, link_bins, random_board
from spikecore.verif.sim import cosimulate

#: Cores of each chip of a regression board: small, so that every size builds in about a minute.
BOARD_CORES = 2
#: Chips of the regression boards, in turn.
BOARD_CHIPS = (2, 3, 4)


def board_of_seed(seed: int, every: int) -> ChipConfig:
    """The board a board seed runs on: ``2 + (seed // every) % 3`` chips of :data:`BOARD_CORES` small cores."""
    chips = BOARD_CHIPS[(seed // every) % len(BOARD_CHIPS)]
    return ChipConfig(cores=BOARD_CORES, neurons=8, weight_bytes=64, imem_depth=16, event_depth=16, fanout_depth=16,
                      chips=chips)


def board_seeds(seeds, every: int | None) -> list[int]:
    """The seeds of ``seeds`` that also run as board programs (none when ``every`` is ``None`` or 0)."""
    return [s for s in seeds if every and s % every == every - 1]


def board_program(seed: int, config: ChipConfig, every: int = 8) -> tuple[Image, Stimulus, int, str]:
    """Board seed ``seed``'s program on ``config``: its image, the stimulus a host can inject, its steps and its
    kind. The board seeds of one size take turns (``turn = seed // every // 3``): an even turn is a random board
    (:func:`~spikecore.verif.random_board.random_board`, about a third of them with link-quiet steps), an odd one
    an edge program (:mod:`spikecore.verif.board_edges`) — on 3 chips or more a flood that fills every link, on
    2 chips partial sums clipped and merged across the links — so every link bin and every split-neuron / merge
    bin is reached by the first two board seeds of each size (48 seeds at ``every`` = 8)."""
    if (seed // every // len(BOARD_CHIPS)) % 2 == 1:
        if config.chips >= 3:
            return (*flood_every_chip(config), "flood")
        return (*split_across_chips(config), "split")
    image, events, steps = random_board(seed, config, density=0.8)
    return image, injectable(image, events, steps), steps, "random"


def prepare_board_seed(seed: int, config: ChipConfig, directory: Path, check: str, every: int = 8) -> RunSpec:
    """Write seed ``seed``'s board program (:func:`board_program`) into ``directory``; its run."""
    image, stimulus, steps, kind = board_program(seed, config, every)
    directory.mkdir(parents=True, exist_ok=True)
    save_image(image, directory / "image.bin")
    stimulus.save(directory / "stimulus.json")
    return RunSpec(image=str(directory / "image.bin"), stimulus=str(directory / "stimulus.json"), steps=steps,
                   result=str(directory / "result.json"), seed=seed, check=check,
                   variant=f"board{config.chips}-{kind}",
                   reproduce=f"python -m spikecore.app.sim --image {directory / 'image.bin'} --stimulus "
                             f"{directory / 'stimulus.json'} --steps {steps} --check full --waves")


def run_board_seeds(seeds: list[int], every: int, out: Path, log=print) -> list[dict]:
    """Co-simulate the board programs of ``seeds`` (one simulator process per board size); their results."""
    by_board: dict[ChipConfig, list[int]] = {}
    for seed in seeds:
        by_board.setdefault(board_of_seed(seed, every), []).append(seed)
    results = []
    for config, group in by_board.items():
        build = build_array(config, log=log)
        specs = [prepare_board_seed(seed, config, out / f"board-seed{seed}", "full" if i % 2 == 0 else "fast", every)
                 for i, seed in enumerate(group)]
        for result in cosimulate(specs, config, out / f"board{config.chips}", build=build, log=log, strict=False):
            result["chips"] = config.chips
            status = "ok  " if result["passed"] else "FAIL"
            log(f"{status} seed {result['seed']:5d} board of {config.chips} chips x {config.cores} cores "
                f"{result.get('check', ''):4s} {result.get('cycles', 0):6d} cycles "
                f"{result.get('records_compared', 0):6d} records")
            if not result["passed"]:
                log("     " + result["text"].replace("\n", "\n     "))
            results.append(result)
    return sorted(results, key=lambda r: r["seed"])


def board_summary(results: list[dict], every: int) -> dict:
    """What the board seeds did, for the regression summary (see the module docstring)."""
    links: dict[str, dict[str, int]] = {}
    # every bin of the coverpoint, so that a bin no seed hit shows as 0 (and in split_missed), not as absent
    point_bins = next(p.bins for p in coverpoints(ChipConfig(cores=BOARD_CORES)) if p.name == "fan_in_split")
    split: dict[str, int] = dict.fromkeys(point_bins, 0)
    for result in results:
        chips = result.get("chips", 0)
        bins = links.setdefault(f"chips{chips}", dict.fromkeys(link_bins(ChipConfig(cores=BOARD_CORES, chips=chips)),
                                                                0))
        for name, hits in (result.get("link_coverage") or {}).items():
            bins[name] = bins.get(name, 0) + hits
        point = ((result.get("coverage") or {}).get("coverpoints") or {}).get("fan_in_split") or {}
        for name, hits in (point.get("bins") or {}).items():
            split[name] = split.get(name, 0) + hits
    failures = [r for r in results if not r["passed"]]
    return {
        "every": every,
        "programs": len(results),
        "boards": sorted({r.get("chips", 0) for r in results}),
        # the board sizes no seed ran (a short run): their bins were never tried, so none is listed as missed
        "boards_not_run": [chips for chips in BOARD_CHIPS if all(r.get("chips") != chips for r in results)],
        "records_compared": sum(r.get("records_compared", 0) for r in results),
        "mismatches": sum(r.get("mismatches", 0) for r in results),
        "failed_programs": len(failures),
        "failures": [{"seed": r["seed"], "chips": r.get("chips"), "reason": r.get("reason"),
                      "reproduce": (r.get("first_mismatch") or {}).get("reproduce")} for r in failures],
        "link_coverage": links,
        "links_missed": sorted(f"{board}:{name}" for board, bins in links.items() for name, hits in bins.items()
                               if not hits),
        "fan_in_split": split,
        "split_missed": [name for name, hits in split.items() if not hits],
    }
