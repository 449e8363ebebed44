"""Hierarchical verilation (verif/build.py): the core as a Verilator hierarchy block.

Big arrays (``HIERARCHICAL_FROM_CORES`` cores and more, ``make sim``'s 128) are built this way; the
co-simulation test builds a 2-core array the same way (hierarchy block, FST tracing compiled in) and checks
that it matches the golden model in FULL mode and that its wave file shows the cores' own signals (a
hierarchy block's model only exists after the first evaluation, so a wave file opened before it would hold
empty core scopes).
"""

from __future__ import annotations

import pytest

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.instanced import CORE_TRACE_PORT, rename_trace_port
from spikecore.verif.build import (
    HIERARCHICAL_FROM_CORES,
    build_array,
    build_flags,
    build_name,
    default_hierarchical,
    late_trace_main,
)
from spikecore.verif.sim import cosimulate, prepare_seed

TWO = ChipConfig(cores=2)


def test_the_trace_port_is_renamed_in_the_core_verilog_only_where_it_is_the_port():
    core = ("module spikecore_core(clk, trace, trace_port);\n"
            "  output [114:0] trace;\n  reg [114:0] trace;\n  wire \\trace.acc_valid ;\n"
            "  wire [3:0] trace_port;\n  wire \\trace$5 ;\n"
            "  assign \\trace.acc_valid  = trace[0];\n  always @* trace[8:1] = 8'h00;\nendmodule\n")
    renamed = rename_trace_port(core)
    assert CORE_TRACE_PORT == "trace_out"
    assert renamed == ("module spikecore_core(clk, trace_out, trace_port);\n"
                       "  output [114:0] trace_out;\n  reg [114:0] trace_out;\n  wire \\trace_out.acc_valid ;\n"
                       "  wire [3:0] trace_port;\n  wire \\trace$5 ;\n"
                       "  assign \\trace_out.acc_valid  = trace_out[0];\n  always @* trace_out[8:1] = 8'h00;\n"
                       "endmodule\n")
    with pytest.raises(ValueError, match="no port named trace"):
        rename_trace_port("module m(clk, trace_port);\nendmodule\n")


def test_big_arrays_are_hierarchical_by_default_and_named_apart_otherwise():
    assert HIERARCHICAL_FROM_CORES == 32
    assert not default_hierarchical(ChipConfig(cores=16)) and default_hierarchical(ChipConfig(cores=32))
    assert build_name(ChipConfig(cores=128), True, "fst") == "array128-fst"                  # hierarchical
    assert build_name(ChipConfig(cores=128), True, "fst", hierarchical=False) == "array128-fst-flat"
    assert build_name(TWO, True, "fst", hierarchical=True) == "array2-fst-hier"
    assert build_name(TWO, True, hierarchical=False) == "array2"
    assert "--hierarchical" in build_flags(True, hierarchical=True) and "--hierarchical" not in build_flags(True)


def test_the_traced_main_opens_the_wave_file_after_the_first_evaluation():
    main = ("int main() {\n    if (traceOn) {\n        tfp = new verilated_trace_t;\n"
            "        top->trace(tfp, 99);\n        tfp->open(traceFile);\n    }\n"
            "    while (1) {\n        top->eval_end_step();\n        tfp->dump(t);\n    }\n}\n")
    patched = late_trace_main(main)
    assert patched.index("top->eval_end_step();") < patched.index("top->trace(tfp, 99);") < patched.index(
        "tfp->dump(t);")
    assert patched.count("top->trace(") == 1 and "if (traceOn && !tfp)" in patched
    with pytest.raises(SpikeCoreError, match="late_trace_main"):
        late_trace_main(main.replace("top->trace(tfp, 99);", "top->trace(tfp, 5);"))


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.xdist_group("verilator")
def test_hierarchical_build_matches_the_golden_model_and_traces_the_cores(tmp_path):
    import pywellen

    build = build_array(TWO, waves=True, trace_format="fst", hierarchical=True)
    assert build.hierarchical and build.name == "array2-fst-hier"
    assert (build.directory / "Vspikecore_core").is_dir()          # the block was verilated on its own
    spec = prepare_seed(17, TWO, tmp_path, check="full")
    (result,) = cosimulate([spec], TWO, tmp_path, build=build, waves=True)
    assert result["passed"] and result["records_compared"] > 0
    names = {var.full_name for var in pywellen.Waveform(str(tmp_path / "dump.fst")).all_vars()}
    for core in (0, 1):
        assert {f"spikecore.core{core}.state", f"spikecore.core{core}.pc",
                f"spikecore.core{core}.trace_out.acc_valid", f"spikecore.core{core}.trace_out.spike_payload"} <= names
