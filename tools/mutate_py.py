"""Mutation testing of the Python models with cosmic-ray: ``make mutate-py`` (docs/mutation.md).

    python tools/mutate_py.py [--modules cycle,asm] [--sample N] [--seed S] [--timeout SEC] [--strict]

For each target module (the golden model, the compiler's passes, the ground formats, the scoreboard):

1. copies the project into ``build/mutate/tree`` laid out as the installed package (``src/spikecore/...``,
   following ``pyproject.toml``'s package-dir table), so mutants never touch the working tree and
   ``PYTHONPATH=src`` wins over the editable install;
2. makes a cosmic-ray session for that module alone (``cosmic-ray init``) with the module's unit tests as
   the test command (non-RTL tests only, ``pytest -x``: the first failing test kills a mutant);
3. skips the operators this project does not use (see ``OPERATORS``) and the mutants recorded as
   equivalent in ``tools/mutation_equivalent.toml`` (each with its reason); ``--sample N`` keeps a
   seeded random ``N`` of the rest per module when a full run takes too long;
4. runs a baseline (the unmutated tests must pass), then ``cosmic-ray exec``;
5. prints killed / survived / timeout per module and every survivor (file:line, operator, diff), and the
   kill rate ``(killed + timeout) / (killed + timeout + survived)`` against the target (``TARGET``).

Exit status: 0, or 1 with ``--strict`` when a module is below the target; 2 on a usage error.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import random
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = Path(__file__).resolve().parent / "mutation_equivalent.toml"
TARGET = 0.90

#: Module (dotted, or alternatives if the layering moved it) -> the unit tests that exercise it (file stems;
#: found anywhere under tests/). Only non-RTL tests: RTL mutants belong to the bench grading.
TARGETS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("spikecore.golden.cycle",): ("test_golden_instructions", "test_golden_execution", "test_golden_inject",
                                  "test_reference_scalar", "test_golden_equivalence"),
    ("spikecore.golden.functional",): ("test_golden_inject", "test_reference_scalar", "test_golden_equivalence",
                                       "test_golden_execution"),
    ("spikecore.golden.run",): ("test_golden_execution", "test_golden_inject", "test_trace_stimulus",
                                "test_golden_signature"),
    ("spikecore.signature",): ("test_golden_signature", "test_golden_summary", "test_verif_tb"),
    ("spikecore.stimulus",): ("test_trace_stimulus", "test_trace_files", "test_golden_summary",
                              "test_golden_execution"),
    ("spikecore.golden.summary",): ("test_golden_summary", "test_golden_execution"),
    ("spikecore.trace",): ("test_trace_stimulus", "test_trace_files", "test_verif_scoreboard"),
    ("spikecore.compiler.quantize",): ("test_compiler_quantize", "test_compiler_quantize_options",
                                       "test_compiler_quantize_bounds", "test_compiler_place_saturation",
                                       "test_compiler_place"),
    ("spikecore.compiler.place",): ("test_compiler_place", "test_compiler_place_saturation"),
    ("spikecore.compiler.codegen",): ("test_compiler_codegen_listing", "test_compiler_place",
                                      "test_compiler_place_saturation"),
    ("spikecore.image",): ("test_image", "test_image_bounds", "test_asm_bounds"),
    ("spikecore.compiler.asm",): ("test_asm", "test_asm_bounds", "test_asm_grammar"),
    ("spikecore.compiler.disasm",): ("test_asm", "test_asm_grammar"),
    ("spikecore.verif.scoreboard",): ("test_verif_scoreboard", "test_verif_scoreboard_index", "test_verif_tb"),
}

#: cosmic-ray operators used: one or two plausible slips per site (off-by-one compares, swapped arithmetic,
#: constants +-1, flipped booleans, skipped loops, swallowed exceptions), not every operator pair.
OPERATORS = re.compile(
    r"core/(NumberReplacer|ReplaceTrueWithFalse|ReplaceFalseWithTrue|ReplaceAndWithOr|ReplaceOrWithAnd|AddNot"
    r"|ZeroIterationForLoop|ReplaceBreakWithContinue|ReplaceContinueWithBreak|ExceptionReplacer"
    r"|ReplaceComparisonOperator_(Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Eq_NotEq|NotEq_Eq|Is_IsNot|IsNot_Is|In_NotIn|NotIn_In)"
    r"|ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Add|Div_Mul|FloorDiv_Mul|Mod_FloorDiv|Pow_Mul|LShift_RShift"
    r"|RShift_LShift|BitAnd_BitOr|BitOr_BitAnd|BitXor_BitOr)"
    r"|ReplaceUnaryOperator_(USub_UAdd|Delete_Not|Delete_USub|Invert_UAdd))$")


@dataclass
class Tally:
    """The outcome counts of one module's session."""

    module: str
    killed: int = 0
    timeout: int = 0
    survived: int = 0
    incompetent: int = 0
    equivalent: int = 0
    unsampled: int = 0
    survivors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        detected = self.killed + self.timeout
        return detected / (detected + self.survived) if detected + self.survived else None


