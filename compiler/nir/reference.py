"""Float reference simulator of NIR graphs: numpy, forward Euler, the same ``dt`` and conventions as the chip.

This is what a compiled NIR program is *meant* to compute, in float64 and without SpikeCore's
fixed point or pipeline. It works on the ``nir.NIRGraph`` itself (not on the compiler's IR), evaluating
nodes in topological order with its own convolution and pooling loops, so a compiler mistake does not
cancel out. Per step ``t`` every node reads its predecessors' outputs of the *same* step (NIR's
instantaneous edges; the chip delays each layer by one step, which :mod:`~spikecore.app.nir_compare`
aligns). Several inputs to one node are summed.

Neurons (docs/spec.md §11, forward Euler at step ``dt``; state starts at rest: ``v_leak`` for LIF and LI,
0 for IF and I)::

    LIF  v += dt/tau * (v_leak - v + r * I);  z = v > v_threshold;  reset
    LI   v += dt/tau * (v_leak - v + r * I);  output v
    IF   v += dt * r * I;                     z = v > v_threshold;  reset
    I    v += dt * r * I;                     output v
    Threshold  z = I > threshold
    CubaLIF  i += dt/tau_syn * (w_in * I - i); v += dt/tau_mem * (v_leak - v + r * i)  (the new i);
             z = v > v_threshold; reset (i starts at 0)

Recurrent edges: an edge that closes a cycle (found depth-first from the Input, in edge order) carries its
source's output of the *previous* step: NIR's discrete-time recurrence, and what the chip does (a spike fired
in step t is delivered for step t + 1, docs/spec.md §2). Into step 0 it carries what its source gives when no
neuron has spiked yet: zero spikes, so a recurrent Affine's bias is there from step 0 on (as in snnTorch's
RSynaptic and RLeaky, whose recurrent Linear reads zero spikes at the first step).

Reset (IF, LIF): ``value`` sets ``v := v_reset`` where ``z``; ``subtract`` sets ``v -= v_threshold - v_reset``.
A node's metadata ``reset`` wins over the ``reset`` argument, as in the compiler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spikecore.compiler.back_edges import back_edges
from spikecore.errors import SpikeCoreError

SPIKING = ("IF", "LIF", "Threshold", "CubaLIF")


@dataclass
class NirTrace:
    """Per-step values of a simulation of ``T`` steps.

    ``outputs[name]``: ``(T, *shape)`` what node ``name`` emitted each step (0/1 spikes for IF, LIF and
    Threshold; the membrane for LI and I; the value for linear nodes). ``membranes[name]``: ``(T, *shape)``
    the membrane of neuron node ``name`` after each step (after its reset). ``output``: the Output node's values.
    """

    dt: float
    outputs: dict[str, np.ndarray]
    membranes: dict[str, np.ndarray]
    output: np.ndarray


def _f64(value: Any) -> np.ndarray:
    return np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value, dtype=np.float64)


def _like(value: Any, x: np.ndarray) -> np.ndarray:
    """A per-neuron parameter shaped like the signal ``x`` (a scalar broadcasts; a flat array is reshaped)."""
    array = _f64(value)
    return array.reshape(x.shape) if array.size == x.size else array


def _pair(value: Any) -> tuple[int, int]:
    values = np.asarray(value).reshape(-1).astype(int).tolist()
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _conv2d(x: np.ndarray, weight: np.ndarray, stride, padding, dilation, groups: int) -> np.ndarray:
    """Direct 2-D cross-correlation of ``x`` (C, H, W) with ``weight`` (O, C/groups, kh, kw)."""
    out_ch, group_in, kh, kw = weight.shape
    padded = np.pad(x, ((0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    height = (padded.shape[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    width = (padded.shape[2] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((out_ch, height, width))
    per_group = out_ch // groups
    for o in range(out_ch):
        g = o // per_group
        channels = padded[g * group_in:(g + 1) * group_in]
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dilation[0], i * dilation[0] + stride[0] * (height - 1) + 1, stride[0])
                cols = slice(j * dilation[1], j * dilation[1] + stride[1] * (width - 1) + 1, stride[1])
                out[o] += np.tensordot(weight[o, :, i, j], channels[:, rows, cols], axes=1)
    return out


def _conv_padding(node: Any, kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    padding = node.padding.decode() if isinstance(node.padding, bytes) else node.padding
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        return dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2
    return _pair(padding)


class _Node:
    """One node's step function and state."""

    def __init__(self, name: str, node: Any, dt: float, reset: str) -> None:
        self.name, self.node, self.dt = name, node, dt
        self.kind = type(node).__name__
        self.v: np.ndarray | None = None
        self.i: np.ndarray | None = None   # CubaLIF synaptic current
        meta = getattr(node, "metadata", None) or {}
        stored = meta.get("reset")
        self.reset = (stored.decode() if isinstance(stored, bytes) else str(stored)) if stored is not None else reset

    def start(self, x: np.ndarray) -> None:
        if self.kind in ("LIF", "LI", "CubaLIF"):
            self.v = np.broadcast_to(_like(self.node.v_leak, x), x.shape).astype(np.float64).copy()
            self.i = np.zeros(x.shape)
        elif self.kind in ("IF", "I"):
            self.v = np.zeros(x.shape)

    def step(self, x: np.ndarray) -> np.ndarray:
        node, kind, dt = self.node, self.kind, self.dt
        if kind in ("Input", "Output"):
            return x
        if kind in ("Affine", "Linear", "Conv2d") and x.ndim > (1 if kind != "Conv2d" else 3) and x.shape[0] == 1:
            x = x[0]   # an Input that kept a batch dimension of 1 (NIRTorch#17)
        if kind == "Affine":
            return _f64(node.weight) @ x + _f64(node.bias)
        if kind == "Linear":
            return _f64(node.weight) @ x
        if kind == "Scale":
            return _like(node.scale, x) * x
        if kind == "Flatten":
            rank = x.ndim
            start, end = int(np.asarray(node.start_dim).reshape(-1)[0]), int(np.asarray(node.end_dim).reshape(-1)[0])
            start, end = start % rank, end % rank
            return x.reshape(*x.shape[:start], -1, *x.shape[end + 1:])
        if kind == "Conv2d":
            weight = _f64(node.weight)
            dilation = _pair(node.dilation)
            padding = _conv_padding(node, weight.shape[2:], dilation)
            groups = int(np.asarray(node.groups).reshape(-1)[0])
            return _conv2d(x, weight, _pair(node.stride), padding, dilation, groups) + _f64(node.bias)[:, None, None]
        if kind in ("SumPool2d", "AvgPool2d"):
            kernel = _pair(node.kernel_size)
            channels = x.shape[0]
            ones = np.zeros((channels, 1, *kernel)) + 1.0
            out = _conv2d(x, ones, _pair(node.stride), _pair(node.padding), (1, 1), channels)
            return out / (kernel[0] * kernel[1]) if kind == "AvgPool2d" else out
        if kind == "Threshold":
            return (x > _like(node.threshold, x)).astype(np.float64)
        r = _like(node.r, x)
        if kind == "CubaLIF":
            self.i = self.i + dt / _like(node.tau_syn, x) * (_like(node.w_in, x) * x - self.i)
            self.v = self.v + dt / _like(node.tau_mem, x) * (_like(node.v_leak, x) - self.v + r * self.i)
        elif kind in ("LIF", "LI"):
            tau = _like(node.tau, x)
            # tau -> inf with r = tau/dt (snnTorch's beta = 1 export, tau = r = inf): no leak, gain dt*r/tau = 1.
            no_leak = np.isposinf(tau) & np.isposinf(r)
            with np.errstate(invalid="ignore"):
                leaky = self.v + dt / tau * (_like(node.v_leak, x) - self.v + r * x)
            self.v = np.where(no_leak, self.v + x, leaky)
        else:  # IF, I
            self.v = self.v + dt * r * x
        if kind in ("LI", "I"):
            return self.v.copy()
        threshold, v_reset = _like(node.v_threshold, x), _like(node.v_reset, x)
        spikes = self.v > threshold
        if self.reset == "subtract":
            self.v = np.where(spikes, self.v - (threshold - v_reset), self.v)
        else:
            self.v = np.where(spikes, v_reset, self.v)
        return spikes.astype(np.float64)


