"""Hostile inputs for every reader of user files, as Hypothesis strategies, and the one-line-error oracle.

Shared by ``tests/app/test_untrusted_input.py`` (a few hundred examples per reader, part of ``make test``) and
``tests/fuzz_campaign.py`` (``make fuzz``: the same strategies, 10^5 cases). The strategies make what the
fuzzing campaign of issue 11 found and plain ``st.text()`` never does: numeric tokens past any field width
(and past Python's 4,300-digit int limit), integers only Python accepts (``1_0``, Arabic-Indic digits), float
extremes (denormals, inf, NaN) where an integer is expected, control and Unicode line-breaking characters
(form feed, U+2028), byte-order marks, very long lines, deep JSON nesting, and NIR graphs with zero-size
layers, zero strides, tiny or zero weights and shapes that would need gigabytes.

:func:`run_cli` runs ``spikecore.app.cli.main`` in process and :func:`verdict` classifies the outcome:
``accepted`` (exit 0), ``clean`` (exit 2, exactly one stderr line ``spikecore[ <command>]: error: ...`` that
names the input, no pre-existing output changed, no temporary file left), or a ``crash`` with the reason.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

# --- seeds: small valid inputs the mutations start from ------------------------------------------------------

ASM_SEED = """.chip cores=2 neurons=8 weight_bytes=16 imem_depth=16 event_depth=8 fanout_depth=8
.equ HIDDEN, 0
.core 0
start:
    acc  neuron=HIDDEN, count=2, wbase=0
    fire neuron=0, count=2, shift=0, reset=always, graded=1
    leak neuron=0, count=2
    nop
    halt
.weights 0: 12 -3 127 -128
.neuron 0 threshold=1 reset=0 init=0 decay=0 fanout_start=0 fanout_count=2
.fanout 0: 1:0 host:3
.core 1
    halt
"""

CSV_SEED = "step,core,axon,payload\n0,0,0,1\n0,1,2,-5\n1,0,1,127\n"
JSON_SEED = '{"events": {"0": [[0, 0, 1], [1, 2, -5]], "1": [[0, 1, 127]]}}\n'
CHIP_SEED = "cores=2 neurons=8 weight_bytes=16"

#: Tokens Python's int() or float() accepts and the spec's grammar does not, and float extremes.
PYTHON_ONLY_NUMBERS = ("1_0", "0_1", "\u0663", "\uff11", "\u0661\u0660", "0b1", "0o7", "1e3", "1.0", "1.5", "-0.0",
                       "inf", "-inf", "nan", "NaN", "Infinity", "5e-324", "2.2250738585072014e-308", "1e308",
                       "1e309", "0x", "+-1", "--1", " 1 ", "\t1", "\u00a01", "1\u2028")
#: Characters that end a line for str.splitlines() (not for the spec), other controls, invisible Unicode.
HOSTILE_CHARS = ("\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r", "\x00", "\x7f",
                 "\ufeff", "\u200b", "\u00a0", "\u202e", "\x1b", "\t", "\ud7ff", "\U0001f600")


@st.composite
def long_numbers(draw: st.DrawFn) -> str:
    """A decimal or hex token of 20 to 6,000 digits, maybe signed (past int64 and Python's 4,300 limit)."""
    digits = draw(st.sampled_from([20, 21, 24, 25, 40, 400, 4300, 4301, 6000]))
    body = draw(st.sampled_from("19"))
    sign = draw(st.sampled_from(["", "-", "+"]))
    return sign + (draw(st.sampled_from(["", "0x"])) + body * digits)


def numeric_tokens() -> st.SearchStrategy[str]:
    """Anything where a reader expects an integer: overlong, Python-only, float extremes, or plain text."""
    return st.one_of(
        long_numbers(),
        st.sampled_from(PYTHON_ONLY_NUMBERS),
        st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True).map(repr),
        st.integers(-(2**70), 2**70).map(str),
        st.text(alphabet=st.sampled_from("0123456789xXaF_-+. e"), max_size=12),
    )


def hostile_text() -> st.SearchStrategy[str]:
    """Short text built from hostile characters, digits and punctuation."""
    return st.text(alphabet=st.one_of(st.sampled_from(HOSTILE_CHARS), st.characters(codec="utf-8"),
                                      st.sampled_from(";#:,=.\n")), max_size=12)


