"""Testbench pieces that run without a simulator: trace-port decoding, configuration words, FAST-mode
signature checking, and the edge-biased program variants."""

from __future__ import annotations

import pytest

from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.image import validate_image
from spikecore.isa import ACC_MAX, NeuronParams, TraceKind
from spikecore.rtl.layout import ConfigSpace, config_address
from spikecore.signature import HISTORY_DEPTH, cycle_signatures
from spikecore.stimulus import Stimulus
from spikecore.verif.config_bus import image_words, neuron_words
from spikecore.verif.edge_programs import VARIANTS, edge_image, first_fire_membranes, variant_of_seed
from spikecore.verif.scoreboard import Scoreboard
from spikecore.verif.trace_decode import TraceDecoder
from tests.helpers import EXAMPLES

ACC, SPIKE, EVENT, OUT = (int(k) for k in (TraceKind.ACC, TraceKind.SPIKE, TraceKind.EVENT, TraceKind.OUT))


def test_unpacker_decodes_what_the_rtl_decoder_encodes():
    encoder = TraceDecoder(cores=3)
    raws = [
        encoder.encode(cycle=7, records=[(0, ACC, 3, -9), (2, SPIKE, 31, -128), (1, EVENT, 255, 127)]),
        encoder.encode(cycle=8, records=[], active=True),
        encoder.encode(cycle=9, records=[(1, ACC, 0, ACC_MAX)], active=False),     # not counted: ignored
        encoder.encode(cycle=10, records=[(2, OUT, 4, 1), (2, ACC, 1, -2**31)]),
    ]
    records = TraceDecoder(3).decode(raws)
    assert records.tolist() == [
        (7, 0, ACC, 3, -9), (7, 1, EVENT, 255, 127), (7, 2, SPIKE, 31, -128),
        (10, 2, ACC, 1, -2**31), (10, 2, OUT, 4, 1),
    ]
    assert TraceDecoder(3).cycle_of(raws[2]) is None and TraceDecoder(3).cycle_of(raws[1]) == 8


def test_neuron_configuration_words_are_the_image_record():
    # threshold -2 = 0xfffffffe; reset 5; init 0x01020304; word 3 = decay 0x1234 | start 7 << 16 | count 9 << 24;
    # version 2: word 4 = syn_decay 0x00ff | flags 0 << 16, word 5 = syn_init -3 = 0xfffffffd
    words = neuron_words(NeuronParams(threshold=-2, reset=5, init=0x01020304, decay=0x1234, fanout_start=7,
                                      fanout_count=9, syn_decay=0xFF, syn_init=-3))
    assert words == (0xFFFFFFFE, 5, 0x01020304, 0x0907_1234, 0x0000_00FF, 0xFFFF_FFFD)


def test_image_words_address_every_listed_word():
    image = assemble((EXAMPLES / "if_neuron.s").read_text(), "if_neuron.s")
    words = image_words(image)
    program = image.cores[0].program
    assert words[config_address(0, ConfigSpace.IMEM, 1)] == program[1]
    assert words[config_address(0, ConfigSpace.WEIGHT, 0)] == 30
    assert words[config_address(0, ConfigSpace.PARAM, 0)] == 100                   # neuron 0 threshold
    assert words[config_address(0, ConfigSpace.PARAM, 3)] == 1 << 24               # fanout_count 1
    assert words[config_address(0, ConfigSpace.FANOUT, 0)] == 255                  # host, axon 0
    assert words[config_address(0, ConfigSpace.PARAM, 5)] == 0                     # syn_init 0 (version 2)
    assert words[config_address(0, ConfigSpace.PERIOD, 0)] == 0                    # every step (period 1, phase 0)
    assert len(words) == 3 + 1 + 6 + 1 + 1                                           # 6 PARAM words per neuron


def if_neuron_board(steps_before: int) -> Scoreboard:
    image = assemble((EXAMPLES / "if_neuron.s").read_text(), "if_neuron.s")
    board = Scoreboard(image, Stimulus({s: [(0, 0, 1)] for s in range(4)}))
    for _ in range(steps_before):
        board.expect_step()
    board.expect_step()
    return board


def snapshot(board: Scoreboard, upto: int, records_total: int, history=None):
    """A signature-unit read after cycle ``upto - 1``: entry k signs cycle upto - 1 - k."""
    start = max(0, upto - HISTORY_DEPTH)
    sigs = cycle_signatures(board.current.records, start, upto - start)[::-1].tolist()
    sigs += [0] * (HISTORY_DEPTH - len(sigs))
    return (upto, history or sigs, records_total)


def test_signatures_of_a_correct_step_count_its_records():
    board = if_neuron_board(3)                  # step 3: cycles 18..25, records at 19, 21 (2), 25
    verdict = board.check_signatures([snapshot(board, 22, 3), snapshot(board, 26, 4)])
    assert verdict.ok and verdict.cycles_checked == 8
    assert board.matched == 4


def test_wrong_signature_names_its_cycle():
    board = if_neuron_board(3)
    upto, history, total = snapshot(board, 26, 4)
    history = list(history)
    history[26 - 1 - 21] ^= 1                   # cycle 21's signature off by one bit
    verdict = board.check_signatures([(upto, history, total)])
    assert not verdict.ok and verdict.first_bad_cycle == 21
    assert board.matched == 0                   # nothing counted for a failing step


def test_short_long_and_unread_steps_fail():
    board = if_neuron_board(3)
    assert board.check_signatures([snapshot(board, 25, 4)]).first_bad_cycle == 25       # DUT ended early
    board = if_neuron_board(3)
    verdict = board.check_signatures([snapshot(board, 27, 4)])                           # one cycle too many
    assert verdict.first_bad_cycle == 26 and "golden step ended on 25" in verdict.reason
    board = if_neuron_board(3)
    verdict = board.check_signatures([snapshot(board, 26, 5)])                           # record total off
    assert not verdict.ok and "signed 5 records" in verdict.reason


def test_history_overrun_is_detected():
    image = assemble(".chip cores=1\n.core 0\n leak neuron=0, count=32\n leak neuron=0, count=32\n halt\n", "l.s")
    board = Scoreboard(image)
    board.expect_step()                         # 2 x (1 + 32) + 1 + barrier = 68 cycles
    verdict = board.check_signatures([snapshot(board, 68, 64)])
    assert not verdict.ok and "fell out of the 32-deep signature history" in verdict.reason


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_edge_variants_are_valid_and_reproducible(variant):
    config = ChipConfig(cores=4)
    for seed in range(6):
        image, stimulus, steps = edge_image(seed, config, variant)
        validate_image(image)
        again = edge_image(seed, config, variant)
        assert again[0] == image and again[1] == stimulus and again[2] == steps
        assert steps >= 1 and image.cores, f"{variant} seed {seed}: an empty program proves nothing"
        board = Scoreboard(image, stimulus)       # the stimulus never overfills a buffer
        for _ in range(steps):
            board.expect_step()


def test_threshold_equal_makes_first_fire_compare_equal():
    config = ChipConfig(cores=4)
    compared = 0
    for seed in range(5):
        image, stimulus, _ = edge_image(seed, config, "threshold_equal")
        values = first_fire_membranes(image, stimulus)
        for (core, n), v in values.items():
            assert image.cores[core].neurons[n].threshold == v
        compared += len(values)
    assert compared >= 5, "no FIRE neuron was compared: the check above would pass on nothing"


def test_variant_cycle_mixes_plain_and_edges():
    names = {variant_of_seed(s) for s in range(10)}
    assert names == set(VARIANTS)
