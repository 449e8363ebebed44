"""Trace and stimulus files: round trips, the exact text forms, and one-line errors for malformed input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.run import run
from spikecore.isa import ACC_MAX, ACC_MIN, TraceKind
from spikecore.stimulus import Stimulus
from spikecore.trace import TRACE_DTYPE, format_record, read_trace, write_trace
from spikecore.verif.random_program import random_image

ACC, SPIKE, EVENT, DROP, OUT, SYN = (int(k) for k in list(TraceKind)[:6])   # one chip's kinds

RECORDS = np.array([
    (1, 0, ACC, 5, ACC_MIN),
    (1, 0, SPIKE, 5, -128),
    (7, 254, EVENT, 255, 127),
    (8, 3, DROP, 0, -1),
    (1 << 40, 2, OUT, 9, 1),
    (1 << 40, 2, ACC, 31, ACC_MAX),
], dtype=TRACE_DTYPE)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".CSV"])
def test_trace_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"t{suffix}"
    write_trace(path, RECORDS)
    back = read_trace(path)
    assert back.dtype == TRACE_DTYPE
    assert back.tolist() == RECORDS.tolist() and len(back) == 6


def test_trace_round_trip_of_a_real_run(tmp_path: Path) -> None:
    trace = run(*random_image(3, ChipConfig(cores=4)), chip="cycle").trace
    assert len(trace) > 0
    for suffix in (".csv", ".jsonl"):
        write_trace(tmp_path / f"run{suffix}", trace)
        assert np.array_equal(read_trace(tmp_path / f"run{suffix}"), trace)


def test_trace_text_forms(tmp_path: Path) -> None:
    write_trace(tmp_path / "t.csv", RECORDS[:2])
    assert (tmp_path / "t.csv").read_text() == "cycle,core,kind,index,value\n1,0,ACC,5,-2147483648\n1,0,SPIKE,5,-128\n"
    write_trace(tmp_path / "t.jsonl", RECORDS[2:3])
    assert (tmp_path / "t.jsonl").read_text() == \
        '{"cycle": 7, "core": 254, "kind": "EVENT", "index": 255, "value": 127}\n'
    assert [format_record(r) for r in RECORDS[:5]] == [
        "cycle 1 core 0 ACC n=5 value=-2147483648",
        "cycle 1 core 0 SPIKE n=5 value=-128",
        "cycle 7 core 254 EVENT axon=255 value=127",
        "cycle 8 core 3 DROP axon=0 value=-1",
        "cycle 1099511627776 core 2 OUT axon=9 value=1",
    ]
    assert format_record((12, 3, ACC, 5, -17)) == "cycle 12 core 3 ACC n=5 value=-17"


def test_empty_trace_round_trip(tmp_path: Path) -> None:
    write_trace(tmp_path / "e.csv", np.zeros(0, dtype=TRACE_DTYPE))
    assert len(read_trace(tmp_path / "e.csv")) == 0


@pytest.mark.parametrize(("name", "text", "message"), [
    ("a.csv", "cycle,core,kind,value\n", r"header must be cycle,core,kind,index,value"),
    ("a.csv", "", r"header must be"),
    ("a.csv", "cycle,core,kind,index,value\n1,0,ACC,5\n", r"a\.csv:2: expected 5 fields, got 4"),
    ("a.csv", "cycle,core,kind,index,value\n1,0,MAC,5,1\n", r"a\.csv:2: kind must be one of ACC, SPIKE"),
    ("a.csv", "cycle,core,kind,index,value\n1,x,ACC,5,1\n",
     r"a\.csv:2: core must be an integer \(ASCII decimal or 0x hex\), not 'x'"),
    ("a.csv", "cycle,core,kind,index,value\n1,0,ACC,99999,1\n", r"a\.csv: a field is out of range"),
    ("a.jsonl", "{not json}\n", r"a\.jsonl:1: not valid JSON"),
    ("a.jsonl", '{"cycle": 1, "core": 0, "kind": "ACC", "index": 2}\n', r"a\.jsonl:1: expected an object with keys"),
    ("a.jsonl", '{"cycle": 1, "core": 0, "kind": 0, "index": 2, "value": 3}\n', r"kind must be one of"),
    ("a.jsonl", '{"cycle": true, "core": 0, "kind": "ACC", "index": 2, "value": 3}\n', r"cycle must be an integer"),
    ("a.txt", "", r"unknown format '\.txt', expected \.csv or \.jsonl"),
])
def test_malformed_trace_files_raise_one_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(SpikeCoreError, match=message) as info:
        read_trace(tmp_path / name)
    assert "\n" not in str(info.value)


def test_missing_trace_file(tmp_path: Path) -> None:
    with pytest.raises(SpikeCoreError, match=r"cannot read"):
        read_trace(tmp_path / "missing.csv")


# --- stimulus ------------------------------------------------------------------------------------------

STIM = Stimulus({0: [(1, 3, 1), (0, 255, -128), (1, 3, 1)], 4: [(254, 0, 127)]})


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_stimulus_round_trip_keeps_order_and_duplicates(tmp_path: Path, suffix: str) -> None:
    STIM.save(tmp_path / f"s{suffix}")
    back = Stimulus.load(tmp_path / f"s{suffix}")
    assert back.events == STIM.events
    assert len(back) == 4 and back.at(4) == [(254, 0, 127)] and back.at(2) == []


def test_stimulus_csv_text(tmp_path: Path) -> None:
    STIM.save(tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_text() == "step,core,axon,payload\n0,1,3,1\n0,0,255,-128\n0,1,3,1\n4,254,0,127\n"


def test_stimulus_of_random_images_round_trip(tmp_path: Path) -> None:
    total = 0
    for seed in range(10):
        stimulus = random_image(seed, ChipConfig(cores=4))[1]
        stimulus.save(tmp_path / "r.json")
        assert Stimulus.load(tmp_path / "r.json").events == stimulus.events
        total += len(stimulus)
    assert total > 0


@pytest.mark.parametrize(("name", "text", "message"), [
    ("s.csv", "step,core,axon\n", r"s\.csv: header must be step,core,axon,payload"),
    ("s.csv", "step,core,axon,payload\n0,1,2\n", r"s\.csv:2: expected 4 fields, got 3"),
    ("s.csv", "step,core,axon,payload\n0,1,two,3\n",
     r"s\.csv:2: axon must be an integer \(ASCII decimal or 0x hex\), not 'two'"),
    ("s.csv", "step,core,axon,payload\n0,1,256,3\n", r"s\.csv:2: axon must be 0\.\.255, not 256"),
    ("s.csv", "step,core,axon,payload\n0,1,2,128\n", r"s\.csv:2: payload must be -128\.\.127, not 128"),
    ("s.csv", "step,core,axon,payload\n-1,1,2,3\n", r"s\.csv:2: step must be 0\.\.9999999, not -1"),
    # a core is a board's global core id (spec §13): 16 chips x 255 cores = 0..4079
    ("s.csv", "step,core,axon,payload\n0,4080,2,3\n", r"s\.csv:2: core must be 0\.\.4079, not 4080"),
    ("s.json", "[1, 2]", r"s\.json: expected \{\"events\""),
    ("s.json", '{"events": {"x": []}}', r"s\.json: step key must be an integer \(ASCII decimal or 0x hex\), not 'x'"),
    ("s.json", '{"events": {"0": [[1, 2]]}}', r"s\.json: step 0 event 0: an event must be \[core, axon, payload\]"),
    ("s.json", '{"events": {"0": [[1, 2, 300]]}}', r"s\.json: step 0 event 0: payload must be -128\.\.127, not 300"),
    ("s.json", '{"events": {"0": [[1, 2.5, 3]]}}', r"axon must be an integer, not 2\.5"),
    ("s.json", "{", r"s\.json: not valid JSON"),
    ("s.yaml", "", r"unknown format '\.yaml', expected \.csv or \.json"),
])
def test_malformed_stimulus_files_raise_one_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(SpikeCoreError, match=message) as info:
        Stimulus.load(tmp_path / name)
    assert "\n" not in str(info.value)


def test_missing_stimulus_file_and_bad_add(tmp_path: Path) -> None:
    with pytest.raises(SpikeCoreError, match=r"missing\.csv: cannot read"):
        Stimulus.load(tmp_path / "missing.csv")
    with pytest.raises(SpikeCoreError, match=r"^stimulus: payload must be -128\.\.127, not -129$"):
        Stimulus().add(0, 0, 0, -129)
    with pytest.raises(SpikeCoreError, match=r"stimulus step 0: an event must be \(core, axon, payload\)"):
        Stimulus({0: [(1, 2)]}).save(tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()
