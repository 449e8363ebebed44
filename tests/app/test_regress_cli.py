"""``spikecore regress``: the regression's options and user errors (one stderr line, exit 2; no simulation)."""

from __future__ import annotations

import pytest

from spikecore.app.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["regress", "--seeds", "0"], "spikecore: error: --seeds must be 1 or more, not 0"),
    (["regress", "--scheduler", "example.org:8786"],
     "spikecore: error: --scheduler 'example.org:8786': expected tcp://HOST:PORT, local or threads"),
    (["regress", "--jobs", "0"], "spikecore: error: --jobs must be 1 or more, not 0"),
])
def test_regress_user_errors(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [message]


def test_regress_help_names_the_scheduler_and_shares(capsys):
    assert main(["regress", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())   # argparse wraps lines at the terminal width
    assert "--scheduler" in text and "one seed in 8 full" in text and "one seed in 4" in text
