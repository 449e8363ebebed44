"""The ``spikecore`` command line: asm -> disasm -> asm, run with a trace, and one-line errors (status 2)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spikecore.app import cli
from spikecore.compiler.asm import assemble
from spikecore.image import encode_image

PROGRAM = """\
.chip cores=2 neurons=4 weight_bytes=16 imem_depth=8 event_depth=4 fanout_depth=4
.core 0
    acc  neuron=0, count=2, wbase=0
    fire neuron=0, count=2, shift=0, reset=sub, graded=0
    halt
.weights 0: 3 1 5 2      ; axon 0 -> (3, 1); axon 1 -> (5, 2)
.neuron 0 threshold=4 fanout_start=0 fanout_count=1
.neuron 1 threshold=4 fanout_start=1 fanout_count=1
.fanout 0: host:7 1:0
.core 1
    halt
"""

# Two events on core 0 before step 0: axon 0 payload 1, axon 1 payload 1.
#   acc[0] = 3*1 + 5*1 = 8 >= 4: fires, 8 - 4 = 4 left;  acc[1] = 1*1 + 2*1 = 3 < 4: silent.
STIMULUS = "step,core,axon,payload\n0,0,0,1\n0,0,1,1\n"


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status: int, err: str, message: str) -> None:
    assert status == 2
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n")
    assert err == f"spikecore: error: {message}\n"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "prog.s"
    path.write_text(PROGRAM)
    return path


def test_asm_disasm_asm_gives_identical_bytes(capsys, tmp_path: Path, source: Path) -> None:
    binary = tmp_path / "prog.bin"
    status, out, _ = run_main(capsys, "asm", str(source), "-o", str(binary))
    assert status == 0 and str(binary) in out
    assert binary.read_bytes() == encode_image(assemble(PROGRAM))
    listing = tmp_path / "again.s"
    assert run_main(capsys, "disasm", str(binary), "-o", str(listing))[0] == 0
    again = tmp_path / "again.bin"
    assert run_main(capsys, "asm", str(listing), "-o", str(again))[0] == 0
    assert again.read_bytes() == binary.read_bytes()


def test_asm_default_output_and_disasm_to_stdout(capsys, tmp_path: Path, source: Path) -> None:
    assert run_main(capsys, "asm", str(source))[0] == 0
    status, out, _ = run_main(capsys, "disasm", str(tmp_path / "prog.bin"))
    assert status == 0
    assert "fire neuron=0, count=2, shift=0, reset=sub, graded=0" in out
    assert ".fanout 0: host:7 1:0" in out


def test_run_writes_the_trace(capsys, tmp_path: Path, source: Path) -> None:
    from spikecore.trace import read_trace

    stimulus = tmp_path / "stim.csv"
    stimulus.write_text(STIMULUS)
    trace = tmp_path / "out.csv"
    status, out, err = run_main(capsys, "run", str(source), "--steps", "2", "--inputs", str(stimulus),
                                "--trace", str(trace))
    assert (status, err) == (0, "")
    assert out.startswith("2 steps")
    records = read_trace(trace)
    assert len(records) > 0
    # step 0: acc[0] = 8 >= 4 fires (binary payload 1), reset sub leaves 8 - 4 = 4;
    # step 1: no events, acc[0] = 4 >= 4 fires again and drops to 0. Neuron 1 (3 < 4) never fires.
    # Each spike of neuron 0 goes to its one fan-out entry, host axon 7.
    spikes = [(int(r["core"]), int(r["index"]), int(r["value"])) for r in records if r["kind"] == 1]
    outs = [(int(r["core"]), int(r["index"]), int(r["value"])) for r in records if r["kind"] == 4]
    assert spikes == [(0, 0, 1), (0, 0, 1)]
    assert outs == [(0, 7, 1), (0, 7, 1)]


def test_run_image_functional_matches_cycle_summary_lines(capsys, tmp_path: Path, source: Path) -> None:
    binary = tmp_path / "prog.bin"
    assert run_main(capsys, "asm", str(source), "-o", str(binary))[0] == 0
    stimulus = tmp_path / "stim.csv"
    stimulus.write_text(STIMULUS)
    _, cycle_out, _ = run_main(capsys, "run", str(binary), "--inputs", str(stimulus))
    status, functional_out, _ = run_main(capsys, "run", str(binary), "--inputs", str(stimulus), "--functional")
    assert status == 0
    # One step (the default), worked out from STIMULUS and docs/spec.md §5: core 0's ACC issues on 0 and MACs
    # 2 events x 2 neurons on 1..4; FIRE issues on 5: neuron 0 (8 >= 4) on 6 fires, reset sub -> 4, pushes on 7;
    # neuron 1 (3 < 4) on 8; HALT on 9. E = 10, barrier on 10, the one delivery (host axon 7) on 11: 12 cycles.
    assert functional_out.splitlines() == [
        "1 step, 12 array cycles; step starts 0",
        "spikes per core: 0:1 (total 1)",
        "drops per core: none (total 0)",
        "non-zero membranes: 0.0=4 0.1=3",
        "outputs (1): s0/c0/a7=1",
    ]
    # the cycle model has the same end state, plus a trace line: 4 MACs + 1 reset write, 1 SPIKE, 1 OUT
    assert cycle_out.splitlines() == [*functional_out.splitlines()[:1],
                                      "trace: 7 records (ACC 5, SPIKE 1, EVENT 0, DROP 0, OUT 1)",
                                      *functional_out.splitlines()[1:]]


@pytest.mark.parametrize(("argv", "message"), [
    (["asm", "{tmp}/missing.s"], "{tmp}/missing.s: No such file or directory"),
    (["disasm", "{tmp}/missing.bin"], "{tmp}/missing.bin: No such file or directory"),
    (["asm", "{tmp}/bad.s"], "{tmp}/bad.s:2: unknown operand 'wbse' for acc (expected neuron, count, wbase)"),
    (["asm", "{tmp}/binary.s"], "{tmp}/binary.s: not UTF-8 text (byte 0xff at offset 0)"),
    (["disasm", "{tmp}/bad.s"], "{tmp}/bad.s: not a SpikeCore image (magic b'.cor', expected b'SPKC')"),
    (["disasm", "{tmp}/short.bin"], "{tmp}/short.bin: truncated: header needs 28 bytes at offset 0, 4 remain"),
    (["run", "{tmp}/bad.s"], "{tmp}/bad.s:2: unknown operand 'wbse' for acc (expected neuron, count, wbase)"),
    (["run", "{tmp}/ok.s", "--steps", "-1"], "--steps must be 1..10000000, not -1"),
    # one rule for run, sim and profile (docs/spec.md §12): a run of no step is refused, not "0 steps"
    (["run", "{tmp}/ok.s", "--steps", "0"], "--steps must be 1..10000000, not 0"),
    (["profile", "{tmp}/ok.s", "--steps", "0"], "--steps must be 1..10000000, not 0"),
    (["profile", "{tmp}/ok.s", "--steps", "10000001"], "--steps must be 1..10000000, not 10000001"),
    (["run", "{tmp}/ok.s", "--trace", "{tmp}/t.txt"], "{tmp}/t.txt: trace file must end in .csv or .jsonl, not '.txt'"),
    (["run", "{tmp}/ok.s", "--trace", "{tmp}/t.csv", "--functional"],
     "--trace needs the cycle-accurate model; the functional model (--functional) emits no trace records"),
])
def test_errors_are_one_line_with_status_2(capsys, tmp_path: Path, argv: list[str], message: str) -> None:
    (tmp_path / "bad.s").write_text(".core 0\nacc neuron=0, count=1, wbse=0\nhalt\n")
    (tmp_path / "ok.s").write_text(".chip cores=1\n.core 0\nhalt\n")
    (tmp_path / "binary.s").write_bytes(b"\xff\xfe")
    (tmp_path / "short.bin").write_bytes(b"SPKC")
    status, out, err = run_main(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert_one_line_error(status, err, message.format(tmp=tmp_path))
    assert out == ""


def test_usage_error_returns_2_without_raising(capsys) -> None:
    status, _, err = run_main(capsys, "asm")
    assert (status, err) == (2, "spikecore asm: error: the following arguments are required: source "
                                "(see spikecore asm --help)\n")
    status, _, err = run_main(capsys)         # no command at all
    assert (status, err) == (2, "spikecore: error: the following arguments are required: COMMAND "
                                "(see spikecore --help)\n")


def test_python_dash_m_spikecore_error_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.s"
    bad.write_text(".core 0\nfire neuron=0\n")
    proc = subprocess.run([sys.executable, "-m", "spikecore", "asm", str(bad)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (f"spikecore: error: {bad}:2: missing operands count, shift, reset, graded for fire "
                           "(expected neuron, count, shift, reset, graded, wide)\n")


def test_python_dash_m_spikecore_success(tmp_path: Path, source: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "spikecore", "asm", str(source), "-o", str(tmp_path / "p.bin")],
                          capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert (tmp_path / "p.bin").read_bytes() == encode_image(assemble(PROGRAM))


def test_commands_are_registered_from_the_list(monkeypatch, capsys) -> None:
    # A command module only needs register(subparsers); adding "module:function" to COMMANDS wires it in.
    def register_hello(subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser("hello")
        parser.set_defaults(handler=lambda args: print("hi") or 0)

    monkeypatch.setattr(sys.modules[__name__], "register_hello", register_hello, raising=False)
    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, f"{__name__}:register_hello"])
    assert run_main(capsys, "hello") == (0, "hi\n", "")


@pytest.mark.parametrize(("source", "message"), [
    # A fresh user's fault: '.core 3' on a board of 2 x 2 cores said only "out of range (must be 0..1)".
    (".chip cores=2 chips=2\n.core 3\n    halt\n",
     "{path}:2: .core: 3 is out of range (must be 0..1); a board of 2 chips x 2 cores names its cores chip:core "
     "(chip 0..1, core 0..1; a core alone is chip 0's): global core 3 is '.core 1:1'"),
    (".chip cores=4 chips=3\n.core 9\n    halt\n",     # global core 9 = chip 2 (9 // 4), core 1 (9 % 4)
     "{path}:2: .core: 9 is out of range (must be 0..3); a board of 3 chips x 4 cores names its cores chip:core "
     "(chip 0..2, core 0..3; a core alone is chip 0's): global core 9 is '.core 2:1'"),
    (".chip cores=2 chips=2\n.core 4\n    halt\n",     # beyond the board's 4 cores: no global core to name
     "{path}:2: .core: 4 is out of range (must be 0..1); a board of 2 chips x 2 cores names its cores chip:core "
     "(chip 0..1, core 0..1; a core alone is chip 0's)"),
    (".chip cores=2 chips=2\n.core 0\n    halt\n.neuron 0 fanout_start=0 fanout_count=1\n.fanout 0: 3:5\n",
     "{path}:5: fan-out core 3 in '3:5' is outside the chip (cores 0..1, or host); a board of 2 chips x 2 cores "
     "names its cores chip:core (chip 0..1, core 0..1; a core alone is chip 0's): global core 3 is '1:1:5'"),
    (".chip cores=2\n.core 3\n    halt\n", "{path}:2: .core: 3 is out of range (must be 0..1)"),   # one chip: no hint
    (".chip cores=2 chips=2\n.core 1:3\n    halt\n", "{path}:2: .core: 3 is out of range (must be 0..1)"),
])
def test_a_board_core_given_without_its_chip_is_refused_with_the_chip_core_hint(capsys, tmp_path, source, message):
    path, out = tmp_path / "prog.s", tmp_path / "prog.bin"
    path.write_text(source)
    status, stdout, err = run_main(capsys, "asm", str(path), "-o", str(out))
    assert_one_line_error(status, err, message.format(path=path))
    assert stdout == "" and not out.exists()


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["disasm", "PROG"]],
                         ids=["help", "run-help", "disasm"])
def test_a_reader_that_stops_early_gets_a_quiet_exit(tmp_path: Path, source: Path, argv: list[str],
                                                       buffered: bool) -> None:
    # `spikecore disasm prog.bin | head -1`: head closes the pipe; made deterministic by closing the read end
    # before spikecore writes, so its first write (or the flush at exit, when buffered) meets EPIPE.
    binary = tmp_path / "prog.bin"
    binary.write_bytes(encode_image(assemble(PROGRAM)))
    argv = [str(binary) if arg == "PROG" else arg for arg in argv]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "spikecore", *argv], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=120)
    finally:
        os.close(write_end)
    assert proc.stderr == ""  # neither "spikecore: error: [Errno 32] Broken pipe" nor "Exception ignored in ..."
    if argv[-1] == "--help" and not buffered:
        # argparse's print_help itself swallows the OSError of an unbuffered write: nothing reaches spikecore
        assert proc.returncode in (0, 128 + signal.SIGPIPE)
    else:
        assert proc.returncode == 128 + signal.SIGPIPE


@pytest.mark.parametrize("functional", [False, True], ids=["cycle", "functional"])
def test_run_on_a_board_says_board_cycles_and_names_chips_and_cores(capsys, tmp_path: Path, functional: bool) -> None:
    # A fresh user's fault: `spikecore run board.bin` said "array cycles" (one chip's counter) for a 2 x 2 board,
    # whose chips run in lock-step on one board cycle counter (docs/spec.md §13).
    from tests.app.test_profile import BOARD

    source = tmp_path / "board.s"
    source.write_text(BOARD)
    status, out, _ = run_main(capsys, "run", str(source), "--steps", "2", *(["--functional"] if functional else []))
    assert status == 0
    first = out.splitlines()[0]
    assert first.startswith("2 steps, ") and " board cycles (2 chips x 2 cores); step starts " in first, first
    assert "array cycles" not in out


def test_run_on_one_chip_still_says_array_cycles_without_a_size(capsys, source: Path) -> None:
    status, out, _ = run_main(capsys, "run", str(source), "--steps", "1")
    assert status == 0
    assert out.splitlines()[0].startswith("1 step, ") and " array cycles; step starts " in out.splitlines()[0]


def test_run_functional_prints_the_cycles_its_help_promises(tmp_path: Path, capsys) -> None:
    # A fresh user's finding: the help said "no cycle timing" while the summary printed array cycles.
    from spikecore.golden.run import run

    program = Path(__file__).resolve().parents[2] / "examples" / "if_neuron.s"
    assert cli.main(["run", str(program), "--steps", "3", "--functional"]) == 0
    out = capsys.readouterr().out
    cycles = run(cli.load_program(str(program)), steps=3, chip="cycle").cycles
    assert f"{cycles} array cycles" in out or f"{cycles:,} array cycles" in out
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    help_text = sub.choices["run"].format_help()
    assert "no cycle timing" not in help_text and "cycle count" in help_text
