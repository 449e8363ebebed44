"""Code generation: a :class:`PlacedProgram` to the binary :class:`Image` and a readable assembly listing.

The listing is valid assembly (docs/spec.md §9) for exactly the image — ``assemble(listing)`` gives it
back — with comments naming, for every core, the layer slice it holds; for every instruction, what it
does to which neurons; for every weight row, the source neuron whose events read it; for every neuron and
fan-out entry, the layer neuron it is. Instruction text comes from the disassembler, so the listing and
``spikecore disasm`` print instructions identically.
"""

from __future__ import annotations

from spikecore.compiler.disasm import instruction_text
from spikecore.compiler.ir import NirNeuron, PlacedCore, PlacedProgram, QuantDense
from spikecore.config import format_chip
from spikecore.image import Image
from spikecore.isa import HOST_CORE, CoreImage, Instruction, Opcode, ResetMode, encode

LISTING_COMMENT_COLUMN = 56


def build_image(placed: PlacedProgram) -> Image:
    """The loadable image: one section per used core. With ``quant.period`` D > 1 the cores of layer ``k`` run
    in the chip steps ``s`` with ``s mod D = k mod D`` (docs/spec.md §2, §11)."""
    period = placed.quant.period
    cores = {
        pc.core: CoreImage(program=[encode(ins) for ins in pc.program],
                           weights=[int(w) for w in pc.weights.reshape(-1)],
                           neurons=list(pc.neurons), fanout=list(pc.fanout),
                           period=period, phase=pc.layer_index % period)
        for pc in placed.cores
    }
    return Image(placed.config, cores)


def _explain(ins: Instruction, layer: QuantDense, pc: PlacedCore) -> str:
    neurons = f"{pc.layer}[{pc.start}..{pc.start + pc.count - 1}]"
    if pc.twins:
        neurons = {(0, pc.count): neurons, (pc.count, pc.count): f"the twins of {neurons}",
                   (0, 2 * pc.count): f"{neurons} and their twins"}.get((ins.neuron, ins.count), neurons)
    if pc.twins and ins.opcode == Opcode.FIRE and ins.neuron == pc.count:
        return f"{neurons}: the same spikes with payload 1 (fine weights)"
    if ins.opcode == Opcode.ACC:
        return f"{neurons} += payload x weight[axon] for every buffered event"
    if ins.opcode == Opcode.SACC:
        return f"synaptic currents of {neurons} += payload x weight[axon] for every buffered event"
    if ins.opcode == Opcode.SYN:
        return f"{neurons} += synaptic current, then current := round(current x syn_decay / 65536)"
    if ins.opcode == Opcode.MERGE:
        return f"{neurons} += the partial sums of their partial-sum cores (axon j adds to neuron j, unweighted)"
    if ins.opcode == Opcode.FIRE and ins.wide:
        return f"send every partial sum of {neurons} whole (24-bit event) to the merging core; clear"
    if ins.opcode == Opcode.HALT:
        return "end of this core's step"
    if ins.opcode == Opcode.LEAK:
        return f"{neurons} := round(v x decay / 65536) (forward-Euler leak)"
    if isinstance(layer.neuron, NirNeuron):
        return _explain_nir_fire(ins, layer)
    if layer.role == "output":
        return f"clear {neurons} to the bias each step (threshold never reached, nothing emitted)"
    if ins.graded and ins.reset == ResetMode.ALWAYS:
        return f"ReLU, payload = clamp(round(v / 2^{ins.shift}), 0, 127); membrane := bias"
    threshold = layer.neuron.threshold
    return f"integrate-and-fire: spike (payload 1) when v >= {threshold}, then v -= {threshold}"


def _explain_nir_fire(ins: Instruction, layer: QuantDense) -> str:
    """FIRE of a NIR layer (docs/nir.md): which NIR neuron it implements and what a spike carries."""
    if layer.neuron.kind == "Affine":
        return "clear to the bias each step (threshold never reached, nothing emitted)"
    payload = "payload 127 (saturated graded)" if ins.graded else "payload 1"
    then = {ResetMode.VALUE: "v := reset", ResetMode.SUB: "v -= threshold",
            ResetMode.ALWAYS: "v := bias (stateless)"}.get(ins.reset, "no reset")
    dest = " to the host" if layer.to_host else ""
    return f"{layer.neuron.kind}: spike ({payload}){dest} when v >= threshold (NIR v > v_threshold), then {then}"


