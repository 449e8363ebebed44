"""Placement: the quantised layers onto cores (:class:`QuantGraph` → :class:`PlacedProgram`).

Rules (docs/spec.md §1.2, §4.1)
-------------------------------
- **One layer per core.** ACC applies every buffered event to the neuron range it names, so a core's
  events must all be inputs of the same neurons; each core holds a contiguous slice of one layer.
- **Axons are compacted per core.** A core needs a weight row only for the sources its neurons have a
  non-zero weight from. ``axons`` lists those sources in ascending order and a source's events reach the
  core on its position in that list (for a dense layer that is simply the source's index in its layer; a
  Conv2d slice needs only its receptive field). Sources the slice does not read never send it events.
- **Capacity per core**: ``count ≤ neurons``; the weight block (rows × count, row-major, at address 0)
  ``≤ weight_bytes``; rows ``≤ 256`` (axon is 8 bits) and ``≤ event_depth`` (every source may fire in
  the same step, and each fires at most once per step); fan-out entries ``≤ fanout_depth`` (one entry
  per neuron per next-layer core that reads it; a single FIRE per core makes this also the out-queue
  bound of §1.2); program words ``≤ imem_depth``.
- **Bias axon** (rate-mode hidden layers): the layer's extra source ``in_features``; a core whose
  neurons have a non-zero bias weight gets it as its last axon, fed by the host (``IOMap.bias_events``).
- **Dense input** (``QuantGraph.dense_input``, NIR graphs): every first-layer core reads every source of
  the layer, input feature ``i`` on axon ``i`` (zero weights included), so the image alone says where
  each input enters (:mod:`~spikecore.compiler.nir.export` reads it back that way) — when that takes no
  more cores than compacting; a convolution's receptive fields stay compacted.
- **Spikes to the host** (``QuantDense.to_host``, a NIR graph ending in spiking neurons): each output
  neuron gets one fan-out entry ``(HOST_CORE, its index in the layer)``.
- **Twins** (``QuantDense.twins``, NIR fine weights): a core holding neurons ``start .. start+c−1`` holds
  their twins as its neurons ``c .. 2c−1`` with the same parameters; a second ``ACC c, c`` reads the same
  weight block (no extra weight bytes) and a second FIRE (``graded=0``) emits payload 1. The program is
  ``[LEAK 0,2c] ACC 0,c ACC c,c FIRE 0,c FIRE c,c HALT``; a twin fans out to the axons of its own source
  index (``out + start + j``), and the host injects an input's twin payload on ``IOMap.fine_inputs``.
- **Recurrent layers** (``QuantDense.recurrent``, a NIR recurrent edge): the layer's own neurons are sources
  after its bias axons; each neuron gets one fan-out entry per core of its own layer that reads it, so a
  spike of step ``t`` is in that core's buffer at step ``t + 1`` (docs/spec.md §2, §11). The own fan-out
  depends on the layer's slicing, which is redone with it until it no longer changes.
- **CubaLIF** (``LEAK, SACC, SYN, FIRE``): SACC reads the same weight block as ACC would; twins get a
  second ``SACC c, c`` and ``SYN 0, 2c``.
- **Output-layer fan-in split**: the host reads the output membranes and can add them up, so a core may
  hold a neuron slice over one *group* of the sources (a partial sum; only the first group starts from the
  bias). It is used when the unsplit layer does not fit, or when it lets every source spike reach fewer
  output cores (the router delivers one event per cycle array-wide, so this is what the output layer
  costs), and only when no partial sum can saturate.
- **Hidden-layer fan-in split** (docs/spec.md §4.8, :mod:`~spikecore.compiler.fanin`): a hidden layer
  (graded or rate mode) whose neurons' inputs alone exceed a core gets, per neuron slice, one partial-sum core
  per source group (``ACC; FIRE wide=1``, neurons at threshold ``ACC_MIN``, init and reset 0, one fan-out
  entry each to the merging core, on the neuron's index there) and one merging core (the layer's schedule
  with ``MERGE`` for ``ACC``, the real neuron parameters and fan-out). Only when no running sum can leave
  int32; the layer then takes one step more (``QuantGraph.merged``). NIR layers split the same way, the
  output layer too (its merging cores fire to the host), except CubaLIF layers; with fine-weight twins the
  merging core holds the twins and each partial sum goes to the neuron's axon ``j`` and its twin's ``c + j``. A
  layer no
  split fits is refused with one error naming the layer, what one neuron needs and what a core has.

Board (docs/spec.md §13): on ``chips > 1`` the cores are numbered the same way over the board's global core
ids ``chip * cores + core``, so each layer fills the rest of a chip before spilling onto the next one and
consecutive layers share a chip where they fit: traffic stays on a chip where it can, and only spikes whose
reading core is on another chip take a link. A fan-out entry names the reading core's chip. A split layer's
merging core directly follows its own partial-sum cores on a board (:func:`_core_ids`), so a chip boundary
cuts at most one split group and the other groups' partial sums stay on their chip.

Slicing: layers are sliced from the output backwards (a layer's fan-out table size depends on how the
next layer is sliced). Each layer first takes the fewest cores a greedy fill allows, then, when that
still fits, an even split (balanced slices shorten the busiest core's ACC, which sets the step time).
Cores are numbered forwards, layer by layer, so events always arrive in ascending source order.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import numpy as np

from spikecore import isa
from spikecore.compiler import fanin
from spikecore.compiler.ir import IOMap, NirNeuron, PlacedCore, PlacedProgram, QuantDense, QuantGraph
from spikecore.config import ChipConfig, format_chip
from spikecore.errors import SpikeCoreError
from spikecore.isa import FanoutEntry, Instruction, NeuronParams, Opcode
from spikecore.wording import plural


@dataclass(frozen=True)
class Slice:
    """Neurons ``start .. start+count-1`` of a layer and the sources (ascending) this core reads for them.

    ``partial``: the core reads only a group of the neurons' sources (output-layer fan-in split); only the
    group with ``carries_bias`` starts from the bias, the others from 0.
    """

    start: int
    count: int
    axons: tuple[int, ...]
    partial: bool = False
    carries_bias: bool = True
    merge_core: int = -1      # a hidden partial-sum slice: index of its merging slice in the layer's merges


def partial_program(count: int) -> tuple[Instruction, ...]:
    """A partial-sum core's step (docs/spec.md §4.8): accumulate its group, send every partial sum wide, clear."""
    return (Instruction(Opcode.ACC, neuron=0, count=count, wbase=0),
            Instruction(Opcode.FIRE, neuron=0, count=count, shift=0, reset=isa.ResetMode.ALWAYS, graded=True,
                        wide=True),
            Instruction(Opcode.HALT))


