"""Generated Verilog passes Verilator lint with only the named, justified waivers of rtl/lint_waivers.vlt."""

from __future__ import annotations

import re

import pytest

from spikecore.app.generate import main
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.generate import TOP_MODULE, write_verilog
from spikecore.verif.lint import WAIVERS, lint

pytestmark = pytest.mark.rtl

#: The rules the waiver file may turn off; anything else must be fixed in the RTL, not waived.
ALLOWED_WAIVERS = {"WIDTHEXPAND", "WIDTHTRUNC", "CASEINCOMPLETE"}


@pytest.mark.parametrize("cores", [1, 4])
def test_generated_verilog_is_lint_clean(tmp_path, cores):
    path = write_verilog(ChipConfig(cores=cores), tmp_path)
    text = path.read_text()
    assert path.name == f"spikecore_{cores}c.v"
    assert re.search(rf"^module {TOP_MODULE}\(", text, re.MULTILINE)
    for port in ("clk", "rst", "cfg_addr", "trace_port", "sig_history", "busy", "done"):
        assert re.search(rf"^\s*(input|output) (\[\d+:0\] )?{port};", text, re.MULTILINE), port
    # One core module, instantiated once per core (rtl/instanced.py), not one module per core.
    assert len(re.findall(r"^module spikecore_core\(", text, re.MULTILINE)) == 1
    assert sorted(re.findall(r"^\s*spikecore_core (core\d+) \(", text, re.MULTILINE)) == sorted(
        f"core{i}" for i in range(cores))
    assert not re.search(r"^module \\spikecore\.core", text, re.MULTILINE)
    lint(path)


def test_board_verilog_is_lint_clean(tmp_path):
    # a board of 3 chips x 2 cores (docs/spec.md §13): one core module for all 6 cores, 6 links, every chip's ports
    path = write_verilog(ChipConfig(cores=2, chips=3), tmp_path)
    text = path.read_text()
    assert len(re.findall(r"^module spikecore_core\(", text, re.MULTILINE)) == 1
    assert len(re.findall(r"^\s*spikecore_core core\d+ \(", text, re.MULTILINE)) == 6
    for port in ("inj_chip", "trace_port__0", "trace_port__2", "sig_history__1"):
        assert re.search(rf"^\s*(input|output) (\[\d+:0\] )?{port};", text, re.MULTILINE), port
    lint(path)


def test_waivers_are_by_name_and_justified():
    lines = WAIVERS.read_text().splitlines()
    assert lines[0] == "`verilator_config"
    waived = []
    for number, line in enumerate(lines):
        if line.startswith("lint_off"):
            match = re.fullmatch(r'lint_off -rule (\w+) -file "\*spikecore_\*\.v"', line)
            assert match, f"waiver must name one rule and the generated files only: {line!r}"
            assert lines[number - 1].startswith("//"), f"waiver {match[1]} has no justification above it"
            waived.append(match[1])
    assert set(waived) <= ALLOWED_WAIVERS and len(waived) == len(set(waived))
    assert "-Wno-fatal" not in WAIVERS.read_text()


def test_lint_fails_on_a_real_warning(tmp_path):
    # A truncating assignment in a file the waivers do not cover (they name the generated files only)
    # must fail the lint: the lint is not silently passing everything.
    bad = tmp_path / "bad.v"
    bad.write_text(f"module {TOP_MODULE}(input [3:0] a, output [1:0] y);\n  assign y = a;\nendmodule\n")
    with pytest.raises(SpikeCoreError, match="fails Verilator lint"):
        lint(bad)


def test_generate_command_line(tmp_path, capsys):
    assert main(["--cores", "1", "--out", str(tmp_path), "--neurons", "8", "--imem-depth", "4"]) == 0
    assert (tmp_path / "spikecore_1c.v").is_file()
    assert "spikecore_1c.v" in capsys.readouterr().out
    capsys.readouterr()
    assert main(["--cores", "1,x", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("python -m spikecore.app.generate: error: --cores: expected comma-separated "
                                       "integers, not '1,x'\n")
    assert main(["--cores", "1", "--out", str(tmp_path), "--neurons", "3"]) == 2
    assert capsys.readouterr().err == ("python -m spikecore.app.generate: error: chip config: neurons must be a "
                                       "power of two, not 3\n")


def test_lint_command_line(tmp_path, capsys):
    """python -m spikecore.app.lint: a clean file passes, a warning fails (1), a missing file is a user error (2)."""
    from spikecore.app.lint import main as lint_main

    clean = tmp_path / "clean.v"
    clean.write_text(f"module {TOP_MODULE}(input [1:0] a, output [1:0] y);\n  assign y = a;\nendmodule\n")
    bad = tmp_path / "bad.v"
    bad.write_text(f"module {TOP_MODULE}(input [3:0] a, output [1:0] y);\n  assign y = a;\nendmodule\n")
    assert lint_main([str(clean)]) == 0
    assert capsys.readouterr().out == f"{clean}: lint clean\n"
    assert lint_main([str(clean), str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"python -m spikecore.app.lint: error: lint: {bad} fails Verilator lint: %")
    assert err.count("\n") == 1
    assert lint_main([str(tmp_path / "missing.v")]) == 2
    assert capsys.readouterr().err == (f"python -m spikecore.app.lint: error: {tmp_path / 'missing.v'}: not found "
                                       "(run 'make rtl')\n")