def _line(text: str, comment: str) -> str:
    return f"{text.ljust(LISTING_COMMENT_COLUMN - 1)} ; {comment}" if comment else text


def listing(placed: PlacedProgram, title: str = "model") -> str:
    """Assembly text of the whole program, commented with layer and neuron names."""
    cfg, graph = placed.config, placed.quant
    layers = {layer.name: layer for layer in graph.layers}
    names = [graph.input.name] + [layer.name for layer in graph.layers]
    core_layer = {pc.core: pc.layer for pc in placed.cores}
    host = (f"; {placed.io.steps} steps per inference; the host resets state, injects input events before steps "
            f"{', '.join(map(str, placed.io.inject_steps[:3]))}{', ...' if len(placed.io.inject_steps) > 3 else ''} "
            "and reads the output membranes after the last step")
    if graph.encoding == "nir":
        host = (f"; NIR graph, one step per dt = {graph.dt:g} s: the host injects input x[t] before step t; layer k "
                "works on input time t in step t + k (docs/spec.md §11)")
    lines = [
        f"; SpikeCore program: {title}, {graph.encoding} mode"
        + (f" (T={graph.T})" if graph.encoding == "rate" else "")
        + f", {len(graph.layers)} layers on {len(placed.cores)} cores",
        host,
        ".chip " + format_chip(cfg),
    ]
    for pc in placed.cores:
        layer = layers[pc.layer]
        source = names[pc.layer_index]
        partial = ""
        if pc.partial:
            partial = (", partial sums (the host adds the other groups)" if layer.role == "output" else
                       ", partial sums over one group of the inputs (a merging core adds the groups)")
        elif pc.merge:
            partial = ", merging the partial sums of its partial-sum cores (docs/spec.md §4.8)"
        core_text = f"{pc.core}" if cfg.chips == 1 else "{}:{}".format(*divmod(pc.core, cfg.cores))   # spec §13
        lines += ["", _line(f".core {core_text}", f"layer {pc.layer} [{layer.origin}] ({layer.role}): neurons "
                            f"{pc.start}..{pc.start + pc.count - 1}, {len(pc.axons)} axons from {source}{partial}")]
        for ins in pc.program:
            lines.append(_line(f"    {instruction_text(ins)}", _explain(ins, layer, pc)))
        emitted = graph.input.features if pc.layer_index == 0 else graph.layers[pc.layer_index - 1].out_features
        for axon, src in enumerate(pc.axons):
            row = " ".join(str(int(w)) for w in pc.weights[axon])
            if layer.is_bias_source(src):
                payload = layer.bias_payloads()[src - layer.in_features]
                feed = f"bias current (host, payload {payload})"
            elif src >= layer.recurrent_base:
                feed = f"{pc.layer}[{src - layer.recurrent_base}] (recurrent: its spike of the previous step)"
            else:
                feed = f"{source}[{src % emitted}]" + (" twin (payload 1, fine weight)" if src >= emitted else "")
            lines.append(_line(f".weights {axon * pc.count}: {row}", f"axon {axon} <- {feed}"))
        labels = [f"{pc.layer}[{pc.start + j % pc.count}]" + (" twin" if j >= pc.count else "")
                  for j in range(len(pc.neurons))]
        for j, params in enumerate(pc.neurons):
            text = (f".neuron {j} threshold={params.threshold} reset={params.reset} init={params.init} "
                    f"decay={params.decay} fanout_start={params.fanout_start} fanout_count={params.fanout_count}"
                    + (f" syn_decay={params.syn_decay}" if params.syn_decay else ""))
            lines.append(_line(text, labels[j]))
        for j, params in enumerate(pc.neurons):
            if params.fanout_count:
                entries = pc.fanout[params.fanout_start:params.fanout_start + params.fanout_count]
                board = "{}:" if cfg.chips > 1 else ""
                dests = " ".join(board.format(e.chip) + f"{'host' if e.core == HOST_CORE else e.core}:{e.axon}"
                                 for e in entries)
                globals_ = [e.chip * cfg.cores + e.core for e in entries if e.core != HOST_CORE]
                readers = sorted({core_layer[g] for g in globals_ if g in core_layer})
                lines.append(_line(f".fanout {params.fanout_start}: {dests}", f"{labels[j]} -> {', '.join(readers)}"))
    return "\n".join(lines) + "\n"


def codegen(placed: PlacedProgram, title: str = "model") -> tuple[Image, str]:
    """The image and its listing."""
    return build_image(placed), listing(placed, title)
