"""The cycle-by-cycle scoreboard (spikecore.verif.scoreboard) and its mismatch report.

The reference run is examples/if_neuron.s: one core, ``acc; fire reset=sub; halt``, weight 30, threshold
100, one host event (axon 0, payload 1) per step, neuron 0 fans out to the host. Its trace is worked out
by hand from docs/spec.md §2/§5 below; the DUT side of every test is that hand trace, with one record
planted, removed or changed.
"""

from __future__ import annotations

import numpy as np

from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.image import Image
from spikecore.isa import Instruction, Opcode, ResetMode, TraceKind, encode
from spikecore.stimulus import Stimulus
from spikecore.trace import TRACE_DTYPE
from spikecore.verif.scoreboard import (
    NO_RECORD,
    Scoreboard,
    as_trace,
    compare_records,
    instruction_at,
)
from spikecore.verif.tb.report import RunInfo, explain, format_explanation, result_dict, write_junit
from tests.helpers import EXAMPLES

ACC, SPIKE, OUT = int(TraceKind.ACC), int(TraceKind.SPIKE), int(TraceKind.OUT)

# Step t starts on C_t. EXEC: ACC issues on C_t, its one MAC (1 event x 1 neuron) writes on C_t+1; FIRE
# issues on C_t+2 and evaluates neuron 0 on C_t+3; HALT issues on C_t+4 (C_t+5 when the neuron fired and
# pushed its one fan-out entry on C_t+4). Then the barrier cycle, then one delivery per fan-out push.
#   step 0: C=0,  membrane 0+30=30  (cycle 1), 30 < 100: silent; HALT on 4, barrier 5        -> C_1 = 6
#   step 1: C=6,  60 on cycle 7;  silent; barrier 11                                           -> C_2 = 12
#   step 2: C=12, 90 on cycle 13; silent; barrier 17                                           -> C_3 = 18
#   step 3: C=18, 120 on cycle 19; FIRE on 21: 120 >= 100 fires (SPIKE payload 1), reset sub
#           writes 120-100 = 20 (ACC on 21); push on 22; HALT on 23; barrier 24; OUT on 25     -> C_4 = 26
HAND_TRACE = [
    (1, 0, ACC, 0, 30),
    (7, 0, ACC, 0, 60),
    (13, 0, ACC, 0, 90),
    (19, 0, ACC, 0, 120),
    (21, 0, ACC, 0, 20),
    (21, 0, SPIKE, 0, 1),
    (25, 0, OUT, 0, 1),
]
STEPS = 4


def if_neuron() -> tuple[Image, Stimulus]:
    image = assemble((EXAMPLES / "if_neuron.s").read_text(), "if_neuron.s")
    return image, Stimulus({step: [(0, 0, 1)] for step in range(STEPS)})


def run_board(dut_trace: list[tuple[int, ...]], membranes=None, drops=None, outputs=None):
    """Run the golden IF neuron for STEPS steps against ``dut_trace``; return (board, result)."""
    image, stimulus = if_neuron()
    board = Scoreboard(image, stimulus, seed=7)
    dut = as_trace(dut_trace)
    for _ in range(STEPS):
        exp = board.expect_step()
        window = dut[(dut["cycle"] >= exp.start_cycle) & (dut["cycle"] < exp.end_cycle)]
        board.check_step(window)
    board.check_final(
        np.array([[20] + [0] * 31]) if membranes is None else membranes,
        np.array([0]) if drops is None else drops,
        [(3, 0, 0, 1)] if outputs is None else outputs,   # the one spike reached the host in step 3
    )
    return board, board.finish()


def test_hand_trace_matches_golden():
    board, result = run_board(HAND_TRACE)
    assert result.passed, result.lines()
    assert result.matched == len(HAND_TRACE) == 7
    assert result.lines() == ["matched 7 records"]
    assert board.step_windows == [(0, 6), (6, 12), (12, 18), (18, 26)]
    # 32 membranes + 1 drop counter + 1 host output compared at the end
    assert result.final_compared == 34


