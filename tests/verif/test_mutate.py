"""``spikecore mutate`` (verif/mutate.py): the mutation operators on hand-written sources, the equivalents file,
sampling, the kill rate, and a tiny grading run through Verilator with verdicts derived by hand."""

from __future__ import annotations

import json

import pytest

from spikecore.app.cli import main
from spikecore.errors import SpikeCoreError
from spikecore.verif.mutate import (
    EQUIVALENT_FILE,
    Mutant,
    equivalent_reason,
    find_mutants,
    kill_rate,
    load_equivalents,
    mutants_in,
    sample_mutants,
)

SOURCE = """\
class C:
    def __init__(self):
        self.width = 8                      # __init__: not mutated
    def elaborate(self, m, a, b, c):
        s = Signal(16)                      # a shape: not mutated
        x = a ^ b & c
        y = a | b | c
        m.d.comb += [s.eq(1), x.eq(a < 2)]
        z = ~a & b
        raise ValueError(3)                 # raise: not mutated
"""


def lines_of(mutants: list[Mutant]) -> set[tuple[int, str]]:
    return {(m.line, m.mutated_line) for m in mutants}


def test_operators_on_a_hand_written_source():
    got = lines_of(mutants_in("rtl/x.py", SOURCE))
    # written by hand: every change of one node, spelled so that Python groups it as the original
    expected = {
        (6, "x = a | b & c"),              # the root ^ -> |; b & c stays grouped
        (6, "x = a ^ (b | c)"),            # b & c -> b | c, parenthesised: a ^ b | c would mean (a ^ b) | c
        (7, "y = (a | b) & (c)"),          # the root | -> &: a | b & c would mean a | (b & c)
        (7, "y = a & b | c"),              # the inner a | b -> a & b
        (8, "m.d.comb += [[], x.eq(a < 2)]"),
        (8, "m.d.comb += [s.eq(2), x.eq(a < 2)]"),
        (8, "m.d.comb += [s.eq(0), x.eq(a < 2)]"),
        (8, "m.d.comb += [s.eq(1), []]"),
        (8, "m.d.comb += [s.eq(1), x.eq(a <= 2)]"),
        (8, "m.d.comb += [s.eq(1), x.eq(a < 3)]"),
        (8, "m.d.comb += [s.eq(1), x.eq(a < 1)]"),
        (9, "z = ~a | b"),
        (9, "z = (a) & b"),
    }
    assert got == expected


def test_the_issue_mutants_are_found_in_the_rtl():
    mutants = find_mutants(("rtl/array.py",))
    changes = {(m.source_line, m.mutated_line) for m in mutants}
    assert ("self.done.eq(busy_d1 & ~self.busy),", "self.done.eq(busy_d1 | ~self.busy),") in changes
    assert ("self.inj_accepted.eq(self.inj_valid & inject_ok),",
            "self.inj_accepted.eq(self.inj_valid | inject_ok),") in changes
    assert len({m.id for m in mutants}) == len(mutants)


def test_only_rtl_sources_are_mutated():
    with pytest.raises(SpikeCoreError, match="not an RTL source file"):
        find_mutants(("golden/cycle.py",))


def test_equivalents_file_entries_match_by_line_text(tmp_path):
    mutant = Mutant("rtl/a.py", 10, 4, "const", "32", "33", "x.eq(cycle[:32]),", "x.eq(cycle[:33]),")
    path = tmp_path / "eq.toml"
    path.write_text('[[mutant]]\npath = "rtl/a.py"\nline = "x.eq(cycle[:32]),"\nmutated = "x.eq(cycle[:33]),"\n'
                    'reason = "truncated to 32 bits"\n')
    entries = load_equivalents(path)
    assert equivalent_reason(mutant, entries) == "truncated to 32 bits"
    other = Mutant("rtl/a.py", 10, 4, "const", "32", "31", "x.eq(cycle[:32]),", "x.eq(cycle[:31]),")
    assert equivalent_reason(other, entries) is None
    path.write_text('[[mutant]]\npath = "rtl/a.py"\nline = "x"\nmutated = "y"\n')
    with pytest.raises(SpikeCoreError, match="mutant 1: missing reason"):
        load_equivalents(path)


def test_checked_in_equivalents_name_existing_mutants():
    mutants = find_mutants()
    for entry in load_equivalents(EQUIVALENT_FILE):
        assert any(equivalent_reason(m, [entry]) for m in mutants), entry


