"""Verilator model threads of a build (verif/build.py ``threads``): the count enters the flags, hence both
build keys, and a non-default count gets its own build folder, so a threaded model never replaces the default
one (bench/bench_cosim.py ``--compare-threads`` builds both side by side)."""

from __future__ import annotations

import pytest

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.verif.build import THREADS, build_array, build_flags, build_name, source_key

TWO = ChipConfig(cores=2)


def test_the_default_model_is_single_threaded_and_has_no_threads_flag():
    assert THREADS == 1
    assert "--threads" not in build_flags(True) and build_name(TWO, True) == "array2"


def test_a_threaded_build_has_the_flag_its_own_folder_and_its_own_key():
    flags = build_flags(True, threads=2)
    assert flags[flags.index("--threads") + 1] == "2"
    assert build_name(TWO, True, threads=2) == "array2-t2"
    assert build_name(ChipConfig(cores=128), True, "fst", threads=2) == "array128-fst-t2"
    assert source_key(TWO, flags) != source_key(TWO, build_flags(True))


def test_a_model_of_no_threads_is_refused(tmp_path):
    with pytest.raises(SpikeCoreError, match="threads must be at least 1, got 0"):
        build_array(TWO, threads=0, root=tmp_path)
    assert not any(tmp_path.iterdir())
