"""Shared pytest configuration of the SpikeCore suite.

- Hypothesis runs without its per-example deadline: wall-clock limits in tests fail at random on a loaded
  machine (speed targets live in bench/, never in timed tests).
- Helpers shared by several test modules (chip configs, the instruction-word helper, the examples folder)
  are in :mod:`tests.helpers`; fixtures shared by several modules are here.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("spikecore", deadline=None)
settings.load_profile("spikecore")
