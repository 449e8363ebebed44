"""The configuration bus of the RTL array: every memory written and read back, array registers, protocol.

Expected memory contents are built here from the image by the rules of docs/spec.md §1.2 and §7 (a
program is followed by HALT words, weights past those listed are 0, unlisted neurons take the defaults,
fan-out entries past those listed are 0), not with the driver's own padding helper.
"""

from __future__ import annotations

import random

import pytest

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.isa import (
    ACC_MAX,
    HALT_WORD,
    HOST_CORE,
    IMAGE_VERSION,
    FanoutEntry,
    Instruction,
    NeuronParams,
    Opcode,
    encode,
)
from spikecore.rtl.layout import ArrayRegister, ConfigSpace, CoreStatus, config_address
from spikecore.verif.random_program import random_image
from spikecore.verif.sim_host import SimHost, simulate

pytestmark = pytest.mark.rtl

CFG = ChipConfig(cores=2, neurons=8, weight_bytes=32, imem_depth=16, event_depth=4, fanout_depth=8)
HALT = HALT_WORD


def test_loading_an_image_and_reading_every_memory_back_gives_its_contents():
    image, _, _ = random_image(5, CFG)      # two sections, both with weights, neurons and fan-out entries
    assert all(section.weights and section.neurons and section.fanout for section in image.cores.values())
    seen = {}

    async def scenario(host: SimHost) -> None:
        await host.load(image)
        seen["image"] = await host.read_image()
        seen["membranes"] = await host.membranes()
        seen["status"] = [await host.status(which) for which in CoreStatus]

    simulate(CFG, scenario)
    for core in range(CFG.cores):
        section = image.core(core)
        back = seen["image"].cores[core]
        assert back.program == section.program + [HALT] * (CFG.imem_depth - len(section.program))
        assert back.weights == section.weights + [0] * (CFG.weight_bytes - len(section.weights))
        assert back.neurons == section.neurons + [NeuronParams()] * (CFG.neurons - len(section.neurons))
        assert back.fanout == section.fanout + [FanoutEntry(0, 0)] * (CFG.fanout_depth - len(section.fanout))
        # load() ends with a state reset: membranes hold init, every counter is zero.
        assert seen["membranes"][core].tolist() == [n.init for n in back.neurons]
    assert all(status.tolist() == [0] * CFG.cores for status in seen["status"])


def test_every_space_round_trips_arbitrary_words():
    # Random words in every writable space of both cores, each one masked to the width the space stores:
    # IMEM 32 bits, WEIGHT 8 bits read back sign-extended, PARAM 6 x 32 bits per neuron at 8n .. 8n+5 (words
    # 8n+6, 8n+7 read 0, spec §8.3), FANOUT 20 bits (core, axon, 4-bit chip, §13), MEMBRANE 32 bits, PERIOD 8 bits.
    rng = random.Random(11)
    depth = {ConfigSpace.IMEM: CFG.imem_depth, ConfigSpace.WEIGHT: CFG.weight_bytes,
             ConfigSpace.PARAM: 8 * CFG.neurons, ConfigSpace.FANOUT: CFG.fanout_depth,
             ConfigSpace.MEMBRANE: CFG.neurons, ConfigSpace.PERIOD: 1}
    written = {(core, space, index): rng.getrandbits(32)
               for core in range(CFG.cores) for space, n in depth.items() for index in range(n)}

    def expected(space, index, word):
        if space == ConfigSpace.PARAM and index % 8 >= 6:
            return 0
        if space == ConfigSpace.WEIGHT:
            byte = word & 0xFF
            return byte | 0xFFFF_FF00 if byte & 0x80 else byte
        if space == ConfigSpace.PERIOD:
            return word & 0xFF          # the period_phase byte
        return word & 0xF_FFFF if space == ConfigSpace.FANOUT else word

    addresses = [config_address(core, space, index) for core, space, index in written]
    seen = {}

    async def scenario(host: SimHost) -> None:
        await host.write_words(list(zip(addresses, written.values(), strict=True)))
        seen["words"] = await host.read_words(addresses)

    simulate(CFG, scenario)
    assert seen["words"] == [expected(space, index, word) for (_, space, index), word in written.items()]


def test_array_registers_describe_the_build():
    seen = {}

    async def scenario(host: SimHost) -> None:
        for register in ArrayRegister:
            seen[register] = await host.read_array_register(register)
        await host.step()   # HALT everywhere: 1 EXEC cycle + the barrier
        seen["cycle"] = await host.cycle()

    simulate(CFG, scenario)
    assert seen[ArrayRegister.MAGIC] == int.from_bytes(b"SPKC", "little")
    assert seen[ArrayRegister.VERSION] == IMAGE_VERSION
    assert [seen[r] for r in (ArrayRegister.CORES, ArrayRegister.NEURONS, ArrayRegister.WEIGHT_BYTES,
                              ArrayRegister.IMEM_DEPTH, ArrayRegister.EVENT_DEPTH, ArrayRegister.FANOUT_DEPTH)] \
        == [2, 8, 32, 16, 4, 8]
    assert seen[ArrayRegister.BUSY] == 0
    assert seen["cycle"] == 2