def test_wrong_value_is_reported_with_both_records():
    dut = list(HAND_TRACE)
    dut[0] = (1, 0, ACC, 0, 31)
    _, result = run_board(dut)
    assert not result.passed
    assert result.mismatch_count == 1
    assert result.lines()[0] == ("ACC mismatch, DUT: cycle 1 core 0 ACC n=0 value=31 "
                                 "expected: cycle 1 core 0 ACC n=0 value=30")
    assert result.lines()[1] == "matched 6 records"
    assert result.reason.startswith("1 mismatches, first: ACC mismatch")


def test_extra_dut_record_fails():
    _, result = run_board([*HAND_TRACE, (3, 0, SPIKE, 0, 1)])
    assert not result.passed
    assert result.mismatches[0].message == (f"SPIKE mismatch, DUT: cycle 3 core 0 SPIKE n=0 value=1 "
                                            f"expected: {NO_RECORD}")
    assert result.matched == 7


def test_missing_dut_record_fails():
    _, result = run_board(HAND_TRACE[:-1])
    assert not result.passed
    assert result.mismatches[0].message == (f"OUT mismatch, DUT: {NO_RECORD} "
                                            "expected: cycle 25 core 0 OUT axon=0 value=1")
    assert result.matched == 6


def test_record_on_wrong_cycle_is_one_missing_and_one_extra():
    dut = list(HAND_TRACE)
    dut[1] = (8, 0, ACC, 0, 60)
    _, result = run_board(dut)
    assert [m.message for m in result.mismatches] == [
        f"ACC mismatch, DUT: {NO_RECORD} expected: cycle 7 core 0 ACC n=0 value=60",
        f"ACC mismatch, DUT: cycle 8 core 0 ACC n=0 value=60 expected: {NO_RECORD}",
    ]


def test_zero_compared_records_fail():
    image = Image(ChipConfig(cores=2))             # every core runs HALT only: no records at all
    board = Scoreboard(image)
    board.expect_step()
    board.check_step([])
    board.check_final(np.zeros((2, 32)), np.zeros(2), [])
    result = board.finish()
    assert not result.passed
    assert result.matched == 0
    assert "zero trace records were compared" in result.reason


def test_final_state_mismatches_name_core_and_neuron():
    membranes = np.zeros((1, 32), dtype=np.int64)
    membranes[0, 0] = 21                            # golden: 120 - 100 = 20
    _, result = run_board(HAND_TRACE, membranes=membranes, drops=np.array([1]), outputs=[])
    messages = [m.message for m in result.mismatches]
    assert messages == [
        "membrane mismatch, DUT: core 0 n=0 value=21 expected: core 0 n=0 value=20",
        "drops mismatch, DUT: core 0 drops=1 expected: core 0 drops=0",
        f"host output mismatch, DUT: {NO_RECORD} expected: step 3 core 0 axon 0 payload 1",
    ]
    assert not result.passed


def test_compare_records_counts_and_orders():
    expected = as_trace([(5, 1, ACC, 2, 10), (5, 0, ACC, 1, 3), (6, 0, SPIKE, 1, 1)])   # sorted by as_trace
    assert expected["core"].tolist() == [0, 1, 0]
    assert compare_records(expected, expected.copy()) == (3, [])
    matched, found = compare_records(expected, as_trace([]))      # an empty DUT trace: every record missing
    assert matched == 0
    assert [(m.cycle, m.core, m.dut) for m in found] == [(5, 0, NO_RECORD), (5, 1, NO_RECORD), (6, 0, NO_RECORD)]
    matched, found = compare_records(expected, as_trace([(5, 0, ACC, 1, 3)]))
    assert matched == 1 and [m.cycle for m in found] == [5, 6]
    assert as_trace([]).dtype == TRACE_DTYPE


def test_instruction_at_picks_the_instruction_in_its_work_cycles():
    acc = encode(Instruction(Opcode.ACC, neuron=0, count=1, wbase=0))
    fire = encode(Instruction(Opcode.FIRE, neuron=0, count=1, reset=ResetMode.SUB))
    log = [(18, 0, 0, acc), (20, 0, 1, fire), (23, 0, 2, encode(Instruction(Opcode.HALT)))]
    assert instruction_at(log, 0, 19).pc == 0          # the MAC cycle of the ACC issued on 18
    found = instruction_at(log, 0, 20)                 # FIRE issues on 20: still the ACC's, FIRE named too
    assert (found.pc, found.issuing_next) == (0, (1, fire))
    assert instruction_at(log, 0, 21).pc == 1
    assert instruction_at(log, 0, 18).pc == 0          # nothing issued before: the one issuing is named
    assert instruction_at(log, 1, 19) is None          # another core


