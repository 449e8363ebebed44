"""NIR export: a SpikeCore program back to a NIR graph that re-imports to the identical image.

The command ``spikecore export prog.bin --nir out.nir --dt SECONDS`` is :mod:`spikecore.app.cli_export`.

Two sources, one writer (:func:`to_graph`):

- :func:`export_compiled` — from the compiler's IR (a :class:`CompiledModel` of a NIR graph). The graph
  keeps the layer names, the input shape, every neuron's voltage offset (``v_leak``, ``v_reset``), the
  bias currents and the input scale: it is the discretised model, in NIR's float units.
- :func:`export_image` — from an image alone (``prog.bin``). The image holds the integers but not the
  host's side: where inputs enter (the NIR compiler's *dense input* rule puts feature ``i`` on axon ``i``
  of every first-layer core, docs/nir.md), the payload of bias events, the input scale and the voltage
  offsets. So a first-layer bias axon comes back as one more input feature, a deeper layer's bias as a
  current of payload 1 per step, offsets as 0 and the input scale as 1. The graph still re-imports to the
  same bytes, which :func:`spikecore.compiler.pipeline.check_round_trip` verifies (the command refuses to
  write a graph that does not).

The float parameters are chosen so that the importer's rules (docs/spec.md §11) give back the same
integers: ``R = τ/dt`` (LIF, LI) or ``1/dt`` (IF, I) so that the input gain ``c`` is 1; ``τ = dt/(1 −
decay/65536)``; weights ``w_int × unit / e_in``; ``v_threshold = offset + (threshold − 1) × unit``. Each
neuron node's metadata ``spikecore_membrane_unit`` holds ``unit`` and ``reset`` its reset mode; the graph's
metadata holds ``dt``, ``spikecore_chip`` and ``spikecore_input_max``.

Fine weights (docs/spec.md §11): a source and its payload-1 twin are one NIR synapse of weight
``(a + b/127) × unit / e_in`` and the two bias axons one bias ``(127 w + r) × unit``; the graph's metadata
``spikecore_fine_weights`` makes the importer split them again. From an image, a core running
``ACC 0,c; ACC c,c; FIRE 0,c; FIRE c,c`` holds neurons and their twins, and two host-fed axons after a
layer's inputs are the two bias axons (payloads 127 and 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from spikecore import isa, outputs
from spikecore.compiler.frontends.nir import CHIP_KEY, DT_KEY, FINE_KEY, INPUT_MAX_KEY, RESET_KEY, UNIT_KEY
from spikecore.config import ChipConfig, format_chip
from spikecore.errors import SpikeCoreError
from spikecore.image import Image
from spikecore.isa import HOST_CORE, Opcode, ResetMode, decode

#: schedule (instruction names before HALT) and FIRE reset mode -> NIR kind
KINDS = {(("LEAK", "ACC", "FIRE"), ResetMode.VALUE): "LIF", (("LEAK", "ACC", "FIRE"), ResetMode.SUB): "LIF",
         (("ACC", "FIRE"), ResetMode.VALUE): "IF", (("ACC", "FIRE"), ResetMode.SUB): "IF",
         (("ACC", "FIRE"), ResetMode.ALWAYS): "Threshold", (("LEAK", "ACC"), None): "LI", (("ACC",), None): "I",
         (("FIRE", "ACC"), ResetMode.ALWAYS): "Affine"}


@dataclass
class ExportLayer:
    """One layer in the integers the chip holds, plus the units that turn them into NIR floats.

    ``weight``: ``(out, in)``, ``in`` = the previous layer's neurons (or the input features), in int8 weight
    steps (with fine weights ``a + b/127``, so not always integers).
    ``bias``: per-step input current in membrane units (the bias axon's ``payload x weight``, or the reset
    value of a stateless layer). ``unit``/``offset``: ``v = membrane x unit + offset``. ``in_unit``: the value
    of one input payload unit.
    """

    name: str
    kind: str
    weight: np.ndarray
    bias: np.ndarray
    threshold: np.ndarray
    reset: np.ndarray
    init: np.ndarray
    decay: np.ndarray
    subtract: bool
    unit: np.ndarray
    offset: np.ndarray
    in_unit: float
    fine: bool = False           # reads twins or a fine bias axon: the graph needs the fine-weights metadata


# --- from the compiler's IR ---------------------------------------------------------------------------------


def export_compiled(compiled, dt: float | None = None):
    """The NIR graph of a program compiled from NIR (:func:`~spikecore.compiler.pipeline.compile_nir`)."""
    quant = compiled.quant
    if quant.encoding != "nir":
        raise SpikeCoreError(f"only programs compiled from NIR graphs export to NIR; this one is {quant.encoding} mode "
                             "(NIR has no ReLU node)")
    for layer in quant.layers:
        cuba = "SYN" in layer.neuron.schedule
        if cuba or layer.recurrent is not None:
            what = "a CubaLIF layer" if cuba else "a recurrent layer"
            raise SpikeCoreError(f"layer '{layer.name}' is {what}: NIR export handles feed-forward IF, LIF, LI, I, "
                                 "Threshold and Affine layers")
    if quant.merged:
        names = ", ".join(f"'{quant.layers[k].name}'" for k in quant.merged)
        raise SpikeCoreError(f"layers {names} are split over their fan-in (docs/spec.md §4.8): NIR export of "
                             "split programs is not supported")
    layers = []
    twins = [quant.input.twins] + [layer.twins for layer in quant.layers]
    for index, layer in enumerate(quant.layers):
        cell = layer.neuron
        if cell.kind in ("Threshold", "Affine"):
            bias = cell.init.astype(np.int64)
        elif layer.bias_axon is not None:
            bias = sum(p * w.astype(np.int64) for p, w in zip(layer.bias_payloads(), layer.bias_weights(),
                                                              strict=True))
        else:
            bias = np.zeros(layer.out_features, dtype=np.int64)
        weight = merge_twins(layer.weight) if twins[index] else layer.weight
        layers.append(ExportLayer(layer.name, cell.kind, weight, bias, cell.thresholds, cell.reset,
                                  cell.init, cell.decays, cell.reset_mode == ResetMode.SUB, cell.membrane_unit,
                                  cell.membrane_offset, layer.input_scale,
                                  fine=twins[index] or layer.fine_bias is not None))
    input_max = quant.input.scale * isa.PAYLOAD_MAX
    return to_graph(quant.input.name, quant.input.shape, layers, dt or quant.dt, compiled.image.config, input_max)


def merge_twins(weight: np.ndarray) -> np.ndarray:
    """``(out, 2 n)`` weights from ``n`` sources and their twins as ``(out, n)`` float weights ``a + b/127``."""
    half = weight.shape[1] // 2
    return weight[:, :half] + weight[:, half:] / isa.PAYLOAD_MAX


# --- from an image ------------------------------------------------------------------------------------------


@dataclass
class _Core:
    core: int
    schedule: tuple[str, ...]
    count: int
    fire: isa.Instruction | None
    rows: int
    weights: np.ndarray          # (rows, count)
    params: list[isa.NeuronParams]
    targets: list[list[isa.FanoutEntry]]
    twin_targets: list[list[isa.FanoutEntry]] | None = None    # the twins' fan-out (fine weights)


def _twin_program(program: list[isa.Instruction]) -> int | None:
    """``c`` if ``program`` is a slice of ``c`` neurons with twins (module docstring), else ``None``."""
    acc = [ins for ins in program if ins.opcode == Opcode.ACC]
    fire = [ins for ins in program if ins.opcode == Opcode.FIRE]
    if len(acc) != 2 or len(fire) != 2:
        return None
    count = acc[0].count
    ranges = [(ins.neuron, ins.count) for ins in acc + fire]
    leak = [(ins.neuron, ins.count) for ins in program if ins.opcode == Opcode.LEAK]
    if (ranges != [(0, count), (count, count)] * 2 or leak not in ([], [(0, 2 * count)]) or acc[1].wbase != 0
            or not fire[0].graded or fire[1].graded or fire[1].shift or fire[0].reset != fire[1].reset):
        return None
    return count


def _read_core(core_id: int, section: isa.CoreImage) -> _Core:
    where = f"core {core_id}"
    if section.period != 1:
        raise SpikeCoreError(f"{where} runs every {section.period} steps (period {section.period}, phase "
                             f"{section.phase}: a recurrent edge into an earlier layer); NIR export supports "
                             "programs whose cores run every step")
    program = []
    for word in section.program:
        ins = decode(word)
        if ins.opcode == Opcode.HALT:
            break
        if ins.opcode != Opcode.NOP:
            program.append(ins)
    if not program:
        raise SpikeCoreError(f"{where} runs no instruction; NIR export needs one layer slice per core")
    if any(ins.opcode in (Opcode.SACC, Opcode.SYN) for ins in program):
        raise SpikeCoreError(f"{where} runs SACC/SYN (a CubaLIF layer): NIR export of CubaLIF programs is not "
                             "supported")
    if any(ins.opcode == Opcode.MERGE or (ins.opcode == Opcode.FIRE and ins.wide) for ins in program):
        raise SpikeCoreError(f"{where} runs MERGE or FIRE wide=1 (a layer split over its fan-in, docs/spec.md §4.8): "
                             "NIR export of split programs is not supported")
    count = program[0].count
    twins = _twin_program(program)
    if twins is not None:    # neurons 0..c-1 and their twins c..2c-1: one entry per instruction kind
        count = twins
        program = [ins for ins in program if ins.neuron == 0]
    ranged = [ins for ins in program if twins is None or ins.opcode != Opcode.LEAK]   # (a twin LEAK covers 2c)
    if any(ins.neuron != 0 or ins.count != count for ins in ranged) or any(
            ins.opcode == Opcode.ACC and ins.wbase != 0 for ins in program):
        raise SpikeCoreError(f"{where}: its instructions do not all cover neurons 0..{count - 1} (weights at 0), as "
                             "the NIR compiler lays out a layer slice")
    fire = next((ins for ins in program if ins.opcode == Opcode.FIRE), None)
    if fire is not None and (fire.shift != 0 or (fire.graded and fire.reset != ResetMode.ALWAYS
                                                 and min(p.threshold for p in section.neurons[:count]) < 127)):
        raise SpikeCoreError(f"{where}: FIRE with shift {fire.shift} emits graded values (a quantised ReLU); NIR "
                             "neurons emit spikes, so this program does not export to NIR")
    if len(section.weights) % count:
        raise SpikeCoreError(f"{where}: {len(section.weights)} weights are not whole rows of {count} neurons")
    slots = count * (2 if twins else 1)
    params = list(section.neurons) + [isa.NeuronParams()] * max(0, slots - len(section.neurons))
    targets = [section.fanout[p.fanout_start:p.fanout_start + p.fanout_count] for p in params[:slots]]
    if twins and any((p.threshold, p.reset, p.init, p.decay) != (t.threshold, t.reset, t.init, t.decay)
                     for p, t in zip(params[:count], params[count:slots], strict=True)):
        raise SpikeCoreError(f"{where}: neurons {count}..{slots - 1} run as twins of 0..{count - 1} but have other "
                             "parameters")
    rows = len(section.weights) // count
    weights = np.array(section.weights, dtype=np.int64).reshape(rows, count)
    return _Core(core_id, tuple(ins.opcode.name for ins in program), count, fire, rows, weights, params[:count],
                 targets[:count], targets[count:] if twins else None)


def _layers_of(cores: dict[int, _Core]) -> list[list[_Core]]:
    """Group cores into layers: the first reads only host events; layer k+1 is what layer k's fan-out reaches."""
    fed_by: dict[int, set[int]] = {c: set() for c in cores}
    for core in cores.values():
        for entries in core.targets + (core.twin_targets or []):
            for entry in entries:
                if entry.core != HOST_CORE:
                    if entry.core not in cores:
                        raise SpikeCoreError(f"core {core.core}: a fan-out entry reaches core {entry.core}, which has "
                                             "no section")
                    fed_by[entry.core].add(core.core)
    looped = sorted(c for c, sources in fed_by.items() if c in sources)
    if looped:
        raise SpikeCoreError(f"core {looped[0]} feeds its own spikes back to itself (a recurrent layer): NIR export "
                             "handles feed-forward chains of layers")
    current = sorted(c for c, sources in fed_by.items() if not sources)
    layers, placed = [], set()
    while current:
        layers.append([cores[c] for c in current])
        placed.update(current)
        nxt = sorted({e.core for c in current for entries in cores[c].targets + (cores[c].twin_targets or [])
                      for e in entries if e.core != HOST_CORE})
        for c in nxt:
            if c in placed or not fed_by[c] <= set(current):
                raise SpikeCoreError(f"core {c} reads cores {sorted(fed_by[c])}, not only the previous layer's: NIR "
                                     "export handles feed-forward chains of layers")
        current = nxt
    if placed != set(cores):
        raise SpikeCoreError(f"cores {sorted(set(cores) - placed)} are not reached from the input layer")
    return layers


