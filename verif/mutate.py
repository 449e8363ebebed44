"""Mutation grading of the bench (``spikecore mutate``, ``make mutate``), in the manner of YosysHQ's mcy.

Single-point mutants of the Amaranth RTL source (:data:`MUTATED_FILES`), each built and run against a
regression: the bench *kills* a mutant when some seed fails (a mismatch, a protocol violation, the progress
watchdog), lets it *survive* when every seed passes, and a mutant whose build and regression outlive
``timeout`` seconds is a *timeout*. A mutant whose source does not elaborate or whose Verilog does not build
is *not viable* (neither killed nor survived: the tools, not the bench, refused it).

Mutation operators (:func:`find_mutants`, an AST walk; every mutant changes one node on one line):

- ``op``: binary operators ``&``↔``|``, ``^``→``|``, ``+``↔``-``, ``<<``↔``>>``, ``*``→``+``;
- ``cmp``: comparisons ``==``↔``!=``, ``<``↔``<=``, ``>``↔``>=``;
- ``not``: a ``~`` dropped;
- ``const``: an integer constant ``n`` → ``n + 1`` and (``n > 0``) ``n - 1``;
- ``drop``: an assignment ``x.eq(y)`` in a ``m.d.<domain> +=`` statement dropped (replaced by ``[]``).

Left alone: ``__init__`` methods (port signatures), shapes and sizes (arguments of ``Signal``, ``In``, ``Out``,
``signed``, ``unsigned``, ``range``, layouts, memories), ``raise`` and ``assert`` statements, type annotations.
Every mutant is checked by re-parsing: the mutated file's syntax tree must be the original's with only that
node changed (parentheses are added where operator precedence would otherwise regroup the expression).

Each mutant is one Dask task (:mod:`spikecore.verif.dask_run`; default an in-process LocalCluster): a child
Python builds it (its own Verilator build in ``<out>/<mutant id>/``, deleted afterwards) and runs the
regression's seeds in batches, stopping at the first failing batch; the first failing seed's first line
(the first mismatch or protocol violation) is the reason it was killed. Survivors known to be equivalent are
listed, with the reason, in ``tools/rtl_mutation_equivalent.toml`` and are not run.
"""

from __future__ import annotations

import ast
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.verif.patched_rtl import REPO_ROOT, Patch, PatchedRtl

#: The RTL sources mutated (the Verilog generator, the Instance wrapper and the synthesis flow are tooling).
MUTATED_FILES = ("rtl/array.py", "rtl/core.py", "rtl/router.py", "rtl/arith.py", "rtl/trace_port.py",
                 "rtl/layout.py")
#: Checked-in list of equivalent mutants (and why).
EQUIVALENT_FILE = REPO_ROOT / "tools" / "rtl_mutation_equivalent.toml"
MUTATE_ROOT = REPO_ROOT / "build" / "mutate"
VERDICTS = ("killed", "survived", "timeout", "not viable")

_BINARY = {ast.BitAnd: [ast.BitOr], ast.BitOr: [ast.BitAnd], ast.BitXor: [ast.BitOr], ast.Add: [ast.Sub],
           ast.Sub: [ast.Add], ast.LShift: [ast.RShift], ast.RShift: [ast.LShift], ast.Mult: [ast.Add]}
_COMPARE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
            ast.GtE: ast.Gt}
_TOKENS = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.Add: "+", ast.Sub: "-", ast.LShift: "<<",
           ast.RShift: ">>", ast.Mult: "*", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=",
           ast.Gt: ">", ast.GtE: ">="}
#: Calls whose arguments are shapes or sizes (not mutated).
_SHAPE_CALLS = {"Signal", "In", "Out", "signed", "unsigned", "range", "ArrayLayout", "StructLayout", "UnionLayout",
                "Memory", "Const", "Shape"}


