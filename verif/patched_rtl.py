"""Patched RTL: single-point source patches of ``rtl/*.py``, built without touching the checkout.

A :class:`PatchedRtl` is a name plus :class:`Patch` es, each replacing one piece of text on one line of an
``rtl/`` source file. Two users: the planted faults of the protocol tests (``SPIKECORE_FAULT=rtl:<name>``,
:data:`spikecore.verif.protocol.RTL_FAULTS`) and the mutants of ``spikecore mutate``
(:mod:`spikecore.verif.mutate`).

:func:`patched_verilog` copies the packages the Verilog is generated from (the ground, ``rtl/``, ``verif/``) into
a scratch folder laid out as the installed package (``<work>/src/spikecore/...``), applies the patches there
and runs the generator in a child Python with ``PYTHONPATH`` on that folder (it wins over the editable
install), so every module, the cores' and the router's included, sees the patched source. The checkout and
the running process are never changed. :func:`patched_module` loads one patched module in this process
instead (the Amaranth-simulator tests of the faults in ``rtl/array.py``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types
from dataclasses import asdict, dataclass
from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError

#: The checkout (sources are read from here, never written).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Package folders copied into a scratch tree, as (source folder, installed package path).
PACKAGES = (("spikecore", "spikecore"), ("rtl", "spikecore/rtl"), ("verif", "spikecore/verif"))


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` by ``new`` on line ``line`` (1-based) of ``path`` (relative to the checkout, e.g.
    ``rtl/array.py``), at column ``column`` (0-based) when given, else at its only occurrence on that line.
    ``line = 0``: the only line of the file holding ``old``."""

    path: str
    old: str
    new: str
    line: int = 0
    column: int | None = None

    def apply(self, text: str) -> str:
        """``text`` (the file's source) with the patch applied; raises :class:`SpikeCoreError` when ``old`` is
        not where the patch says (the source changed under the patch)."""
        lines = text.split("\n")
        if self.line:
            number = self.line
        else:
            hits = [i + 1 for i, line in enumerate(lines) if self.old in line]
            if len(hits) != 1:
                raise SpikeCoreError(f"patch of {self.path}: {self.old!r} is on {len(hits)} lines, expected one")
            number = hits[0]
        if not 1 <= number <= len(lines):
            raise SpikeCoreError(f"patch of {self.path}: line {number} is outside 1..{len(lines)}")
        line = lines[number - 1]
        column = self.column if self.column is not None else line.find(self.old)
        if line.count(self.old) == 0 or line[column:column + len(self.old)] != self.old or (
                self.column is None and line.count(self.old) != 1):
            raise SpikeCoreError(f"patch of {self.path}:{number}: {self.old!r} not found (once) in {line.strip()!r}")
        lines[number - 1] = line[:column] + self.new + line[column + len(self.old):]
        return "\n".join(lines)

    def where(self, text: str | None = None) -> str:
        """``path:line`` (the line found in ``text`` when the patch names none)."""
        if self.line or text is None:
            return f"{self.path}:{self.line}"
        hits = [i + 1 for i, line in enumerate(text.split("\n")) if self.old in line]
        return f"{self.path}:{hits[0] if hits else '?'}"


@dataclass(frozen=True)
class PatchedRtl:
    """A named set of patches; ``name`` names its build folder (letters, digits, ``-`` and ``_``)."""

    name: str
    patches: tuple[Patch, ...]

    def key(self) -> str:
        """A hash of the patches (part of the build's cache key)."""
        return hashlib.sha256(json.dumps([asdict(p) for p in self.patches]).encode()).hexdigest()[:16]


def patched_sources(patched: PatchedRtl) -> dict[str, str]:
    """The patched text of every file ``patched`` changes, by path relative to the checkout."""
    texts: dict[str, str] = {}
    for patch in patched.patches:
        if not patch.path.startswith("rtl/") or not patch.path.endswith(".py"):
            raise SpikeCoreError(f"RTL {patched.name}: only rtl/*.py can be patched, not {patch.path}")
        source = texts.get(patch.path) or (REPO_ROOT / patch.path).read_text()
        texts[patch.path] = patch.apply(source)
    return texts


def scratch_tree(patched: PatchedRtl, work: Path) -> Path:
    """Copy the packages into ``work/src`` and apply ``patched``; returns ``work/src`` (for ``PYTHONPATH``)."""
    src = Path(work) / "src"
    if src.exists():
        shutil.rmtree(src)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "app", "tb")
    for folder, package in PACKAGES:
        shutil.copytree(REPO_ROOT / folder, src / package, ignore=ignore, dirs_exist_ok=True)
    for path, text in patched_sources(patched).items():
        (src / "spikecore" / path).write_text(text)
    return src


_GENERATE = """
import json, sys
import spikecore
from spikecore.config import ChipConfig
from spikecore.verif.protocol import checked_verilog
expected = sys.argv[1]
if not spikecore.__file__.startswith(expected):
    sys.exit(f"spikecore imported from {spikecore.__file__}, not the scratch tree {expected}")
sys.stdout.write(checked_verilog(ChipConfig(**json.loads(sys.argv[2]))))
"""


def patched_verilog(patched: PatchedRtl, config: ChipConfig, work: Path, timeout: float = 600) -> str:
    """The checked model's Verilog (:func:`spikecore.verif.protocol.checked_verilog`) generated from the
    patched source in a child Python (scratch tree in ``work``). Raises :class:`SpikeCoreError` when the
    patched source does not elaborate (the message carries the child's last error line)."""
    src = scratch_tree(patched, work).resolve()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(src)}
    try:
        done = subprocess.run([sys.executable, "-c", _GENERATE, str(src), json.dumps(config.as_dict())], env=env,
                              capture_output=True, text=True, timeout=timeout, cwd=work)
    except subprocess.TimeoutExpired:
        raise SpikeCoreError(f"RTL {patched.name}: Verilog generation took over {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = [line for line in done.stderr.strip().splitlines() if line.strip()][-1:] or ["(no message)"]
        raise SpikeCoreError(f"RTL {patched.name}: the patched RTL does not elaborate: {tail[0]}")
    return done.stdout


def patched_module(patched: PatchedRtl, path: str) -> types.ModuleType:
    """Module ``path`` (e.g. ``rtl/array.py``) loaded in this process from its patched text, under a private
    name; its imports resolve to the unpatched modules (fine for a patch of that one file)."""
    text = patched_sources(patched).get(path, (REPO_ROOT / path).read_text())
    name = "spikecore.rtl." + Path(path).stem
    spec = importlib.util.spec_from_loader(f"{name}__{patched.name.replace('-', '_')}", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "spikecore.rtl"
    exec(compile(text, str(REPO_ROOT / path), "exec"), module.__dict__)
    return module