def fail(message: str) -> SystemExit:
    print(f"spikecore: error: {message}", file=sys.stderr)
    return SystemExit(2)


def module_file(names: tuple[str, ...]) -> tuple[str, Path] | None:
    """The first of ``names`` that exists, and its source file (in this checkout)."""
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            continue
        if spec is not None and spec.origin:
            return name, Path(spec.origin).resolve()
    return None


def build_tree(tree: Path) -> None:
    """Copy the project into ``tree``: packages under ``src/`` as installed, everything else as is."""
    if tree.exists():
        shutil.rmtree(tree)
    ignore = shutil.ignore_patterns(".venv", "build", ".git", "__pycache__", "*.pyc", ".pytest_cache", "mutants")
    shutil.copytree(ROOT, tree, ignore=ignore)
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir = config["tool"]["setuptools"].get("package-dir", {})
    packages = sorted(config["tool"]["setuptools"]["packages"], key=lambda p: p.count("."))
    for package in packages:   # the checkout's own package folders would shadow src/ (pytest puts cwd first)
        shutil.rmtree(tree / package_dir.get(package, package.replace(".", "/")), ignore_errors=True)
    for package in packages:
        source = ROOT / package_dir.get(package, package.replace(".", "/"))
        dest = tree / "src" / package.replace(".", "/")
        dest.mkdir(parents=True, exist_ok=True)
        for item in source.iterdir():
            if item.suffix in (".py", ".vlt", ".toml") and item.is_file():
                shutil.copy2(item, dest / item.name)
    # A failing property test would shrink for minutes on every killed mutant: the copy's tests do not shrink.
    conftest = tree / "tests" / "conftest.py"
    previous = conftest.read_text() if conftest.exists() else ""
    conftest.write_text(previous + HYPOTHESIS_PROFILE)


HYPOTHESIS_PROFILE = """
from hypothesis import Phase as _Phase
from hypothesis import settings as _settings

_settings.register_profile("mutate", phases=[_Phase.explicit, _Phase.reuse, _Phase.generate], database=None,
                          deadline=None)
_settings.load_profile("mutate")
"""


def test_files(tree: Path, stems: tuple[str, ...]) -> list[str]:
    found = []
    for stem in stems:
        hits = sorted((tree / "tests").rglob(f"{stem}.py"))
        found.extend(str(h.relative_to(tree)) for h in hits[:1])
    return found


def load_equivalents() -> list[dict[str, object]]:
    if not EQUIVALENT_FILE.exists():
        return []
    entries = tomllib.loads(EQUIVALENT_FILE.read_text()).get("mutant", [])
    for entry in entries:
        missing = {"module", "operator", "line", "reason"} - set(entry)
        if missing:
            raise fail(f"{EQUIVALENT_FILE.name}: an entry lacks {', '.join(sorted(missing))}: {entry}")
    return entries


def _mark(db, job_id: str, output: str) -> None:
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    db.set_result(job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=output))