@dataclass(frozen=True)
class Mutant:
    """One single-point mutant: ``old`` → ``new`` at ``path:line`` (column ``column``, 0-based characters)."""

    path: str
    line: int
    column: int
    operator: str
    old: str
    new: str
    source_line: str     # the line before the mutation, stripped
    mutated_line: str    # the line after it, stripped

    @property
    def id(self) -> str:
        """A folder-safe name, unique per site and change: ``<file stem>-L<line>-c<column>-<change>``."""
        if self.operator == "const":
            kind = f"const{self.new}"
        elif self.operator in ("op", "cmp"):
            kind = f"{self.operator}-{_token_name(self.old, self.new)}"
        else:
            kind = self.operator
        return f"{Path(self.path).stem}-L{self.line}-c{self.column}-{kind}"

    def patched(self) -> PatchedRtl:
        return PatchedRtl(self.id, (Patch(self.path, self.old, self.new, self.line, self.column),))

    def where(self) -> str:
        return f"{self.path}:{self.line}"


_TOKEN_NAMES = {"<<": "shl", ">>": "shr", "==": "eq", "!=": "ne", "<=": "le", ">=": "ge", "&": "and", "|": "or",
                "^": "xor", "+": "add", "-": "sub", "*": "mul", "<": "lt", ">": "gt"}


def _token_name(old: str, new: str) -> str:
    """The name of the operator ``new`` has where it first differs from ``old`` (``or`` for ``&`` -> ``|``)."""
    old, new = (text.replace("(", "").replace(")", "") for text in (old, new))
    at = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), 0)
    for token in sorted(_TOKEN_NAMES, key=len, reverse=True):
        for start in (at - 1, at):
            if start >= 0 and new.startswith(token, start):
                return _TOKEN_NAMES[token]
    return "x"


def _char_column(line: str, byte_offset: int) -> int:
    """AST column offsets count UTF-8 bytes; patches count characters."""
    return len(line.encode()[:byte_offset].decode(errors="ignore"))


class _Sites(ast.NodeVisitor):
    """Collects the nodes that may be mutated, skipping the places the module docstring lists."""

    def __init__(self) -> None:
        self.nodes: list[tuple[ast.AST, str]] = []
        self._skip = 0

    def _skipped(self, node: ast.AST) -> None:
        self._skip += 1
        self.generic_visit(node)
        self._skip -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name == "__init__":
            return
        node.returns = None
        for arg in [*node.args.args, *node.args.kwonlyargs]:
            arg.annotation = None
        self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg in ("shape", "depth", "width"):
            self._skipped(node)
        else:
            self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_Raise(self, node: ast.Raise) -> None:
        return

    def visit_Assert(self, node: ast.Assert) -> None:
        return

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in _SHAPE_CALLS:
            self._skipped(node)
            return
        if name == "eq" and getattr(node, "_statement", False) and not self._skip:
            self.nodes.append((node, "drop"))
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        # m.d.<domain> += x.eq(y) | [x.eq(y), ...]: each .eq is a droppable assignment
        values = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
        for value in values:
            if isinstance(value, ast.Call):
                value._statement = True
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if not self._skip and type(node.op) in _BINARY:
            self.nodes.append((node, "op"))
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        if not self._skip and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            self.nodes.append((node, "cmp"))
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if not self._skip and isinstance(node.op, ast.Invert):
            self.nodes.append((node, "not"))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if not self._skip and type(node.value) is int:
            self.nodes.append((node, "const"))


def _position(node: ast.AST) -> tuple[int, int, int]:
    return node.lineno, node.col_offset, node.end_col_offset


def _find(tree: ast.AST, kind: type, position: tuple[int, int, int]) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, kind) and hasattr(node, "lineno") and _position(node) == position:
            return node
    raise LookupError(position)


def _changes(node: ast.AST, operator: str, segment, lines: list[str]) -> list[tuple[str, object]]:
    """Candidate ``(new text, change to the tree)`` pairs for ``node``; the change is applied to a copy of the
    tree to check that the new text parses to exactly that."""
    if operator in ("op", "cmp"):
        left = node.left
        right = node.right if operator == "op" else node.comparators[0]
        old_op = node.op if operator == "op" else node.ops[0]
        targets = _BINARY[type(old_op)] if operator == "op" else [_COMPARE[type(old_op)]]
        line = lines[node.lineno - 1]
        lo = _char_column(line, left.end_col_offset) if left.end_lineno == node.lineno else None
        hi = _char_column(line, right.col_offset) if right.lineno == node.lineno else None
        if lo is None or hi is None:
            return []
        middle = line[lo:hi]
        if middle.strip(" ()") != _TOKENS[type(old_op)]:
            return []
        out = []
        for target in targets:
            new_middle = middle.replace(_TOKENS[type(old_op)], _TOKENS[target], 1)
            left_text, right_text = segment(left), segment(right)
            plain = left_text + new_middle + right_text
            operands = f"({left_text}){new_middle}({right_text})"

            def change(n, target=target):
                if operator == "op":
                    n.op = target()
                else:
                    n.ops = [target()]

            # the plain spelling first; parentheses around the operands or the whole node where the new
            # operator's precedence would otherwise regroup the expression
            out += [(plain, change), (f"({plain})", change), (operands, change), (f"({operands})", change)]
        return out
    if operator == "not":
        return [(f"({segment(node.operand)})", "operand")]
    if operator == "const":
        values = [node.value + 1] + ([node.value - 1] if node.value > 0 else [])
        out = []
        for value in values:
            def change(n, value=value):
                n.value = value
            out.append((str(value), change))
        return out
    if operator == "drop":
        return [("[]", "drop")]
    return []


