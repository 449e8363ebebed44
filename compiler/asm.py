"""The SpikeCore assembler: assembly text (docs/spec.md §9) to an :class:`Image` or a bare program.

The grammar, one statement per line (``;`` or ``#`` starts a comment that runs to the end of the line)::

    line        := { label } [ statement ]
    label       := NAME ":"
    statement   := instruction | directive
    instruction := MNEMONIC [ operand { sep operand } ]      operand := NAME "=" value
    directive   := ".chip" { key=value }                    (once, before the first .core)
                 | ".equ" NAME [","] value                  (a constant; defined before use, never redefined)
                 | ".core" [ value ":" ] value              (the statements below load this core [of this chip])
                 | ".weights" value ":" value { sep value } (int8 weights from an address up)
                 | ".neuron" value { key=value }            (one neuron's parameters; unnamed keys keep defaults)
                 | ".fanout" value ":" dest { sep dest }    (fan-out entries from an index up)
                 | ".period" value [ sep value ]           (v2: the core runs in steps s with s mod D = phase)
    dest        := [ value ":" ] ( value | "host" ) ":" value   ([chip,] core or host, then axon)
    value       := [ "+" | "-" ] ( DECIMAL | "0x" HEX | NAME-defined-by-.equ )
    sep         := "," and/or white space

Mnemonics are case-insensitive; directive names, operand names, keys and the keywords ``host``, ``none``,
``value``, ``sub``, ``always`` are lowercase. Every instruction operand must be given (``nop`` and ``halt``
have none) except FIRE's ``wide`` (default 0); ``reset`` takes ``none|value|sub|always`` (or 0..3), ``graded`` and
``wide`` take 0 or 1, and ``wide=1`` needs ``graded=1``.

The mnemonic and operand tables are derived here from :data:`spikecore.isa.FIELDS`, once; the
disassembler (:mod:`spikecore.compiler.disasm`) prints with the same tables, so that
``assemble(disassemble_image(image))`` reproduces ``image`` exactly.

Every mistake is one :class:`SpikeCoreError` line ``"<file>:<line>: <what is wrong>"`` that quotes the
offending token, e.g. ``prog.s:7: unknown operand 'wbse' for acc (expected neuron, count, wbase)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spikecore import isa
from spikecore.config import ChipConfig, parse_chip
from spikecore.errors import SpikeCoreError
from spikecore.grammar import MAX_INT_DIGITS, bad_character, match_int, quote, split_lines, strip_bom
from spikecore.image import (
    Image,
    check_core,
    check_instruction,
    out_queue_bound,
)
from spikecore.isa import CoreImage, FanoutEntry, Instruction, NeuronParams, Opcode, ResetMode

#: Longest message (characters after ``file:line:``); longer ones keep their head and tail.
MESSAGE_LIMIT = 300

# --- the syntax tables (shared with the disassembler) -------------------------------------------------

#: Operands that may be left out (value 0): FIRE's ``wide`` (version 2), so that every earlier source still
#: assembles; the disassembler prints them only when non-zero.
OPTIONAL_OPERANDS = frozenset({isa.WIDE.name})

#: Mnemonic -> opcode, one per entry of isa.FIELDS.
MNEMONICS: dict[str, Opcode] = {opcode.name.lower(): opcode for opcode in isa.FIELDS}
#: Keyword -> reset mode for FIRE's ``reset`` operand.
RESET_NAMES: dict[str, ResetMode] = {mode.name.lower(): mode for mode in ResetMode}
#: Keyword naming the host as a fan-out destination core.
HOST_KEYWORD = "host"
#: Words a ``.equ`` may not define, because a value position gives them another meaning.
RESERVED_NAMES = frozenset({HOST_KEYWORD, *RESET_NAMES})


def mnemonic(opcode: Opcode) -> str:
    """The assembly mnemonic of ``opcode``."""
    return opcode.name.lower()


def operand_names(opcode: Opcode) -> tuple[str, ...]:
    """The operands an instruction takes, in the order the disassembler prints them."""
    return tuple(f.name for f in isa.FIELDS[opcode])


def format_operand(name: str, value: int) -> str:
    """One operand value as the assembler reads it (``reset`` by keyword, everything else decimal)."""
    if name == isa.RESET.name:
        return ResetMode(value).name.lower()
    return str(int(value))


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# The lines reach these patterns only as printable ASCII and tabs (run() refuses anything else), so \s is
# a space or a tab. Each pattern matches in time linear in its input (no nested or adjacent open repeats).
_LABEL = re.compile(rf"[ \t]*({_NAME})[ \t]*:")
_VALUE = re.compile(rf"([+-]?)({_NAME})")
_PAIR = re.compile(rf"({_NAME})=(.*)")
_HEAD = re.compile(r"(\S+)\s*(.*)")
_BLOCK = re.compile(r"([^:\s]+)\s*:\s*(.*)")


# --- results --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """Where a label points: ``core`` (None in a bare program) and the address of the next instruction."""

    name: str
    core: int | None
    address: int
    line: int


@dataclass
class Assembly:
    """An assembled source: the image plus what a listing needs (none of it is in the binary)."""

    image: Image
    labels: dict[str, Label] = field(default_factory=dict)
    constants: dict[str, int] = field(default_factory=dict)
    #: (core, address) -> source line of that instruction word.
    lines: dict[tuple[int | None, int], int] = field(default_factory=dict)


@dataclass
class _CoreDraft:
    """One ``.core`` section while it is being assembled; sparse until :meth:`_Assembler.finish_core`."""

    core_id: int
    line: int
    program: list[int] = field(default_factory=list)
    weights: dict[int, int] = field(default_factory=dict)            # address -> weight
    weight_lines: dict[int, int] = field(default_factory=dict)       # address -> source line
    neurons: dict[int, NeuronParams] = field(default_factory=dict)   # neuron -> parameters
    neuron_lines: dict[int, int] = field(default_factory=dict)
    fanout: dict[int, FanoutEntry] = field(default_factory=dict)     # index -> entry
    fanout_lines: dict[int, int] = field(default_factory=dict)
    period: tuple[int, int] = (1, 0)                                  # (D, phase), docs/spec.md §2
    period_line: int | None = None


# --- the assembler ----------------------------------------------------------------------------------------


class _Assembler:
    """Reads a source line by line; ``bare`` sources are instruction lists without ``.chip``/``.core``/data."""

    def __init__(self, name: str, bare: bool) -> None:
        self.name = name
        self.bare = bare
        self.line = 0
        self.config: ChipConfig | None = None
        self.chip_line: int | None = None
        self.cores: dict[int, CoreImage] = {}
        self.draft: _CoreDraft | None = None
        self.bare_program: list[int] = []
        self.result = Assembly(image=Image(config=ChipConfig()))

    # -- errors and values

    def error(self, message: str, line: int | None = None) -> SpikeCoreError:
        if len(message) > MESSAGE_LIMIT:  # a quoted token can be a whole megabyte-long line
            message = message[: MESSAGE_LIMIT // 2] + f" ...({len(message)} characters)... " + message[-40:]
        return SpikeCoreError(f"{self.name}:{self.line if line is None else line}: {message}")

    def value(self, token: str, what: str) -> int:
        """An integer token: decimal, 0x hex, or a .equ name, with an optional sign."""
        try:
            number = match_int(token)
        except SpikeCoreError:
            raise self.error(f"{what}: {quote(token)} is out of range (more than {MAX_INT_DIGITS} digits)") from None
        if number is not None:
            return number
        match = _VALUE.fullmatch(token)
        if not match:
            raise self.error(f"bad value '{token}' for {what} (expected a decimal, 0x hex or .equ name)")
        sign, name = match.groups()
        if name not in self.result.constants:
            raise self.error(f"unknown name '{name}' for {what} (not defined by .equ above)")
        number = self.result.constants[name]
        return -number if sign == "-" else number

    def ranged(self, token: str, what: str, low: int, high: int) -> int:
        number = self.value(token, what)
        if not low <= number <= high:
            raise self.error(f"{what}: {token} is out of range (must be {low}..{high})")
        return number

    def items(self, text: str, what: str) -> list[str]:
        """Split a list on commas and/or white space; an empty item (',,' or a trailing ',') is an error."""
        # Not re.sub(r"\s*=\s*"): that rescans a run of blanks from each of its positions (quadratic).
        text = "=".join(part.strip() for part in text.split("=")).strip()
        if not text:
            return []
        parts = re.split(r"\s*,\s*|\s+", text)
        if "" in parts:
            raise self.error(f"empty item in {what} (stray comma)")
        return parts

    def pairs(self, text: str, what: str, allowed: tuple[str, ...]) -> dict[str, str]:
        """``key=value`` items, each key from ``allowed`` and given at most once."""
        found: dict[str, str] = {}
        for item in self.items(text, what):
            match = _PAIR.fullmatch(item)
            if not match or not match.group(2):
                raise self.error(f"expected name=value in {what}, got '{item}'")
            key, token = match.groups()
            if key not in allowed:
                raise self.error(f"unknown {'operand' if what in MNEMONICS else 'key'} '{key}' for {what} "
                                 f"(expected {', '.join(allowed) if allowed else 'none'})")
            if key in found:
                raise self.error(f"{key} given twice for {what}")
            found[key] = token
        return found

    # -- the driver

    def run(self, text: str) -> None:
        lines = split_lines(strip_bom(text))
        for self.line, raw in enumerate(lines, start=1):
            statement = re.split(r"[;#]", raw, maxsplit=1)[0]
            bad = bad_character(statement)
            if bad is not None:
                raise self.error(f"unexpected character {bad[1]} at column {bad[0]} (outside a comment only "
                                 "printable ASCII, spaces and tabs)")
            position = 0  # labels are consumed by position: re-slicing the line per label is quadratic
            while match := _LABEL.match(statement, position):
                self.label(match.group(1))
                position = match.end()
            statement = statement[position:].strip()
            if not statement:
                continue
            head, rest = _HEAD.fullmatch(statement).groups()
            if head.startswith("."):
                self.directive(head, rest)
            else:
                self.instruction(head, rest)
        self.line = len(lines)
        if self.draft is not None:
            self.finish_core()

    def label(self, name: str) -> None:
        if name in self.result.labels:
            raise self.error(f"label '{name}' already defined at line {self.result.labels[name].line}")
        if self.bare:
            core, address = None, len(self.bare_program)
        elif self.draft is None:
            raise self.error(f"label '{name}' before any .core directive")
        else:
            core, address = self.draft.core_id, len(self.draft.program)
        self.result.labels[name] = Label(name, core, address, self.line)

    # -- instructions

    def instruction(self, word: str, rest: str) -> None:
        opcode = MNEMONICS.get(word.lower())
        if opcode is None:
            raise self.error(f"unknown mnemonic '{word}' (expected {', '.join(MNEMONICS)})")
        name = mnemonic(opcode)
        expected = operand_names(opcode)
        tokens = self.pairs(rest, name, expected)
        missing = [operand for operand in expected if operand not in tokens and operand not in OPTIONAL_OPERANDS]
        if missing:
            raise self.error(f"missing operand{'s' if len(missing) > 1 else ''} {', '.join(missing)} for {name} "
                             f"(expected {', '.join(expected)})")
        operands: dict[str, int] = {}
        for f in isa.FIELDS[opcode]:
            token = tokens.get(f.name, "0")   # only an OPTIONAL_OPERANDS operand can be absent
            if f is isa.RESET and token in RESET_NAMES:
                operands[f.name] = RESET_NAMES[token]
                continue
            if f is isa.RESET and re.fullmatch(_NAME, token) and token not in self.result.constants:
                raise self.error(f"bad reset '{token}' for {name} (expected {', '.join(RESET_NAMES)} "
                                 f"or {f.low}..{f.high})")
            number = self.value(token, f"{name} {f.name}")
            if not f.low <= number <= f.high:
                raise self.error(f"{f.name}={token} is out of range for {name} (must be {f.low}..{f.high})")
            operands[f.name] = number
        if "reset" in operands:
            operands["reset"] = ResetMode(operands["reset"])
        for flag in ("graded", "wide"):
            if flag in operands:
                operands[flag] = bool(operands[flag])
        if operands.get("wide") and not operands["graded"]:
            raise self.error(f"wide=1 needs graded=1 for {name} (a wide payload is a graded payload)")
        instr = Instruction(opcode, **operands)
        word_value = isa.encode(instr)
        if self.bare:
            self.result.lines[(None, len(self.bare_program))] = self.line
            self.bare_program.append(word_value)
            return
        draft = self.require_core(name)
        assert self.config is not None
        try:
            check_instruction(self.config, instr)
        except SpikeCoreError as err:
            raise self.error(f"{name}: {err}") from None
        if len(draft.program) >= self.config.imem_depth:
            raise self.error(f"{self.where(draft.core_id)} program is longer than imem_depth {self.config.imem_depth}")
        self.result.lines[(draft.core_id, len(draft.program))] = self.line
        draft.program.append(word_value)

    # -- directives

    def directive(self, head: str, rest: str) -> None:
        handlers = {
            ".chip": self.chip,
            ".equ": self.equ,
            ".core": self.core,
            ".weights": self.weights,
            ".neuron": self.neuron,
            ".fanout": self.fanout,
            ".period": self.period,
        }
        if head not in handlers:
            raise self.error(f"unknown directive '{head}' (expected {', '.join(handlers)})")
        if self.bare and head != ".equ":
            raise self.error(f"directive '{head}' is not allowed in a bare program (only instructions, labels, .equ)")
        handlers[head](rest)

    def require_core(self, what: str) -> _CoreDraft:
        if self.draft is None:
            raise self.error(f"{what} before any .core directive")
        return self.draft

    def chip_config(self) -> ChipConfig:
        """The chip config; fixed (the default product config unless .chip came first) from the first .core."""
        if self.config is None:
            self.config = ChipConfig()
        return self.config

    def chip(self, rest: str) -> None:
        if self.chip_line is not None:
            raise self.error(f".chip already given at line {self.chip_line}")
        if self.config is not None:
            raise self.error(".chip must come before the first .core")
        # The chip text form is parsed in one place (spikecore.config.parse_chip); the assembler only lays
        # out its items (blanks around '=', commas) and replaces .equ names by their values first.
        items = []
        for item in self.items(rest, ".chip"):
            key, sep, token = item.partition("=")
            if sep and _VALUE.fullmatch(token):
                token = str(self.value(token, f".chip {key}"))
            items.append(f"{key}{sep}{token}")
        try:
            self.config = parse_chip(" ".join(items), ".chip")
        except SpikeCoreError as err:
            raise self.error(str(err)) from None
        self.chip_line = self.line

    def equ(self, rest: str) -> None:
        # By hand, not one regex: "(\S+)\s*(,\s*|\s+)(\S+)" backtracks quadratically through a long run of blanks.
        text = rest.strip()
        name = re.match(r"[^\s,]*", text).group()
        after = text[len(name):]
        token = after.lstrip()
        if token.startswith(","):
            token = token[1:].lstrip()
        elif token == after:  # nothing between name and value
            token = ""
        if not name or not token or any(blank in token for blank in " \t"):
            raise self.error(f"expected '.equ NAME, VALUE', got '.equ {rest}'")
        if not re.fullmatch(_NAME, name):
            raise self.error(f"bad .equ name '{name}' (expected letters, digits, '_', not starting with a digit)")
        if name in RESERVED_NAMES:
            raise self.error(f".equ name '{name}' is a reserved keyword")
        if name in self.result.constants:
            raise self.error(f".equ name '{name}' already defined")
        self.result.constants[name] = self.value(token, f".equ {name}")

    def core(self, rest: str) -> None:
        config = self.chip_config()
        if not rest or len(rest.split()) != 1:
            raise self.error(f"expected '.core N' or '.core CHIP:N', got '{f'.core {rest}'.strip()}'")
        chip_token, colon, core_token = rest.strip().rpartition(":")
        if colon and not chip_token:
            raise self.error(f"expected '.core N' or '.core CHIP:N', got '.core {rest.strip()}'")
        chip = self.ranged(chip_token, ".core chip", 0, config.chips - 1) if colon else 0
        local = self.value(core_token, ".core")
        if not 0 <= local < config.cores:
            raise self.error(f".core: {core_token} is out of range (must be 0..{config.cores - 1})"
                             + ("" if colon else self.board_hint(local, ".core {chip}:{core}")))
        core_id = chip * config.cores + local
        if core_id in self.cores or (self.draft is not None and self.draft.core_id == core_id):
            raise self.error(f"{self.where(core_id)} already has a section")
        if self.draft is not None:
            self.finish_core()
        self.draft = _CoreDraft(core_id, self.line)

    def board_hint(self, core: int, form: str) -> str:
        """On a board (spec §13), how its cores are named, for an error about a core number given without its chip:
        ``"; a board of 2 chips x 2 cores names its cores chip:core (chip 0..1, core 0..1; a core alone is chip 0's):
        global core 3 is '.core 1:1'"`` with ``form`` (``".core {chip}:{core}"``) spelling the example; ``""`` on one
        chip."""
        config = self.chip_config()
        if config.chips == 1:
            return ""
        hint = (f"; a board of {config.chips} chips x {config.cores} cores names its cores chip:core (chip "
                f"0..{config.chips - 1}, core 0..{config.cores - 1}; a core alone is chip 0's)")
        if 0 <= core < config.board_cores:
            chip, local = divmod(core, config.cores)
            hint += f": global core {core} is '{form.format(chip=chip, core=local)}'"
        return hint

    def where(self, core_id: int) -> str:
        """``core N`` on one chip, ``chip C core N`` on a board (``core_id`` is the global id, spec §13)."""
        config = self.chip_config()
        return f"core {core_id}" if config.chips == 1 else "chip {} core {}".format(*divmod(core_id, config.cores))

    def block(self, rest: str, directive: str) -> tuple[int, list[str], str]:
        """``START: item item ...`` -> (start, items, start token)."""
        match = _BLOCK.fullmatch(rest.strip())
        if not match:
            raise self.error(f"expected '{directive} START: ...', got '{directive} {rest}'")
        start_token, body = match.groups()
        items = self.items(body, directive)
        if not items:
            raise self.error(f"{directive} {start_token}: lists nothing")
        return self.value(start_token, f"{directive} start"), items, start_token

    def weights(self, rest: str) -> None:
        draft = self.require_core(".weights")
        size = self.chip_config().weight_bytes
        start, tokens, start_token = self.block(rest, ".weights")
        if not 0 <= start < size:
            raise self.error(f".weights address {start_token} is outside the core's {size} bytes of weight memory")
        if start + len(tokens) > size:
            raise self.error(f".weights {start}: {len(tokens)} weights run past the core's {size} bytes "
                             "of weight memory")
        for offset, token in enumerate(tokens):
            address = start + offset
            if address in draft.weights:
                raise self.error(f"weight address {address} already set at line {draft.weight_lines[address]}")
            draft.weights[address] = self.ranged(token, f"weight at address {address}", isa.WEIGHT_MIN,
                                                 isa.WEIGHT_MAX)
            draft.weight_lines[address] = self.line

    def period(self, rest: str) -> None:
        """``.period D [PHASE]``: the core runs its program only in steps ``s`` with ``s mod D = PHASE``."""
        draft = self.require_core(".period")
        if draft.period_line is not None:
            raise self.error(f".period already given at line {draft.period_line}")
        tokens = self.items(rest, ".period")
        if len(tokens) not in (1, 2):
            raise self.error(f"expected '.period D' or '.period D PHASE', got '.period {rest.strip()}'")
        period = self.ranged(tokens[0], ".period", 1, isa.PERIOD_MAX)
        phase = self.ranged(tokens[1], ".period phase", 0, period - 1) if len(tokens) == 2 else 0
        draft.period, draft.period_line = (period, phase), self.line

    def neuron(self, rest: str) -> None:
        draft = self.require_core(".neuron")
        count = self.chip_config().neurons
        index_token, params_text = _HEAD.fullmatch(rest).groups() if rest else ("", "")
        if not index_token:
            raise self.error("expected '.neuron N key=value ...'")
        index = self.value(index_token, ".neuron index")
        if not 0 <= index < count:
            raise self.error(f".neuron {index_token} is outside the core's {count} neurons")
        if index in draft.neurons:
            raise self.error(f"neuron {index} already defined at line {draft.neuron_lines[index]}")
        values = {}
        for key, token in self.pairs(params_text, ".neuron", isa.NEURON_FIELDS).items():
            low, high = isa.NEURON_LIMITS[key]
            values[key] = self.ranged(token, f".neuron {key}", low, high)
        draft.neurons[index] = NeuronParams(**values)
        draft.neuron_lines[index] = self.line

    def fanout(self, rest: str) -> None:
        draft = self.require_core(".fanout")
        config = self.chip_config()
        start, tokens, start_token = self.block(rest, ".fanout")
        if not 0 <= start < config.fanout_depth:
            raise self.error(f".fanout index {start_token} is outside the core's {config.fanout_depth} "
                             "fan-out entries")
        if start + len(tokens) > config.fanout_depth:
            raise self.error(f".fanout {start}: {len(tokens)} entries run past the core's {config.fanout_depth} "
                             "fan-out entries")
        for offset, token in enumerate(tokens):
            index = start + offset
            parts = token.split(":")
            if len(parts) not in (2, 3) or not all(parts):
                raise self.error(f"bad fan-out entry '{token}' (expected core:axon, host:axon or chip:core:axon)")
            chip = self.ranged(parts[0], f"fan-out chip in '{token}'", 0, config.chips - 1) if len(parts) == 3 else 0
            core_token, axon_token = parts[-2:]
            if core_token == HOST_KEYWORD:
                core = isa.HOST_CORE
            else:
                core = self.value(core_token, "fan-out core")
                if not (0 <= core < config.cores or core == isa.HOST_CORE):
                    raise self.error(f"fan-out core {core_token} in '{token}' is outside the chip "
                                     f"(cores 0..{config.cores - 1}, or host)"
                                     + ("" if len(parts) == 3 else
                                        self.board_hint(core, "{chip}:{core}:" + axon_token)))
            axon = self.ranged(axon_token, f"fan-out axon in '{token}'", 0, isa.AXON_MAX)
            if index in draft.fanout:
                raise self.error(f"fan-out entry {index} already set at line {draft.fanout_lines[index]}")
            if core == isa.HOST_CORE and chip != 0:
                raise self.error(f"fan-out entry '{token}' names the host on chip {chip}; the host is chip 0's "
                                 "(every chip reaches it directly)")
            draft.fanout[index] = FanoutEntry(core, axon, chip)
            draft.fanout_lines[index] = self.line

    # -- closing a core section

    def finish_core(self) -> None:
        """Densify the current draft, check what needs the whole section, and store it."""
        draft = self.draft
        assert draft is not None and self.config is not None
        where = self.where(draft.core_id)
        if isa.HALT_WORD not in draft.program:
            raise self.error(f"{where} program has no halt", draft.line)
        table_size = max(draft.fanout, default=-1) + 1
        holes = [index for index in range(table_size) if index not in draft.fanout]
        if holes:
            raise self.error(f"{where} fan-out entry {holes[0]} is not defined (entries up to {table_size - 1} "
                             "are used)", draft.fanout_lines[table_size - 1])
        core = CoreImage(
            program=list(draft.program),
            weights=[draft.weights.get(a, 0) for a in range(max(draft.weights, default=-1) + 1)],
            neurons=[draft.neurons.get(n, NeuronParams()) for n in range(max(draft.neurons, default=-1) + 1)],
            fanout=[draft.fanout[i] for i in range(table_size)],
            period=draft.period[0],
            phase=draft.period[1],
        )
        for index, params in draft.neurons.items():
            end = params.fanout_start + params.fanout_count
            if params.fanout_count and end > table_size:
                raise self.error(f"neuron {index} fan-out range {params.fanout_start}..{end - 1} runs past the "
                                 f"{table_size} entries of {where}'s fan-out table", draft.neuron_lines[index])
        pushes = out_queue_bound(self.config, core)
        if pushes > self.config.outq_depth:
            raise self.error(f"{where} FIREs could push {pushes} deliveries in one step, more than the "
                             f"out-queue's {self.config.outq_depth} (fanout_depth)", draft.line)
        try:  # the image rules, once more, in the loader's own words: nothing the loader rejects gets out
            check_core(self.config, draft.core_id, core)
        except SpikeCoreError as err:
            raise self.error(str(err), draft.line) from None
        self.cores[draft.core_id] = core
        self.draft = None


# --- public entry points -------------------------------------------------------------------------------------


def assemble_with_symbols(text: str, name: str = "<input>") -> Assembly:
    """Assemble a whole-chip source; return the image with its labels, constants and line map."""
    assembler = _Assembler(name, bare=False)
    assembler.run(text)
    config = assembler.chip_config()
    assembler.result.image = Image(config=config, cores=dict(sorted(assembler.cores.items())))
    return assembler.result


def assemble(text: str, name: str = "<input>") -> Image:
    """Assemble a whole-chip source (``.chip``, ``.core`` sections, data directives) into an :class:`Image`."""
    return assemble_with_symbols(text, name).image


def assemble_program(text: str, name: str = "<input>") -> list[int]:
    """Assemble a bare instruction list (instructions, labels, ``.equ``) into its words.

    Without a ``.chip`` there is no core to check against, so only the encoder's field limits apply and
    no ``halt`` is required.
    """
    assembler = _Assembler(name, bare=True)
    assembler.run(text)
    return list(assembler.bare_program)
