"""Every reader of user input refuses hostile input in one line, and every output is atomic (issue 11).

The strategies (``tests/fuzz_inputs.py``) make what the fuzzing campaign found; ``make fuzz`` runs the same
ones 10^5 times. Each CLI test asserts the contract of docs/spec.md §12: exit status 2, exactly one stderr
line ``spikecore: error: ...`` naming the input (and line), and no file in the folder changed.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spikecore.compiler.asm import assemble
from spikecore.config import parse_chip
from spikecore.errors import SpikeCoreError
from spikecore.grammar import parse_int, split_lines
from spikecore.stimulus import MAX_STEP, Stimulus
from tests import fuzz_inputs as fi

PROGRAM = ".chip cores=2\n.core 0\n    halt\n.core 1\n    halt\n"
PREVIOUS = b"PREVIOUS-GOOD-OUTPUT"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

#: Tokens that are never an integer of the spec's grammar, wherever an integer is expected.
NEVER_INTEGER = st.one_of(
    st.integers(25, 6000).map(lambda n: "9" * n),
    st.integers(25, 5000).map(lambda n: "-0x" + "f" * n),
    st.sampled_from(["1_0", "0_1", "\u0663", "\uff11", "\u0661\u0660", "0b1", "0o7", "1e3", "1.0", "1.5", "-0.0",
                     "inf", "-inf", "nan", "NaN", "Infinity", "5e-324", "1e308", "0x", "+-1", "--1", "\u00a01",
                     "1\u2028", "1\x0c"]),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True).map(repr),
)


run_in = fi.run_cli_in


def assert_refused(outcome: fi.Outcome, before: dict, after: dict, *names: str) -> str:
    """Exit 2, one ``spikecore: error:`` line naming every one of ``names``, the folder unchanged."""
    lines = outcome.stderr.splitlines()
    assert outcome.status == 2, outcome
    assert len(lines) == 1 and lines[0].startswith("spikecore: error: "), outcome.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert after == before, "a failed command changed files"
    return lines[0]


def assert_clean_or_accepted(outcome: fi.Outcome, before: dict, after: dict, name: str) -> None:
    result, reason = fi.verdict(outcome, [name], before, after if outcome.status != 0 else before)
    assert result in ("accepted", "clean"), reason


# --- the spec's lexical rules ----------------------------------------------------------------------------------


def test_lines_end_only_at_newline():
    assert split_lines("a\r\nb\x0cc\u2028d\x1ce\n\nf") == ["a", "b\x0cc\u2028d\x1ce", "", "f"]


@given(NEVER_INTEGER)
@FAST
def test_parse_int_refuses_what_only_python_reads(token):
    with pytest.raises(SpikeCoreError, match=r"^here: axon"):
        parse_int(token, "axon", "here")


@given(st.integers(-(10**24) + 1, 10**24 - 1))
@FAST
def test_parse_int_reads_decimal_and_hex(value):
    assert parse_int(str(value), "x") == value
    assert parse_int(("-" if value < 0 else "") + hex(abs(value)), "x") == value


# --- assembly ----------------------------------------------------------------------------------------------------


@given(token=NEVER_INTEGER, statement=st.sampled_from(["acc neuron={}, count=1, wbase=0", "leak neuron=0, count={}",
                                                       ".weights 0: {}", ".weights {}: 1", ".neuron 0 threshold={}",
                                                       ".fanout 0: 1:{}", ".equ X, {}"]))
@FAST
def test_asm_refuses_non_integer_operands(token, statement):
    text = f".chip cores=2\n.core 0\n{statement.format(token)}\n    halt\n"
    with tempfile.TemporaryDirectory() as folder:
        outcome, before, after = run_in(Path(folder), {"in.s": text.encode("utf-8", "surrogatepass"),
                                                       "out.bin": PREVIOUS}, ["asm", "in.s", "-o", "out.bin"])
    assert_refused(outcome, before, after, "in.s:3:")


@given(fi.asm_sources())
@FAST
def test_asm_hostile_sources_accepted_or_one_line(text):
    with tempfile.TemporaryDirectory() as folder:
        outcome, before, after = run_in(Path(folder), {"in.s": text.encode("utf-8", "surrogatepass"),
                                                       "out.bin": PREVIOUS}, ["asm", "in.s", "-o", "out.bin"])
    assert_clean_or_accepted(outcome, before, after, "in.s")


def test_asm_huge_decimal_is_out_of_range():
    text = ".chip cores=1\n.core 0\n    leak neuron=0, count=1" + "0" * 4400 + "\n    halt\n"
    with pytest.raises(SpikeCoreError, match=r"^c01\.s:3: leak count: '1000.*is out of range"):
        assemble(text, "c01.s")


def test_asm_bom_accepted_and_identical():
    assert assemble("\ufeff" + PROGRAM) == assemble(PROGRAM)


@pytest.mark.parametrize("char", ["\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x0b"])
def test_asm_comment_runs_to_newline_only(char):
    # str.splitlines() would end the comment at ``char``: the rest would be assembled, and lines renumbered.
    text = f".chip cores=1\n.core 0\n; off:{char}.weights 0: 1 2 3\n    acc neuron=99, count=1, wbase=0\n    halt\n"
    with pytest.raises(SpikeCoreError, match=r"^p\.s:4: acc: neurons 99\.\.99"):
        assemble(text, "p.s")
    image = assemble(f".chip cores=1\n.core 0\n    halt ; old:{char}.weights 0: 1 2 3\n", "p.s")
    assert image.cores[0].weights == []


@pytest.mark.parametrize("char", ["\x0c", "\x00", "\u2028", "\u00a0", "\ufeff", "\r"])
def test_asm_control_character_in_code_named(char):
    with pytest.raises(SpikeCoreError, match=rf"^p\.s:3: unexpected character U\+{ord(char):04X} at column 5"):
        assemble(f".chip cores=1\n.core 0\nhalt{char} \n", "p.s")


# --- stimulus files ---------------------------------------------------------------------------------------------


def _run_stimulus(name: str, text: str, steps: int = 3) -> tuple[fi.Outcome, dict, dict]:
    with tempfile.TemporaryDirectory() as folder:
        return run_in(Path(folder), {"p.s": PROGRAM.encode(), name: text.encode("utf-8", "surrogatepass"),
                                     "out.csv": PREVIOUS},
                      ["run", "p.s", "--steps", str(steps), "--inputs", name, "--trace", "out.csv"])


@given(token=NEVER_INTEGER, column=st.integers(0, 3))
@FAST
def test_stimulus_csv_refuses_non_integers(token, column):
    row = ["0", "0", "0", "1"]
    row[column] = token.replace(",", ";").replace('"', "'")
    outcome, before, after = _run_stimulus("in.csv", "step,core,axon,payload\n" + ",".join(row) + "\n")
    assert_refused(outcome, before, after, "in.csv:2")


@given(token=NEVER_INTEGER.filter(lambda t: t not in ("-0.0",)), column=st.integers(0, 3))
@FAST
def test_stimulus_json_refuses_non_integers(token, column):
    row = ["0", "0", "0", "1"]
    row[column] = token if column == 0 else f'"{token}"' if not token.lstrip("-").isdigit() else token
    text = f'{{"events": {{"{row[0]}": [[{row[1]}, {row[2]}, {row[3]}]]}}}}'
    outcome, before, after = _run_stimulus("in.json", text)
    assert_refused(outcome, before, after, "in.json")


@given(fi.stimulus_csv())
@FAST
def test_stimulus_csv_hostile_accepted_or_one_line(text):
    assert_clean_or_accepted(*_run_stimulus("in.csv", text), "in.csv")


@given(fi.stimulus_json())
@FAST
def test_stimulus_json_hostile_accepted_or_one_line(text):
    assert_clean_or_accepted(*_run_stimulus("in.json", text), "in.json")


@given(fi.deep_json())
@settings(max_examples=10, deadline=None)
def test_stimulus_json_deep_nesting(text):
    assert_refused(*_run_stimulus("in.json", text), "in.json", "nested deeper")


def test_stimulus_csv_field_beyond_csv_limit():
    outcome, before, after = _run_stimulus("in.csv", "step,core,axon,payload\n0,0,0," + "1" * 200_000 + "\n")
    assert_refused(outcome, before, after, "in.csv:2")


def test_stimulus_bom_and_crlf_accepted(tmp_path):
    plain, marked = tmp_path / "a.csv", tmp_path / "b.csv"
    plain.write_text("step,core,axon,payload\n0,1,2,-5\n")
    marked.write_bytes(b"\xef\xbb\xbfstep,core,axon,payload\r\n0,1,2,-5\r\n")
    assert Stimulus.load(marked).events == Stimulus.load(plain).events == {0: [(1, 2, -5)]}


def test_stimulus_event_after_last_step_named():
    outcome, before, after = _run_stimulus("in.csv", "step,core,axon,payload\n0,0,0,1\n5,0,0,1\n", steps=2)
    line = assert_refused(outcome, before, after, "in.csv:3")
    assert "step 5" in line and "--steps 6" in line


def test_stimulus_core_outside_chip_named():
    outcome, before, after = _run_stimulus("in.csv", "step,core,axon,payload\n0,5,0,1\n", steps=2)
    assert "in.csv:2: core 5 out of range 0..1" in assert_refused(outcome, before, after)


def test_steps_upper_bound():
    outcome, before, after = _run_stimulus("in.csv", "step,core,axon,payload\n", steps=MAX_STEP + 1)
    assert_refused(outcome, before, after, f"--steps must be 1..{MAX_STEP}")


# --- --chip strings -------------------------------------------------------------------------------------------


@given(key=st.sampled_from(["cores", "neurons", "weight_bytes", "imem_depth"]), token=NEVER_INTEGER)
@FAST
def test_chip_refuses_non_integers(key, token):
    with pytest.raises(SpikeCoreError, match=rf"^--chip: {key}"):
        parse_chip(f"{key}={token}")


@given(fi.chip_strings())
@FAST
def test_chip_hostile_strings_one_line(text):
    try:
        parse_chip(text)
    except SpikeCoreError as err:
        assert "\n" not in str(err) and str(err).startswith("--chip")


# --- NIR graphs -----------------------------------------------------------------------------------------------


@given(fi.nir_cases())
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_nir_degenerate_graphs_one_line(case):
    with tempfile.TemporaryDirectory() as folder:
        try:
            fi.write_nir_case(case, Path(folder) / "in.nir")
        except Exception:  # the nir library itself refuses to build this graph (e.g. a zero stride)
            assume(False)
        argv = ["compile", "in.nir", "--out", "out.bin"] + ([] if case.dt else ["--dt", "1e-3"])
        outcome, before, after = run_in(Path(folder), {"out.bin": PREVIOUS}, argv)
    assert_clean_or_accepted(outcome, before, after, "in.nir")


@pytest.mark.parametrize(("change", "message"), [
    ({"inputs": 10**12}, "more than the 65280 axons"),
    ({"hidden": 0}, "zero-size layer"),
    ({"conv": True, "stride": 1, "zero_stride": True}, "cannot read"),  # nir.read itself divides by it
    ({"weight": 5e-324}, "subnormal"),
    ({"drop_input": True}, "0 Input"),
])
def test_nir_degenerate_named(tmp_path, change, message):
    fields = {"inputs": 3, "hidden": 4, "outputs": 2, "weight": 0.5, "conv": False, "stride": 1,
              "drop_input": False, "drop_output": False, "tau": 1e-3, "dt": "1e-4", "chip": ""}
    zero_stride = change.pop("zero_stride", False)
    fi.write_nir_case(fi.NirCase(**{**fields, **change}), tmp_path / "in.nir")
    if zero_stride:  # nir.Conv2d refuses stride 0 when built; a file can still hold one
        with h5py.File(tmp_path / "in.nir", "r+") as handle:
            handle["node/nodes/front/stride"][...] = 0
    outcome, before, after = run_in(tmp_path, {"out.bin": PREVIOUS}, ["compile", "in.nir", "--out", "out.bin"])
    assert_refused(outcome, before, after, "NIR file in.nir", message)


# --- outputs --------------------------------------------------------------------------------------------------


@pytest.fixture
def nir_model(tmp_path) -> Path:
    graph = nir.NIRGraph.from_list(
        nir.Affine(np.full((4, 3), 0.5), np.zeros(4)),
        nir.LIF(tau=np.full(4, 5e-3), r=np.full(4, 5.0), v_leak=np.zeros(4), v_threshold=np.ones(4),
                v_reset=np.zeros(4)),
        nir.Linear(np.full((2, 4), 0.5)))
    graph.metadata["dt"] = 1e-4
    nir.write(tmp_path / "ok.nir", graph)
    return tmp_path / "ok.nir"


def test_failed_listing_leaves_out_untouched(tmp_path, nir_model):
    outcome, before, after = run_in(tmp_path, {"prev.bin": PREVIOUS},
                                    ["compile", "ok.nir", "--out", "prev.bin", "--listing", "no_such_dir/x.s"])
    assert_refused(outcome, before, after, "no_such_dir/x.s")


def test_failed_export_keeps_existing_file(tmp_path, nir_model):
    assert fi.run_cli(["compile", str(nir_model), "--out", str(tmp_path / "m.bin")]).status == 0
    existing = nir_model.read_bytes()
    outcome, before, after = run_in(tmp_path, {"old.nir": existing},
                                    ["export", "m.bin", "--nir", "old.nir", "--dt", "1e308"])
    assert_refused(outcome, before, after, "m.bin")          # old.nir unchanged (checked by assert_refused)
    assert ".tmp" not in outcome.stderr


@pytest.mark.parametrize("argv", [
    ["asm", "p.s", "-o", "p.s"],
    ["run", "p.s", "--inputs", "s.csv", "--trace", "s.csv"],
    ["run", "p.s", "--trace", "./p.s"],
    ["disasm", "p.bin", "-o", "p.bin"],
    ["compile", "ok.nir", "--out", "ok.nir"],
    ["compile", "ok.nir", "--out", "a.bin", "--listing", "a.bin"],
    ["export", "p.bin", "--nir", "p.bin"],
])
def test_output_that_is_an_input_refused(tmp_path, nir_model, argv):
    files = {"p.s": PROGRAM.encode(), "s.csv": b"step,core,axon,payload\n", "p.bin": b"SPKC-not-really"}
    outcome, before, after = run_in(tmp_path, files, argv)
    assert_refused(outcome, before, after)
    assert "also an input" in outcome.stderr or "two outputs" in outcome.stderr


@pytest.mark.parametrize("argv", [
    ["compile", "ok.nir", "--dt", "1e-4", "--out", "v.bin", "--layer-map", "ok.nir"],
    ["compile", "ok.nir", "--out", "same.bin", "--layer-map", "same.bin"],
    ["compile", "ok.nir", "--out", "a.bin", "--listing", "l.s", "--layer-map", "l.s"],
])
def test_layer_map_that_is_an_input_or_another_output_refused(tmp_path, nir_model, argv):
    # the model, the image and the listing must survive a --layer-map naming them (it was written last, over them)
    files = {"same.bin": PREVIOUS, "l.s": PREVIOUS}
    outcome, before, after = run_in(tmp_path, files, argv)
    line = assert_refused(outcome, before, after, "--layer-map", argv[-1])
    assert "also an input" in line or "two outputs" in line


@given(previous=st.binary(max_size=64))
@settings(max_examples=20, deadline=None)
def test_failed_write_leaves_previous_file(previous):
    # A one-block file-size limit: the image (about 2 kB) cannot be written; the old file must survive whole.
    text = ".chip cores=8\n" + "".join(f".core {c}\n    halt\n.weights 0: {' 1' * 200}\n" for c in range(8))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        (path / "big.s").write_text(text)
        (path / "out.bin").write_bytes(previous)
        proc = subprocess.run([sys.executable, "-m", "spikecore", "asm", "big.s", "-o", "out.bin"], cwd=path,
                              capture_output=True, text=True,
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024)))
        assert proc.returncode == 2 and proc.stderr == "spikecore: error: out.bin: cannot write (File too large)\n"
        assert (path / "out.bin").read_bytes() == previous
        assert sorted(p.name for p in path.iterdir()) == ["big.s", "out.bin"]


def test_internal_error_is_one_labelled_line(tmp_path, monkeypatch):
    import spikecore.compiler.asm as asm

    def broken(*args, **kwargs):
        (tmp_path / "never").write_text("x")
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(asm, "assemble", broken)
    outcome, _before, _after = run_in(tmp_path, {"p.s": PROGRAM.encode(), "out.bin": PREVIOUS},
                                    ["asm", "p.s", "-o", "out.bin"])
    assert outcome.status == 1
    assert outcome.stderr.startswith("spikecore: internal error: ZeroDivisionError: division by zero (a bug")
    assert len(outcome.stderr.splitlines()) == 1
    assert (tmp_path / "out.bin").read_bytes() == PREVIOUS


def test_notice_held_back_when_the_command_fails(tmp_path):
    import torch

    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2)), tmp_path / "m.pt")
    outcome, before, after = run_in(tmp_path, {"out.bin": PREVIOUS},
                                    ["compile", "m.pt", "--out", "out.bin", "--listing", "missing/x.s"])
    assert_refused(outcome, before, after, "missing/x.s")   # no "no --calib given" line before it
    ok = fi.run_cli(["compile", str(tmp_path / "m.pt"), "--out", str(tmp_path / "out.bin")])
    assert ok.status == 0 and "no --calib given" in ok.stderr


# --- spikecore compare and export: the input named, bounds kept (the tester's findings) ------------------------


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("shape", [(50, 3, 1), (50, 1, 3), (50, 4), (50, 2)])
def test_compare_inputs_of_another_shape_named(tmp_path, nir_model, shape):
    # ok.nir takes 3 inputs per step: only (T, 3) is an input sequence of it
    files = {"x.npy": _npy(np.zeros(shape, dtype=np.float32)), "prev.bin": PREVIOUS}
    outcome, before, after = run_in(tmp_path, files, ["compare", "ok.nir", "--inputs", "x.npy"])
    assert_refused(outcome, before, after, "input file x.npy", f"shape {shape}", "expected (T, 3)")


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--steps", "100000000", f"--steps must be 0..{MAX_STEP}, not 100000000"),
    ("--steps", "-1", f"--steps must be 0..{MAX_STEP}, not -1"),
    ("--sequences", "10001", "--sequences must be 0..10000, not 10001"),
    ("--sequences", "-1", "--sequences must be 0..10000, not -1"),
])
def test_compare_bounds_steps_and_sequences(tmp_path, nir_model, option, value, message):
    outcome, before, after = run_in(tmp_path, {}, ["compare", "ok.nir", option, value])
    assert_refused(outcome, before, after, message)


def test_compare_error_names_the_nir_file(tmp_path, nir_model):
    # the graph needs 2 cores (a LIF layer and a readout); compile says so naming the file, compare must too
    for command in (["compile", "ok.nir", "--out", "prev.bin"], ["compare", "ok.nir"]):
        outcome, before, after = run_in(tmp_path, {"prev.bin": PREVIOUS}, [*command, "--chip", "cores=1"])
        assert_refused(outcome, before, after, "NIR file ok.nir: ", "cores")


def test_export_error_names_the_program_file(tmp_path):
    # an assembled program is no NIR-compiled one: the refusal names it
    outcome, before, after = run_in(tmp_path, {"p.s": PROGRAM.encode(), "old.nir": PREVIOUS},
                                    ["export", "p.s", "--nir", "old.nir", "--dt", "1e-4"])
    assert_refused(outcome, before, after, "program file p.s: ")


# --- wording: the option as typed, singulars, articles, plain numbers (the tester's findings) ------------------


def _one_lif(dt: float | None = None) -> nir.NIRGraph:
    graph = nir.NIRGraph.from_list(
        nir.Affine(np.full((2, 3), 0.5), np.zeros(2)),
        nir.LIF(tau=np.full(2, 5e-3), r=np.full(2, 5.0), v_leak=np.zeros(2), v_threshold=np.ones(2),
                v_reset=np.zeros(2)))
    if dt is not None:
        graph.metadata["dt"] = dt
    return graph


@pytest.mark.parametrize("option", ["--mode", "--encoding"])
def test_torch_only_option_on_nir_named_as_typed(tmp_path, option):
    nir.write(tmp_path / "m.nir", _one_lif())
    outcome, before, after = run_in(tmp_path, {}, ["compile", "m.nir", option, "rate"])
    assert assert_refused(outcome, before, after) == f"spikecore: error: {option} applies to PyTorch models only"


def test_one_core_one_layer_one_neuron_in_the_singular(tmp_path):
    # one LIF layer of 2 neurons: one core, one layer; its export has the Input, Affine, LIF and Output nodes
    nir.write(tmp_path / "m.nir", _one_lif())
    outcome, _, _ = run_in(tmp_path, {}, ["compile", "m.nir", "--dt", "1e-4", "--out", "m.bin"])
    assert outcome.status == 0 and ", 1 core, NIR graph at dt=0.0001 s, 1 layer (" in outcome.stdout, outcome
    single = nir.NIRGraph.from_list(nir.Affine(np.full((1, 3), 0.5), np.zeros(1)),
                                    nir.LIF(tau=np.full(1, 5e-3), r=np.full(1, 5.0), v_leak=np.zeros(1),
                                            v_threshold=np.ones(1), v_reset=np.zeros(1)))
    nir.write(tmp_path / "s.nir", single)
    assert run_in(tmp_path, {}, ["compile", "s.nir", "--dt", "1e-4", "--out", "s.bin"])[0].status == 0
    outcome, _, _ = run_in(tmp_path, {}, ["export", "s.bin", "--nir", "back.nir", "--dt", "1e-4"])
    assert outcome.status == 0 and "back.nir: 4 NIR nodes, 1 neuron, dt=" in outcome.stdout, outcome


def test_recurrent_edge_into_an_affine_reads_an(tmp_path):
    nodes = {"input": nir.Input(np.array([2])), "a": nir.Affine(np.eye(2), np.zeros(2)),
             "lif": nir.LIF(tau=np.full(2, 5e-3), r=np.full(2, 5.0), v_leak=np.zeros(2), v_threshold=np.ones(2),
                            v_reset=np.zeros(2)),
             "b": nir.Linear(np.eye(2)), "output": nir.Output(np.array([2]))}
    edges = [("input", "a"), ("a", "lif"), ("lif", "b"), ("b", "a"), ("lif", "output")]
    nir.write(tmp_path / "loop.nir", nir.NIRGraph(nodes, edges))
    outcome, before, after = run_in(tmp_path, {}, ["compile", "loop.nir", "--dt", "1e-4", "--out", "l.bin"])
    assert_refused(outcome, before, after, "NIR file loop.nir: ", "it ends at an Affine node")


def test_metadata_number_shown_plain(tmp_path):
    # nir.read gives the metadata back as numpy scalars; the message shows the number, not np.float64(...)
    nir.write(tmp_path / "neg.nir", _one_lif(dt=-1e-4))
    outcome, before, after = run_in(tmp_path, {}, ["compile", "neg.nir", "--out", "n.bin"])
    line = assert_refused(outcome, before, after, "NIR file neg.nir: ")
    assert line.endswith("the graph's metadata dt must be one finite positive number, not -0.0001"), line