@st.composite
def mutated(draw: st.DrawFn, seed: str, extra: st.SearchStrategy[str] | None = None) -> str:
    """``seed`` with 1-3 hostile edits: a token replaced, text inserted, a BOM, a long line, a cut."""
    text = seed
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(["number", "insert", "bom", "long", "cut", "duplicate", "extra"]))
        where = draw(st.integers(0, len(text)))
        if edit == "number":
            spans = [m.span() for m in re.finditer(r"-?\d+", text)]
            if spans:
                start, end = draw(st.sampled_from(spans))
                text = text[:start] + draw(numeric_tokens()) + text[end:]
        elif edit == "insert":
            text = text[:where] + draw(hostile_text()) + text[where:]
        elif edit == "bom":
            text = "\ufeff" + text if draw(st.booleans()) else text[:where] + "\ufeff" + text[where:]
        elif edit == "long":
            piece = draw(st.sampled_from(["1,", "a:", " ", "9", "[", "l1: ", "x" * 7, ",0"]))
            text = text[:where] + piece * draw(st.sampled_from([1000, 20_000, 200_000])) + text[where:]
        elif edit == "cut":
            text = text[:where]
        elif edit == "duplicate":
            text = text + text[where:]
        elif extra is not None:
            text = text[:where] + draw(extra) + text[where:]
    return text


def asm_sources() -> st.SearchStrategy[str]:
    """Assembly sources: the seed mutated, or one statement with a hostile operand."""
    statements = st.sampled_from(["acc neuron={}, count=1, wbase=0", ".weights {}: 1 2", ".core {}", ".equ X, {}",
                                  "leak neuron=0, count={}", ".fanout 0: {}:0", ".neuron 0 threshold={}"])
    one = st.builds(lambda s, v, c: f".chip cores=2\n.core 0\n{c}{s.format(v)}\n    halt\n", statements,
                    numeric_tokens(), st.sampled_from(["", "\ufeff", "; x\x0c", "x:\u2028"]))
    return st.one_of(mutated(ASM_SEED), one)


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    depth = draw(st.sampled_from([17, 100, 1000, 100_000]))
    opener = draw(st.sampled_from(["[", '{"a":', '{"events":{"0":']))
    return opener * depth


def stimulus_csv() -> st.SearchStrategy[str]:
    """Stimulus CSV text: the seed mutated (also quoted fields, NUL, a field beyond csv's 131,072 limit)."""
    extra = st.sampled_from(['"0"', '"', '"\n"', "\x00", "a" * 200_000, ",,,,", "0,0,0,1,2", "step,core"])
    rows = st.builds(lambda a, b: f"step,core,axon,payload\n{a},0,{b},1\n", numeric_tokens(), numeric_tokens())
    return st.one_of(mutated(CSV_SEED, extra), rows)


def stimulus_json() -> st.SearchStrategy[str]:
    """Stimulus JSON text: the seed mutated, deep nesting, non-integers, duplicate keys, wrong types."""
    extra = st.sampled_from(["NaN", "Infinity", "1e999", '"0": [], "0": []', "[[[[", "]]", "{}", "null", "true"])
    value = st.one_of(numeric_tokens(), st.sampled_from(["true", "null", '"1"', "[]", "{}", "[1]"]))
    events = st.builds(lambda k, a, b: f'{{"events": {{"{k}": [[0, {a}, {b}]]}}}}', st.one_of(
        numeric_tokens(), st.sampled_from(["0", "1_0", " 1", "\u0661", "-1"])), value, value)
    return st.one_of(mutated(JSON_SEED, extra), deep_json(), events)


def chip_strings() -> st.SearchStrategy[str]:
    """``--chip`` strings: the seed mutated and key=value pairs with hostile values."""
    keys = st.sampled_from(["cores", "neurons", "weight_bytes", "imem_depth", "event_depth", "fanout_depth", "x"])
    pairs = st.lists(st.builds(lambda k, v: f"{k}={v}", keys, numeric_tokens()), min_size=1, max_size=4)
    return st.one_of(mutated(CHIP_SEED), pairs.map(" ".join))


# --- NIR graphs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NirCase:
    """A degenerate NIR graph, described in plain values (built and written by :func:`write_nir_case`)."""

    inputs: int            # features of the Input node (0: zero-size)
    hidden: int            # neurons of the hidden LIF layer (0: zero-size layer)
    outputs: int           # features of the last layer (0: zero outputs)
    weight: float          # every weight (0, denormal, huge, inf, NaN)
    conv: bool             # a Conv2d front instead of an Affine
    stride: int            # the Conv2d stride (0 is degenerate)
    drop_input: bool       # remove the Input node
    drop_output: bool      # remove the Output node
    tau: float             # LIF time constant
    dt: str                # metadata dt, as text ("" = none)
    chip: str              # metadata chip string ("" = none)


WEIGHTS = (0.0, 5e-324, 1e-310, 1e-30, 0.5, -1.0, 1e30, 1e308, float("inf"), float("-inf"), float("nan"))


def nir_cases() -> st.SearchStrategy[NirCase]:
    return st.builds(
        NirCase,
        inputs=st.sampled_from([0, 1, 3, 2**31, 10**12]),
        hidden=st.sampled_from([0, 1, 4]),
        outputs=st.sampled_from([0, 1, 2]),
        weight=st.sampled_from(WEIGHTS),
        conv=st.booleans(),
        stride=st.sampled_from([0, 1, 2, -1]),
        drop_input=st.booleans(),
        drop_output=st.booleans(),
        tau=st.sampled_from([0.0, 5e-324, 1e-3, float("inf"), float("nan"), -1.0]),
        dt=st.sampled_from(["", "1e-4", "0", "-1", "nan", "1e308", "5e-324"]),
        chip=st.one_of(st.just(""), chip_strings()),
    )