def test_sample_is_seeded_and_bounded():
    mutants = mutants_in("rtl/x.py", SOURCE)
    first, again = sample_mutants(mutants, 5, 3), sample_mutants(mutants, 5, 3)
    assert first == again and len(first) == 5 and len(set(first)) == 5
    assert len(sample_mutants(mutants, 1000, 0)) == len(mutants)
    with pytest.raises(SpikeCoreError, match="--mutants must be 1 or more, not 0"):
        sample_mutants(mutants, 0, 0)


def test_kill_rate_counts_timeouts_against_the_bench():
    results = [{"verdict": v} for v in ("killed", "killed", "killed", "survived", "timeout", "not viable")]
    assert kill_rate(results) == 3 / 5
    assert kill_rate([{"verdict": "not viable"}]) is None


@pytest.mark.parametrize(("argv", "message"), [
    (["mutate", "--mutants", "0"], "spikecore: error: --mutants must be 1 or more, not 0"),
    (["mutate", "--scheduler", "host:1"], "spikecore: error: --scheduler 'host:1': expected tcp://HOST:PORT or local"),
    (["mutate", "--only", "nothing-L1", "--no-baseline"],
     "spikecore: error: --only: no mutant named 'nothing-L1' (spikecore mutate --list shows them)"),
])
def test_mutate_user_errors(capsys, argv, message):
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [message]


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.xdist_group("verilator")
def test_tiny_mutation_run_verdicts(tmp_path, capsys):
    by_text = {(m.source_line, m.mutated_line): m for m in find_mutants(("rtl/array.py",))}
    # By hand from the RTL and spec §8.7: done = busy_d1 | ~busy shows done = 1 while idle (rule 6), in every run;
    # the RESET state waiting for a busy core instead of none never ends, so the state reset hangs (watchdog);
    # CYCLE_HI = cycle[33:] differs from cycle[32:] only in a register the bench never reads: it survives.
    done = by_text[("self.done.eq(busy_d1 & ~self.busy),", "self.done.eq(busy_d1 | ~self.busy),")]
    reset = by_text[("with m.Case(ArrayState.RESET), m.If(~any_busy):",
                     "with m.Case(ArrayState.RESET), m.If((any_busy)):")]
    cycle_hi = by_text[("ArrayRegister.CYCLE_HI: cycle[32:],", "ArrayRegister.CYCLE_HI: cycle[33:],")]
    out = tmp_path / "mutate"
    assert main(["mutate", "--only", f"{done.id},{reset.id},{cycle_hi.id}", "--cores", "1", "--seeds", "3",
                 "--out", str(out), "--no-baseline"]) == 0
    text = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    verdicts = {r["id"]: r for r in summary["results"]}
    assert verdicts[done.id]["verdict"] == "killed"
    assert verdicts[done.id]["reason"].startswith("step/busy/done protocol violation at cycle ")
    assert verdicts[reset.id]["verdict"] == "killed", verdicts[reset.id]
    assert verdicts[cycle_hi.id]["verdict"] == "survived" and verdicts[cycle_hi.id]["seeds_run"] == 3
    assert summary["counts"] == {"killed": 2, "survived": 1, "timeout": 0, "not viable": 0}
    assert summary["kill_rate"] == round(2 / 3, 4)
    assert f"survived rtl/array.py:{cycle_hi.line}  ArrayRegister.CYCLE_HI: cycle[32:],\n" in text
    assert not any(p.is_dir() for p in out.iterdir() if p.name.startswith("array-"))   # builds removed


def test_a_mutant_past_its_timeout_is_stopped_and_reported(tmp_path):
    from dataclasses import asdict

    from spikecore.config import ChipConfig
    from spikecore.verif.mutate import run_mutant

    by_text = {(m.source_line, m.mutated_line): m for m in find_mutants(("rtl/array.py",))}
    # A viable mutant (the first one in the file is not: it fails to elaborate in well under a second on an idle
    # machine). One second cannot build its Verilator model: the child (and what it started) is killed, nothing
    # is left.
    mutant = by_text[("self.done.eq(busy_d1 & ~self.busy),", "self.done.eq(busy_d1 | ~self.busy),")]
    result = run_mutant(0, asdict(mutant), config=ChipConfig(cores=1).as_dict(), seeds=[0], out=str(tmp_path),
                        batch=1, timeout=1)
    assert result["verdict"] == "timeout" and result["reason"] == "build and regression still running after 1 s"
    assert result["id"] == mutant.id and not (tmp_path / mutant.id).exists()
