"""The input arrays of a NIR graph on the command line: its per-step input shape, and one-line refusals of
``.npy`` files (``compile --calib``, ``compare --inputs`` / ``--calib``) whose shape does not match it."""

from __future__ import annotations

from typing import Any

import numpy as np

from spikecore.errors import SpikeCoreError


def graph_input_shape(graph: Any) -> tuple[int, ...]:
    """The per-step input shape of a NIR graph: its ``Input`` node's ``input`` type, e.g. ``(12,)``."""
    node = next((node for node in graph.nodes.values() if type(node).__name__ == "Input"), None)
    if node is None:
        raise SpikeCoreError("the graph has no Input node")
    return tuple(int(d) for d in np.asarray(node.input_type["input"]).reshape(-1))


def check_samples(path: str, x: np.ndarray, shape: tuple[int, ...], model: str, what: str = "input file",
                  first: str = "T") -> None:
    """Refuse (:class:`SpikeCoreError`, one line naming ``path``) an array ``x`` read from ``path`` whose
    shape is not ``(first, *shape)``, ``shape`` being the per-step input shape of the NIR graph ``model``."""
    if x.shape[1:] != shape:
        expected = f"({first}, " + ", ".join(str(d) for d in shape) + ")"
        raise SpikeCoreError(f"{what} {path}: shape {x.shape}, expected {expected} (the input of {model})")


def in_file(path: str, work):
    """``work()``; a :class:`SpikeCoreError` it raises names the NIR file ``path`` (once), as compile's do."""
    try:
        return work()
    except SpikeCoreError as err:
        text = str(err)
        raise SpikeCoreError(text if text.startswith(f"NIR file {path}") else f"NIR file {path}: {text}") from None
