"""Trace and stimulus files: blank lines anywhere are skipped, never taken for the end; binary files refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from spikecore.errors import SpikeCoreError
from spikecore.stimulus import Stimulus
from spikecore.trace import read_trace


def test_blank_lines_inside_a_jsonl_trace_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"cycle": 1, "core": 0, "kind": "ACC", "index": 2, "value": -5}\n\n   \n'
                    '{"cycle": 3, "core": 5, "kind": "SPIKE", "index": 7, "value": 100}\n')
    assert read_trace(path).tolist() == [(1, 0, 0, 2, -5), (3, 5, 1, 7, 100)]


def test_blank_lines_inside_a_csv_trace_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("cycle,core,kind,index,value\n1,0,ACC,2,-5\n\n3,5,OUT,7,100\n")
    assert read_trace(path).tolist() == [(1, 0, 0, 2, -5), (3, 5, 4, 7, 100)]


def test_blank_lines_inside_a_stimulus_csv_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("step,core,axon,payload\n0,1,2,3\n\n , , , \n1,0,0,-4\n")
    assert Stimulus.load(path).events == {0: [(1, 2, 3)], 1: [(0, 0, -4)]}


def test_a_binary_stimulus_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(SpikeCoreError) as info:
        Stimulus.load(path)
    assert str(info.value) == f"stimulus file {path}: not UTF-8 text (byte 0xff at offset 0)"
