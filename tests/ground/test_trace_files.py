"""Trace files: blank lines anywhere are skipped, never the end of the file (docs/spec.md §6 record order)."""

from __future__ import annotations

from pathlib import Path

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