def program_for(layer: QuantDense, count: int, merge: bool = False) -> tuple[Instruction, ...]:
    """The instructions each core of ``layer`` runs per step on its ``count`` neurons (and their twins);
    ``merge``: a merging core's (``MERGE`` adds the partial sums where the layer's schedule has ``ACC``)."""
    ops = []
    cell = layer.neuron
    for name in cell.schedule:
        if name == "ACC" and merge:   # the twins' partial sums arrive on their own axons (c + j)
            ops.append(Instruction(Opcode.MERGE, neuron=0, count=count * (2 if layer.twins else 1)))
        elif name in ("ACC", "SACC"):
            opcode = Opcode[name]
            ops.append(Instruction(opcode, neuron=0, count=count, wbase=0))
            if layer.twins:   # the twins read the same weight block
                ops.append(Instruction(opcode, neuron=count, count=count, wbase=0))
        elif name in ("LEAK", "SYN"):
            ops.append(Instruction(Opcode[name], neuron=0, count=count * (2 if layer.twins else 1)))
        else:
            ops.append(Instruction(Opcode.FIRE, neuron=0, count=count, shift=cell.shift, reset=cell.reset_mode,
                                   graded=cell.graded))
            if layer.twins:   # the same spikes with payload 1
                ops.append(Instruction(Opcode.FIRE, neuron=count, count=count, shift=0, reset=cell.reset_mode,
                                       graded=False))
    return (*ops, Instruction(Opcode.HALT))


def _sources(layer: QuantDense, dense: bool = False) -> list[np.ndarray]:
    """Per neuron, the ascending sources it has a non-zero weight from (the bias axon is the last source).

    ``dense``: every source, whatever the weight (a dense-input first layer)."""
    if dense:
        return [np.arange(layer.sources)] * layer.out_features
    return [np.flatnonzero(row) for row in layer.weight_rows()]


class _Fit:
    """Capacity checks of one candidate slice, with the message explaining a refusal."""

    def __init__(self, layer: QuantDense, config: ChipConfig, fanout: np.ndarray | None) -> None:
        self.layer, self.config, self.fanout = layer, config, fanout
        self.program_words = len(program_for(layer, 1))

    def problem(self, count: int, rows: int, fanout_entries: int) -> str | None:
        cfg = self.config
        if count * (2 if self.layer.twins else 1) > cfg.neurons:
            twins = " and their twins" if self.layer.twins else ""
            return f"{count} neurons{twins}, a core has {cfg.neurons}"
        if rows * count > cfg.weight_bytes:
            return f"{rows * count} weight bytes ({rows} inputs x {count} neurons), a core has {cfg.weight_bytes}"
        if rows > isa.AXON_MAX + 1:
            return f"{rows} inputs, an event addresses at most {isa.AXON_MAX + 1} axons"
        if rows > cfg.event_depth:
            return f"up to {rows} input events per step, event_depth is {cfg.event_depth}"
        if fanout_entries > cfg.fanout_depth:
            return f"{fanout_entries} fan-out entries, fanout_depth is {cfg.fanout_depth}"
        if self.program_words > cfg.imem_depth:
            return f"{self.program_words} program words, imem_depth is {cfg.imem_depth}"
        return None

    def fanout_of(self, start: int, stop: int) -> int:
        return 0 if self.fanout is None else int(self.fanout[start:stop].sum())


def _union(sources: list[np.ndarray], start: int, stop: int) -> tuple[int, ...]:
    if stop - start == 0:
        return ()
    return tuple(np.unique(np.concatenate(sources[start:stop])).tolist())


