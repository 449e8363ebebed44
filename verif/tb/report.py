"""The report of one co-simulation run: a text explanation of the first mismatch, a JSON result, JUnit XML.

The text names everything needed to start debugging without re-running anything: the cycle (and its
step), the core and neuron, the disassembled instruction that core was executing (from the golden
model's issue log), the expected and actual values, the last records of that core that did match, the
seed, the VCD file and the simulation time to jump to, and a one-line command that reproduces the run.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spikecore import outputs
from spikecore.compiler.disasm import disassemble_word
from spikecore.errors import SpikeCoreError
from spikecore.verif.scoreboard import Mismatch, Scoreboard, ScoreboardResult, instruction_at


@dataclass
class RunInfo:
    """What identifies a run and how to get it back."""

    seed: int | None
    cores: int
    #: The scoreboard's check, ``fast`` or ``full`` (:class:`~spikecore.verif.cocotb_array.RunSpec`).
    check: str
    variant: str = ""
    image: str = ""
    stimulus: str = ""
    steps: int = 0
    vcd: str = ""
    reproduce: str = ""
    wall_seconds: float = 0.0
    clock_period_ns: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def _instruction_text(board: Scoreboard, mismatch: Mismatch) -> str:
    if mismatch.cycle is None or mismatch.core is None:
        return "(not a trace record: no instruction)"
    step = board.step_of_cycle(mismatch.cycle)
    if step is None:
        return f"(cycle {mismatch.cycle} is outside every step the golden model ran)"
    log = board.issue_logs.get(step, [])
    if not log:
        return "(unknown: the golden model provides no issue log)"
    found = instruction_at(log, mismatch.core, mismatch.cycle)
    if found is None:
        return f"(core {mismatch.core} had issued nothing yet in step {step})"
    start = board.step_windows[step][0]
    halted = max((c for c, core, _, _ in log if core == mismatch.core), default=start)
    if mismatch.cycle > halted:
        return f"(core {mismatch.core} had halted on cycle {halted}; step {step} is in BARRIER/DELIVER or waiting)"

    def describe(pc: int, word: int) -> str:
        try:
            return f"pc {pc}: {disassemble_word(word)}  (0x{word:08x})"
        except SpikeCoreError:
            return f"pc {pc}: invalid word 0x{word:08x}"

    text = f"{describe(found.pc, found.word)}, issued on cycle {found.issue_cycle}"
    if found.issuing_next is not None:
        text += f"; {describe(*found.issuing_next)} issues on this cycle"
    return text


def explain(board: Scoreboard, mismatch: Mismatch, info: RunInfo,
            time_of_cycle: Callable[[int], int | None] | None = None) -> dict[str, object]:
    """Everything known about one mismatch, as a JSON-friendly dict (see :func:`format_explanation`)."""
    step = board.step_of_cycle(mismatch.cycle) if mismatch.cycle is not None else None
    sim_time = time_of_cycle(mismatch.cycle) if time_of_cycle and mismatch.cycle is not None else None
    return {
        "message": mismatch.message,
        "cycle": mismatch.cycle,
        "step": step,
        "cycle_in_step": None if step is None else mismatch.cycle - board.step_windows[step][0],
        "core": mismatch.core,
        "index": mismatch.index,
        "instruction": _instruction_text(board, mismatch),
        "expected": mismatch.expected_value,
        "actual": mismatch.dut_value,
        "last_records": board.last_records(mismatch.core) if mismatch.core is not None else [],
        "seed": info.seed,
        "vcd": info.vcd or None,
        "sim_time_ns": sim_time,
        "reproduce": info.reproduce,
    }


def format_explanation(details: dict[str, object]) -> str:
    """The text block printed under a failing run."""
    lines = [f"FIRST MISMATCH: {details['message']}"]
    if details["cycle"] is not None:
        where = f"  cycle {details['cycle']}"
        if details["step"] is not None:
            where += f" (step {details['step']}, cycle {details['cycle_in_step']} of the step)"
        words = str(details["message"]).split()
        kind = words[2] if words[:1] == ["chip"] and len(words) > 2 else words[0]   # a board's "chip C KIND ..."
        label = {"EVENT": "axon", "DROP": "axon", "OUT": "axon", "LINK": "to chip", "LINK_FULL": "to chip"}.get(
            kind, "neuron")
        chip = f", chip {details['chip']}" if details.get("chip") is not None else ""
        lines.append(where + f"{chip}, core {details['core']}, {label} {details['index']}")
    lines.append(f"  instruction: {details['instruction']}")
    lines.append(f"  expected {details['expected']}, DUT {details['actual']}")
    if details["last_records"]:
        lines.append(f"  last matched records of core {details['core']}:")
        lines += [f"    {text}" for text in details["last_records"]]
    lines.append(f"  seed: {details['seed'] if details['seed'] is not None else '- (a given image, not a seed)'}")
    if details["vcd"]:
        at = f", jump to {details['sim_time_ns']} ns" if details["sim_time_ns"] is not None else ""
        lines.append(f"  waves: {details['vcd']}{at}")
    elif details["sim_time_ns"] is not None:
        lines.append(f"  sim time: {details['sim_time_ns']} ns (no VCD: rerun with waves)")
    lines.append(f"  reproduce: {details['reproduce']}")
    return "\n".join(lines)


def result_dict(result: ScoreboardResult, info: RunInfo, first: dict[str, object] | None) -> dict[str, object]:
    """The JSON result of a run."""
    return {
        "passed": result.passed,
        "reason": result.reason,
        "seed": info.seed,
        "cores": info.cores,
        "check": info.check,
        "variant": info.variant,
        "steps": result.steps,
        "cycles": result.cycles,
        "records_compared": result.matched + result.mismatch_count,
        "records_matched": result.matched,
        "final_state_compared": result.final_compared,
        "mismatches": result.mismatch_count,
        "mismatch_list": [m.as_dict() for m in result.mismatches],
        "first_mismatch": first,
        "vcd": info.vcd or None,
        "wall_seconds": round(info.wall_seconds, 3),
        "cycles_per_second": round(result.cycles / info.wall_seconds, 1) if info.wall_seconds else None,
        "run": {k: v for k, v in asdict(info).items() if k not in ("extra",)} | info.extra,
    }


def write_json(path: str | Path, data: dict[str, object]) -> None:
    outputs.write_text(path, json.dumps(data, indent=1, default=str) + "\n")


def read_result(path: str | Path) -> dict:
    """A run's ``result.json`` (as :func:`write_json` wrote it); anything else is a one-line error naming it."""
    try:
        data = json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise SpikeCoreError(f"{path}: not a run result (invalid JSON: {err})") from None
    if not isinstance(data, dict):
        raise SpikeCoreError(f"{path}: not a run result (expected a JSON object, found {type(data).__name__})")
    return data


