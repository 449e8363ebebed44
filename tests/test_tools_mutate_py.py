"""``make mutate-py``'s tables stay true: every target module and test exists, every equivalent mutant is current."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
_SPEC = importlib.util.spec_from_file_location("mutate_py", TESTS.parent / "tools" / "mutate_py.py")
mutate_py = sys.modules.setdefault("mutate_py", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(mutate_py)


def test_every_target_module_and_test_file_exists() -> None:
    for names, stems in mutate_py.TARGETS.items():
        assert mutate_py.module_file(names) is not None, names
        for stem in stems:
            assert list(TESTS.rglob(f"{stem}.py")), f"{names[0]}: no tests/**/{stem}.py"


def test_equivalent_mutants_name_a_target_line_and_give_a_reason() -> None:
    entries = tomllib.loads(mutate_py.EQUIVALENT_FILE.read_text()).get("mutant", [])
    modules = {mutate_py.module_file(names)[0]: mutate_py.module_file(names)[1] for names in mutate_py.TARGETS}
    for entry in entries:
        assert set(entry) <= {"module", "operator", "line", "mutated", "reason"}, entry
        assert entry["module"] in modules, entry
        assert mutate_py.OPERATORS.match(entry["operator"]), entry
        source = [line.strip() for line in modules[entry["module"]].read_text().splitlines()]
        assert entry["line"] in source, f"stale entry (line no longer in {entry['module']}): {entry['line']}"
        assert len(entry["reason"]) > 20, entry


@pytest.mark.parametrize(("name", "used"), [
    ("core/NumberReplacer", True), ("core/ReplaceComparisonOperator_Lt_LtE", True),
    ("core/ReplaceComparisonOperator_Lt_Gt", False), ("core/ReplaceBinaryOperator_Add_Sub", True),
    ("core/ReplaceBinaryOperator_Add_Pow", False), ("core/VariableReplacer", False), ("core/RemoveDecorator", False),
])
def test_operator_subset(name: str, used: bool) -> None:
    assert bool(mutate_py.OPERATORS.match(name)) is used


def test_mutants_inside_annotations_are_recognised_only_under_future_annotations() -> None:
    source = ("from __future__ import annotations\n"
              "def f(a: int | None, b=1 | 2) -> list[int] | None:\n"
              "    x: int | str = a | b\n"
              "    return x\n")
    spans = mutate_py.annotation_spans(source)
    # line 2: "int | None" starts at column 9, "1 | 2" (a default, evaluated) at 23, the return type at 33
    assert mutate_py.inside((2, 13), spans) and not mutate_py.inside((2, 26), spans)
    assert mutate_py.inside((2, 45), spans)
    # line 3: the annotation "int | str" (columns 7..16) but not the value "a | b"
    assert mutate_py.inside((3, 11), spans) and not mutate_py.inside((3, 21), spans)
    assert mutate_py.annotation_spans(source.split("\n", 1)[1]) == []
