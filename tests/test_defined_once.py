"""Each shared format and formula is written in one place; a second copy in the sources fails here.

The scan reads every Python source of the distribution (pyproject.toml's ``package-dir`` table) and looks
for the tell-tale text of a copy: a second HALT word encoding, a second neuron field list, a second
weight-address formula, a second chip ``key=value`` printer, a second array round-shift, a second
weight-scale formula, a second configuration-bus or trace-port decoder.
"""

from __future__ import annotations

import re

import pytest

from tests.test_layers import modules

#: (what, pattern, the one module allowed to hold it)
COPIES = [
    ("HALT word", r"encode\((isa\.)?Instruction\((isa\.)?Opcode\.HALT\)\)", "spikecore.isa"),
    ("neuron field list", r"\"threshold\",\s*\"reset\",\s*\"init\",\s*\"decay\"", None),
    ("neuron record struct", r"\"<iiiHBB\"", None),
    ("weight address", r"wbase\s*\+\s*axon\s*\*", "spikecore.isa"),
    ("chip key=value printer",
     r"=\{[^}]*\}\"[^\n]*for key(, value)? in (CONFIG_FIELDS|CHIP_TEXT_KEYS|\w+\.as_dict\(\)\.items\(\))",
     "spikecore.config"),
    ("array round shift", r"def round_shift_array", None),
    ("weight scale", r"/ INT8_LEVELS if", "spikecore.compiler.quantize"),
    ("config-bus weight word", r"def weight_word", "spikecore.verif.config_bus"),
    ("trace-port decoder", r"class Trace(Decoder|Unpacker)\b", "spikecore.verif.trace_decode"),
    ("signature history decoder", r"def decode_history", "spikecore.verif.trace_decode"),
]


def holders(pattern: str) -> dict[str, int]:
    found = {}
    for name, path in modules().items():
        hits = len(re.findall(pattern, path.read_text()))
        if hits:
            found[name] = hits
    return found


@pytest.mark.parametrize(("what", "pattern", "owner"), COPIES, ids=[c[0] for c in COPIES])
def test_written_once(what: str, pattern: str, owner: str | None) -> None:
    assert set(holders(pattern)) == ({owner} if owner else set())


def test_the_scan_finds_a_planted_copy(tmp_path, monkeypatch) -> None:
    # the same scan over a fake module holding a copy of the HALT word must report it
    fake = tmp_path / "copy.py"
    fake.write_text("HALT = encode(Instruction(Opcode.HALT))\n")
    import tests.test_defined_once as me

    monkeypatch.setattr(me, "modules", lambda: {"spikecore.isa": fake, "spikecore.fake": fake})
    assert me.holders(COPIES[0][1]) == {"spikecore.isa": 1, "spikecore.fake": 1}
    # and the chip printer pattern catches the two spellings it replaced
    fake.write_text('a = " ".join(f"{key}={value}" for key, value in cfg.as_dict().items())\n'
                    'b = " ".join(f"{key}={getattr(config, key)}" for key in CONFIG_FIELDS)\n')
    assert me.holders(COPIES[4][1]) == {"spikecore.isa": 2, "spikecore.fake": 2}