def test_reset_contents_are_the_empty_image():
    # Before any load: every instruction is HALT, weights and fan-out are 0, neurons have default params.
    seen = {}

    async def scenario(host: SimHost) -> None:
        seen["image"] = await host.read_image()

    simulate(CFG, scenario)
    for core in range(CFG.cores):
        back = seen["image"].cores[core]
        assert back.program == [HALT] * CFG.imem_depth
        assert back.weights == [0] * CFG.weight_bytes
        assert back.neurons == [NeuronParams(threshold=ACC_MAX)] * CFG.neurons
        assert back.fanout == [FanoutEntry(0, 0)] * CFG.fanout_depth


def test_an_image_for_another_chip_is_refused():
    image, _, _ = random_image(0, ChipConfig(cores=2, neurons=16, weight_bytes=32, imem_depth=16, event_depth=4,
                                             fanout_depth=8))

    async def scenario(host: SimHost) -> None:
        with pytest.raises(SpikeCoreError, match="does not match the RTL"):
            await host.load(image)

    simulate(CFG, scenario)


def test_reads_answer_one_cycle_later_and_writes_are_ignored_while_busy():
    # A core running LEAK over 8 neurons is busy for 1 + 8 + 1 cycles plus the barrier; a write to its weight 0
    # during the step must not land. A read answers on the cycle after the strobe, and only then.
    leak_all = encode(Instruction(Opcode.LEAK, neuron=0, count=8))
    seen = {}

    async def scenario(host: SimHost) -> None:
        ctx, dut = host.ctx, host.dut
        await host.write_words([(config_address(0, ConfigSpace.IMEM, 0), leak_all),
                                (config_address(0, ConfigSpace.IMEM, 1), HALT)])
        ctx.set(dut.step, 1)
        await ctx.tick()
        ctx.set(dut.step, 0)
        assert ctx.get(dut.busy)
        await host.write_words([(config_address(0, ConfigSpace.WEIGHT, 0), 0x55)])
        while ctx.get(dut.busy):
            await ctx.tick()
        assert not ctx.get(dut.cfg_rvalid)
        ctx.set(dut.cfg_addr, config_address(0, ConfigSpace.IMEM, 0))
        ctx.set(dut.cfg_read, 1)
        await ctx.tick()
        ctx.set(dut.cfg_read, 0)
        seen["data"] = (ctx.get(dut.cfg_rvalid), ctx.get(dut.cfg_rdata))
        await ctx.tick()
        seen["after"] = ctx.get(dut.cfg_rvalid)
        seen["weight"] = await host.read(0, ConfigSpace.WEIGHT, 0)
        seen["host"] = await host.read(HOST_CORE, ConfigSpace.IMEM, int(ArrayRegister.CORES))

    simulate(CFG, scenario)
    assert seen["data"] == (1, leak_all)
    assert seen["after"] == 0
    assert seen["weight"] == 0
    assert seen["host"] == 2


def test_injection_appends_in_order_and_reports_refusal():
    seen = {}

    async def scenario(host: SimHost) -> None:
        for axon, payload in [(3, -1), (200, 127), (0, -128), (9, 5)]:
            await host.inject(1, axon, payload)
        seen["events"] = await host.events(1)
        with pytest.raises(SpikeCoreError, match="core 1 input buffer is full"):
            await host.inject(1, 1, 1)
        with pytest.raises(SpikeCoreError, match=r"core must be 0\.\.1"):
            await host.inject(2, 1, 1)
        seen["other"] = await host.events(0)
        # The hardware itself refuses a core outside the array (the driver checks first, so drive the ports).
        ctx, dut = host.ctx, host.dut
        ctx.set(dut.inj_valid, 1)
        ctx.set(dut.inj_core, 2)
        await ctx.tick()
        ctx.set(dut.inj_valid, 0)
        seen["flags"] = (ctx.get(dut.inj_accepted), ctx.get(dut.inj_refused))

    simulate(CFG, scenario)
    assert seen["events"] == [(3, -1), (200, 127), (0, -128), (9, 5)]
    assert seen["other"] == []
    assert seen["flags"] == (0, 1)


def test_commands_are_refused_or_ignored_in_every_busy_cycle():
    # During a step (HALT everywhere: 1 EXEC cycle + the barrier, then one drain cycle in which the last
    # records reach the trace port) every injection is refused and every step / reset_state strobe ignored,
    # up to and including the drain cycle: afterwards only one step has run and no event was appended.
    seen = {"busy_cycles": 0}

    async def scenario(host: SimHost) -> None:
        ctx, dut = host.ctx, host.dut
        ctx.set(dut.step, 1)
        await ctx.tick()
        while ctx.get(dut.busy):
            seen["busy_cycles"] += 1
            for signal, value in ((dut.inj_valid, 1), (dut.inj_core, 0), (dut.step, 1), (dut.reset_state, 1)):
                ctx.set(signal, value)
            await ctx.tick()
            assert (ctx.get(dut.inj_accepted), ctx.get(dut.inj_refused)) == (0, 1)
        for signal in (dut.inj_valid, dut.step, dut.reset_state):
            ctx.set(signal, 0)
        seen["done"] = ctx.get(dut.done)
        seen["cycle"] = await host.cycle()
        seen["events"] = await host.events(0)

    simulate(CFG, scenario)
    assert seen["busy_cycles"] == 3
    assert seen["done"] == 1
    assert seen["cycle"] == 2
    assert seen["events"] == []