def _statements(tree: ast.AST) -> dict[int, ast.stmt]:
    """Innermost statement of every node (by ``id``)."""
    owner: dict[int, ast.stmt] = {}

    def walk(node: ast.AST, stmt: ast.stmt | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.stmt) else stmt
            if inner is not None:
                owner[id(child)] = inner
            walk(child, inner)

    walk(tree, None)
    return owner


def _regroups(lines: list[str], stmt: ast.stmt, node: ast.AST, mutated_line: str, change) -> bool:
    """Whether the mutated text of ``stmt`` parses to anything but ``stmt`` with ``change`` applied to ``node``
    (the operator precedence regrouped the expression), judged on the statement alone (fast)."""
    indent = stmt.col_offset   # every line loses this many characters (a line indented less does not parse)
    chunk = lines[stmt.lineno - 1:stmt.end_lineno]
    mutated = list(chunk)
    mutated[node.lineno - stmt.lineno] = mutated_line
    try:
        original = ast.parse("\n".join(line[indent:] for line in chunk))
        result = ast.parse("\n".join(line[indent:] for line in mutated))
    except SyntaxError:
        return True
    position = (node.lineno - stmt.lineno + 1, node.col_offset - indent, node.end_col_offset - indent)
    try:
        change(_find(original, type(node), position))
    except LookupError:
        return True
    return ast.dump(result) != ast.dump(original)


def find_mutants(files: tuple[str, ...] = MUTATED_FILES) -> list[Mutant]:
    """Every single-point mutant of ``files`` (paths relative to the checkout), in file and source order.

    Raises :class:`SpikeCoreError` for a file outside ``rtl/``."""
    mutants: list[Mutant] = []
    for path in files:
        if not path.startswith("rtl/") or not path.endswith(".py") or not (REPO_ROOT / path).is_file():
            raise SpikeCoreError(f"mutate: {path}: not an RTL source file (rtl/*.py)")
        mutants += mutants_in(path, (REPO_ROOT / path).read_text())
    return mutants


def mutants_in(path: str, text: str) -> list[Mutant]:
    """Every single-point mutant of the Python source ``text`` (named ``path`` in the mutants)."""
    mutants: list[Mutant] = []
    lines = text.split("\n")
    tree = ast.parse(text)
    owner = _statements(tree)
    sites = _Sites()
    sites.visit(tree)
    for node, operator in sites.nodes:
        if node.lineno != node.end_lineno:
            continue
        line = lines[node.lineno - 1]
        start, end = _char_column(line, node.col_offset), _char_column(line, node.end_col_offset)

        def segment(n, line=line):
            return line[_char_column(line, n.col_offset):_char_column(line, n.end_col_offset)]

        done: set[int] = set()
        for index, (new, change) in enumerate(_changes(node, operator, segment, lines)):
            group = index // 4 if operator in ("op", "cmp") else index   # four spellings of one change
            if group in done:
                continue
            mutated_line = line[:start] + new + line[end:]
            # constants, dropped assignments and dropped ~ put an atom in place of an atom or an expression:
            # nothing can regroup; an operator change can (``a ^ b & c`` -> ``a ^ b | c``)
            if callable(change) and operator in ("op", "cmp") and _regroups(lines, owner[id(node)], node,
                                                                             mutated_line, change):
                continue
            done.add(group)
            mutants.append(Mutant(path, node.lineno, start, operator, line[start:end], new, line.strip(),
                                  mutated_line.strip()))
    return mutants


