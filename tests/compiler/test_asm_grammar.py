"""Assembly built from the grammar of docs/spec.md §9, and token-level mutations of it.

``sources()`` writes a valid program statement by statement from the grammar (a `.chip` line with its keys
in any order, `.equ` constants, sections with labels, every instruction with its operands in any order,
values in decimal, hex, signed or by `.equ` name, `.weights`, `.neuron`, `.fanout`, comments) and builds
the image it must assemble to, independently, from the same draws. ``test_token_mutations`` then changes
one token of such a program (replaced by another word of the language or a boundary number, deleted,
duplicated, or a number moved by one) and checks the assembler's contract: a valid image, or one error
line ``file:line: ...`` on the mutated line or later (or on the `.core` / `.neuron` / `.fanout` line of
a whole-section rule, §9 "Errors").
"""

from __future__ import annotations

import re
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import Image, decode_image, encode_image
from spikecore.isa import CoreImage, FanoutEntry, NeuronParams

RESETS = ["none", "value", "sub", "always"]
OPERANDS = {"nop": [], "halt": [], "acc": ["neuron", "count", "wbase"],
            "fire": ["neuron", "count", "shift", "reset", "graded"], "leak": ["neuron", "count"]}
OPCODES = {"nop": 0, "halt": 1, "acc": 2, "fire": 3, "leak": 4}
VOCABULARY = [*OPERANDS, "NOP", "Fire", ".chip", ".equ", ".core", ".weights", ".neuron", ".fanout", ".org",
              "neuron", "count", "wbase", "shift", "reset", "graded", "threshold", "init", "decay", "fanout_start",
              "fanout_count", "cores", "neurons", "weight_bytes", "imem_depth", "event_depth", "fanout_depth",
              "host", *RESETS, "0", "1", "-1", "+1", "0x0", "0xff", "0x100", "255", "256", "4095", "4096",
              "2147483647", "2147483648", "-2147483648", "-2147483649", "65535", "65536", "undefined_name", "K0"]


@st.composite
def sources(draw: st.DrawFn) -> tuple[str, Image]:
    cfg = ChipConfig(cores=draw(st.integers(1, 3)), neurons=draw(st.sampled_from([2, 4, 8])),
                     weight_bytes=draw(st.sampled_from([4, 16])), imem_depth=draw(st.integers(3, 6)),
                     event_depth=draw(st.integers(1, 4)), fanout_depth=draw(st.integers(2, 6)))
    keys = draw(st.permutations(["cores", "neurons", "weight_bytes", "imem_depth", "event_depth", "fanout_depth"]))
    sep = st.sampled_from([", ", " ", ",", " , "])
    lines = [".chip " + "".join(f"{k}={getattr(cfg, k)}" + draw(sep) for k in keys).rstrip(" ,")]
    consts: dict[str, int] = {}
    for i in range(draw(st.integers(0, 3))):
        consts[f"K{i}"] = draw(st.integers(0, 3))
        lines.append(f".equ K{i}{draw(st.sampled_from([', ', ' ']))}{consts[f'K{i}']}")

    def value(n: int) -> str:
        names = [k for k, v in consts.items() if v == n]
        forms = [str(n), f"+{n}" if n >= 0 else str(n)] + ([f"0x{n:x}"] if n >= 0 else []) + names
        return draw(st.sampled_from(forms))

    cores = {}
    labels = 0
    for core in sorted(draw(st.sets(st.integers(0, cfg.cores - 1), min_size=1))):
        lines.append(f".core {value(core)}")
        program, instr_lines = [], []
        for _ in range(draw(st.integers(0, cfg.imem_depth - 1))):
            mnemonic = draw(st.sampled_from(["nop", "acc", "fire", "fire", "leak"]))
            ops = {"neuron": draw(st.integers(0, cfg.neurons - 1))}
            ops["count"] = draw(st.integers(1, cfg.neurons - ops["neuron"]))
            ops |= {"wbase": draw(st.integers(0, cfg.weight_bytes - 1)), "shift": draw(st.integers(0, 31)),
                    "reset": draw(st.integers(0, 3)), "graded": draw(st.integers(0, 1))}
            used = OPERANDS[mnemonic]
            order = draw(st.permutations(used))
            texts = [f"{k}={RESETS[ops[k]] if k == 'reset' and draw(st.booleans()) else value(ops[k])}" for k in order]
            word = OPCODES[mnemonic] << 28
            if used:
                word |= ops["neuron"] << 20 | (ops["count"] - 1) << 12
            if mnemonic == "acc":
                word |= ops["wbase"]
            if mnemonic == "fire":
                word |= ops["shift"] << 7 | ops["reset"] << 5 | ops["graded"] << 4
            program.append(word)
            name = draw(st.sampled_from([mnemonic, mnemonic.upper()]))
            instr_lines.append((name + " " + "".join(t + draw(sep) for t in texts)).rstrip(" ,"))
        program.append(1 << 28)
        instr_lines.append("halt")
        if draw(st.booleans()):
            instr_lines[0] = f"L{labels}: {instr_lines[0]}"
            labels += 1
        lines += [f"    {t}" + draw(st.sampled_from(["", "  ; comment", " # note"])) for t in instr_lines]
        weights = draw(st.lists(st.integers(-128, 127), max_size=cfg.weight_bytes))
        if weights:
            lines.append(".weights 0: " + " ".join(map(str, weights)))
        fanout = draw(st.lists(st.tuples(st.sampled_from([*range(cfg.cores), 255]), st.integers(0, 255)),
                               max_size=cfg.fanout_depth))
        if fanout:
            lines.append(".fanout 0: " + " ".join(f"{'host' if c == 255 else c}:{a}" for c, a in fanout))
        fires = [w for w in program if w >> 28 == 3]
        neurons = []
        for _ in range(draw(st.integers(0, cfg.neurons))):
            count = draw(st.integers(0, len(fanout)))
            start = draw(st.integers(0, len(fanout) - count)) if count else 0
            p = NeuronParams(threshold=draw(st.integers(-5, 5)), reset=draw(st.integers(-2**31, 2**31 - 1)),
                             init=draw(st.integers(-3, 3)), decay=draw(st.integers(0, 65535)), fanout_start=start,
                             fanout_count=count)
            neurons.append(p)
        pushes = sum(neurons[n].fanout_count for w in fires for n in range(w >> 20 & 0xFF, (w >> 20 & 0xFF)
                                                                            + (w >> 12 & 0xFF) + 1) if n < len(neurons))
        if pushes > cfg.fanout_depth:      # §1.2 out-queue bound: give up the fan-out rather than redraw
            neurons = [NeuronParams(p.threshold, p.reset, p.init, p.decay) for p in neurons]
        for n, p in enumerate(neurons):
            lines.append(f".neuron {value(n)} threshold={p.threshold} reset={p.reset} init={p.init} decay={p.decay} "
                         f"fanout_start={p.fanout_start} fanout_count={p.fanout_count}")
        cores[core] = CoreImage(program=program, weights=weights, neurons=neurons,
                                fanout=[FanoutEntry(c, a) for c, a in fanout])
    return "\n".join(lines) + "\n", Image(cfg, cores)


