"""Edge board programs of the regression's multi-chip seeds (docs/spec.md §4.7-4.8, §13): small hand-built
programs that reach, in one run each, the link and split-neuron bins random boards reach only by luck.

- :func:`flood_every_chip` (3 chips or more): every link fills (``LINK_FULL``) in turn, every direction carries
  events, and a last step uses no link (the link coverpoint of
  :func:`~spikecore.verif.random_board.link_bins`, all of it);
- :func:`split_across_chips` (2 chips or more): partial sums (FIRE ``wide=1``) within 24 bits and clipped
  high and low cross a link to a merging core whose MERGE adds them, clips high and low, and passes an event
  outside its range (every bin of the ``fan_in_split`` coverpoint), with a step that uses no link.

Both keep every host event injectable (no input buffer is ever full), so any host of the RTL board runs them.

>>> from spikecore.config import ChipConfig
>>> image, stimulus, steps = split_across_chips(ChipConfig(cores=1, neurons=8, chips=2))
>>> steps, sorted(image.cores), image.cores[0].fanout[0].chip, image.cores[1].fanout[0].chip
(3, [0, 1], 1, 0)
"""

from __future__ import annotations

from spikecore import isa
from spikecore.config import ChipConfig
from spikecore.image import Image
from spikecore.isa import HALT_WORD, CoreImage, FanoutEntry, Instruction, NeuronParams, Opcode, ResetMode, encode
from spikecore.stimulus import Stimulus

#: A wide partial sum within int24 but beyond int8 (so MERGE adds a payload no 8-bit event can carry).
WIDE_FITS = 1000
#: Margin of the initial membranes from the limits they are meant to cross.
_MARGIN = 5


def flood_every_chip(config: ChipConfig) -> tuple[Image, Stimulus, int]:
    """An edge program that fills the links into every chip in turn and ends with a step that uses no link
    (``config.chips`` ≥ 3, ``config.neurons`` ≥ chips); its image, stimulus and ``chips + 1`` steps.

    Every core of every chip runs ``MERGE 0,chips; FIRE 0,chips reset=always; HALT`` (threshold 1, reset 0).
    In step ``d`` < ``chips`` the host injects ``(axon d, payload 1)`` into every core of every chip but ``d``, so
    neuron ``d`` of those cores fires in step ``d`` alone and sends its ``K`` fan-out entries to the same core
    of chip ``d``, axons ``chips .. chips+K-1`` (``K = min(fanout_depth, event_depth - 1) // (chips - 1)``:
    every arrival fits the buffer beside one host event, so no event is dropped or skipped). ``chips - 1``
    routers push into chip ``d`` one event a cycle while chip ``d`` takes one arrival a cycle, serving its
    links in turn, so the links into ``d`` fill (``LINK_FULL``; on 4 chips this takes 2 cores a chip: 5 events
    a core). The arrivals lie outside MERGE's range and change nothing; in step ``chips`` the host injects
    nothing and no neuron fires: the link-idle step."""
    chips = config.chips
    count = min(config.fanout_depth, config.event_depth - 1) // (chips - 1)
    program = [encode(Instruction(Opcode.MERGE, neuron=0, count=chips)),
               encode(Instruction(Opcode.FIRE, neuron=0, count=chips, reset=ResetMode.ALWAYS)), HALT_WORD]
    cores, stimulus = {}, Stimulus()
    for chip in range(chips):
        dests = [d for d in range(chips) if d != chip]
        for core in range(config.cores):
            neurons = [NeuronParams(threshold=1)] * chips
            fanout = []
            for d in dests:
                neurons[d] = NeuronParams(threshold=1, fanout_start=len(fanout), fanout_count=count)
                fanout += [FanoutEntry(core, chips + k, d) for k in range(count)]
            cores[chip * config.cores + core] = CoreImage(program=list(program), neurons=neurons, fanout=fanout)
            for d in dests:
                stimulus.add(d, chip * config.cores + core, d, 1)
    return Image(config, cores), stimulus, chips + 1


def split_across_chips(config: ChipConfig) -> tuple[Image, Stimulus, int]:
    """An edge program of split neurons whose partial sums cross links (``config.chips`` ≥ 2, ``neurons`` ≥ 7);
    its image, empty stimulus and 3 steps.

    Core 0 of chip ``a`` sends to core 0 of chip ``(a + 1) % chips`` (so on 2 chips both directions, pushed in
    the same cycles: the link ``busy`` bin). It runs ``MERGE 0,3; FIRE 4,3 shift=0 reset=always graded=1
    wide=1; HALT`` with period 2 (steps 0 and 2 run, step 1 uses no link). Partial-sum neurons (threshold
    ``ACC_MIN``: they always fire; reset = init, so every run sends the same): 4 at ``WIDE_PAYLOAD_MAX + 5``
    (clipped high to the int24 limit) to axon 0, 5 at ``WIDE_PAYLOAD_MIN - 5`` (clipped low) to axon 1, 6 at
    :data:`WIDE_FITS` to axon 2 and axon 7 (outside the MERGE range). Merging neurons: 0 at ``ACC_MAX - 5``
    (the int24 maximum added saturates it high), 1 at ``ACC_MIN + 5`` (low), 2 at 0 (adds a payload beyond int8).
    Step 0's MERGE finds an empty buffer; step 2's adds step 0's arrivals, which waited in the buffer through
    step 1."""
    wide = [NeuronParams(threshold=isa.ACC_MIN, reset=v, init=v, fanout_start=start, fanout_count=n)
            for v, start, n in ((isa.WIDE_PAYLOAD_MAX + _MARGIN, 0, 1), (isa.WIDE_PAYLOAD_MIN - _MARGIN, 1, 1),
                                (WIDE_FITS, 2, 2))]
    merging = [NeuronParams(init=isa.ACC_MAX - _MARGIN), NeuronParams(init=isa.ACC_MIN + _MARGIN), NeuronParams()]
    program = [encode(Instruction(Opcode.MERGE, neuron=0, count=3)),
               encode(Instruction(Opcode.FIRE, neuron=4, count=3, shift=0, reset=ResetMode.ALWAYS, graded=True,
                                  wide=True)), HALT_WORD]
    cores = {}
    for chip in range(config.chips):
        to = (chip + 1) % config.chips
        cores[chip * config.cores] = CoreImage(
            program=list(program), neurons=[*merging, NeuronParams(), *wide],
            fanout=[FanoutEntry(0, axon, to) for axon in (0, 1, 2, 7)], period=2, phase=0)
    return Image(config, cores), Stimulus(), 3