# --- equivalents, sampling --------------------------------------------------------------------------------------


def load_equivalents(path: Path = EQUIVALENT_FILE) -> list[dict[str, str]]:
    """The ``[[mutant]]`` entries of the equivalents file: ``path`` (``rtl/...``), ``line`` (the stripped source
    line), ``mutated`` (the stripped line after the mutation) and ``reason``. Raises :class:`SpikeCoreError` for a
    malformed file or entry."""
    if not Path(path).exists():
        return []
    try:
        entries = tomllib.loads(Path(path).read_text()).get("mutant", [])
    except tomllib.TOMLDecodeError as err:
        raise SpikeCoreError(f"{path}: not valid TOML: {err}") from None
    for number, entry in enumerate(entries, start=1):
        missing = [key for key in ("path", "line", "mutated", "reason") if not str(entry.get(key, "")).strip()]
        if missing:
            raise SpikeCoreError(f"{path}: mutant {number}: missing {', '.join(missing)}")
    return entries


def equivalent_reason(mutant: Mutant, equivalents: list[dict[str, str]]) -> str | None:
    """The recorded reason when ``mutant`` is listed as equivalent (matched by file and line texts, so an entry
    survives edits that move the line), else ``None``."""
    for entry in equivalents:
        if (entry["path"], entry["line"].strip(), entry["mutated"].strip()) == (
                mutant.path, mutant.source_line, mutant.mutated_line):
            return entry["reason"]
    return None


def sample_mutants(mutants: list[Mutant], count: int, seed: int) -> list[Mutant]:
    """``count`` mutants drawn without replacement by ``random.Random(seed)`` (all when there are fewer), in
    source order."""
    if count < 1:
        raise SpikeCoreError(f"mutate: --mutants must be 1 or more, not {count}")
    chosen = set(random.Random(seed).sample(range(len(mutants)), min(count, len(mutants))))
    return [m for i, m in enumerate(mutants) if i in chosen]


# --- running one mutant --------------------------------------------------------------------------------------


def _first_failure(results: list[dict]) -> dict | None:
    failures = sorted((r for r in results if not r["passed"]), key=lambda r: r["seed"])
    if not failures:
        return None
    first = failures[0]
    messages = [str(m.get("message", "")) for m in first.get("mismatch_list") or []]
    reason = messages[0] if messages else str(first.get("reason") or "the run failed")
    protocol = next((m for m in messages if "protocol violation" in m), None)
    if protocol and protocol != reason:
        reason += f" (and {protocol})"
    return {"seed": first["seed"], "reason": reason.splitlines()[0] if reason else reason}


def grade(payload: dict) -> dict:
    """Build one mutant and run the regression's seeds against it (in this process; the child of
    :func:`run_mutant`). Returns the verdict dict: ``verdict`` (killed, survived, not viable), ``seed`` and
    ``reason`` of the first failure, ``seeds_run``, ``records_compared``, ``seconds``."""
    from spikecore.verif.build import build_array
    from spikecore.verif.regress import run_group

    mutant = Mutant(**payload["mutant"])
    config = ChipConfig(**payload["config"])
    folder = Path(payload["out"]) / mutant.id
    started = time.monotonic()
    verdict: dict = {"verdict": "survived", "seed": None, "reason": "", "seeds_run": 0, "records_compared": 0}
    quiet = lambda *_: None   # noqa: E731 -- the client prints the progress
    try:
        try:
            build = build_array(config, traced=False, root=folder / "verilator", patched=mutant.patched(), log=quiet)
        except SpikeCoreError as err:
            lines = str(err).splitlines()
            detail = next((line.strip() for line in lines[1:] if "%Error" in line or "error:" in line), "")
            verdict.update(verdict="not viable", reason=lines[0] + (f" [{detail}]" if detail else ""))
            return verdict
        seeds, size = payload["seeds"], payload["batch"]
        for index in range(0, len(seeds), size):
            results = run_group(index // size, seeds[index:index + size], config=config.as_dict(),
                                out=str(folder / "regress"), check="mixed", variant=None, fill=None, build=build,
                                log=quiet)
            verdict["seeds_run"] += len(results)
            verdict["records_compared"] += sum(r.get("records_compared", 0) for r in results)
            failure = _first_failure(results)
            if failure:
                verdict.update(verdict="killed", **failure)
                break
        return verdict
    finally:
        verdict["seconds"] = round(time.monotonic() - started, 1)
        if not payload.get("keep"):
            shutil.rmtree(folder, ignore_errors=True)


