"""The SpikeCore board: ``chips`` arrays in lock-step joined by a full mesh of links (docs/spec.md §13).

:class:`SpikeCoreBoard` instantiates one :class:`~spikecore.rtl.array.SpikeCoreArray` per chip (as a board
member, ``chip=c``) and one :class:`~spikecore.rtl.link.Link` per ordered pair of chips, ``chips × (chips −
1)``. Its host interface is the array's (§8) with the chip selected by:

- the configuration address's bits 31..28 (``config_address(core, space, index, chip)``);
- ``inj_chip`` beside ``inj_core`` (an injection into a chip outside the board is refused);

and every per-chip output as an array indexed by chip: ``trace_port[c]`` (chip ``c``'s trace port, §8.5,
``core`` local to the chip), ``out_*[c]`` and the signature ports ``sig_*[c]`` (each chip signs its own
records). ``busy``, ``done`` and ``cycle`` are the board's: the chips run in lock-step, so every chip's are
the same.

The board's sequencer is the AND / OR of the chips' phase ends: EXEC ends when every chip's cores have
halted, BARRIER goes on to DELIVER when some router has an entry, DELIVER ends in the cycle after which
every router is idle and every link is empty. On a link ``a -> b``, chip ``a``'s router pushes and chip
``b``'s takes (arrivals first, round robin, :class:`~spikecore.rtl.router.Router`).

>>> from spikecore.config import ChipConfig
>>> board = SpikeCoreBoard(ChipConfig(cores=2, chips=3))
>>> len(board.trace_port), sorted(board.links)[:2]
(3, [(0, 1), (0, 2)])
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import data, wiring

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.array import SpikeCoreArray, chip_outputs, host_ports
from spikecore.rtl.layout import CONFIG_ADDRESS
from spikecore.rtl.link import Link


class SpikeCoreBoard(wiring.Component):
    """A board of ``config.chips`` SpikeCore chips of ``config`` and their links.

    Parameters
    ----------
    config:
        The board's :class:`~spikecore.config.ChipConfig` (``chips`` 1 .. 16; each chip has the other sizes).

    Raises :class:`SpikeCoreError` when ``config`` is not a ChipConfig.
    """

    def __init__(self, config: ChipConfig) -> None:
        if not isinstance(config, ChipConfig):
            raise SpikeCoreError(f"SpikeCoreBoard: config must be a ChipConfig, not {config!r}")
        self.config = config
        chips = config.chips
        #: The ordered chip pairs ``(a, b)`` with a link ``a -> b``.
        self.links = [(a, b) for a in range(chips) for b in range(chips) if a != b]
        super().__init__({**host_ports(chip_select=True),
                          **{name: member.array(chips) for name, member in chip_outputs(config).items()}})

    def make_array(self, chip: int) -> SpikeCoreArray:
        """Chip ``chip`` of the board. The Verilog generator (:mod:`spikecore.rtl.instanced`) overrides this
        to build arrays whose cores are instances of one shared core module."""
        return SpikeCoreArray(self.config, chip=chip)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        chips = cfg.chips
        arrays = [self.make_array(c) for c in range(chips)]
        for c, array in enumerate(arrays):
            m.submodules[f"chip{c}"] = array
        links = {}
        for a, b in self.links:
            links[a, b] = m.submodules[f"link{a}_{b}"] = Link()

        # --- lock-step sequencing: every chip's phase ends are the board's --------------------------
        exec_done = Cat(*(array.exec_done for array in arrays)).all()
        has_work = Cat(*(array.has_work for array in arrays)).any()
        routers_idle = Cat(*(array.idle_next for array in arrays)).all()
        links_empty = Cat(*(link.fill == 0 for link in links.values())).all() if links else 1
        board_last = Signal()
        m.d.comb += board_last.eq(routers_idle & links_empty)
        for array in arrays:
            m.d.comb += [array.board_exec_done.eq(exec_done), array.board_has_work.eq(has_work),
                         array.board_last.eq(board_last)]

        # --- links: a's router pushes, b's router takes -------------------------------------------------
        for (a, b), link in links.items():
            sender, receiver = arrays[a], arrays[b]
            m.d.comb += [
                link.push_valid.eq(sender.link_push_valid[b]),
                link.push.eq(sender.link_push),
                sender.link_full[b].eq(link.full),
                sender.link_fill[b].eq(link.fill),
                receiver.link_due[a].eq(link.due),
                receiver.link_head[a].eq(link.head),
                link.take.eq(receiver.link_take[a]),
            ]

        # --- host interface ----------------------------------------------------------------------------
        addr = data.View(CONFIG_ADDRESS, self.cfg_addr)
        rd_chip = Signal(range(max(chips, 2)))
        m.d.sync += rd_chip.eq(addr.chip)
        chip_refused = Signal()
        m.d.sync += chip_refused.eq(self.inj_valid & (self.inj_chip >= chips))
        for c, array in enumerate(arrays):
            m.d.comb += [
                array.cfg_addr.eq(self.cfg_addr),
                array.cfg_wdata.eq(self.cfg_wdata),
                array.cfg_write.eq(self.cfg_write & (addr.chip == c)),
                array.cfg_read.eq(self.cfg_read),
                array.inj_valid.eq(self.inj_valid & (self.inj_chip == c)),
                array.inj_core.eq(self.inj_core),
                array.inj_axon.eq(self.inj_axon),
                array.inj_payload.eq(self.inj_payload),
                array.step.eq(self.step),
                array.reset_state.eq(self.reset_state),
            ]
            for name in chip_outputs(cfg):   # each chip's own outputs, named as the array's ports
                m.d.comb += getattr(self, name)[c].eq(getattr(array, name))
        m.d.comb += [
            self.cfg_rdata.eq(Array(array.cfg_rdata for array in arrays)[rd_chip]),
            self.cfg_rvalid.eq(arrays[0].cfg_rvalid),
            self.inj_accepted.eq(Cat(*(array.inj_accepted for array in arrays)).any()),
            self.inj_refused.eq(Cat(*(array.inj_refused for array in arrays)).any() | chip_refused),
            self.busy.eq(Cat(*(array.busy for array in arrays)).any()),
            self.done.eq(arrays[0].done),
            self.cycle.eq(arrays[0].cycle),
        ]
        return m