def recurrent_edges(graph) -> list[tuple[str, str]]:
    """The edges that close a cycle: depth-first from the Input node(s), children in edge order, an edge to
    a node still on the stack is recurrent (it carries the previous step's output)."""
    succ: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for src, dst in graph.edges:
        succ[str(src)].append(str(dst))
    roots = [n for n, node in graph.nodes.items() if type(node).__name__ == "Input"] + list(graph.nodes)
    return back_edges(succ, roots)


def _order(graph) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
    """Topological order (Kahn) over the feed-forward edges, each node's feed-forward predecessors and its
    recurrent predecessors (:func:`recurrent_edges`)."""
    back = set(recurrent_edges(graph))
    pred: dict[str, list[str]] = {name: [] for name in graph.nodes}
    late: dict[str, list[str]] = {name: [] for name in graph.nodes}
    succ: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for src, dst in graph.edges:
        src, dst = str(src), str(dst)
        if (src, dst) in back:
            late[dst].append(src)
            continue
        pred[dst].append(src)
        succ[src].append(dst)
    waiting = {name: len(p) for name, p in pred.items()}
    ready = [name for name, count in waiting.items() if count == 0]
    order = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for nxt in succ[name]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    if len(order) != len(graph.nodes):  # pragma: no cover - recurrent_edges breaks every cycle
        raise SpikeCoreError("the NIR reference could not order the graph's nodes")
    return order, pred, late