def _layer_from_cores(index: int, group: list[_Core], previous: list[_Core] | None, in_unit: float,
                      last: bool) -> ExportLayer:
    first = group[0]
    where = f"layer {index} (cores {[c.core for c in group]})"
    if any(c.schedule != first.schedule or (c.fire is not None and (c.fire.reset, c.fire.graded) !=
                                            (first.fire.reset, first.fire.graded))
           or (c.twin_targets is None) != (first.twin_targets is None) for c in group):
        raise SpikeCoreError(f"{where}: its cores run different programs")
    kind = KINDS.get((first.schedule, first.fire.reset if first.fire is not None else None))
    if kind is None or (kind == "Affine" and not last):
        program = "; ".join(first.schedule).lower()
        raise SpikeCoreError(f"{where}: the program '{program}' is no NIR neuron (NIR export knows LIF, LI, IF, I, "
                             "Threshold and a last plain Affine layer)")
    out = sum(c.count for c in group)
    if previous is None:
        rows = {c.rows for c in group}
        if len(rows) != 1:
            raise SpikeCoreError(f"{where}: first-layer cores read {sorted(rows)} axons; NIR export needs every one to "
                                 "read every input feature on axon = feature (the NIR compiler's dense input)")
        sources = rows.pop()
    else:
        neurons = sum(c.count for c in previous)
        twins = previous[0].twin_targets is not None
        sources = neurons * (2 if twins else 1)
        source_of = {}
        start = 0
        for c in previous:
            for offset, table in ((0, c.targets), (neurons, c.twin_targets or [])):
                for j, entries in enumerate(table):
                    for entry in entries:
                        source_of[(entry.core, entry.axon)] = offset + start + j
            start += c.count
    weight = np.zeros((out, sources), dtype=np.int64)
    bias = np.zeros(out, dtype=np.int64)
    start, fed_by_host = 0, []
    for c in group:
        host_fed = [axon for axon in range(c.rows) if previous is not None and (c.core, axon) not in source_of]
        fed_by_host.append(host_fed)
        if host_fed and (host_fed != list(range(c.rows - len(host_fed), c.rows)) or len(host_fed) > 2):
            raise SpikeCoreError(f"core {c.core}: axon {host_fed[0]} is fed by no neuron of the previous layer and is "
                                 "not one of the last (bias) axons")
        # bias axons: their payloads are not in the image; one is taken as payload 1, two as the fine-weight
        # pair (127, 1)
        payloads = {1: (isa.BINARY_PAYLOAD,), 2: (isa.PAYLOAD_MAX, isa.BINARY_PAYLOAD)}.get(len(host_fed), ())
        for axon in range(c.rows):
            row = c.weights[axon]
            if previous is None:
                weight[start:start + c.count, axon] = row
            elif (c.core, axon) in source_of:
                weight[start:start + c.count, source_of[(c.core, axon)]] = row
            else:
                bias[start:start + c.count] += payloads[host_fed.index(axon)] * row
        start += c.count
    fine = previous is not None and previous[0].twin_targets is not None
    if fine:
        weight = merge_twins(weight)
    params = [p for c in group for p in c.params]
    field = {name: np.array([getattr(p, name) for p in params], dtype=np.int64)
             for name in isa.NEURON_FIELDS}
    if kind in ("Threshold", "Affine"):
        bias = field["init"].copy()
    unit = np.full(out, in_unit / isa.WEIGHT_MAX)
    offset = np.zeros(out)
    if kind == "IF":
        offset = -field["init"] * unit       # v(0) = 0 sits at membrane init
    subtract = first.fire is not None and first.fire.reset == ResetMode.SUB
    fine = fine or any(len(axons) == 2 for axons in fed_by_host)
    return ExportLayer(f"layer{index}", kind, weight, bias, field["threshold"], field["reset"], field["init"],
                       field["decay"], subtract, unit, offset, in_unit, fine)


