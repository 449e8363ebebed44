"""The RTL array runs a core only in the steps its period and phase name (docs/spec.md §2), cycle for cycle
with the golden model, in the Amaranth simulator."""

from __future__ import annotations

from spikecore.compiler.asm import assemble
from spikecore.isa import TraceKind
from spikecore.stimulus import Stimulus
from spikecore.verif.crosscheck import crosscheck
from spikecore.verif.sim_host import SimHost, simulate

# Core 0 fires every step into core 1 (and core 2); core 1 runs with period 3 phase 2, core 2 with period 2
# phase 0 and a 2-event buffer, so idle steps accumulate and drop; core 3 is idle in every odd step.
SOURCE = """
.chip cores=4 neurons=2 weight_bytes=4 imem_depth=8 event_depth=2 fanout_depth=2
.core 0
    acc  neuron=0, count=1, wbase=0
    fire neuron=0, count=1, shift=0, reset=always, graded=0
    halt
.weights 0: 1
.neuron 0 threshold=1 reset=0 init=0 fanout_start=0 fanout_count=2
.fanout 0: 1:0 2:1
.core 1
.period 3 2
    acc  neuron=0, count=2, wbase=0
    halt
.weights 0: 3 -2
.core 2
.period 2 0
    acc  neuron=0, count=1, wbase=0
    fire neuron=0, count=1, shift=0, reset=sub, graded=0
    halt
.weights 0: 0 5
.neuron 0 threshold=7 reset=0 init=0 fanout_start=0 fanout_count=1
.fanout 0: host:9
.core 3
.period 2 0
    nop
    nop
    nop
    nop
    nop
    nop
    halt
"""


def test_period_and_phase_match_the_golden_model_cycle_for_cycle():
    image = assemble(SOURCE)
    stimulus = Stimulus()
    for step in range(8):
        stimulus.add(step, 0, 0, 1 + step % 2)
    result = crosscheck(image, stimulus, steps=8)
    trace = result.golden.trace
    acc1 = trace[(trace["core"] == 1) & (trace["kind"] == int(TraceKind.ACC))]
    # Core 1 runs in steps 2 and 5 only (s mod 3 = 2): 2 events x 2 neurons, then 3 events (depth 2: one drop).
    assert len(acc1) == 2 * 2 + 2 * 2
    assert (trace["kind"] == int(TraceKind.DROP)).sum() > 0
    assert (trace["kind"] == int(TraceKind.OUT)).sum() > 0
    assert result.records > 50


def test_period_register_round_trips_and_a_state_reset_restarts_the_count():
    image = assemble(SOURCE)
    seen = {}

    async def scenario(host: SimHost) -> None:
        await host.load(image)
        seen["image"] = await host.read_image()
        for _ in range(3):
            await host.step()
        await host.reset_state()
        before = await host.cycle()
        await host.step()          # s = 0 again, not 3: core 3 runs
        seen["cycles"] = await host.cycle() - before

    simulate(image.config, scenario)
    assert [(c.period, c.phase) for c in seen["image"].cores.values()] == [(1, 0), (3, 2), (2, 0), (2, 0)]
    # No event anywhere: cores 0 and 2 take 1 + 2 + 1 = 4 cycles, core 3 six NOPs and HALT = 7 (idle at s = 3),
    # then the barrier.
    assert seen["cycles"] == 7 + 1