def slice_layer(layer: QuantDense, config: ChipConfig, fanout: np.ndarray | None, dense: bool = False,
                splittable: bool = False) -> list[Slice]:
    """Contiguous slices of ``layer`` that each fit one core; ``fanout[n]`` = fan-out entries neuron n needs.

    ``dense``: every slice reads every source of the layer (see ``QuantGraph.dense_input``); ``splittable``: an
    output layer the caller splits when it does not fit (a NIR one), so the refusal gives no hint of its own."""
    fit = _Fit(layer, config, fanout)
    sources = _sources(layer, dense)
    n = layer.out_features
    greedy: list[Slice] = []
    start = 0
    while start < n:
        stop, axons = start, ()
        while stop < n:
            candidate = tuple(sorted(set(axons) | set(sources[stop].tolist())))
            if fit.problem(stop + 1 - start, len(candidate), fit.fanout_of(start, stop + 1)) is not None:
                break
            stop, axons = stop + 1, candidate
        if stop == start:
            problem = fit.problem(1, len(sources[start]), fit.fanout_of(start, start + 1))
            chip = _depth_chip(layer, config, problem or "", dense, fanout)
            if chip is not None:
                raise DeeperChipNeeded(_refusal(layer, config, start, problem, dense, no_hint=True), config, chip)
            raise SpikeCoreError(_refusal(layer, config, start, problem, dense, no_hint=splittable))
        greedy.append(Slice(start, stop - start, axons))
        start = stop
    # Even split over the same number of cores, if every slice of it fits (it shortens the busiest core).
    balanced = []
    for lo, hi in _even_bounds(n, len(greedy)):
        axons = _union(sources, lo, hi)
        if fit.problem(hi - lo, len(axons), fit.fanout_of(lo, hi)) is not None:
            return greedy
        balanced.append(Slice(lo, hi - lo, axons))
    return balanced


def _even_bounds(total: int, parts: int) -> list[tuple[int, int]]:
    bounds = [round(i * total / parts) for i in range(parts + 1)]
    return list(itertools.pairwise(bounds))


def _cannot_saturate(graph: QuantGraph, index: int, groups: list[tuple[int, ...]]) -> bool:
    """True if no output membrane, partial or whole, can reach the int32 limits during a run.

    Partial membranes are added by the host without saturation; that equals the chip's (and the
    reference's) saturating sum only when nothing saturates, which this bounds: |start| + the largest
    payload x Σ|w| per step x the steps the membrane accumulates over (1 in graded mode, where it is
    cleared every step).
    """
    layer = graph.layers[index]
    payload = -isa.PAYLOAD_MIN if index == 0 else (isa.PAYLOAD_MAX if graph.encoding == "graded"
                                                         else isa.BINARY_PAYLOAD)
    steps = 1 if graph.encoding == "graded" else graph.steps
    magnitude = np.abs(layer.weight_rows()).astype(np.int64)
    start = np.abs(layer.neuron.init).astype(np.int64)
    for axons in [*groups, tuple(range(layer.sources))]:
        reach = start + steps * payload * magnitude[:, list(axons)].sum(axis=1)
        if reach.max(initial=0) > isa.ACC_MAX:
            return False
    return True


