"""The RTL array: spikes crossing the router, seeded random images, and the trace port's signatures.

Multi-core runs are compared with the golden CycleChip by :func:`crosscheck` (trace record for record
and cycle for cycle, final state, outputs, per-cycle signatures and the signature history); the
signature unit is also driven directly with dense random records and compared with
:mod:`spikecore.signature`.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from spikecore.config import ChipConfig
from spikecore.golden.run import run
from spikecore.image import Image
from spikecore.isa import (
    HALT_WORD,
    HOST_CORE,
    CoreImage,
    FanoutEntry,
    Instruction,
    NeuronParams,
    Opcode,
    TraceKind,
    encode,
)
from spikecore.rtl.trace_port import SignatureUnit
from spikecore.signature import cycle_record_counts, cycle_signatures
from spikecore.trace import TRACE_DTYPE
from spikecore.verif.crosscheck import RtlMismatch, compare_runs, crosscheck
from spikecore.verif.random_program import random_image
from spikecore.verif.sim_host import run_rtl
from spikecore.verif.trace_decode import TraceDecoder, decode_history

pytestmark = pytest.mark.rtl

ACC, SPIKE, EVENT, DROP, OUT, SYN = (int(k) for k in list(TraceKind)[:6])   # one chip's kinds
HALT = HALT_WORD
CFG4 = ChipConfig(cores=4, neurons=4, weight_bytes=16, imem_depth=8, event_depth=2, fanout_depth=8)


def routing_image() -> Image:
    """Core 0 and core 3 fire into core 2 and the host; core 2 accumulates what arrives; core 1 halts."""
    fire_binary = encode(Instruction(Opcode.FIRE, neuron=0, count=1))
    fire_graded = encode(Instruction(Opcode.FIRE, neuron=0, count=1, graded=True, shift=2))
    accumulate = encode(Instruction(Opcode.ACC, neuron=0, count=1, wbase=0))
    return Image(CFG4, {
        0: CoreImage(program=[fire_binary, HALT],
                     neurons=[NeuronParams(threshold=0, init=1, fanout_start=0, fanout_count=2)],
                     fanout=[FanoutEntry(2, 1), FanoutEntry(HOST_CORE, 3)]),
        2: CoreImage(program=[accumulate, HALT], weights=[2, 3]),
        3: CoreImage(program=[fire_graded, HALT],
                     neurons=[NeuronParams(threshold=1, init=40, fanout_start=0, fanout_count=3)],
                     fanout=[FanoutEntry(2, 0), FanoutEntry(2, 0), FanoutEntry(HOST_CORE, 5)]),
    })


def test_spikes_cross_the_router_in_source_order_with_drops_and_host_outputs():
    # Step 0 (C_0 = 0). Core 0: FIRE issues on 0, n0 (1 >= 0) fires on 1 (payload 1), pushes on 2, 3, HALT on 4:
    # 5 cycles. Core 1: HALT, 1 cycle. Core 2: ACC with an empty buffer on 0, HALT on 1: 2 cycles. Core 3: FIRE
    # on 0, n0 (40 >= 1) fires on 1 with graded payload (40 + 2) >> 2 = 10, pushes on 2, 3, 4, HALT on 5: 6 cycles.
    # E_0 = 6, barrier on 6, deliveries on 7..11: core 0's queue, then core 3's (ascending source):
    #   7 EVENT core 2 axon 1 payload 1 | 8 OUT core 0 axon 3 | 9 EVENT core 2 axon 0 payload 10
    #   10 DROP core 2 axon 0 (event_depth 2: full) | 11 OUT core 3 axon 5 payload 10.      C_1 = 12.
    # Step 1: core 2's ACC issues on 12 and MACs its two events (axon 1, payload 1), (axon 0, payload 10):
    #   13: n0 = 0 + 1 * weight[1] = 3;   14: n0 = 3 + 10 * weight[0] = 3 + 20 = 23.
    # The FIREs repeat 12 cycles later; deliveries on 19..23; drops of core 2 reach 2.
    result = crosscheck(routing_image(), steps=2)
    step0 = [(1, 0, SPIKE, 0, 1), (1, 3, SPIKE, 0, 10),
             (7, 2, EVENT, 1, 1), (8, 0, OUT, 3, 1), (9, 2, EVENT, 0, 10), (10, 2, DROP, 0, 10), (11, 3, OUT, 5, 10)]
    step1 = [(13, 0, SPIKE, 0, 1), (13, 2, ACC, 0, 3), (13, 3, SPIKE, 0, 10), (14, 2, ACC, 0, 23),
             (19, 2, EVENT, 1, 1), (20, 0, OUT, 3, 1), (21, 2, EVENT, 0, 10), (22, 2, DROP, 0, 10), (23, 3, OUT, 5, 10)]
    assert [tuple(int(v) for v in r) for r in result.rtl.trace.tolist()] == step0 + step1
    assert result.rtl.step_starts == [0, 12]
    assert result.rtl.outputs == [(0, 0, 3, 1), (0, 3, 5, 10), (1, 0, 3, 1), (1, 3, 5, 10)]
    assert result.rtl.drops.tolist() == [0, 0, 2, 0]
    assert result.rtl.membranes[2, 0] == 23


@pytest.mark.parametrize(("cores", "seeds"), [(1, range(0, 10)), (1, range(10, 20)), (4, range(0, 4)),
                                              (4, range(4, 8)), (4, range(8, 12))])
def test_random_images_match_the_golden_model(cores, seeds):
    compared = 0
    kinds = np.zeros(len(TraceKind), dtype=np.int64)
    for seed in seeds:
        image, stimulus, steps = random_image(seed, ChipConfig(cores=cores))
        result = crosscheck(image, stimulus, steps, allow_empty=True)   # a HALT-only image is a valid case
        compared += result.records
        kinds += np.bincount(result.golden.trace["kind"], minlength=len(TraceKind))
    assert compared > 0, f"{cores} cores, seeds {list(seeds)}: no record was compared"
    assert kinds[ACC] > 0 and kinds[SPIKE] > 0 and kinds[EVENT] + kinds[OUT] > 0 and kinds[SYN] > 0


# --- the comparison itself must be able to fail ---------------------------------------------------------


def test_crosscheck_refuses_a_run_without_records():
    with pytest.raises(RtlMismatch, match="no trace record was compared"):
        crosscheck(Image(CFG4), steps=1)


def test_crosscheck_reports_a_wrong_record_a_missing_record_and_a_wrong_signature():
    image = routing_image()
    golden = run(image, steps=1)
    rtl = run_rtl(image, steps=1)
    assert compare_runs(golden, rtl) == 7

    wrong = rtl.trace.copy()
    wrong[2]["value"] += 1
    with pytest.raises(RtlMismatch, match=r"EVENT mismatch, DUT: cycle 7 core 2 EVENT axon=1 value=2"):
        compare_runs(golden, dataclasses.replace(rtl, trace=wrong))
    with pytest.raises(RtlMismatch, match="record count mismatch, DUT: 6 expected: 7"):
        compare_runs(golden, dataclasses.replace(rtl, trace=rtl.trace[:-1]))
    signatures = rtl.signatures.copy()
    signatures[5] ^= 1
    with pytest.raises(RtlMismatch, match="signature mismatch, DUT: cycle 5"):
        compare_runs(golden, dataclasses.replace(rtl, signatures=signatures))


# --- signatures ------------------------------------------------------------------------------------


def test_run_signatures_and_history_equal_the_reference():
    # The routing image runs 24 cycles in two steps: every per-cycle signature and record count from the
    # sig_* ports equals spikecore/signature.py on the golden trace; the history holds the last 24 newest first.
    result = crosscheck(routing_image(), steps=2)
    trace = result.golden.trace
    assert result.rtl.cycles == 24
    assert result.rtl.signatures.tolist() == cycle_signatures(trace, 0, 24).tolist()
    assert result.rtl.record_counts.tolist() == cycle_record_counts(trace, 0, 24).tolist()
    assert result.rtl.history[:24].tolist() == cycle_signatures(trace, 0, 24)[::-1].tolist()
    assert result.rtl.history[24:].tolist() == [0] * 8
    assert result.rtl.sig_records == len(trace) == 16


def _random_cycle_records(rng: random.Random, cores: int) -> list[tuple[int, int, int, int]]:
    """Records one cycle of the trace port can carry: per core at most one ACC and one SPIKE, one router record."""
    records = []
    for core in range(cores):
        if rng.random() < 0.6:
            records.append((core, ACC, rng.randrange(256), rng.randrange(-(1 << 31), 1 << 31)))
        if rng.random() < 0.4:
            records.append((core, SPIKE, rng.randrange(256), rng.randrange(-128, 128)))
    if rng.random() < 0.7:
        kind = rng.choice([EVENT, DROP, OUT])
        records.append((rng.choice([*range(cores), HOST_CORE - 1]), kind, rng.randrange(256), rng.randrange(-128, 128)))
    return records


def test_signature_unit_equals_the_reference_on_dense_random_records():
    # Five cores' worth of records in every cycle, with idle (not counted) cycles in between that must not
    # shift the history; 48 counted cycles, so the history has wrapped past its 32 entries.
    cores, counted = 5, 48
    rng = random.Random(7)
    decoder = TraceDecoder(cores)
    per_cycle = [_random_cycle_records(rng, cores) for _ in range(counted)]
    trace = np.array([(c, core, kind, index, value) for c, records in enumerate(per_cycle)
                      for core, kind, index, value in records], dtype=TRACE_DTYPE)
    trace = np.sort(trace, order=["cycle", "core", "kind"])      # the trace order of docs/spec.md §6
    unit = SignatureUnit(cores)
    seen = {}

    async def testbench(ctx):
        for cycle, records in enumerate(per_cycle):
            raw = decoder.encode(cycle, records)
            assert decoder.decode([raw]).tolist() == trace[trace["cycle"] == cycle].tolist()
            ctx.set(unit.trace.as_value(), raw)
            await ctx.tick()
            seen[cycle] = (ctx.get(unit.valid), ctx.get(unit.cycle), ctx.get(unit.value), ctx.get(unit.count))
            if cycle % 5 == 4:   # an idle cycle: active = 0, nothing signed
                ctx.set(unit.trace.as_value(), decoder.encode(cycle + 1, [], active=False))
                await ctx.tick()
                assert ctx.get(unit.valid) == 0
        seen["history"] = decode_history(ctx.get(unit.history.as_value()))
        seen["cycles"], seen["records"] = ctx.get(unit.cycles), ctx.get(unit.records)

    sim = Simulator(unit)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()

    expected = cycle_signatures(trace, 0, counted)
    counts = cycle_record_counts(trace, 0, counted)
    for cycle in range(counted):
        assert seen[cycle] == (1, cycle, int(expected[cycle]), int(counts[cycle])), f"cycle {cycle}"
    assert seen["history"].tolist() == expected[::-1][:32].tolist()
    assert seen["cycles"] == counted
    assert seen["records"] == len(trace) > 4 * counted
