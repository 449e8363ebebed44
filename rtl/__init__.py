"""SpikeCore RTL: the chip in Amaranth HDL (docs/spec.md §8).

- :mod:`.layout` — bit layouts and the configuration address map, derived from :mod:`spikecore.isa`
- :mod:`.arith` — the integer semantics of §3 as Amaranth expressions
- :mod:`.core` — one neuron core; :mod:`.router` — the serial spike router
- :mod:`.trace_port` — trace record layouts, the signature unit, the trace decoder
- :mod:`.array` — the top level: cores, router, host interface, trace port
- :mod:`.sim_host` — host driver for Amaranth's simulator; :mod:`.crosscheck` — RTL vs golden model
- :mod:`.generate`, :mod:`.lint`, :mod:`.synth` — Verilog, Verilator lint, Yosys statistics
"""