def split_output(graph: QuantGraph, config: ChipConfig) -> list[Slice] | None:
    """The output layer with its fan-in split: neuron slices as wide as a core allows, each over source groups.

    Every source then reaches fewer cores (one per neuron slice instead of one per narrow slice), which
    halves or better the router's deliveries into the output layer. ``None`` if no split fits or a
    partial sum could saturate.
    """
    index = len(graph.layers) - 1
    layer = graph.layers[index]
    sources = _sources(layer)
    width = min(config.neurons, isa.MAX_NEURONS, layer.out_features)
    fit = _Fit(layer, config, None)
    slices: list[Slice] = []
    for lo, hi in _even_bounds(layer.out_features, -(-layer.out_features // width)):
        count = hi - lo
        rows_cap = min(config.weight_bytes // count, config.event_depth, isa.AXON_MAX + 1)
        union = _union(sources, lo, hi)
        if rows_cap < 1:
            return None
        groups = max(1, -(-len(union) // rows_cap))
        parts = [tuple(union[a:b]) for a, b in _even_bounds(len(union), groups)] if union else [()]
        for g, axons in enumerate(parts):
            if fit.problem(count, len(axons), 0) is not None:
                return None
            slices.append(Slice(lo, count, axons, partial=len(parts) > 1, carries_bias=g == 0))
    if not _cannot_saturate(graph, index, [s.axons for s in slices]):
        return None
    return slices


def slice_output(graph: QuantGraph, config: ChipConfig) -> list[Slice]:
    """The output layer's slices: split over its fan-in when that fits and needs fewer neuron slices
    (so fewer deliveries per source spike) on no more cores, or when the unsplit layer does not fit.

    NIR output layers are not split here (the host cannot leak, fire or reset partial membranes): ``place``
    splits them over partial-sum and merging cores instead."""
    layer = graph.layers[-1]
    fanout = np.ones(layer.out_features, dtype=np.int64) if layer.to_host else None
    if graph.encoding == "nir":
        return slice_layer(layer, config, fanout)
    try:
        whole = slice_layer(layer, config, None)
    except SpikeCoreError:
        split = split_output(graph, config)
        if split is None:
            raise
        return split
    split = split_output(graph, config)
    if split is not None and len({s.start for s in split}) < len(whole) and len(split) <= len(whole):
        return split
    return whole


def _dense_if_free(layer: QuantDense, config: ChipConfig, fanout: np.ndarray | None,
                   compact: list[Slice]) -> list[Slice]:
    """The dense-input slicing of a first layer if it fits on as few cores as ``compact``, else ``compact``."""
    try:
        dense = slice_layer(layer, config, fanout, dense=True)
    except SpikeCoreError:
        return compact
    return dense if len(dense) <= len(compact) else compact


def _merge_cannot_saturate(graph: QuantGraph, index: int) -> bool:
    """True if no running sum of a merged layer's membranes can leave int32 (docs/spec.md §4.8, exactness):
    |init| + |threshold| + the largest payload x Σ|w| x the steps the membrane accumulates over (1 in graded
    mode); in NIR mode one step's input from the membrane's range at the start of a step (§4.8, NIR layers)."""
    layer = graph.layers[index]
    graded = graph.encoding in ("graded", "nir")   # a NIR layer may send payload 127 (docs/spec.md §11, Spikes)
    payload = -isa.PAYLOAD_MIN if index == 0 else (isa.PAYLOAD_MAX if graded else isa.BINARY_PAYLOAD)
    payload = max(payload, *layer.bias_payloads()) if layer.bias_payloads() else payload
    # graded: the membrane restarts from the bias every step; NIR: one step's input from any membrane between
    # its init and its threshold (§4.8 says what happens beyond); rate: the whole run
    steps = 1 if graded else graph.steps
    magnitude = np.abs(layer.weight_rows()).astype(np.int64).sum(axis=1)
    cell = layer.neuron
    init = np.abs(cell.init).astype(np.int64)
    if graph.encoding == "nir":
        step = payload * magnitude
        if "FIRE" in cell.schedule and cell.reset_mode != isa.ResetMode.ALWAYS:   # IF, LIF: v starts below threshold
            start = init + np.abs(cell.thresholds).astype(np.int64)
        elif "LEAK" in cell.schedule:   # LI: |v| <= |init| + step / (1 - decay), the leak's geometric bound
            start = init + step * 65536 // np.maximum(1, 65536 - cell.decays.astype(np.int64))
        else:                           # Threshold, Affine (restart from the bias), I (from its init)
            start = init
        return int((start + step).max(initial=0)) <= isa.ACC_MAX
    reach = init + np.abs(cell.thresholds) + steps * payload * magnitude
    return int(reach.max(initial=0)) <= isa.ACC_MAX


def split_hidden(graph: QuantGraph, index: int, config: ChipConfig, fanout: np.ndarray | None,
                 refusal: SpikeCoreError) -> tuple[list[Slice], list[Slice]]:
    """A hidden layer's partial-sum slices (``merge_core`` = their merging slice) and merging slices, or the
    unsplit layer's ``refusal`` extended by why no split fits (docs/spec.md §4.8)."""
    layer = graph.layers[index]
    if "SACC" in layer.neuron.schedule:
        raise _extended(refusal, "a CubaLIF layer is not split over its fan-in (MERGE adds to the "
                                 "membrane, not to the synaptic current)") from None
    plan, why = fanin.plan_split(_sources(layer), config, fanout, len(program_for(layer, 1, merge=True)),
                                 twins=layer.twins)
    if plan is None:
        raise _extended(refusal, f"split over partial-sum cores, one neuron still needs {why}") from None
    if not _merge_cannot_saturate(graph, index):
        raise _extended(refusal, "a split over partial-sum cores could saturate a membrane, so it would "
                                 "not be exact") from None
    partials = [Slice(s.start, s.count, group, partial=True, carries_bias=False, merge_core=m)
                for m, s in enumerate(plan) for group in s.groups]
    return partials, [Slice(s.start, s.count, ()) for s in plan]


def _extended(refusal: SpikeCoreError, why: str) -> SpikeCoreError:
    """``refusal`` extended by why no fan-in split fits; a :class:`DeeperChipNeeded` stays one (its ``--chip``
    hint last), so :func:`~spikecore.compiler.pipeline.compile_nir` can still name a chip that holds the graph."""
    if isinstance(refusal, DeeperChipNeeded):
        return DeeperChipNeeded(f"{refusal.reason}; {why}", refusal.config, refusal.chip)
    return SpikeCoreError(f"{refusal}; {why}")


def _depth_chip(layer: QuantDense, config: ChipConfig, problem: str, dense: bool,
                fanout: np.ndarray | None) -> ChipConfig | None:
    """``config`` with the event and fan-out depths (powers of two) at which every neuron of ``layer`` fits a
    core alone; None when the problem is another or no chip holds it."""
    if "event_depth" not in problem and "fanout_depth" not in problem:
        return None
    if not isinstance(layer.neuron, NirNeuron) and layer.role == "hidden":
        return None   # a PyTorch hidden layer is split over partial-sum cores instead (split_hidden)
    events = max((len(row) for row in _sources(layer, dense)), default=0)
    entries = int(fanout.max(initial=0)) if fanout is not None else 0
    grown = {}
    for key, need, most in (("event_depth", events, isa.MAX_EVENT_DEPTH),
                            ("fanout_depth", entries, isa.MAX_FANOUT_DEPTH)):
        if need > most:
            return None
        if need > getattr(config, key):
            grown[key] = 1 << math.ceil(math.log2(need))
    return deeper_chip(config, **grown)


class DeeperChipNeeded(SpikeCoreError):
    """A layer needs deeper event or fan-out buffers than ``config`` has; ``chip`` is one that holds it alone.

    ``str()`` is the one-line refusal ending in the ``--chip`` hint; ``reason`` is the refusal without it, so
    that :func:`~spikecore.compiler.pipeline.compile_nir` can name the chip that holds the whole graph."""

    def __init__(self, reason: str, config: ChipConfig, chip: ChipConfig) -> None:
        super().__init__(reason + chip_hint(chip, config))
        self.reason, self.config, self.chip = reason, config, chip


class BoardTooSmall(SpikeCoreError):
    """The model needs more cores than ``config`` has (:func:`_capacity_refusal`); ``chip`` is ``config`` with
    the chips that hold it, or None when that is one chip (the user chose a chip, not a board) or more than
    ``isa.MAX_CHIPS`` chips. A chip's sizes alone decide the slicing, so more chips of the same sizes hold the
    same cores (:func:`smallest_board`); ``str()`` ends in the ``--chip`` hint when there is one."""

    def __init__(self, reason: str, config: ChipConfig, chip: ChipConfig | None,
                 board: ChipConfig | None = None) -> None:
        super().__init__(reason + ("" if chip is None else chip_hint(chip, config)))
        self.reason, self.config, self.chip = reason, config, chip
        #: ``config`` with the chips that hold the model, one chip included (None above ``isa.MAX_CHIPS``):
        #: the board :func:`~spikecore.compiler.pipeline.lay_out_or_hint` names after a one-chip refusal
        self.board = chip if board is None else board


def chip_hint(chip: ChipConfig, config: ChipConfig | None = None) -> str:
    """``'; a chip with deeper buffers holds it: pass --chip "..."'`` (or ``a board of N chips ...`` when
    ``chip`` has more chips than ``config``) naming the sizes of ``chip`` that differ from their default or from
    the user's ``config`` (``chip`` keeps the user's other sizes, so they stay in the hint).

    >>> chip_hint(ChipConfig(cores=4, event_depth=128))
    '; a chip with deeper buffers holds it: pass --chip "cores=4 event_depth=128"'
    >>> chip_hint(ChipConfig(chips=3), ChipConfig(chips=2))
    '; a board of 3 chips holds it: pass --chip "chips=3"'
    """
    deeper = config is None or (chip.event_depth, chip.fanout_depth) != (config.event_depth, config.fanout_depth)
    what = "a chip" if config is None or chip.chips == config.chips else f"a board of {chip.chips} chips"
    what += " with deeper buffers" if deeper else ""
    return f'; {what} holds it: pass --chip "{format_chip(chip, changed_only=True, against=config)}"'


def deepest_default(config: ChipConfig) -> ChipConfig | None:
    """``config`` with its event and fan-out depths raised to those its ``weight_bytes`` gives
    (:func:`~spikecore.config.default_depths`), or None when neither is below them (a user gave smaller ones)."""
    event, fanout = config.derived_depths
    return deeper_chip(config, event_depth=event, fanout_depth=fanout)


def deeper_chip(config: ChipConfig, **grown: int) -> ChipConfig | None:
    """``config`` with the sizes ``grown`` made at least as large (e.g. ``event_depth=128``), or None when no
    size grows or no chip has those sizes."""
    grown = {key: max(value, getattr(config, key)) for key, value in grown.items()}
    if all(value == getattr(config, key) for key, value in grown.items()):
        return None
    try:
        return dataclasses.replace(config, **grown)
    except SpikeCoreError:
        return None


def _refusal(layer: QuantDense, config: ChipConfig, neuron: int, problem: str | None, dense: bool = False,
             no_hint: bool = False) -> str:
    fan_in = layer.sources if dense else int(np.count_nonzero(layer.weight_rows()[neuron]))
    hint = ""
    if layer.role == "hidden" or no_hint:
        pass    # split_hidden says whether splitting helps
    elif fan_in > isa.AXON_MAX + 1:
        hint = (f"; fan-in splitting is not supported: a hidden neuron reads at most {isa.AXON_MAX + 1} inputs "
                "(8-bit axons)")
    elif fan_in > config.weight_bytes:
        need = 1 << math.ceil(math.log2(fan_in))
        hint = (f"; fan-in splitting is not supported: reduce the layer's inputs to {config.weight_bytes} or use "
                f"a chip with weight_bytes >= {need}")
    elif fan_in > config.event_depth:
        hint = (f"; fan-in splitting is not supported: reduce the layer's inputs to {config.event_depth} or use "
                f"a chip with event_depth >= {fan_in}")
    return (f"layer '{layer.name}' ({layer.origin}) does not fit a core: neuron {neuron} alone needs {problem}"
            f" (it reads {fan_in} inputs){hint}")


def _recurrent_readers(layer: QuantDense, slices: list[Slice]) -> np.ndarray:
    """Per neuron of a recurrent layer, how many of the layer's own cores read its spikes (zeros otherwise)."""
    if layer.recurrent is None or layer.recurrent_source is not None:
        return np.zeros(layer.out_features, dtype=np.int64)
    counts = np.zeros(layer.recurrent.shape[1], dtype=np.int64)   # per own source: neurons, then twins
    base = layer.recurrent_base
    for s in slices:
        counts[[a - base for a in s.axons if a >= base]] += 1
    return counts.reshape(-1, layer.out_features).sum(axis=0)     # a core's table holds a neuron's and its twin's


def _slice_recurrent(layer: QuantDense, config: ChipConfig, fanout: np.ndarray | None,
                     slicer) -> list[Slice]:
    """Slices of a layer whose neurons also fan out to its own cores (a recurrent edge): the own fan-out depends
    on the slicing, so slice again with it until the slicing no longer changes."""
    base = np.zeros(layer.out_features, dtype=np.int64) if fanout is None else fanout
    slices = slicer(base)
    for _ in range(4):
        again = slicer(base + _recurrent_readers(layer, slices))
        if again == slices:
            return slices
        slices = again
    return slices


def _core_ids(slices: list[list[Slice]], merges: dict[int, list[Slice]],
              board: bool = False) -> tuple[list[list[int]], dict[int, list[int]]]:
    """Global core ids (docs/spec.md §13) numbered forwards from 0, layer by layer; returns the slices' ids per
    layer (aligned with ``slices``) and the merging cores' ids per merged layer.

    A merged layer takes its partial-sum cores, then its merging cores; on a ``board`` each merging core
    follows its own partial-sum cores instead, so a chip boundary cuts at most one split group and the other
    groups' partial sums stay on their chip (on one chip the order costs nothing, and listings keep the layer's
    partial-sum cores together)."""
    core_ids: list[list[int]] = []
    merge_ids: dict[int, list[int]] = {}
    next_id = 0
    for k, layer_slices in enumerate(slices):
        if k in merges and board:
            ids = [0] * len(layer_slices)
            merge_ids[k] = []
            for m in range(len(merges[k])):
                for i, s in enumerate(layer_slices):
                    if s.merge_core == m:
                        ids[i], next_id = next_id, next_id + 1
                merge_ids[k].append(next_id)
                next_id += 1
            core_ids.append(ids)
            continue
        core_ids.append(list(range(next_id, next_id + len(layer_slices))))
        next_id += len(layer_slices)
        if k in merges:
            merge_ids[k] = list(range(next_id, next_id + len(merges[k])))
            next_id += len(merges[k])
    return core_ids, merge_ids


def _chip_links(layers: list[QuantDense], slices: list[list[Slice]], merges: dict[int, list[Slice]],
                cores: int) -> set[tuple[int, int]]:
    """The links ``(source chip, destination chip)`` the layers need when their cores are numbered by
    :func:`_core_ids` over chips of ``cores`` cores (however many chips that takes): spikes from a layer's
    (merging) cores to the next layer's cores that read them and, for a recurrent layer, to its own cores
    that read them; partial sums to their merging cores."""
    core_ids, merge_ids = _core_ids(slices, merges, board=True)
    links: set[tuple[int, int]] = set()
    for k, layer in enumerate(layers):
        if k in merges:
            for core_id, s in zip(core_ids[k], slices[k], strict=True):
                links.add((core_id // cores, merge_ids[k][s.merge_core] // cores))
        readers: list[tuple[int, int]] = []      # (the layer whose cores read, its source offset)
        if k + 1 < len(layers):
            readers.append((k + 1, 0))
        if layer.recurrent is not None and layer.recurrent_source is None:
            readers.append((k, layer.recurrent_base))
        readers += [(t, other.recurrent_base) for t, other in enumerate(layers) if other.recurrent_source == k]
        for core_id, s in zip(merge_ids.get(k, core_ids[k]), merges.get(k, slices[k]), strict=True):
            for reader, offset in readers:
                sources = {offset + n for n in range(s.start, s.start + s.count)}
                for dest_id, dest in zip(core_ids[reader], slices[reader], strict=True):
                    if sources.intersection(dest.axons):
                        links.add((core_id // cores, dest_id // cores))
    return {(a, b) for a, b in links if a != b}


def _capacity_refusal(layers: list[QuantDense], slices: list[list[Slice]], merges: dict[int, list[Slice]],
                      config: ChipConfig) -> str:
    """One line: cores and weight bytes (and on a board the chips and links) the model needs against what the
    chip or board has."""
    total = sum(len(s) for s in slices) + sum(len(m) for m in merges.values())
    per_layer = ", ".join(f"{layer.name}: {len(s)}" + (f" partial-sum + {len(merges[k])} merging" if k in merges
                                                      else "")
                          for k, (layer, s) in enumerate(zip(layers, slices, strict=True)))
    weight_bytes = sum(len(s.axons) * s.count for layer_slices in slices for s in layer_slices)
    if config.chips == 1:
        return (f"model needs {plural(total, 'core')} ({per_layer}) and {weight_bytes} weight bytes, the chip "
                f"has {plural(config.cores, 'core')} of {config.weight_bytes} bytes")
    chips_needed = -(-total // config.cores)
    links = len(_chip_links(layers, slices, merges, config.cores))
    return (f"model needs {total} cores ({per_layer}), the board has {config.board_cores} ({config.chips} chips x "
            f"{config.cores}); weight bytes: needs {weight_bytes}, "
            f"{config.board_cores * config.weight_bytes} available; chips: needs {chips_needed} with {links} "
            f"links, {config.chips} available with {config.chips * (config.chips - 1)} links")


def smallest_board(graph: QuantGraph, config: ChipConfig) -> ChipConfig:
    """``config`` with the fewest chips, 1 .. ``config.chips``, whose board holds ``graph`` (docs/spec.md §13).

    A chip's sizes decide how a layer is sliced, the chip count only how many cores there are (the cores are
    numbered over the board in order, :func:`_core_ids`), so the smallest board is ``ceil(cores needed /
    config.cores)`` chips. Raises :class:`SpikeCoreError` with :func:`place`'s one-line refusal for
    ``config.chips`` chips when even those cannot hold the model (cores, weight bytes and links needed against
    those available), or any other placement refusal.
    """
    placed = place(graph, config)
    needed = max(1, -(-len(placed.cores) // config.cores))
    return dataclasses.replace(config, chips=needed)


def _partial_cores(layer: QuantDense, k: int, partials: list[Slice], ids: list[int],
                   merge_ids: list[int], config: ChipConfig) -> list[PlacedCore]:
    """The partial-sum cores of merged layer ``k``: neuron ``j`` sends its partial sum to its merging core on
    axon ``j`` (merging slices hold the same neuron ranges as their partial-sum slices); on a board the merging
    core may be on another chip, and the partial sum crosses a link like any event (docs/spec.md §13)."""
    cores = []
    rows = layer.weight_rows()
    for core_id, s in zip(ids, partials, strict=True):
        weights = rows[s.start:s.start + s.count][:, list(s.axons)].T.astype(np.int64)
        copies = 2 if layer.twins else 1   # a twinned layer's merging core adds each partial sum to the twin too
        neurons = tuple(NeuronParams(threshold=isa.ACC_MIN, fanout_start=copies * j, fanout_count=copies)
                        for j in range(s.count))
        chip, local = divmod(merge_ids[s.merge_core], config.cores)
        fanout = tuple(FanoutEntry(local, j + copy * s.count, chip) for j in range(s.count) for copy in range(copies))
        cores.append(PlacedCore(core_id, layer.name, k, s.start, s.count, s.axons, partial_program(s.count), weights,
                                neurons, fanout, partial=True))
    return cores


def _reader_entries(ids: list[int], slices: list[Slice], config: ChipConfig) -> dict[int, list[FanoutEntry]]:
    """Per source of a layer, the fan-out entries to the cores (``ids``, ``slices``) that read it, in core order."""
    entries: dict[int, list[FanoutEntry]] = {}
    for dest_id, dest in zip(ids, slices, strict=True):
        chip, local = divmod(dest_id, config.cores)
        for axon, source in enumerate(dest.axons):
            entries.setdefault(source, []).append(FanoutEntry(local, axon, chip))
    return entries


def _bias_payload(layer: QuantDense, source: int) -> int:
    """The host's payload on bias source ``source`` (``in_features``: the bias axon, then the fine one)."""
    return layer.bias_payloads()[source - layer.in_features]


def place(graph: QuantGraph, config: ChipConfig) -> PlacedProgram:
    """Lay ``graph`` out on ``config``'s cores (see the module docstring). The placed program's ``quant`` is
    ``graph`` with ``merged`` set to the hidden layers whose fan-in was split."""
    layers = graph.layers
    # A recurrent edge into an earlier layer (docs/spec.md §11): layer m's neurons also fan out to the cores of layer
    # k < m that read them, which are sliced after m (slicing runs backwards): slice with the fan-out the last
    # slicing gave until it no longer changes.
    extra = [np.zeros(layer.out_features, dtype=np.int64) for layer in layers]
    for _ in range(4):
        slices, merges = _slice_layers(graph, config, extra)
        again = _cross_readers(layers, slices)
        if all(np.array_equal(a, b) for a, b in zip(again, extra, strict=True)):
            break
        extra = again
    if graph.period > 1 and merges:
        k = min(merges)
        raise SpikeCoreError(f"layer '{layers[k].name}': its fan-in would be split over partial-sum cores, which a "
                             "graph with a recurrent edge into an earlier layer cannot use; use a chip with more "
                             "weight_bytes and event_depth")
    return _place_slices(graph, config, slices, merges)


def _cross_readers(layers: list[QuantDense], slices: list[list[Slice]]) -> list[np.ndarray]:
    """Per layer ``m``, per neuron: how many cores of earlier layers with a recurrent edge from ``m`` read it."""
    counts = [np.zeros(layer.out_features, dtype=np.int64) for layer in layers]
    for k, layer in enumerate(layers):
        if layer.recurrent_source is not None:
            base = layer.recurrent_base
            for s in slices[k]:
                counts[layer.recurrent_source][[a - base for a in s.axons if a >= base]] += 1
    return counts


def _slice_layers(graph: QuantGraph, config: ChipConfig, extra: list[np.ndarray]
                  ) -> tuple[list[list[Slice]], dict[int, list[Slice]]]:
    """Every layer's slices, last layer first; ``extra[k]``: fan-out entries each neuron of layer ``k`` needs
    besides the next layer's and its own recurrence (recurrent edges into earlier layers)."""
    layers = graph.layers
    slices: list[list[Slice]] = [[] for _ in layers]
    merges: dict[int, list[Slice]] = {}       # merged layer -> its merging slices
    for k in reversed(range(len(layers))):
        fanout = None
        if k + 1 < len(layers):
            counts = np.zeros(layers[k].emits, dtype=np.int64)   # per source: the next-layer cores reading it
            for s in slices[k + 1]:
                counts[[a for a in s.axons if a < len(counts)]] += 1   # (a bias axon has no source neuron)
            if counts.max(initial=0) > 255:
                raise SpikeCoreError(f"layer '{layers[k].name}': a neuron feeds {counts.max()} cores, a neuron's "
                                     "fan-out count is at most 255")
            # a core's fan-out table holds its neurons' entries and their twins'
            fanout = counts.reshape(-1, layers[k].out_features).sum(axis=0)
        if extra[k].any():
            base = fanout if fanout is not None else (np.ones(layers[k].out_features, dtype=np.int64)
                                                      if layers[k].to_host else np.zeros_like(extra[k]))
            fanout = base + extra[k]
        if layers[k].recurrent is not None and layers[k].recurrent_source is None:
            host = np.ones(layers[k].out_features, dtype=np.int64) if layers[k].to_host else None
            slices[k] = _slice_recurrent(layers[k], config, fanout if fanout is not None else host,
                                         lambda own, k=k: slice_layer(layers[k], config, own))
        elif k + 1 < len(layers) or extra[k].any() or layers[k].recurrent is not None:
            try:
                slices[k] = slice_layer(layers[k], config, fanout)
            except SpikeCoreError as refusal:
                if k + 1 == len(layers):
                    raise
                slices[k], merges[k] = split_hidden(graph, k, config, fanout, refusal)
        elif graph.encoding == "nir":   # a NIR output layer: split and merged like a hidden one when it must be
            host = np.ones(layers[k].out_features, dtype=np.int64) if layers[k].to_host else None
            try:
                slices[k] = slice_layer(layers[k], config, host, splittable=True)
            except SpikeCoreError as refusal:
                slices[k], merges[k] = split_hidden(graph, k, config, host, refusal)
        else:
            slices[k] = slice_output(graph, config)
        if k == 0 and graph.dense_input:
            own = _recurrent_readers(layers[k], slices[k])   # a recurrent layer's entries to its own cores
            slices[k] = _dense_if_free(layers[k], config, own if fanout is None else fanout + own, slices[k])
    return slices, merges


def _place_slices(graph: QuantGraph, config: ChipConfig, slices: list[list[Slice]],
                  merges: dict[int, list[Slice]]) -> PlacedProgram:
    """Cores, fan-out tables and the IO map of sliced layers (the second half of :func:`place`)."""
    layers = graph.layers
    if merges:
        graph = dataclasses.replace(graph, merged=tuple(sorted(merges)))
    total = sum(len(s) for s in slices) + sum(len(m) for m in merges.values())
    if total > config.board_cores:
        chips = -(-total // config.cores)
        board = dataclasses.replace(config, chips=chips) if chips <= isa.MAX_CHIPS else None
        raise BoardTooSmall(_capacity_refusal(layers, slices, merges, config), config,
                            board if config.chips > 1 else None, board)

    core_ids, merge_ids = _core_ids(slices, merges, board=config.chips > 1)

    cores: list[PlacedCore] = []
    for k, layer in enumerate(layers):
        cell = layer.neuron
        thresholds, decays, syn_decays = cell.thresholds, cell.decays, cell.syn_decays
        if k in merges:
            cores += _partial_cores(layer, k, slices[k], core_ids[k], merge_ids[k], config)
        rows = layer.weight_rows()
        next_readers = _reader_entries(core_ids[k + 1], slices[k + 1], config) if k + 1 < len(layers) else {}
        own_readers = _reader_entries(core_ids[k], slices[k], config) \
            if layer.recurrent is not None and layer.recurrent_source is None else {}
        # the earlier layers this one feeds back into (docs/spec.md §11), each reading it on its recurrent axons
        back_readers = [(layers[t].recurrent_base, _reader_entries(core_ids[t], slices[t], config))
                        for t, other in enumerate(layers) if other.recurrent_source == k]
        for core_id, s in zip(merge_ids.get(k, core_ids[k]), merges.get(k, slices[k]), strict=True):
            merge = k in merges
            program = program_for(layer, s.count, merge)
            weights = rows[s.start:s.start + s.count][:, list(s.axons)].T.astype(np.int64)
            fanout: list[FanoutEntry] = []
            neurons: list[NeuronParams] = []
            for j in range(s.count * (2 if layer.twins else 1)):
                neuron = s.start + j % s.count                       # a twin has its neuron's parameters
                source = neuron + (layer.out_features if j >= s.count else 0)
                first = len(fanout)
                if k + 1 < len(layers):
                    fanout += next_readers.get(source, [])
                elif layer.to_host:
                    fanout.append(FanoutEntry(isa.HOST_CORE, neuron))
                if layer.recurrent is not None and layer.recurrent_source is None:   # its own spikes (and twins')
                    fanout += own_readers.get(layer.recurrent_base + source, [])
                for base, readers in back_readers:   # into an earlier layer (docs/spec.md §11)
                    fanout += readers.get(base + source, [])
                count = len(fanout) - first
                carried = 1 if s.carries_bias else 0   # a partial group without the bias starts from 0
                neurons.append(NeuronParams(threshold=int(thresholds[neuron]), reset=carried * int(cell.reset[neuron]),
                                            init=carried * int(cell.init[neuron]), decay=int(decays[neuron]),
                                            fanout_start=first if count else 0, fanout_count=count,
                                            syn_decay=int(syn_decays[neuron])))
            cores.append(PlacedCore(core_id, layer.name, k, s.start, s.count, s.axons, program, weights,
                                    tuple(neurons), tuple(fanout), partial=s.partial, twins=layer.twins, merge=merge))

    cores.sort(key=lambda c: c.core)
    first_layer = [c for c in cores if c.layer_index == 0 and not c.merge]
    features = graph.input.features
    inputs, fine_inputs = (tuple(tuple((c.core, c.axons.index(i)) for c in first_layer if i in c.axons)
                                 for i in range(start, start + features))
                           for start in (0, features))
    last = len(layers) - 1
    out_cores = [c for c in cores if c.layer_index == last and not (c.partial and last in merges)]
    outputs = tuple(tuple((c.core, j - c.start) for c in out_cores if c.start <= j < c.start + c.count)
                    for j in range(layers[-1].out_features))
    bias_events = tuple(sorted((step, c.core, axon, _bias_payload(layers[c.layer_index], source))
                               for c in cores for axon, source in enumerate(c.axons)
                               if layers[c.layer_index].is_bias_source(source)
                               for step in graph.window(c.layer_index)))
    io = IOMap(inputs, outputs, graph.steps, graph.inject_steps, bias_events,
               fine_inputs if graph.input.twins else ())
    placed = PlacedProgram(config, graph, cores, io)
    placed.check()
    return placed
