"""The scoreboard compares every field of a record: a record with only its index (neuron / axon) wrong fails."""

from __future__ import annotations

import pytest

from spikecore.verif.scoreboard import as_trace, compare_records
from tests.verif.test_verif_scoreboard import ACC, HAND_TRACE, OUT, SPIKE, run_board


@pytest.mark.parametrize("position", range(len(HAND_TRACE)))
def test_a_wrong_index_alone_is_a_mismatch(position: int) -> None:
    dut = list(HAND_TRACE)
    cycle, core, kind, index, value = dut[position]
    dut[position] = (cycle, core, kind, index + 1, value)
    matched, mismatches = compare_records(as_trace(HAND_TRACE), as_trace(dut))
    assert matched == len(HAND_TRACE) - 1
    assert [(m.cycle, m.core, m.index, m.dut_value, m.expected_value) for m in mismatches] == \
        [(cycle, core, index + 1, value, value)]


def test_out_record_on_the_wrong_axon_fails_the_run() -> None:
    dut = [r if r[2] != OUT else (25, 0, OUT, 3, 1) for r in HAND_TRACE]     # the host spike on axon 3, not 0
    _, result = run_board(dut)
    assert not result.passed and result.matched == 6
    assert [(m.what, m.dut, m.expected) for m in result.mismatches] == \
        [("OUT", "cycle 25 core 0 OUT axon=3 value=1", "cycle 25 core 0 OUT axon=0 value=1")]


def test_acc_and_spike_kinds_in_the_hand_trace() -> None:
    # guard for the parametrisation above: it changes records of three kinds, not one
    assert {r[2] for r in HAND_TRACE} == {ACC, SPIKE, OUT}
