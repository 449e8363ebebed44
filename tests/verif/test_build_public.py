"""The Verilator control file that makes the array's ports public, and nothing else (verif/build.py).

Making every wire of the flattened top public (``-var "*"``) cost 10 MB of C++ and much of the
simulation speed of the 128-core array; the file must name exactly the ports a testbench drives and reads.
"""

from __future__ import annotations

import pytest

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.generate import generate_verilog
from spikecore.verif.build import TOPLEVEL, public_vlt, top_ports

#: The array's ports as docs/spec.md §8 lists them, plus the clock domain's clk and rst.
SPEC_PORTS = {
    "clk", "rst",
    "cfg_addr", "cfg_wdata", "cfg_write", "cfg_read", "cfg_rdata", "cfg_rvalid",
    "inj_valid", "inj_core", "inj_axon", "inj_payload", "inj_accepted", "inj_refused",
    "step", "reset_state", "busy", "done", "cycle",
    "out_valid", "out_core", "out_axon", "out_payload",
    "trace_port", "sig_valid", "sig_cycle", "sig_value", "sig_count", "sig_history", "sig_cycles", "sig_records",
}


def test_public_control_file_names_exactly_the_ports():
    verilog = generate_verilog(ChipConfig(cores=2))
    assert set(top_ports(verilog)) == SPEC_PORTS
    lines = [line for line in public_vlt(verilog).splitlines() if line.startswith("public_flat_rw")]
    assert sorted(lines) == sorted(f'public_flat_rw -module "{TOPLEVEL}" -var "{port}"' for port in SPEC_PORTS)
    assert '-var "*"' not in public_vlt(verilog)


def test_top_ports_refuses_verilog_without_the_top_module():
    with pytest.raises(SpikeCoreError, match="module spikecore not found"):
        top_ports("module other(a, b);\nendmodule\n")
