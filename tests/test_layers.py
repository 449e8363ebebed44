"""The package layers, checked by reading every import statement (also those inside functions).

Bottom to top: the ground (``spikecore/``'s own modules) -> ``compiler``, ``golden``, ``rtl`` (siblings that
import only the ground) -> ``verif`` -> ``app``. ``lint-imports`` checks the same contracts from the
configuration in pyproject.toml; this scan is independent of it (its own parser and its own rules) and also
runs where import-linter is not installed.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Rank of each layer; an import may only go to a lower rank, or to its own package.
RANK = {"ground": 0, "compiler": 1, "golden": 1, "rtl": 1, "verif": 2, "app": 3}
#: The one module allowed to reach up: ``python -m spikecore`` starts the command line.
ENTRY_POINTS = {"spikecore.__main__"}


def package_folders() -> dict[str, Path]:
    """Import name -> folder, from pyproject.toml's ``package-dir`` table (what the installer uses)."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / folder for name, folder in table.items()}


def modules() -> dict[str, Path]:
    """Every module of the distribution: dotted name -> file."""
    found: dict[str, Path] = {}
    for package, folder in package_folders().items():
        for path in folder.glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else "ground"


def imports(module: str, source: str, is_package: bool = False) -> set[str]:
    """The ``spikecore`` modules named by every import in ``source`` (module-level or not)."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from spikecore.compiler import place`` names the submodule, which decides its layer too.
            named.add(target)
            named.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in named if name == "spikecore" or name.startswith("spikecore.")}


def violations(module: str, targets: set[str]) -> list[str]:
    """What is wrong with ``module`` importing ``targets``: an upward import or one between siblings."""
    source = layer(module)
    wrong = []
    for target in sorted(targets):
        to = layer(target)
        if to == source:
            continue
        if RANK[to] >= RANK[source]:
            wrong.append(f"{module} ({source}) imports {target} ({to})")
    return wrong


def package_of(module: str) -> str:
    return module if module == "spikecore" else ".".join(module.split(".")[:2])


def graph() -> dict[str, set[str]]:
    every = modules()
    edges: dict[str, set[str]] = {}
    for name, path in every.items():
        targets = imports(name, path.read_text(), path.stem == "__init__")
        edges[name] = {t for t in targets if t in every}
    return edges


def test_the_scan_sees_every_package():
    every = modules()
    for package in ("spikecore", "spikecore.app", "spikecore.compiler", "spikecore.compiler.frontends",
                    "spikecore.compiler.nir", "spikecore.golden", "spikecore.rtl", "spikecore.verif",
                    "spikecore.verif.tb"):
        assert package in every
    assert {"spikecore.image", "spikecore.trace", "spikecore.signature", "spikecore.stimulus"} <= set(every)
    assert sum(len(targets) for targets in graph().values()) > 100      # the scan found the imports


def test_no_import_goes_up_or_sideways():
    wrong = []
    for name, targets in graph().items():
        if name not in ENTRY_POINTS:
            wrong += violations(name, targets)
    assert wrong == []


def test_no_cycle_between_packages():
    packages: dict[str, set[str]] = {}
    for name, targets in graph().items():
        if name in ENTRY_POINTS:
            continue
        packages.setdefault(package_of(name), set()).update(package_of(t) for t in targets)
    for package, edges in packages.items():
        edges.discard(package)          # imports inside one package
        edges.discard("spikecore")      # the ground's root package holds only a docstring and the version

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in packages.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = [p for p in packages if reaches(p, p, set())]
    assert cycles == []


@pytest.mark.parametrize(("module", "source", "expected"), [
    # hand-written examples of each rule the scan enforces
    ("spikecore.golden.cycle", "from spikecore.compiler.asm import assemble",
     ["spikecore.golden.cycle (golden) imports spikecore.compiler.asm (compiler)"]),
    ("spikecore.rtl.array", "def f():\n    import spikecore.verif.sim\n",
     ["spikecore.rtl.array (rtl) imports spikecore.verif.sim (verif)"]),
    ("spikecore.image", "from spikecore.app import cli",
     ["spikecore.image (ground) imports spikecore.app (app)",
      "spikecore.image (ground) imports spikecore.app.cli (app)"]),
    ("spikecore.verif.sim", "from spikecore.golden.run import run\nfrom spikecore import isa", []),
    ("spikecore.app.demo", "from spikecore.verif.sim import cosimulate", []),
])
def test_the_rules_catch_a_planted_import(module, source, expected):
    assert violations(module, imports(module, source) & set(modules())) == expected


def command_lines(source: str) -> list[str]:
    """What makes ``source`` a command line: a module-level ``main`` or an ``if __name__ == "__main__"`` block."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            found.append("def main")
        elif (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
              and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"):
            found.append("if __name__ block")
    return found


def test_command_lines_live_in_the_application_layer():
    """Library modules (ground, compiler, golden, rtl, verif) hold no command line of their own."""
    assert command_lines("import sys\n\ndef main():\n    pass\n\nif __name__ == '__main__':\n    main()\n") == [
        "def main", "if __name__ block"]                                  # the scan sees both forms
    found = {name: command_lines(path.read_text()) for name, path in modules().items()
             if layer(name) != "app" and name not in ENTRY_POINTS}
    assert {name: kinds for name, kinds in found.items() if kinds} == {}
