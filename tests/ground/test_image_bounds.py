"""The image writer and loader at every bound exactly (docs/spec.md §1.1, §1.2, §7).

Neuron fields: the record is ``threshold i32, reset i32, init i32, decay u16, fanout_start u8,
fanout_count u8`` (§7), so each field's range is typed in here from that table; the value at each end is
written and read back, one past either end is refused by the writer with one line (never a struct.error).
Whole images: a strategy that fills every memory of a drawn chip to its depth (program words =
imem_depth, weights = weight_bytes, neuron records = neurons, fan-out entries = fanout_depth, out-queue
pushes = fanout_depth); each must load, survive the byte format, and be refused one item past any bound.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import Image, decode_image, encode_image, save_image
from spikecore.isa import CoreImage, FanoutEntry, NeuronParams

HALT = 1 << 28
RANGES = {"threshold": (-2**31, 2**31 - 1), "reset": (-2**31, 2**31 - 1), "init": (-2**31, 2**31 - 1),
          "decay": (0, 2**16 - 1), "fanout_start": (0, 2**8 - 1), "fanout_count": (0, 2**8 - 1)}
ONE = ChipConfig(cores=1, neurons=2, weight_bytes=4, imem_depth=2, event_depth=1, fanout_depth=256)


def one_neuron(**fields: int) -> Image:
    """Core 0: HALT, one neuron with ``fields``; a fan-out table long enough for any start/count pair."""
    params = NeuronParams(**fields)
    table = [FanoutEntry(0, 0)] * min(256, max(params.fanout_start + params.fanout_count, 0))
    return Image(ONE, {0: CoreImage(program=[HALT], weights=[], neurons=[params], fanout=table)})


@pytest.mark.parametrize(("field", "end"), [(f, e) for f in RANGES for e in (0, 1)])
def test_neuron_field_at_its_limit_round_trips(field: str, end: int) -> None:
    value = RANGES[field][end]
    image = one_neuron(**{field: value})          # (no FIRE runs, so a 255-entry fan-out is no out-queue issue)
    assert getattr(decode_image(encode_image(image)).cores[0].neurons[0], field) == value


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, (lo, hi) in RANGES.items() for v in (lo - 1, hi + 1)])
def test_neuron_field_one_past_its_limit_is_one_line(field: str, value: int, tmp_path) -> None:
    lo, hi = RANGES[field]
    image = Image(ONE, {0: CoreImage(program=[HALT], weights=[], neurons=[NeuronParams(**{field: value})],
                                     fanout=[])})
    path = tmp_path / "out.bin"
    with pytest.raises(SpikeCoreError) as info:
        save_image(image, path)
    assert str(info.value) == f"{path}: core 0 section: neuron 0 {field} is {value}, must be {lo}..{hi}"
    assert not path.exists()


def test_membrane_init_two_to_the_31_is_refused_not_a_struct_error() -> None:
    image = one_neuron(init=2**31)
    with pytest.raises(SpikeCoreError) as info:
        encode_image(image, "prog.bin")
    assert str(info.value) == "prog.bin: core 0 section: neuron 0 init is 2147483648, must be -2147483648..2147483647"


# --- images that fill every memory exactly ------------------------------------------------------------------

@st.composite
def full_images(draw: st.DrawFn) -> Image:
    cfg = ChipConfig(cores=draw(st.integers(1, 3)), neurons=draw(st.sampled_from([1, 2, 4, 8])),
                     weight_bytes=draw(st.sampled_from([1, 2, 8, 32])), imem_depth=draw(st.integers(2, 6)),
                     event_depth=draw(st.integers(1, 4)), fanout_depth=draw(st.integers(1, 12)))
    cores = {}
    for core in range(cfg.cores):
        # fan-out counts summing to fanout_depth, all fired once by one FIRE over every neuron
        cuts = sorted(draw(st.lists(st.integers(0, cfg.fanout_depth), min_size=cfg.neurons - 1,
                                    max_size=cfg.neurons - 1)))
        bounds = [0, *cuts, cfg.fanout_depth]
        neurons = [NeuronParams(threshold=draw(st.integers(-2**31, 2**31 - 1)), decay=draw(st.integers(0, 65535)),
                                fanout_start=bounds[i] if bounds[i + 1] > bounds[i] else 0,
                                fanout_count=bounds[i + 1] - bounds[i]) for i in range(cfg.neurons)]
        fire_all = 3 << 28 | (cfg.neurons - 1) << 12
        program = [fire_all, *[0] * (cfg.imem_depth - 2), HALT]
        dests = st.sampled_from([*range(cfg.cores), 255])
        cores[core] = CoreImage(program=program, weights=draw(st.lists(st.integers(-128, 127),
                                                                       min_size=cfg.weight_bytes,
                                                                       max_size=cfg.weight_bytes)),
                                neurons=neurons,
                                fanout=[FanoutEntry(draw(dests), draw(st.integers(0, 255)))
                                        for _ in range(cfg.fanout_depth)])
    return Image(cfg, cores)


def refusal(image: Image) -> str:
    with pytest.raises(SpikeCoreError) as info:
        encode_image(image)
    return str(info.value)


@settings(max_examples=60, deadline=None, database=None)
@given(image=full_images())
def test_images_filled_to_every_bound_load_and_one_more_is_refused(image: Image) -> None:
    cfg, core = image.config, image.cores[0]
    assert decode_image(encode_image(image)) == image
    assert sum(n.fanout_count for n in core.neurons) == cfg.fanout_depth      # the out-queue exactly full

    def one_more(**changes) -> Image:
        return Image(cfg, {**image.cores, 0: dataclasses.replace(core, **changes)})

    assert refusal(one_more(program=[*core.program, HALT])) == \
        f"image: core 0 section: {cfg.imem_depth + 1} program words exceed the core's imem_depth of {cfg.imem_depth}"
    assert refusal(one_more(weights=[*core.weights, 0])) == \
        f"image: core 0 section: {cfg.weight_bytes + 1} weights exceed the core's weight_bytes of {cfg.weight_bytes}"
    assert refusal(one_more(neurons=[*core.neurons, NeuronParams()])) == \
        f"image: core 0 section: {cfg.neurons + 1} neuron records exceed the core's neurons of {cfg.neurons}"
    assert refusal(one_more(fanout=[*core.fanout, FanoutEntry(0, 0)])) == \
        (f"image: core 0 section: {cfg.fanout_depth + 1} fan-out entries exceed the core's fanout_depth of "
         f"{cfg.fanout_depth}")
    # one more push: fire the whole core twice (a NOP slot becomes a FIRE) when there is a NOP to replace
    if cfg.imem_depth > 2:
        program = [core.program[0], core.program[0], *core.program[2:]]
        assert refusal(one_more(program=program)) == \
            (f"image: core 0 section: FIREs could push {2 * cfg.fanout_depth} deliveries in one step, more than the "
             f"out-queue's {cfg.fanout_depth} (fanout_depth)")
