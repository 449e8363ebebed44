"""Energy pricing tables: picojoules per counted event, each number with its source.

A table prices the events of :mod:`spikecore.golden.counters` plus the mesh hops of the energy model:

================ =================================================================================
item             priced per
================ =================================================================================
``synaptic_op``  ACC multiply-accumulate (one synaptic operation, SOP)
``neuron_update`` neuron evaluated by FIRE or decayed by LEAK
``spike``        neuron that fired (the spike itself; its messages are priced as deliveries)
``delivery``     router delivery (a spike message into a core's buffer, dropped, or to the host)
``hop_ew``       east-west hop of a delivery on the notional mesh (``counters.mesh_hops``)
``hop_ns``       north-south hop
================ =================================================================================

Built-in tables (``--table``):

- ``loihi`` (default) — Davies et al., "Loihi: A Neuromorphic Manycore Processor with On-Chip Learning",
  IEEE Micro 38(1):82–99, 2018, doi:10.1109/MM.2018.112130359, Table 2 "Loihi pre-silicon performance
  and energy measurements" (p. 96; pre-silicon SDF and SPICE simulation, "consistent with early
  post-silicon characterization"): energy per synaptic spike op (min) 23.6 pJ; energy per neuron update
  (active / inactive) 81 pJ / 52 pJ; within-tile spike energy 1.7 pJ; energy per tile hop (E-W / N-S)
  3.0 pJ / 4.0 pJ. SpikeCore prices a neuron update at the inactive 52 pJ (with the minimum SOP figure,
  the table is a floor, not a typical value); an emitted spike costs nothing beyond its messages.
- ``odin`` — Frenkel et al., "A 0.086-mm² 12.7-pJ/SOP 64k-Synapse 256-Neuron Online-Learning Digital
  Spiking Neuromorphic Processor in 28-nm CMOS", IEEE Trans. Biomed. Circuits Syst. 13(1):145–158, 2019,
  doi:10.1109/TBCAS.2018.2880425: 12.7 pJ per SOP (the title's figure). ODIN's SOP energy includes the
  neuron update; it publishes no separate routing figure, so the other items are priced 0.
- ``reckon`` — Frenkel & Indiveri, "ReckOn: A 28nm Sub-mm² Task-Agnostic Spiking Recurrent Neural Network
  Processor Enabling On-Chip Learning over Second-Long Timescales", IEEE ISSCC 2022, arXiv:2208.09759:
  5.3 pJ per SOP; the other items are priced 0 for the same reason.

A user table is a JSON or TOML file (:func:`load_table`)::

    name = "my chip"                       # required
    citation = "where the figures come from"  # required
    [synaptic_op]                          # required; the other items are optional (priced 0 if absent)
    pj = 10.0
    source = "measured on board X, 2026"   # required for every item given

Latency is priced from array cycles at a clock: :data:`DEFAULT_CLOCK_MHZ`.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from spikecore.errors import SpikeCoreError

#: The clock latency is computed at unless ``--clock-mhz`` says otherwise. SpikeCore has no silicon: 100 MHz
#: is an assumed clock for an FPGA-class implementation of the RTL, not a measured or synthesised figure.
DEFAULT_CLOCK_MHZ = 100.0
CLOCK_SOURCE = "SpikeCore default: an assumed clock for an FPGA-class build of the RTL, not measured; --clock-mhz"

#: The priced items, in print order.
ITEMS = ("synaptic_op", "neuron_update", "spike", "delivery", "hop_ew", "hop_ns")


@dataclass(frozen=True)
class Price:
    """Energy of one event in picojoules, and where the number comes from."""

    pj: float
    source: str


@dataclass(frozen=True)
class EnergyTable:
    """A pricing table: one :class:`Price` per item of :data:`ITEMS`."""

    name: str
    citation: str
    prices: dict[str, Price]
    short: str = ""     # a one-line citation for summaries; the full ``citation`` when empty

    @property
    def reference(self) -> str:
        return self.short or self.citation

    def price(self, item: str) -> Price:
        return self.prices[item]


_DAVIES = "Davies et al., IEEE Micro 38(1):82-99, 2018, Table 2 (pre-silicon SDF/SPICE simulation)"

LOIHI = EnergyTable(
    name="loihi",
    citation=("Davies et al., 'Loihi: A Neuromorphic Manycore Processor with On-Chip Learning', IEEE Micro "
              "38(1):82-99, 2018, doi:10.1109/MM.2018.112130359, Table 2 (p. 96): pre-silicon SDF and SPICE "
              "simulation figures"),
    prices={
        "synaptic_op": Price(23.6, f"{_DAVIES}: 'Energy per synaptic spike op (min) 23.6 pJ'"),
        "neuron_update": Price(52.0, f"{_DAVIES}: 'Energy per neuron update (active / inactive) 81 pJ / 52 pJ'; "
                                     "the inactive figure"),
        "spike": Price(0.0, "Loihi prices a spike by its messages (deliveries, hops); nothing for the spike itself"),
        "delivery": Price(1.7, f"{_DAVIES}: 'Within-tile spike energy 1.7 pJ'"),
        "hop_ew": Price(3.0, f"{_DAVIES}: 'Energy per tile hop (E-W / N-S) 3.0 pJ / 4.0 pJ'"),
        "hop_ns": Price(4.0, f"{_DAVIES}: 'Energy per tile hop (E-W / N-S) 3.0 pJ / 4.0 pJ'"),
    },
    short="Davies et al., IEEE Micro 2018, Table 2",
)

_NOT_PUBLISHED = "not published separately by {}: priced 0"

ODIN = EnergyTable(
    name="odin",
    citation=("Frenkel et al., 'A 0.086-mm2 12.7-pJ/SOP 64k-Synapse 256-Neuron Online-Learning Digital Spiking "
              "Neuromorphic Processor in 28-nm CMOS', IEEE TBioCAS 13(1):145-158, 2019, "
              "doi:10.1109/TBCAS.2018.2880425"),
    prices={"synaptic_op": Price(12.7, "Frenkel et al., IEEE TBioCAS 2019: 12.7 pJ/SOP (title figure)"),
            **{item: Price(0.0, _NOT_PUBLISHED.format("ODIN (Frenkel et al. 2019)")) for item in ITEMS[1:]}},
    short="Frenkel et al., IEEE TBioCAS 2019",
)

RECKON = EnergyTable(
    name="reckon",
    citation=("Frenkel & Indiveri, 'ReckOn: A 28nm Sub-mm2 Task-Agnostic Spiking Recurrent Neural Network Processor "
              "Enabling On-Chip Learning over Second-Long Timescales', IEEE ISSCC 2022, arXiv:2208.09759"),
    prices={"synaptic_op": Price(5.3, "Frenkel & Indiveri, ISSCC 2022: 5.3 pJ/SOP"),
            **{item: Price(0.0, _NOT_PUBLISHED.format("ReckOn (Frenkel & Indiveri 2022)")) for item in ITEMS[1:]}},
    short="Frenkel & Indiveri, ISSCC 2022",
)

#: The built-in tables by ``--table`` name.
TABLES = {table.name: table for table in (LOIHI, ODIN, RECKON)}
DEFAULT_TABLE = "loihi"


def _fail(path: str | Path, message: str) -> SpikeCoreError:
    return SpikeCoreError(f"{path}: {message}")


def load_table(path: str | Path) -> EnergyTable:
    """Read a user pricing table from a ``.json`` or ``.toml`` file (format in the module docstring).

    Raises :class:`SpikeCoreError` with one line naming the file and what is wrong: unreadable or malformed
    file, unknown suffix or key, a missing ``name``, ``citation``, ``synaptic_op``, ``pj`` or ``source``, a
    price that is not a finite number ≥ 0. Items other than ``synaptic_op`` may be left out (priced 0).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise _fail(path, f"energy table must be .json or .toml, not {suffix or '(no suffix)'!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _fail(path, "not UTF-8 text") from None
    try:
        data = json.loads(text) if suffix == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as err:
        raise _fail(path, f"malformed JSON: {err.msg} (line {err.lineno}, column {err.colno})") from None
    except tomllib.TOMLDecodeError as err:
        raise _fail(path, f"malformed TOML: {err}") from None
    if not isinstance(data, dict):
        raise _fail(path, f"expected a table of keys at the top level, found {type(data).__name__}")
    unknown = sorted(set(data) - {"name", "citation", *ITEMS})
    if unknown:
        raise _fail(path, f"unknown key {unknown[0]!r} (expected name, citation, {', '.join(ITEMS)})")
    for key in ("name", "citation"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise _fail(path, f"'{key}' must be a non-empty string")
    if "synaptic_op" not in data:
        raise _fail(path, "'synaptic_op' is required (an energy table must at least price a synaptic operation)")
    prices = {}
    for item in ITEMS:
        if item not in data:
            prices[item] = Price(0.0, f"not given in {path.name}: priced 0")
            continue
        entry = data[item]
        if not isinstance(entry, dict):
            raise _fail(path, f"'{item}' must be a table with 'pj' and 'source', not {type(entry).__name__}")
        extra = sorted(set(entry) - {"pj", "source"})
        if extra:
            raise _fail(path, f"'{item}': unknown key {extra[0]!r} (expected pj, source)")
        pj = entry.get("pj")
        if isinstance(pj, bool) or not isinstance(pj, int | float) or not math.isfinite(pj) or pj < 0:
            raise _fail(path, f"'{item}.pj' must be a finite number of picojoules >= 0, not {pj!r}")
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise _fail(path, f"'{item}.source' must say where the number comes from (a non-empty string)")
        prices[item] = Price(float(pj), source)
    return EnergyTable(name=data["name"], citation=data["citation"], prices=prices)


def resolve_table(spec: str) -> EnergyTable:
    """A built-in table by name (``loihi``, ``odin``, ``reckon``), else a user table file (:func:`load_table`)."""
    if spec in TABLES:
        return TABLES[spec]
    if Path(spec).suffix.lower() in (".json", ".toml"):
        return load_table(spec)
    raise SpikeCoreError(f"--table {spec!r}: expected {', '.join(TABLES)} or a .json/.toml table file")


def check_clock(mhz: float) -> float:
    """``mhz`` if it is a finite clock frequency > 0; else a one-line :class:`SpikeCoreError`."""
    if isinstance(mhz, bool) or not isinstance(mhz, int | float) or not math.isfinite(mhz) or mhz <= 0:
        raise SpikeCoreError(f"--clock-mhz must be a clock frequency > 0 MHz, not {mhz!r}")
    return float(mhz)
