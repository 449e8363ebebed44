"""Random multi-chip programs and link coverage for the golden board (docs/spec.md §13).

:func:`random_board` draws one random program per chip (:func:`~spikecore.verif.random_program.random_image`)
and sends a share of every chip's core-to-core fan-out entries to another chip, so the links carry traffic (in
about :data:`QUIET_SHARE` of the seeds with link-quiet odd steps; :mod:`spikecore.verif.board_edges` holds the
hand-built programs that reach the rarer bins on purpose);
:func:`link_coverage` says which link behaviours a board run exercised. The programs are checked golden against
golden (cycle-accurate board against functional board, tests/verif/test_random_board.py) and RTL board against
the golden board (tests/rtl/test_rtl_board.py, the multi-chip seeds of ``make regress``); :func:`injectable`
gives the stimulus a host of the RTL can inject.

Link coverpoint (bins per board of ``chips`` chips):

- ``idle``: a step whose DELIVER used no link; ``busy``: a step in which two links carried events in one cycle;
- ``a->b`` for every ordered pair: an event crossed link ``a -> b`` (a ``LINK`` record);
- ``a->b/full`` for every ordered pair, on boards of 3 chips or more: the router of ``a`` stalled on a full
  ``a -> b`` (a ``LINK_FULL`` record). With two chips a link cannot fill: its one receiver takes an arrival
  every cycle once the latency has passed, which frees a slot before the sender's next push
  (``LINK_QUEUE_DEPTH`` > ``LINK_LATENCY_CYCLES``).
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np

from spikecore.config import ChipConfig
from spikecore.golden.board import CycleBoard, FunctionalBoard
from spikecore.image import Image
from spikecore.isa import (
    HALT_WORD,
    HOST_CORE,
    LINK_LATENCY_CYCLES,
    LINK_QUEUE_DEPTH,
    CoreImage,
    FanoutEntry,
    Instruction,
    NeuronParams,
    Opcode,
    TraceKind,
    encode,
)
from spikecore.stimulus import Stimulus
from spikecore.trace import BOARD_TRACE_DTYPE
from spikecore.verif.random_program import random_image

#: Share of core-to-core fan-out entries sent to another chip.
REMOTE_SHARE = 0.7
#: Share of the boards with link-quiet steps (:func:`random_board`'s ``quiet``).
QUIET_SHARE = 0.3


def random_board(seed: int, config: ChipConfig, *, quiet: bool | None = None,
                 **knobs: object) -> tuple[Image, dict[int, list], int]:
    """A valid random board image for ``config`` (``chips`` ≥ 1), its events per step (global core ids) and its
    number of steps. ``knobs`` go to :func:`random_image` for every chip.

    ``quiet`` (``None``: drawn, true for about :data:`QUIET_SHARE` of the seeds, from a generator of its own so
    every other draw of the seed stays as it was): every core with a fan-out entry to another chip gets period
    2, phase 0, and the run at least 2 steps, so each odd step uses no link (the link ``idle`` bin)."""
    rng = random.Random(seed)
    one = config.one_chip
    # Half the boards flood: every chip sends all its core-to-core entries to one victim chip, whose incoming links
    # then compete for its router and fill (the LINK_FULL bins).
    victim = rng.randrange(config.chips) if rng.random() < 0.5 else None

    def remote(chip: int) -> int:
        if victim is not None and victim != chip:
            return victim
        return rng.choice([c for c in range(config.chips) if c != chip])

    cores: dict[int, object] = {}
    events: dict[int, list] = {}
    steps = 1
    for chip in range(config.chips):
        image, stimulus, chip_steps = random_image(rng.randrange(1 << 30), one, **knobs)
        steps = max(steps, chip_steps)
        for core, section in image.cores.items():
            share = 1.0 if victim is not None else REMOTE_SHARE
            # an entry that stays on the chip names its own chip (the host's entries keep chip 0, §13)
            fanout = [entry if entry.core == HOST_CORE
                      else replace(entry, chip=chip) if rng.random() >= share or config.chips == 1
                      else FanoutEntry(entry.core, entry.axon, remote(chip))
                      for entry in section.fanout]
            cores[chip * config.cores + core] = replace(section, fanout=fanout)
        for step, evs in stimulus.events.items():
            events.setdefault(step, []).extend((chip * config.cores + core, axon, payload)
                                               for core, axon, payload in evs)
    if quiet is None:
        quiet = random.Random(f"quiet:{seed}").random() < QUIET_SHARE
    if quiet and config.chips > 1:
        # Every core that sends over a link runs in even steps only, so every odd step's DELIVER carries on-chip
        # and host traffic alone: the link-idle bin. Its buffer keeps what arrives meanwhile (§2).
        for core_id, section in cores.items():
            if any(not e.to_host and e.chip != core_id // config.cores for e in section.fanout):
                section.period, section.phase = 2, 0
        steps = max(steps, 2)
    return Image(config, cores), events, steps


def link_flood(config: ChipConfig, source: int, dest: int) -> Image:
    """An edge program that fills link ``source -> dest`` (``config.chips`` ≥ 3): ``source`` and one other chip
    each send ``K = min(fanout_depth, event_depth // 2)`` events per step to ``dest``'s core 0 (no drops), whose
    router alternates between the two links (round robin), so each link gets one take per two pushes and fills."""
    other = next(c for c in range(config.chips) if c not in (source, dest))
    count = min(config.fanout_depth, config.event_depth // 2)
    fire = [encode(Instruction(Opcode.FIRE, neuron=0, count=1)), HALT_WORD]
    neuron = NeuronParams(threshold=1, init=1, fanout_count=count)   # fires every step, reset none
    cores = {chip * config.cores: CoreImage(program=list(fire), neurons=[neuron],
                                            fanout=[FanoutEntry(0, axon, dest) for axon in range(count)])
             for chip in (source, other)}
    return Image(config, cores)


def injectable(image: Image, events: dict[int, list], steps: int) -> Stimulus:
    """The :class:`Stimulus` of a :func:`random_board` program without the host events :func:`run_random` skips
    (those for a full input buffer, found on the functional board), so that any host of the board, which
    refuses such an event, injects exactly what the golden run did."""
    board = FunctionalBoard(image)
    stimulus = Stimulus()
    for step in range(steps):
        for core, axon, payload in events.get(step, []):
            chip, local = divmod(core, image.config.cores)
            if board.chips[chip].buffer_fill[local] < image.config.event_depth:
                board.inject(core, axon, payload)
                stimulus.add(step, core, axon, payload)
        board.step()
    return stimulus


def run_random(image: Image, events: dict[int, list], steps: int, cycle_accurate: bool = True):
    """Run a :func:`random_board` program: like ``run_board``, but a host event for a full input buffer is
    skipped (the per-chip stimuli were sized without the events other chips now send). Returns the board, its
    trace (``None`` when not ``cycle_accurate``) and the number of events skipped."""
    board = (CycleBoard if cycle_accurate else FunctionalBoard)(image)
    traces, skipped = [], 0
    for step in range(steps):
        for core, axon, payload in events.get(step, []):
            chip, local = divmod(core, image.config.cores)
            if board.chips[chip].buffer_fill[local] >= image.config.event_depth:
                skipped += 1
                continue
            board.inject(core, axon, payload)
        records = board.step()
        if records is not None:
            traces.append(records)
    trace = (np.concatenate(traces) if traces else np.zeros(0, dtype=BOARD_TRACE_DTYPE)) if cycle_accurate else None
    return board, trace, skipped


def link_bins(config: ChipConfig) -> list[str]:
    """Every bin of the link coverpoint of a board of ``config.chips`` chips (none for one chip)."""
    if config.chips < 2:
        return []
    pairs = [(a, b) for a in range(config.chips) for b in range(config.chips) if a != b]
    bins = ["idle", "busy", *(f"{a}->{b}" for a, b in pairs)]
    if config.chips >= 3:
        bins += [f"{a}->{b}/full" for a, b in pairs]
    return bins


def link_coverage(trace: np.ndarray, step_starts: list[int], config: ChipConfig) -> dict[str, int]:
    """Hits of every :func:`link_bins` bin in a board trace (``BOARD_TRACE_DTYPE``) whose steps started on
    ``step_starts`` (a board's ``step_starts``, the run's last step included)."""
    hits = dict.fromkeys(link_bins(config), 0)
    if not hits:
        return hits
    link = trace[trace["kind"] == int(TraceKind.LINK)]
    full = trace[trace["kind"] == int(TraceKind.LINK_FULL)]
    for a, b in zip(link["chip"].tolist(), link["index"].tolist(), strict=True):
        hits[f"{a}->{b}"] += 1
    for a, b in zip(full["chip"].tolist(), full["index"].tolist(), strict=True):
        hits[f"{a}->{b}/full"] += 1
    step_of = np.searchsorted(np.asarray(step_starts), link["cycle"], side="right") - 1
    used = set(step_of.tolist())
    hits["idle"] = sum(1 for s in range(len(step_starts)) if s not in used)
    cycles, counts = np.unique(link["cycle"], return_counts=True)
    hits["busy"] = int((counts >= 2).sum()) if len(cycles) else 0
    return hits


assert LINK_QUEUE_DEPTH > LINK_LATENCY_CYCLES, "link_bins assumes a lone link cannot fill (see the module doc)"