def write_nir_case(case: NirCase, path: Path) -> None:
    """Write ``case`` to ``path`` as a NIR file, with shapes declared (never allocated) when they are huge."""
    import nir
    import numpy as np

    def full(shape: tuple[int, ...], value: float) -> np.ndarray:
        # A huge declared size stays in the Input node's shape; the arrays themselves stay small.
        return np.full(tuple(min(n, 64) for n in shape), value)

    nodes: dict[str, object] = {}
    if case.conv:
        nodes["input"] = nir.Input(input_type={"input": np.array([1, 4, 4])})
        nodes["front"] = nir.Conv2d(input_shape=(4, 4), weight=full((max(case.hidden, 0), 1, 2, 2), case.weight),
                                    stride=case.stride, padding=0, dilation=1, groups=1, bias=np.zeros(1))
        flat = nir.Flatten(input_type={"input": np.array([case.hidden, 3, 3])}, start_dim=0, end_dim=-1)
        nodes["flat"] = flat
        hidden = case.hidden * 9 if case.stride == 1 else case.hidden
    else:
        nodes["input"] = nir.Input(input_type={"input": np.array([case.inputs])})
        nodes["front"] = nir.Affine(full((case.hidden, case.inputs), case.weight), np.zeros(case.hidden))
        hidden = case.hidden
    small = hidden
    nodes["lif"] = nir.LIF(tau=np.full(small, case.tau), r=np.ones(small), v_leak=np.zeros(small),
                           v_threshold=np.ones(small), v_reset=np.zeros(small))
    nodes["back"] = nir.Linear(full((case.outputs, small), case.weight))
    nodes["output"] = nir.Output(output_type={"output": np.array([case.outputs])})
    order = ["input", "front", *(["flat"] if case.conv else []), "lif", "back", "output"]
    if case.drop_input:
        order.remove("input")
        del nodes["input"]
    if case.drop_output:
        order.remove("output")
        del nodes["output"]
    edges = list(itertools.pairwise(order))
    metadata = {}
    if case.dt:
        metadata["dt"] = float(case.dt)
    if case.chip:
        metadata["spikecore_chip"] = case.chip
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)
    nir.write(str(path), graph)


# --- the oracle ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: int | str
    stdout: str
    stderr: str


def run_cli(argv: Sequence[str]) -> Outcome:
    """``spikecore.app.cli.main(argv)`` in process, with stdout and stderr captured (an escaping exception too)."""
    from spikecore.app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status: int | str = main(list(argv))
        except BaseException as exc:
            status = f"escaped {type(exc).__name__}: {exc}"[:200]
    return Outcome(status, out.getvalue(), err.getvalue())


_ERROR_LINE = re.compile(r"spikecore(?: [a-z]+)?: error: .+")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` (names and bytes), to tell whether a command changed anything."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def run_cli_in(folder: Path, files: dict[str, bytes], argv: Sequence[str]
               ) -> tuple[Outcome, dict[str, bytes], dict[str, bytes]]:
    """Write ``files`` into ``folder`` and run the CLI there; returns the outcome and :func:`snapshot` of the
    folder before and after the command."""
    for name, data in files.items():
        (folder / name).write_bytes(data)
    before = snapshot(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        outcome = run_cli(argv)
    finally:
        os.chdir(cwd)
    return outcome, before, snapshot(folder)


def verdict(outcome: Outcome, names: Sequence[str], before: dict[str, bytes] | None = None,
            after: dict[str, bytes] | None = None) -> tuple[str, str]:
    """``("accepted" | "clean" | "crash", reason)`` for one run; ``names`` are the input file names, one of
    which a clean error must mention; ``before``/``after`` are :func:`snapshot` of the working folder."""
    if outcome.status == 0:
        return "accepted", ""
    lines = outcome.stderr.splitlines()
    if outcome.status != 2:
        return "crash", f"exit {outcome.status}: {outcome.stderr.strip()[:300]}"
    if len(lines) != 1 or not _ERROR_LINE.fullmatch(lines[0]):
        return "crash", f"not one error line: {outcome.stderr[:300]!r}"
    if names and not any(name in lines[0] for name in names):
        return "crash", f"names no input ({', '.join(names)}): {lines[0][:300]}"
    if before is not None and after is not None and before != after:
        changed = sorted(set(before) ^ set(after) | {k for k in before if k in after and before[k] != after[k]})
        return "crash", f"failed command changed files {changed}: {lines[0][:200]}"
    return "clean", lines[0]
