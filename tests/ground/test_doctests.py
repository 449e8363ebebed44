"""Every ``>>>`` example in the package's docstrings runs and prints what its docstring says.

The examples are documentation a reader trusts (shapes, encodings, worked refusals); pytest collects only
``tests/``, so without this test a stale example (e.g. a trace port width after a record grew) goes unnoticed.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

#: The package and its layers that setuptools maps from their own folders (pyproject.toml ``package-dir``).
PACKAGES = ("spikecore", "spikecore.compiler", "spikecore.golden", "spikecore.rtl", "spikecore.verif")


def _modules() -> list[str]:
    names: set[str] = set()
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            # __main__ runs the command line on import; tb/ holds cocotb test modules that need a simulator.
            if info.name.endswith("__main__") or ".tb" in info.name:
                continue
            names.add(info.name)
    return sorted(names)


MODULES = _modules()


def test_the_doctests_are_found() -> None:
    examples = sum(len(test.examples) for name in MODULES
                   for test in doctest.DocTestFinder().find(importlib.import_module(name)))
    assert examples >= 100, f"only {examples} docstring examples found in {len(MODULES)} modules"


@pytest.mark.parametrize("name", [name for name in MODULES
                                  if any(test.examples for test in
                                         doctest.DocTestFinder().find(importlib.import_module(name)))])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), report=True,
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (printed above)"