@settings(max_examples=120, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(source=sources())
def test_grammar_built_programs_assemble_to_their_image(source) -> None:
    text, image = source
    assert assemble(text, "gen.s") == image
    assert decode_image(encode_image(image)) == image


WORD = re.compile(r"[^\s,=:;#]+")


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, int, str]:
    text, _ = draw(sources())
    lines = text.splitlines()
    k = draw(st.integers(0, len(lines) - 1))
    words = list(WORD.finditer(lines[k].split(";")[0].split("#")[0]))
    if not words:
        return text, k + 1, "none"
    m = draw(st.sampled_from(words))
    kind = draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "number"]))
    token = m.group()
    if kind == "replace":
        new = draw(st.sampled_from(VOCABULARY))
    elif kind == "delete":
        new = ""
    elif kind == "duplicate":
        new = f"{token} {token}"
    else:
        digits = re.fullmatch(r"[+-]?\d+", token)
        if not digits:
            return text, k + 1, "none"
        new = str(int(token) + draw(st.sampled_from([-1, 1])))
    lines[k] = lines[k][:m.start()] + new + lines[k][m.end():]
    return "\n".join(lines) + "\n", k + 1, kind


def check_mutant(text: str, line: int) -> str:
    """The assembler's contract on one mutated source; returns the outcome's category."""
    try:
        image = assemble(text, "fuzz.s")
    except SpikeCoreError as err:
        message = str(err)
        assert "\n" not in message
        match = re.match(r"fuzz\.s:(\d+): (\S+(?: \S+)?)", message)
        assert match, message
        at = int(match.group(1))
        lines = text.splitlines()
        assert 1 <= at <= max(len(lines), 1), message
        section_rule = lines[at - 1].lstrip().startswith((".core", ".neuron", ".fanout"))
        assert at >= line or section_rule, f"error on line {at}, before the mutated line {line}: {message}"
        return re.sub(r"'[^']*'|\d+", "_", match.group(2))
    assert decode_image(encode_image(image)) == image
    return "accepted"


def test_token_mutations_give_a_valid_image_or_one_located_line() -> None:
    outcomes: Counter = Counter()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(case=mutated())
    def check(case) -> None:
        text, line, _ = case
        outcomes[check_mutant(text, line)] += 1

    check()
    # The mutations must get past the first word of a statement: many different rules answer, and some
    # mutants are still valid programs.
    assert outcomes["accepted"] >= 10, outcomes
    assert len(outcomes) >= 12, outcomes
    assert max(outcomes.values()) <= 0.5 * sum(outcomes.values()), outcomes