def _before_start(order: list[str], pred: dict[str, list[str]], cells: dict[str, _Node],
                  x0: np.ndarray | None) -> dict[str, np.ndarray]:
    """Every node's output "before step 0", what a recurrent edge carries into step 0: no input, no spikes
    (neurons emit zeros), and the linear nodes' values on that (an Affine's bias)."""
    values: dict[str, np.ndarray] = {}
    if x0 is None:
        return values
    for name in order:
        cell = cells[name]
        value = np.zeros_like(x0) if cell.kind == "Input" else sum(values[p] for p in pred[name])
        value = np.asarray(value, dtype=np.float64)
        values[name] = np.zeros_like(value) if cell.kind in (*SPIKING, "LI", "I") else cell.step(value)
    return values


def simulate_float(graph, x: np.ndarray, dt: float, reset: str = "value") -> NirTrace:
    """Run ``graph`` on ``x`` of shape ``(T, *input_shape)`` for ``T`` steps of ``dt`` seconds."""
    order, pred, late = _order(graph)
    inputs = [name for name in order if type(graph.nodes[name]).__name__ == "Input"]
    outputs = [name for name in order if type(graph.nodes[name]).__name__ == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise SpikeCoreError("the NIR reference needs exactly one Input and one Output node")
    for name in order:
        if type(graph.nodes[name]).__name__ in ("CubaLI", "Delay", "NIRGraph", "Conv1d"):
            raise SpikeCoreError(f"the NIR reference does not simulate node '{name}' of type "
                                 f"{type(graph.nodes[name]).__name__}")
    x = np.asarray(x, dtype=np.float64)
    steps = len(x)
    cells = {name: _Node(name, graph.nodes[name], dt, reset) for name in order}
    history: dict[str, list[np.ndarray]] = {name: [] for name in order}
    membranes: dict[str, list[np.ndarray]] = {name: [] for name in order if cells[name].kind in
                                              ("IF", "LIF", "LI", "I", "CubaLIF")}
    previous = _before_start(order, pred, cells, x[0] if steps else None)
    for t in range(steps):
        values: dict[str, np.ndarray] = {}
        for name in order:
            cell = cells[name]
            if cell.kind == "Input":
                value = x[t]
            else:
                value = sum(values[p] for p in pred[name])
                for p in late[name]:   # recurrent: last step's output
                    value = value + previous[p]
            value = np.asarray(value, dtype=np.float64)
            if t == 0 and cell.kind in ("IF", "LIF", "LI", "I", "CubaLIF"):
                cell.start(value)
            values[name] = cell.step(value)
            history[name].append(values[name])
            if name in membranes:
                membranes[name].append(cell.v.copy())
        previous = values
    stacked = {name: np.array(values) for name, values in history.items()}
    return NirTrace(dt, stacked, {name: np.array(v) for name, v in membranes.items()}, stacked[outputs[0]])


def spiking_nodes(graph) -> list[str]:
    """Names of the nodes that emit spikes (IF, LIF, Threshold, CubaLIF), in the graph's order."""
    return [name for name, node in graph.nodes.items() if type(node).__name__ in SPIKING]