def layers_from_image(image: Image) -> list[ExportLayer]:
    """The layers of an image laid out by the NIR compiler (see the module docstring for what is assumed).

    A board image (``chips > 1``, docs/spec.md §13) raises :class:`SpikeCoreError` once its cores pass the
    per-core checks: this reader follows the layout of one chip only (a board's layers would otherwise read as
    unreached cores, the wrong reason).
    """
    cores = {core_id: _read_core(core_id, section) for core_id, section in sorted(image.cores.items())}
    if not cores:
        raise SpikeCoreError("the image has no core sections")
    if image.config.chips > 1:  # after the per-core reasons (a split layer, CubaLIF), which hold on a board too
        raise SpikeCoreError(f"the image is a board of {image.config.chips} chips: NIR export of a board image "
                             "(chips > 1) is not supported")
    groups = _layers_of(cores)
    layers, in_unit, previous = [], 1.0 / isa.PAYLOAD_MAX, None
    for index, group in enumerate(groups):
        layer = _layer_from_cores(index, group, previous, in_unit, index == len(groups) - 1)
        layers.append(layer)
        fire = group[0].fire
        in_unit = 1.0 / (isa.PAYLOAD_MAX if fire is not None and fire.graded else isa.BINARY_PAYLOAD)
        previous = group
    return layers