def select(session: Path, module: str, source_lines: list[str], equivalents: list[dict[str, object]],
           sample: int | None, seed: int) -> tuple[int, int]:
    """Skip unused operators, recorded equivalent mutants and (with ``sample``) all but a sample.

    Returns (equivalent, unsampled) counts. An equivalent entry matches on the module, the operator and
    the stripped text of the mutated line (so it survives edits elsewhere in the file); ``mutated`` (the
    stripped line after the mutation) narrows it to one of several mutants of that line when given.
    """
    from cosmic_ray.work_db import WorkDB, use_db

    equivalent = unsampled = 0
    annotations = annotation_spans("\n".join(source_lines))
    with use_db(str(session), WorkDB.Mode.open) as db:
        keep = []
        for item in list(db.pending_work_items):
            mutation = item.mutations[0]
            if not OPERATORS.match(mutation.operator_name):
                _mark(db, item.job_id, "operator not used")
                continue
            if inside(mutation.start_pos, annotations):
                _mark(db, item.job_id, "equivalent: in a type annotation, never evaluated")
                equivalent += 1
                continue
            line = source_lines[mutation.start_pos[0] - 1].strip()
            matches = [e for e in equivalents
                       if e["module"] == module and e["operator"] == mutation.operator_name and e["line"] == line]
            if any("mutated" not in e or e["mutated"] == mutated_line(source_lines, mutation) for e in matches):
                _mark(db, item.job_id, "equivalent (tools/mutation_equivalent.toml)")
                equivalent += 1
                continue
            # job ids are random per session; the sample is drawn in source order so a seed repeats it
            keep.append(((tuple(mutation.start_pos), mutation.operator_name, mutation.occurrence), item.job_id))
        if sample is not None and len(keep) > sample:
            chosen = set(random.Random(seed).sample(sorted(keep), sample))
            for entry in keep:
                if entry not in chosen:
                    _mark(db, entry[1], "not sampled")
                    unsampled += 1
    return equivalent, unsampled


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions of every type annotation, if the module never evaluates them.

    Under ``from __future__ import annotations`` an annotation is a string nobody evaluates here, so a
    mutant inside one (``Queue | None`` -> ``Queue & None``) is equivalent by construction.
    """
    tree = ast.parse(source)
    future = any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
                 and any(alias.name == "annotations" for alias in node.names) for node in tree.body)
    if not future:
        return []
    spans = []
    for node in ast.walk(tree):
        found = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            found.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            found.append(node.returns)
        spans += [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in found]
    return spans


def inside(position: tuple[int, int], spans: list[tuple[tuple[int, int], tuple[int, int]]]) -> bool:
    return any(start <= tuple(position) < end for start, end in spans)


def mutated_line(source_lines: list[str], mutation) -> str | None:
    """The stripped text of the mutated line after ``mutation`` (None if cosmic-ray cannot apply it)."""
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    operator = get_operator(mutation.operator_name)(**(mutation.operator_args or {}))
    code = mutate_code("\n".join(source_lines) + "\n", operator, mutation.occurrence)
    if code is None:
        return None
    lines = code.splitlines()
    row = mutation.start_pos[0] - 1
    return lines[row].strip() if row < len(lines) else None


def tally(session: Path, module: str, equivalent: int, unsampled: int, tree: Path) -> Tally:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    result = Tally(module, equivalent=equivalent, unsampled=unsampled)
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, outcome in db.completed_work_items:
            if outcome.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if outcome.worker_outcome == WorkerOutcome.ABNORMAL or (outcome.output or "").startswith("timeout"):
                result.timeout += 1
            elif outcome.test_outcome == TestOutcome.KILLED:
                result.killed += 1
            elif outcome.test_outcome == TestOutcome.INCOMPETENT:
                result.incompetent += 1
            elif outcome.test_outcome == TestOutcome.SURVIVED:
                result.survived += 1
                m = item.mutations[0]
                path = Path(m.module_path)
                path = path.relative_to(tree) if path.is_absolute() else path
                line = m.start_pos[0]
                diff = "".join(f"\n      {d}" for d in (outcome.diff or "").splitlines()
                               if d[:1] in "+-" and not d.startswith(("+++", "---")))
                result.survivors.append(f"{path}:{line} {m.operator_name}{diff}")
    return result


def run_module(module: str, source: Path, tests: list[str], tree: Path, args: argparse.Namespace,
               equivalents: list[dict[str, object]]) -> Tally:
    relative = source.relative_to(ROOT)
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir = {v.rstrip("/"): k for k, v in config.get("package-dir", {}).items()}
    package = package_dir.get(str(relative.parent), str(relative.parent).replace("/", "."))
    target = Path("src") / package.replace(".", "/") / relative.name
    work = tree.parent / "sessions"
    work.mkdir(exist_ok=True)
    stem = module.replace(".", "_")
    cfg, session = work / f"{stem}.toml", work / f"{stem}.sqlite"
    test_command = (f"{sys.executable} -m pytest -x -q -p no:cacheprovider -m 'not rtl' "
                    f"-o addopts='' {' '.join(tests)}")
    cfg.write_text(f"""[cosmic-ray]
