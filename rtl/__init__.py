"""SpikeCore RTL: the chip in Amaranth HDL (docs/spec.md §8). Imports only the ground (:mod:`spikecore`).

- :mod:`.layout` — bit layouts and the configuration address map, derived from :mod:`spikecore.isa`
- :mod:`.arith` — the integer semantics of §3 as Amaranth expressions
- :mod:`.core` — one neuron core; :mod:`.router` — the serial spike router
- :mod:`.trace_port` — trace record layouts, the signature unit, the trace decoder
- :mod:`.array` — the top level: cores, router, host interface, trace port
- :mod:`.generate`, :mod:`.synth` — Verilog text and Yosys statistics (their command lines:
  :mod:`spikecore.app.generate`, :mod:`spikecore.app.synth`)

Hosts of the chip (the Amaranth-simulator host, the cross-check against the golden model, Verilator lint)
live in :mod:`spikecore.verif`.
"""