def export_image(image: Image, dt: float | None = None):
    """The NIR graph of an image laid out by the NIR compiler (host-side facts as in the module docstring).

    ``dt`` (seconds per step) is required: the image stores no time step, and every time constant of the
    graph scales with it, so a guessed dt would silently give a different model (SpikeCoreError if ``None``).
    """
    layers = layers_from_image(image)
    if dt is None:
        raise SpikeCoreError("the image does not store dt (seconds per step), and the graph's time constants "
                             "depend on it: give --dt SECONDS (the dt it was compiled at)")
    features = layers[0].weight.shape[1]
    return to_graph("input", (features,), layers, dt, image.config, 1.0)


# --- the writer -----------------------------------------------------------------------------------------


def _check_rest(layer: ExportLayer, what: str, values: np.ndarray, expected: np.ndarray | int) -> None:
    if not np.array_equal(values, np.broadcast_to(expected, values.shape)):
        raise SpikeCoreError(f"layer '{layer.name}' ({layer.kind}): {what} differ from what the NIR discretisation "
                             "gives; this program does not export to NIR")


def _neuron_node(layer: ExportLayer, dt: float):
    import nir

    unit, offset = layer.unit, layer.offset
    meta = {UNIT_KEY: unit.copy()}
    threshold = offset + (layer.threshold - 1) * unit
    if layer.kind in ("LIF", "LI"):
        tau = dt / (1.0 - layer.decay / float(1 << isa.DECAY_FRAC_BITS))
        _check_rest(layer, "initial membranes", layer.init, 0)
        if layer.kind == "LI":
            return nir.LI(tau=tau, r=tau / dt, v_leak=offset.copy(), metadata=meta)
        meta[RESET_KEY] = "subtract" if layer.subtract else "value"
        if layer.subtract:
            _check_rest(layer, "reset values (subtraction needs v_reset = v_leak)", layer.reset, 0)
        return nir.LIF(tau=tau, r=tau / dt, v_leak=offset.copy(), v_threshold=threshold,
                       v_reset=offset + layer.reset * unit, metadata=meta)
    _check_rest(layer, "LEAK factors of a layer without LEAK", layer.decay, 0)
    if layer.kind == "IF":
        _check_rest(layer, "reset values", layer.reset, 0)
        meta[RESET_KEY] = "subtract" if layer.subtract else "value"
        return nir.IF(r=np.full(unit.size, 1.0 / dt), v_threshold=threshold, v_reset=offset.copy(), metadata=meta)
    if layer.kind == "I":
        _check_rest(layer, "initial membranes", layer.init, 0)
        return nir.I(r=np.full(unit.size, 1.0 / dt), metadata=meta)
    _check_rest(layer, "stateless initial and reset values", layer.reset, layer.init)
    return nir.Threshold(threshold=threshold, metadata=meta)


