"""Coverage merging and the cocotb-coverage XML export, checked value by value (docs/spec.md §10).

Bin counts by hand from the §10 table (spec version 2: 8 opcodes, the `synaptic` and `fan_in_split`
coverpoints). One core: opcode_core 8 (8 opcodes x 1 core), opcode_transition 56 (7 non-HALT A x 8 B),
saturation 3, threshold_compare 3, reset_fired 8, graded_payload 4, event_buffer 4, acc_operands 4, leak 2,
synaptic 7, fan_in_split 9, router 3 (fan_in is multi-core only), host_delivery 2, period 3, array_activity 1
(the other two are multi-core) = 117, over 15 coverpoints.
Four cores: opcode_core 32, router 4, array_activity 3, the rest as above = 117 + 24 + 1 + 2 = 144.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from spikecore.config import ChipConfig
from spikecore.verif.coverage import FunctionalCoverage, export_cocotb_xml


def point(root: ET.Element, name: str) -> tuple[dict[str, str], dict[str, int]]:
    element = root.find(f"spikecore/{name}")
    assert element is not None, name
    return dict(element.attrib), {b.attrib["bin"]: int(b.attrib["hits"]) for b in element}


def test_bin_counts_by_hand() -> None:
    assert sum(len(p.bins) for p in FunctionalCoverage(ChipConfig(cores=1)).points.values()) == 117
    assert sum(len(p.bins) for p in FunctionalCoverage(ChipConfig(cores=4)).points.values()) == 144


def test_merge_adds_hit_counts_and_the_xml_holds_every_value(tmp_path) -> None:
    config = ChipConfig(cores=1)
    a, b = FunctionalCoverage(config), FunctionalCoverage(config)
    a.hit("threshold_compare", "equal")
    b.hit("threshold_compare", "below", 3)
    b.hit("threshold_compare", "equal", 2)
    b.hit("leak", "negative")

    export_cocotb_xml([a, b], tmp_path / "two.xml")
    root = ET.parse(tmp_path / "two.xml").getroot()
    # 3 distinct bins hit of 117: 3/117 = 2.56 %
    assert (root.attrib["size"], root.attrib["coverage"], root.attrib["cover_percentage"]) == ("117", "3", "2.56")
    attrs, hits = point(root, "threshold_compare")
    # the XML counts runs that hit a bin: equal was hit by both objects, below by one
    assert hits == {"below": 1, "equal": 2, "above": 0}
    assert (attrs["size"], attrs["coverage"], attrs["cover_percentage"]) == ("3", "2", "66.67")
    assert point(root, "leak")[1] == {"negative": 1, "positive": 0}
    assert set(point(root, "saturation")[1].values()) == {0}

    a.merge(b)
    # exact hit counts add up in the merged object (and its JSON): equal 1 + 2, below 3
    assert a.hits["threshold_compare"]["equal"] == 3 and a.hits["threshold_compare"]["below"] == 3
    assert a.hits["leak"]["negative"] == 1 and a.hits["leak"]["positive"] == 0
    assert a.percent("threshold_compare") == pytest.approx(200 / 3) and a.percent("leak") == 50.0
    assert a.average() == pytest.approx((200 / 3 + 50.0) / 15)               # 15 coverpoints on one core
    assert FunctionalCoverage.from_dict(config, a.to_dict()).to_dict() == a.to_dict()

    export_cocotb_xml([a], tmp_path / "merged.xml")
    merged = ET.parse(tmp_path / "merged.xml").getroot()
    assert point(merged, "threshold_compare")[1] == {"below": 1, "equal": 1, "above": 0}
    assert merged.attrib["coverage"] == "3"