def test_report_names_instruction_records_seed_and_time(tmp_path):
    dut = list(HAND_TRACE)
    dut[4] = (21, 0, ACC, 0, 21)                       # FIRE's reset by subtraction computed wrongly
    board, result = run_board(dut)
    assert board.issue_logs[3], "the golden model recorded no issue log for step 3"
    info = RunInfo(seed=7, cores=1, check="full", vcd="dump.vcd", reproduce="python -m spikecore.app.sim --seed 7")
    details = explain(board, result.mismatches[0], info, time_of_cycle=lambda cycle: 1000 + 10 * cycle)
    assert details["cycle"] == 21 and details["step"] == 3 and details["cycle_in_step"] == 3
    assert details["core"] == 0 and details["index"] == 0
    assert details["expected"] == 20 and details["actual"] == 21
    assert details["instruction"].startswith("pc 1: fire neuron=0, count=1, shift=0, reset=sub, graded=0")
    assert details["sim_time_ns"] == 1210
    assert details["last_records"][-1] == "cycle 19 core 0 ACC n=0 value=120"     # the last before cycle 21
    text = format_explanation(details)
    assert "seed: 7" in text and "dump.vcd, jump to 1210 ns" in text and "reproduce: python -m" in text
    data = result_dict(result, info, details)
    assert data["records_compared"] == 7 and data["mismatches"] == 1 and not data["passed"]
    write_junit(tmp_path / "junit.xml", [data])
    xml = (tmp_path / "junit.xml").read_text()
    assert 'failures="1"' in xml and "FIRST MISMATCH: ACC mismatch" in xml


def test_golden_issue_log_matches_hand_timing():
    image, stimulus = if_neuron()
    board = Scoreboard(image, stimulus)
    exp = board.expect_step()
    words = image.cores[0].program
    # ACC on 0, FIRE on 2 (after the ACC's one MAC), HALT on 4 (after FIRE's one neuron, silent)
    assert exp.issue_log == [(0, 0, 0, words[0]), (2, 0, 1, words[1]), (4, 0, 2, words[2])]


def test_input_buffers_after_the_run_are_compared():
    """Core 0's neuron gets 30 >= threshold 20 in step 0, fires (payload 1) and fans out to core 1 axon 3; the
    router delivers it after the barrier, so by hand core 1's buffer holds (3, 1) at the end, core 0's is empty."""
    source = """.chip cores=2
.core 0
    acc  neuron=0, count=1, wbase=0
    fire neuron=0, count=1, shift=0, reset=sub, graded=0
    halt
.weights 0: 30
.neuron 0 threshold=20 reset=0 init=0 decay=0 fanout_start=0 fanout_count=1
.fanout 0: 1:3
.core 1
    halt
"""
    board = Scoreboard(assemble(source, "buffers.s"), Stimulus({0: [(0, 0, 1)]}))
    board.expect_step()
    assert board.check_buffers([[], [(3, 1)]]) == [] and board.final_compared == 2
    (found,) = board.check_buffers([[], []])
    assert found.message == "input buffer mismatch, DUT: core 1 buffer [] expected: core 1 buffer [(3, 1)]"
    (found,) = board.check_buffers([[], [(3, -1)]])
    assert found.core == 1


def test_write_junit_reports_a_testbench_error_result_that_lacks_the_counts(tmp_path):
    # the shape cocotb_array/cocotb_board write when the testbench itself raised: no cores, cycles, records
    data = {"passed": False, "reason": "testbench error: SpikeCoreError('inject: core must be 0..1, not 4')",
            "seed": None, "variant": None, "check": "full", "text": "testbench error"}
    write_junit(tmp_path / "junit.xml", [data])
    xml = (tmp_path / "junit.xml").read_text()
    assert 'failures="1"' in xml and "inject: core must be 0..1, not 4" in xml
