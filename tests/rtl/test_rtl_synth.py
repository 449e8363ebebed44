"""Generic Yosys synthesis of one core (``make synth``): the memories and their sizes are as specified."""

from __future__ import annotations

import pytest

from spikecore.app.synth import main
from spikecore.config import ChipConfig
from spikecore.rtl.synth import synthesize_core

pytestmark = pytest.mark.rtl


def test_one_core_has_the_specified_memories():
    # Product sizes (docs/spec.md §1.2), bits = depth x width:
    #   imem 64 x 32 = 2048, weights 256 x 8 = 2048, params 32 x 192 = 6144 (threshold, reset, init: 32 each;
    #   decay 16, fanout_start 8, fanout_count 8; version 2: syn_decay 16, flags 16, syn_init 32), fanout
    #   64 x (8 + 8 + 4) = 1280 (core, axon, chip: a board's 16 chips, §13), membranes 32 x 32 = 1024, synaptic
    #   currents 32 x 32 = 1024, events 64 x (8 + 24) = 2048 (axon, 24-bit payload: version 2, FIRE wide=1), outq
    #   64 x (8 + 8 + 24 + 4) = 2816 (core, axon, payload, chip): 18432 in all.
    report = synthesize_core(ChipConfig(cores=1))
    assert report.memories == {"imem": 2048, "weights": 2048, "params": 6144, "fanout": 1280, "membranes": 1024,
                               "currents": 1024, "events": 2048, "outq": 2816}
    assert report.memory_bits == 18432
    assert report.cells["$mem_v2"] == 8
    assert 0 < report.flip_flops < 1000      # control registers only: memories are not flip-flops here
    assert "memory bits: 18432" in report.format()


def test_synth_command_line(capsys):
    assert main(["--neurons", "8", "--weight-bytes", "16"]) == 0
    assert "flip-flops:" in capsys.readouterr().out
    assert main(["--neurons", "3"]) == 2
    assert capsys.readouterr().err == ("python -m spikecore.app.synth: error: chip config: neurons must be a power "
                                       "of two, not 3\n")
