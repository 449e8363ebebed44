"""Run ``lint-imports`` (import-linter) on the layer contracts of pyproject.toml.

import-linter finds a package's modules by walking the folder of its ``__init__.py``; SpikeCore maps its
subpackages onto top-level folders (``spikecore.compiler`` is ``compiler/``, see the ``package-dir`` table of
pyproject.toml), which that walk would miss. So this script lays out the import tree the interpreter sees as
symlinks under ``build/import-graph/`` (a real ``spikecore/`` folder whose entries link to the sources) and
runs ``lint-imports`` with that folder first on ``PYTHONPATH``. Exit status: that of ``lint-imports``.

    python tools/lint_imports.py [lint-imports options]      (run by ``make lint`` and ``make test``)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRAPH = ROOT / "build" / "import-graph"


def lay_out(graph: Path = GRAPH) -> Path:
    """Build the symlink tree of every package in pyproject.toml's ``package-dir`` table; return its root."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    shutil.rmtree(graph, ignore_errors=True)
    for package, folder in sorted(table.items()):
        target = graph.joinpath(*package.split("."))
        if target.exists():
            continue            # already inside a linked parent folder (e.g. spikecore.app in spikecore/)
        source = ROOT / folder
        if "." in package:
            target.symlink_to(source, target_is_directory=True)
            continue
        # The root package: a real folder, so that mapped subpackages can be linked inside it.
        target.mkdir(parents=True)
        for entry in source.iterdir():
            if entry.name != "__pycache__":
                (target / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return graph


def main(argv: list[str] | None = None) -> int:
    graph = lay_out()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(graph), env.get("PYTHONPATH", "")]))
    # lint-imports puts its working folder first on sys.path: run it in the tree, not in the sources.
    command = [str(Path(sys.executable).with_name("lint-imports")), str(ROOT / "pyproject.toml"),
               "--no-cache", *(sys.argv[1:] if argv is None else argv)]
    return subprocess.run(command, cwd=graph, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