def run_mutant(index: int, mutant: dict, *, config: dict, seeds: list[int], out: str, batch: int, timeout: float,
               keep: bool = False) -> dict:
    """Grade one mutant in a child Python (its own process group, killed after ``timeout`` seconds: verdict
    ``timeout``); returns the mutant's fields plus the verdict of :func:`grade`. A module-level function, so a
    Dask worker can run it."""
    payload = {"mutant": mutant, "config": config, "seeds": seeds, "out": out, "batch": batch, "keep": keep}
    folder = Path(out) / Mutant(**mutant).id
    mutant = {**mutant, "id": folder.name}
    folder.mkdir(parents=True, exist_ok=True)
    verdict_path = folder.parent / f"{folder.name}.json"
    verdict_path.unlink(missing_ok=True)
    started = time.monotonic()
    with (folder.parent / f"{folder.name}.log").open("w") as errors:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(payload), str(verdict_path)],
                                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            child.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)   # the child's own session: its simulators and compilers too
            child.wait()
            timed_out = True
    if timed_out:
        shutil.rmtree(folder, ignore_errors=True)
        return {**mutant, "index": index, "verdict": "timeout", "seed": None, "seconds": round(timeout, 1),
                "reason": f"build and regression still running after {timeout:.0f} s", "seeds_run": None,
                "records_compared": None}
    if not verdict_path.exists():
        log_tail = (folder.parent / f"{folder.name}.log").read_text().strip().splitlines()[-1:] or ["no output"]
        return {**mutant, "index": index, "verdict": "not viable", "seed": None, "seeds_run": 0,
                "records_compared": 0, "seconds": round(time.monotonic() - started, 1),
                "reason": f"the grading process failed (exit {child.returncode}): {log_tail[0]}"}
    return {**mutant, "index": index, **json.loads(verdict_path.read_text())}


def kill_rate(results: list[dict]) -> float | None:
    """killed / (killed + survived + timeout): a timeout is not a kill (the bench did not detect the mutant
    itself); mutants that are not viable and listed equivalents are outside the rate. ``None`` when none ran."""
    counted = [r for r in results if r["verdict"] in ("killed", "survived", "timeout")]
    return sum(r["verdict"] == "killed" for r in counted) / len(counted) if counted else None


def run_mutation(mutants: list[Mutant], config: ChipConfig, seeds: list[int], out: Path, *, scheduler: str = "local",
                 jobs: int = 2, batch: int = 25, timeout: float = 1800, keep: bool = False, log=print) -> list[dict]:
    """Grade every mutant as a Dask task (``scheduler``: ``"local"`` for a LocalCluster of ``jobs`` workers, or
    ``tcp://HOST:PORT``); returns one result dict per mutant, in the order of ``mutants``."""
    from spikecore.verif.dask_run import map_on_dask

    out.mkdir(parents=True, exist_ok=True)
    arguments = {"config": config.as_dict(), "seeds": seeds, "out": str(out.resolve()), "batch": batch,
                 "timeout": timeout, "keep": keep}

    def describe(result: dict) -> str:
        tail = f" (seed {result['seed']}: {result['reason']})" if result["verdict"] == "killed" else (
            f" ({result['reason']})" if result["verdict"] in ("timeout", "not viable") else "")
        return f"{result['verdict']:10s} {result['path']}:{result['line']} {result['mutated_line']}{tail}"

    return map_on_dask(run_mutant, [asdict(m) for m in mutants], arguments, scheduler, jobs=jobs,
                       describe=describe, log=log)


def grade_to_file(payload: str, out: str) -> None:
    """:func:`grade` the JSON ``payload``; write the verdict to the file ``out`` (the child of :func:`run_mutant`)."""
    Path(out).write_text(json.dumps(grade(json.loads(payload)), indent=1) + "\n")


#: The grading child's program (a library call, not a command line of this module).
_CHILD = "import sys\nfrom spikecore.verif.mutate import grade_to_file\ngrade_to_file(sys.argv[1], sys.argv[2])\n"