def write_junit(path: str | Path, results: list[dict[str, object]], suite: str = "spikecore.cosim") -> None:
    """JUnit XML with one test case per run result (as returned by :func:`result_dict`).

    A failed result may lack the counts (a testbench error's result holds only passed, reason, seed, variant,
    check and text): those read ``?``, and the failure message is its reason."""
    failures = sum(not r["passed"] for r in results)
    root = ET.Element("testsuites")
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)), failures=str(failures),
                         errors="0", time=f"{sum(float(r.get('wall_seconds') or 0) for r in results):.3f}")
    for r in results:
        name = f"seed{r['seed']}" + (f"_{r['variant']}" if r.get("variant") else "")
        classname = f"{suite}.cores{r.get('cores', '?')}.{r.get('check', '?')}"
        case = ET.SubElement(node, "testcase", classname=classname, name=name,
                             time=f"{float(r.get('wall_seconds') or 0):.3f}")
        counts = {key: r.get(key, "?") for key in ("records_matched", "cycles", "mismatches")}
        ET.SubElement(case, "system-out").text = ("matched {records_matched} records, {cycles} cycles, "
                                                  "{mismatches} mismatches".format(**counts))
        if not r["passed"]:
            failure = ET.SubElement(case, "failure", message=str(r.get("reason")))
            first = r.get("first_mismatch")
            failure.text = format_explanation(first) if isinstance(first, dict) else str(r.get("reason"))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
