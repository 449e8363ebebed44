"""Protocol monitors (verif/protocol.py, docs/spec.md §8.7) and the progress watchdog.

In Amaranth's simulator: a correct array driven by the reference host (SimHost) through load, injection,
steps, host output and read-back breaks no rule; each planted fault breaks the rule named here by hand
from the spec. Under Verilator (cocotb bench): the issue's two mutants (``done = busy_d1 | ~busy``,
``inj_accepted = inj_valid | inject_ok``) fail the co-simulation with the protocol message, and a stalled
array fails at once with the watchdog's report.
"""

from __future__ import annotations

import pytest
from amaranth.sim import Simulator

from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.run import run
from spikecore.image import load_image
from spikecore.rtl.array import SpikeCoreArray
from spikecore.stimulus import Stimulus
from spikecore.verif.cocotb_array import check_fault
from spikecore.verif.patched_rtl import patched_module
from spikecore.verif.protocol import RTL_FAULTS, RULES, checked_array, decode_violation, fault_patch
from spikecore.verif.sim_host import SimHost
from tests.helpers import EXAMPLES

ONE = ChipConfig(cores=1)


def run_checked(fault: str):
    """if_neuron.s for 4 steps (one host event a step; the neuron spikes to the host at step 3) on the
    checked model with the planted ``fault`` (its patch of rtl/array.py loaded in this process); returns what
    the host saw and the latched violation (None when the monitor saw none)."""
    image = assemble((EXAMPLES / "if_neuron.s").read_text(), "if_neuron.s")
    base = patched_module(fault_patch(fault), "rtl/array.py").SpikeCoreArray if fault else SpikeCoreArray
    dut = checked_array(ONE, base)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = {}

    async def bench(ctx):
        host = SimHost(ctx, dut)
        try:
            await host.load(image)
            for _ in range(4):
                await host.inject(0, 0, 1)
                await host.step(timeout=200)
            await host.membranes()
            seen["outputs"] = list(host.outputs)
        except SpikeCoreError as err:   # a broken handshake can confuse the host too; the monitor saw it first
            seen["host_error"] = str(err)
        await ctx.tick()   # the monitor latches at the clock edge after the violating cycle
        seen["violation"] = decode_violation(ctx.get(dut.mon_fail), ctx.get(dut.mon_rule), ctx.get(dut.mon_clock),
                                             ctx.get(dut.mon_array_cycle), ctx.get(dut.mon_values))

    sim.add_testbench(bench)
    sim.run()
    return seen


def test_correct_array_breaks_no_rule():
    seen = run_checked("")
    assert seen["violation"] is None
    assert len(seen["outputs"]) == 1     # 4 x 30 = 120 >= 100: one spike reached the host (rule 9/10 exercised)


# Rule numbers (1-based, docs/spec.md §8.7) derived by hand from what each fault shows at the ports.
PLANTED = {
    "done-or": (6, "step/busy/done"),         # idle after reset: busy_d1 = 0, busy = 0, yet done = 0 | 1
    "inj-accepted-or": (4, "injection"),      # idle, no inj_valid: inj_accepted pulses anyway
    "refused-too": (3, "injection"),          # the first injection is accepted and refused
    "rvalid-write": (1, "config bus"),        # cfg_rvalid in the cycle after a cfg_write
    "step-ignored": (7, "step/busy/done"),    # a step strobe while idle starts nothing: busy stays 0
    "cycle-skip": (8, "step/busy/done"),      # cycle goes 0 -> 2
    "out-stray": (9, "host output"),          # out_valid while idle, without an OUT record (rule 10 too)
    "active-idle": (11, "trace port"),        # active forced to 1 while idle
    "trace-stray": (13, "trace port"),        # active stuck at 0: core 0's ACC record valid while active = 0
    "trace-cycle": (12, "trace port"),        # cycle field one ahead
}


@pytest.mark.parametrize("fault", sorted(PLANTED))
def test_planted_fault_is_caught_by_its_rule(fault):
    rule, port = PLANTED[fault]
    assert RTL_FAULTS[fault][0] == port
    violation = run_checked(fault)["violation"]
    assert violation is not None, f"{fault}: no violation latched"
    assert RULES.index(violation.rule) + 1 == rule and violation.rule.port == port, violation.message
    assert violation.message.startswith(f"{port} protocol violation at cycle {violation.clock}: "
                                        f"{violation.rule.text}, saw {violation.rule.values[0]} = ")


def test_every_fault_but_the_stall_is_planted_here():
    assert set(PLANTED) | {"stall"} == set(RTL_FAULTS)


def test_every_rule_is_in_the_spec():
    spec = (EXAMPLES.parent / "docs" / "spec.md").read_text()
    for number, rule in enumerate(RULES, start=1):
        assert f"| {number} | {rule.port} |" in spec, rule


def test_done_mutant_values():
    violation = run_checked("done-or")["violation"]
    # first clock after reset: busy was 0, is 0, done shows 1
    assert violation.values == (0, 0, 1) and violation.array_cycle == 0


def test_rtl_fault_names_are_checked():
    check_fault("rtl:stall", ONE)
    for bad in ("rtl:nothing", "rtl:stall:5", "rtl:done-or:1", "rtl:"):
        with pytest.raises(SpikeCoreError, match="fault 'rtl:"):
            check_fault(bad, ONE)


# --- under Verilator, through the cocotb bench --------------------------------------------------------------


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.xdist_group("verilator")
@pytest.mark.parametrize(("fault", "port"), [("done-or", "step/busy/done"), ("inj-accepted-or", "injection")])
def test_issue_mutants_fail_the_cosimulation(tmp_path, fault, port):
    from spikecore.verif.sim import cosimulate
    from tests.verif.test_verif_cosim import if_neuron_run

    (result,) = cosimulate([if_neuron_run(tmp_path, "fast", fault=f"rtl:{fault}")], ONE, tmp_path)
    assert not result["passed"]
    assert f"{port} protocol violation at cycle " in result["text"], result["text"]


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.xdist_group("verilator")
@pytest.mark.parametrize("mode", ["fast", "full"])
def test_stalled_array_trips_the_watchdog(tmp_path, mode):
    from spikecore.verif.cocotb_array import PIPELINE_CLOCKS, WATCHDOG_MARGIN
    from spikecore.verif.sim import cosimulate
    from tests.verif.test_verif_cosim import if_neuron_run

    # The sequencer never leaves EXEC: step 0 never ends (busy stays high, the array cycle keeps counting).
    spec = if_neuron_run(tmp_path, mode, fault="rtl:stall")
    spec.seed = 77
    golden = run(load_image(spec.image), Stimulus.load(spec.stimulus), spec.steps)
    assert golden.step_starts[0] == 0 and golden.cycles > 0
    (result,) = cosimulate([spec], ONE, tmp_path)
    assert not result["passed"]
    text = result["text"]
    assert "progress watchdog: seed 77: step 0 still busy" in text, text
    assert f"+ pipeline {PIPELINE_CLOCKS} + margin {WATCHDOG_MARGIN}" in text
    assert result["wall_seconds"] < 120