def to_graph(input_name: str, input_shape: tuple[int, ...], layers: list[ExportLayer], dt: float,
             config: ChipConfig, input_max: float):
    """A ``nir.NIRGraph``: Input, then per layer its synapses (Affine, or Linear without bias) and its
    neuron node, then Output (see the module docstring for the parameter mapping). A layer with fine
    weights puts ``spikecore_fine_weights`` in the metadata, so that the importer splits them again."""
    import nir

    if not (isinstance(dt, float | int) and 0 < dt < float("inf")):
        raise SpikeCoreError(f"dt must be a finite positive number of seconds, not {dt!r}")
    nodes = {input_name: nir.Input(input_type=np.array(input_shape))}
    edges = []
    previous = input_name
    if len(input_shape) > 1:
        nodes["flatten"] = nir.Flatten(input_type=np.array(input_shape), start_dim=0, end_dim=-1)
        edges.append((previous, "flatten"))
        previous = "flatten"
    for layer in layers:
        scale = layer.unit[:, None] / layer.in_unit
        weight = layer.weight * scale
        bias = layer.bias * layer.unit
        synapse = f"{layer.name}_syn" if layer.kind != "Affine" else layer.name
        meta = {UNIT_KEY: layer.unit.copy()} if layer.kind == "Affine" else {}
        if bias.any():
            nodes[synapse] = nir.Affine(weight=weight, bias=bias, metadata=meta)
        else:
            nodes[synapse] = nir.Linear(weight=weight, metadata=meta)
        edges.append((previous, synapse))
        previous = synapse
        if layer.kind != "Affine":
            nodes[layer.name] = _neuron_node(layer, dt)
            edges.append((synapse, layer.name))
            previous = layer.name
    nodes["output"] = nir.Output(output_type=np.array([layers[-1].weight.shape[0]]))
    edges.append((previous, "output"))
    chip = format_chip(config)
    metadata = {DT_KEY: float(dt), CHIP_KEY: chip, INPUT_MAX_KEY: float(input_max)}
    if any(layer.fine for layer in layers):
        metadata[FINE_KEY] = True
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def write_nir(graph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` to ``path`` (atomically, :mod:`spikecore.outputs`); an OSError is one line naming the file."""
    with outputs.output_path(path) as temporary:
        write_nir_file(graph, temporary, path)


def write_nir_file(graph, temporary: os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """``nir.write`` of ``graph`` to ``temporary`` (a stand-in for ``path``, which errors name)."""
    import nir

    try:
        nir.write(os.fspath(temporary), graph)
    except OSError as error:
        # h5py's message is several lines and names no file; say which file and why, in one line.
        reason = error.strerror or str(error).splitlines()[0]
        raise SpikeCoreError(f"{os.fspath(path)}: cannot write the NIR file ({reason})") from None
