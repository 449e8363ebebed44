"""No silent saturation: every compile-time value that does not fit its chip field is refused or, when the user
allows it, clipped and counted.

The quantisers (:mod:`~spikecore.compiler.quantize`, :mod:`~spikecore.compiler.nir.discretize`) pass every integer
they make for a chip field (weights, bias-axon weights, biases, initial membranes, reset values, thresholds,
LEAK factors) through one :class:`SaturationPolicy`. A value outside the field's range is, by default, one
:class:`~spikecore.errors.SpikeCoreError` line naming the layer, the neuron, the value needed and the largest
representable::

    layer 'fc' neuron 3: the bias current needs 20000 membrane units per step, the largest representable on
    one bias axon is 16129 (use --allow-saturation to clip with a warning)

With ``allow=True`` (``--allow-saturation``) the values are clipped to the field and every clipped field is
recorded as a :class:`Saturation` (how many neurons, the worst value), which ``spikecore compile --report``
prints and ``report.json`` lists. Input values above the input range are a run-time matter: the runtimes count
them (:meth:`~spikecore.compiler.ir.QuantInput.clipped`).

>>> policy = SaturationPolicy(allow=True)
>>> policy.fit("fc", "weight", np.array([3, 130, -200]), -127, 127, "weight steps").tolist()
[3, 127, -127]
>>> policy.events[0].line()
"layer 'fc': weight clipped on 2 values (worst: neuron 2 needs -200 weight steps, largest representable -127)"
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from spikecore.errors import SpikeCoreError

ALLOW_HINT = "use --allow-saturation to clip with a warning"


@dataclass(frozen=True)
class Saturation:
    """One chip field of one layer that was clipped: ``count`` values, the worst at ``neuron`` needing ``needed``."""

    layer: str
    what: str
    count: int
    neuron: int
    needed: float
    largest: float
    unit: str

    def line(self) -> str:
        return (f"layer '{self.layer}': {self.what} clipped on {self.count} value{'s' * (self.count != 1)} (worst: "
                f"neuron {self.neuron} needs {_number(self.needed)} {self.unit}, largest representable "
                f"{_number(self.largest)})")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SaturationPolicy:
    """Refuse (default) or clip-and-record values that leave their chip field (see the module docstring)."""

    allow: bool = False
    events: list[Saturation] = field(default_factory=list)

    def fit(self, layer: str, what: str, values: np.ndarray, low: float, high: float, unit: str,
            field_name: str = "") -> np.ndarray:
        """``values`` (one per neuron, or ``(neurons, inputs)`` for weights) inside ``low..high`` of the chip field
        ``field_name`` (e.g. "the int32 membrane"; named in the refusal).

        Raises :class:`SpikeCoreError` (not allowed) or clips and records a :class:`Saturation` (allowed).
        """
        values = np.asarray(values)
        if values.dtype.kind == "f":
            values = values.astype(np.float64)   # float32 cannot hold int32 limits: 2**31 - 1 would round up
        over = (values < low) | (values > high)
        if not over.any():
            return values
        excess = np.where(values > high, values - high, np.where(values < low, low - values, 0))
        flat = int(np.argmax(excess))
        neuron = int(np.unravel_index(flat, values.shape)[0]) if values.ndim else 0
        needed = values.reshape(-1)[flat]
        largest = high if needed > high else low
        if not self.allow:
            field_text = f" in {field_name}" if field_name else ""
            raise SpikeCoreError(f"layer '{layer}' neuron {neuron}: {what} needs {_number(needed)} {unit}, the "
                                 f"largest representable{field_text} is {_number(largest)} ({ALLOW_HINT})")
        self.events.append(Saturation(layer, what, int(over.sum()), neuron, float(needed), float(largest), unit))
        return np.clip(values, low, high)

    def summary(self) -> str:
        """One warning line per clipped field ('' when nothing was clipped)."""
        return "\n".join(f"warning: {event.line()}" for event in self.events)


def _number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.6g}"
