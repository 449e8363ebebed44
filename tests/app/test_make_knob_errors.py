"""A make flow's mistakes name the make variable the user typed, with its flag and value (a fresh user's finding:
``make sim RTL_SAMPLES=-1`` said ``--rtl-samples must be 0 or more``, ``make regress SEEDS=0`` said
``python -m spikecore.app.regress: error: --seeds ...``). No network, no simulator: each is refused first."""

from __future__ import annotations

import pytest

from spikecore.app import demo, demo_mnist, regress, sim
from spikecore.app.cli_support import MAKE_FLOW


def status_of(main, argv) -> int:
    """``main(argv)``'s exit status, also for argparse's usage errors (which exit)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize(("main", "argv", "expected"), [
    (demo.main, ["--rtl-samples", "-1"], "make sim: error: RTL_SAMPLES=-1 (--rtl-samples): must be 0 or more, not -1"),
    (demo.main, ["--rtl-samples", "abc"],
     "make sim: error: RTL_SAMPLES=abc (--rtl-samples): invalid int value: 'abc' (see README.md: make sim)"),
    (demo.main, ["--clock-mhz", "abc"],
     "make sim: error: CLOCK_MHZ=abc (--clock-mhz): invalid float value: 'abc' (see README.md: make sim)"),
    (demo_mnist.main, ["--held-out", "0"],
     "make sim NET=mnist: error: HELD_OUT=0 (--held-out): must be 1 or more, not 0"),
    (demo_mnist.main, ["--table", "bogus"],
     "make sim NET=mnist: error: TABLE=bogus (--table): expected loihi, odin, reckon or a .json/.toml table file"),
    (demo_mnist.main, ["--clock-mhz", "0"],
     "make sim NET=mnist: error: CLOCK_MHZ=0 (--clock-mhz): must be a clock frequency > 0 MHz, not 0.0"),
])
def test_make_sim_names_the_make_variable(capsys, main, argv, expected):
    assert status_of(main, argv) == 2
    assert capsys.readouterr().err == expected + "\n"


def test_make_sim_chip_names_chip(capsys):
    assert status_of(demo_mnist.main, ["--chip", "bogus=1"]) == 2
    assert capsys.readouterr().err.startswith("make sim NET=mnist: error: CHIP=bogus=1 (--chip): expected key=value")


@pytest.mark.parametrize(("main", "make", "argv", "expected"), [
    (regress.main, "make regress", ["--seeds", "0"],
     "make regress: error: SEEDS=0 (--seeds): must be 1 or more, not 0"),
    (regress.main, "make regress", ["--seeds", "abc"],
     "make regress: error: SEEDS=abc (--seeds): invalid int value: 'abc' (see README.md: make regress)"),
    (sim.main, "make sim", ["--seed", "abc"],
     "make sim: error: SEED=abc (--seed): invalid int value: 'abc' (see README.md: make sim)"),
])
def test_make_regress_and_make_sim_seed_name_the_make_variable(monkeypatch, capsys, main, make, argv, expected):
    monkeypatch.setenv(MAKE_FLOW, make)       # as the Makefile's recipe sets it
    assert status_of(main, argv) == 2
    assert capsys.readouterr().err == expected + "\n"


def test_without_make_the_flags_are_named(monkeypatch, capsys):
    monkeypatch.delenv(MAKE_FLOW, raising=False)
    assert regress.main(["--seeds", "0"]) == 2
    assert capsys.readouterr().err == "python -m spikecore.app.regress: error: --seeds must be 1 or more, not 0\n"
