"""Sum-preserving rounding of weight rows: each neuron's rounding errors add up to at most half a step.

Rounding every weight of a row to the nearest integer leaves a per-synapse error ``e_i`` of at most half a
step, but their sum ``S = Σ e_i`` over a row of ``n`` synapses is a random walk of spread ``sqrt(n / 12)``
steps (about 2 steps for 50 synapses, 3.5 for 144). That sum is the neuron's *mean* error: with inputs that
fire at a common rate ``p`` the membrane is off by ``p S`` per step on average, and a neuron without leak
(an IF neuron: every layer of the NIR paper's CNN) integrates that drift for ever, so it fires early or late
with the sign of ``S``. The random part of the error, ``Σ e_i x_i − p S``, grows only with the square root
of the time.

:func:`round_rows` therefore rounds to nearest and then moves the ``k = round(|S|)`` weights whose errors
are closest to half a step (and have the sign of ``S``) to their other neighbour, so that ``|S| ≤ 1/2``.
Among all roundings to a neighbouring integer this is the one that changes the fewest weights for that
sum, and each moved weight ends at most ``1/2 + δ`` from its value when it was ``1/2 − δ`` before (with
about ``sqrt(n / 12)`` of ``n`` weights moved, their squared error grows by ``Σ (1 − 2|e_i|)``, close to
0). It is "largest remainder" rounding (Hamilton's apportionment), row by row. A weight already on the
integer grid (error 0) is never moved, so an exactly representable network stays exact, and a value is
never moved past ``±limit`` (no weight leaves its field). Measured effect on the NIR paper CNN:
docs/compiler.md, "NIR accuracy".
"""

from __future__ import annotations

import numpy as np

#: A row sum within this of k + 1/2 counts as exactly k + 1/2 (float64 sums of ~10^3 errors).
_TIE = 1e-9


def round_rows(values: np.ndarray, limit: float) -> np.ndarray:
    """``values`` ``(rows, columns)`` float rounded per row so that each row's error sum is at most 1/2.

    Returns float64 integers of the same shape (the caller checks and casts them). A value is moved only to
    its other integer neighbour, never past ``±limit``; a row whose sum cannot be brought within 1/2 that
    way (all its candidates at the limit) keeps the best it can. Moved first: the errors closest to 1/2,
    ties in column order (deterministic).

    >>> round_rows(np.array([[0.4, 0.4, 0.4, 0.0]]), 127).tolist()       # nearest: 0, 0, 0 (sum error -1.2)
    [[1.0, 0.0, 0.0, 0.0]]
    >>> round_rows(np.array([[0.5, 2.5, 7.0]]), 127).tolist()            # nearest (to even): 0, 2 (sum -1)
    [[1.0, 2.0, 7.0]]
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"round_rows takes a 2-D array, not shape {values.shape}")
    rounded = np.rint(values)
    error = rounded - values
    total = error.sum(axis=1)
    moves = np.floor(np.abs(total) + 0.5 - _TIE).astype(np.int64)
    if not moves.any():
        return rounded
    sign = np.sign(total)[:, None]
    # a candidate has an error of the row sum's sign (so not 0: on-grid values never move) and stays in range;
    # only its (row, column) pairs are sorted, so a mostly-zero matrix (a convolution's) costs its non-zeros
    candidate = (moves > 0)[:, None] & (np.sign(error) == sign) & (np.abs(rounded - sign) <= limit)
    rows, cols = np.nonzero(candidate)
    order = np.lexsort((cols, -np.abs(error[rows, cols]), rows))    # by row, largest |error| first, then column
    rows, cols = rows[order], cols[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    move = rank < moves[rows]
    rounded[rows[move], cols[move]] -= sign[rows[move], 0]
    return rounded
