"""Assembler rules at their exact bounds (docs/spec.md §9, §1.2): reserved `.equ` names, the out-queue bound."""

from __future__ import annotations

import pytest

from spikecore.compiler.asm import assemble
from spikecore.errors import SpikeCoreError
from spikecore.image import encode_image

CHIP = ".chip cores=2 neurons=4 weight_bytes=4 imem_depth=4 event_depth=2 fanout_depth=4\n"
FIRE0 = "fire neuron=0, count=1, shift=0, reset=none, graded=0\n"


def error_of(source: str) -> str:
    with pytest.raises(SpikeCoreError) as info:
        assemble(source, "p.s")
    return str(info.value)


# §9: "the keywords host, none, value, sub, always ... .equ NAME ... not a keyword"
@pytest.mark.parametrize("keyword", ["host", "none", "value", "sub", "always"])
def test_equ_may_not_define_a_keyword(keyword: str) -> None:
    assert error_of(f".equ {keyword}, 1") == f"p.s:1: .equ name '{keyword}' is a reserved keyword"


@pytest.mark.parametrize("name", ["Host", "VALUE", "Sub", "none_", "always2"])
def test_equ_names_are_case_sensitive_so_near_keywords_are_fine(name: str) -> None:
    image = assemble(f"{CHIP}.equ {name}, 3\n.core 0\nleak neuron={name}, count=1\nhalt", "p.s")
    assert image.cores[0].program[0] == 4 << 28 | 3 << 20      # LEAK neuron 3 count 1 (count stored as 0)


def test_out_queue_exactly_full_is_accepted() -> None:
    # neuron 0 has 2 destinations and is fired twice: 2 x 2 = 4 pushes = fanout_depth 4 (§1.2: "<= fanout_depth")
    source = (CHIP + ".core 0\n" + FIRE0 + FIRE0 + "halt\n"
              ".neuron 0 fanout_start=0 fanout_count=2\n.fanout 0: 1:0 host:1\n")
    image = assemble(source, "p.s")
    assert [n.fanout_count for n in image.cores[0].neurons] == [2]
    # §7 (version 2): header 28 + core-0 section header 12 + 3 program words x 4 + one 24-byte neuron record
    # (threshold, reset, init i32; decay u16; fanout_start, fanout_count u8; syn_decay, flags u16; syn_init i32)
    # + 2 fan-out entries x 4 (chip, core, axon, flags) + CRC 4
    assert len(encode_image(image)) == 28 + 12 + 4 * 3 + 24 + 2 * 4 + 4


def test_out_queue_one_past_full_is_refused() -> None:
    # a third FIRE of the same neuron: 3 x 2 = 6 > 4; but the section has room for only 4 words, so
    # instead two neurons with 2 + 3 destinations in one FIRE: 5 > 4.
    source = (CHIP + ".core 0\nfire neuron=0, count=2, shift=0, reset=none, graded=0\nhalt\n"
              ".neuron 0 fanout_start=0 fanout_count=2\n.neuron 1 fanout_start=1 fanout_count=3\n"
              ".fanout 0: 1:0 1:1 1:2 host:3\n")
    assert error_of(source) == ("p.s:2: core 0 FIREs could push 5 deliveries in one step, more than the "
                                "out-queue's 4 (fanout_depth)")


def test_fanout_count_after_halt_does_not_count() -> None:
    # FIREs after the first HALT never run (§7 rule: "FIREs at addresses before the first HALT"): 2 + 2 + (2) = ok
    source = (CHIP + ".core 0\n" + FIRE0 + FIRE0 + "halt\n" + FIRE0 +
              ".neuron 0 fanout_start=0 fanout_count=2\n.fanout 0: 1:0 host:1\n")
    assert len(assemble(source, "p.s").cores[0].program) == 4


@pytest.mark.parametrize(("index", "message"), [
    ("-1", "p.s:4: .neuron -1 is outside the core's 4 neurons"),
    ("4", "p.s:4: .neuron 4 is outside the core's 4 neurons"),
])
def test_neuron_index_outside_the_core(index: str, message: str) -> None:
    assert error_of(CHIP + f".core 0\nhalt\n.neuron {index} threshold=1") == message


def test_fanout_range_with_no_fanout_table_names_zero_entries() -> None:
    assert error_of(CHIP + ".core 0\nhalt\n.neuron 0 fanout_start=0 fanout_count=1") == \
        "p.s:4: neuron 0 fan-out range 0..0 runs past the 0 entries of core 0's fan-out table"
    # neurons 0 and 3 listed: the section lists neurons 0..3, weights none
    image = assemble(CHIP + ".core 0\nhalt\n.neuron 3 threshold=1\n.neuron 0 init=2", "p.s")
    assert [n.threshold for n in image.cores[0].neurons] == [2**31 - 1, 2**31 - 1, 2**31 - 1, 1]
    assert image.cores[0].neurons[0].init == 2 and image.cores[0].weights == []
