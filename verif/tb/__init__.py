"""The cocotb testbench of the SpikeCore array: driver, monitor and mismatch report.

- :mod:`.driver` — loads an image through the configuration bus, injects host events, runs steps, reads
  the final state back (membranes, drop counters, host output spikes).
- :mod:`.monitor` — observes the trace port: FULL mode decodes every cycle's records, FAST mode checks the
  signature history every 32 cycles and hands a failing window to FULL mode.
- :mod:`.report` — the mismatch report, the JSON result and the JUnit XML of one run.

The cocotb test itself is :mod:`spikecore.verif.cocotb_array`; the scoreboard is
:mod:`spikecore.verif.scoreboard` (pure Python, usable offline).
"""