module-path = "{target}"
timeout = {args.timeout}
excluded-modules = []
test-command = "{test_command}"

[cosmic-ray.distributor]
name = "local"
""")
    session.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    subprocess.run(["cosmic-ray", "init", str(cfg), str(session)], cwd=tree, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    # the copy, not the checkout: the checkout may change while a long run goes on
    equivalent, unsampled = select(session, module, (tree / target).read_text().splitlines(), equivalents,
                                   args.sample, args.seed)
    base = subprocess.run(test_command, shell=True, cwd=tree, env=env, capture_output=True, text=True)
    if base.returncode != 0:
        print(base.stdout[-3000:], base.stderr[-3000:])
        raise fail(f"{module}: the unmutated tests fail in {tree}; fix them before mutating")
    subprocess.run(["cosmic-ray", "exec", str(cfg), str(session)], cwd=tree, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return tally(session, module, equivalent, unsampled, tree)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/mutate_py.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", default="", help="comma-separated module names or suffixes (default: all)")
    parser.add_argument("--sample", type=int, default=None, help="mutants per module, a seeded random sample")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant's test run")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a module is below the target")
    parser.add_argument("--work", default="build/mutate", help="folder for the copied tree and the sessions")
    args = parser.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        raise fail(f"--sample must be >= 1, not {args.sample}")
    if shutil.which("cosmic-ray") is None:
        raise fail("cosmic-ray is not installed (pip install -e '.[mutate]', which make mutate-py does)")
    wanted = [w.strip() for w in args.modules.split(",") if w.strip()]
    modules = []
    for names, stems in TARGETS.items():
        found = module_file(names)
        if found is None:
            raise fail(f"none of {', '.join(names)} exists; update TARGETS in tools/mutate_py.py")
        if not wanted or any(found[0] == w or found[0].endswith("." + w) for w in wanted):
            modules.append((found, stems))
    if not modules:
        raise fail(f"--modules {args.modules!r} names no target (targets: "
                   f"{', '.join(n[0] for n in TARGETS)})")
    tree = (ROOT / args.work).resolve() / "tree"
    build_tree(tree)
    equivalents = load_equivalents()
    results = []
    for (module, source), stems in modules:
        tests = test_files(tree, stems)
        print(f"== {module}: tests {' '.join(Path(t).stem for t in tests)}", flush=True)
        result = run_module(module, source, tests, tree, args, equivalents)
        results.append(result)
        print(summary_line(result), flush=True)
    print()
    print(f"{'module':32} {'killed':>7} {'survived':>8} {'timeout':>7} {'incomp.':>7} {'equiv.':>6} "
          f"{'unsampled':>9}  kill rate")
    below = []
    for r in results:
        print(summary_line(r))
        if r.rate is not None and r.rate < TARGET:
            below.append(r.module)
    for r in results:
        if r.survivors:
            print(f"\nsurvivors in {r.module}:")
            for s in r.survivors:
                print(f"  {s}")
    print(f"\ntarget: >= {TARGET:.0%} of non-equivalent mutants killed per module; "
          + (f"below: {', '.join(below)}" if below else "every module meets it"))
    return 1 if below and args.strict else 0


def summary_line(r: Tally) -> str:
    rate = "-" if r.rate is None else f"{r.rate:.1%}"
    return (f"{r.module:32} {r.killed:7} {r.survived:8} {r.timeout:7} {r.incompetent:7} {r.equivalent:6} "
            f"{r.unsampled:9}  {rate}")


if __name__ == "__main__":
    sys.exit(main())
