"""The report steps both ``make sim`` flows share (:mod:`spikecore.app.demo` on one chip,
:mod:`spikecore.app.demo_mnist` on a board): the fields of ``report.json`` they have in common, writing it, and
the rows of the table printed on stdout. Each flow adds its own fields and rows (energy, board, links).

>>> print(table([("float accuracy", "97.00%"), ("mode", "graded")]))
  float accuracy  97.00%
  mode            graded
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from spikecore import outputs


def table(rows: list[tuple[str, str]]) -> str:
    """The rows ``(name, value)`` as a two-column text table, names padded to the longest, two spaces in."""
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def accuracy_fields(*, data_name: str, model_name: str, encoding: str, steps: int, float_pred: np.ndarray,
                    predictions: np.ndarray, labels: np.ndarray, golden_equals_reference: bool) -> dict:
    """The report's head: data, model, encoding (``mode``), steps per inference, held-out samples (the length of
    ``labels``), float and golden top-1 accuracy and their agreement (fractions 0..1; ``float_pred``,
    ``predictions``, ``labels``: int arrays of one class per held-out sample) and whether the golden logits
    equal the compiler's integer reference."""
    return {
        "data": data_name, "model": model_name, "mode": encoding, "steps_per_inference": steps,
        "held_out_samples": len(labels),
        "float_accuracy": float(np.mean(float_pred == labels)),
        "spikecore_accuracy": float(np.mean(predictions == labels)),
        "top1_agreement": float(np.mean(predictions == float_pred)),
        "golden_equals_integer_reference": golden_equals_reference,
    }


def activity_fields(golden) -> dict:
    """Cycles, spikes and synaptic ops per inference: the means over the held-out samples of a golden batch
    run (``golden.cycles``, ``.spikes``, ``.synops``: one count per sample)."""
    return {"cycles_per_inference": float(golden.cycles.mean()),
            "spikes_per_inference": float(golden.spikes.mean()),
            "synops_per_inference": float(golden.synops.mean())}


def closing_fields(compiled, x_test: np.ndarray, rtl: dict | None) -> dict:
    """The report's tail: what was clipped, the RTL run's summary (``None`` when not run), and the places
    :func:`write_report` fills (``files``, ``wall_seconds``)."""
    return {
        # Nothing is clipped silently: values clipped at compile time (only with allow_saturation) and held-out
        # input values beyond the calibrated input range (injected as payload 127).
        "saturation": {"clipped_fields": [event.as_dict() for event in compiled.quant.saturations],
                       "inputs_clipped": compiled.quant.input.clipped(x_test),
                       "input_values": int(np.size(x_test))},
        "rtl": rtl,
        "files": {},
        "wall_seconds": None,
    }


def write_report(out_dir: Path, report: dict, files: dict[str, str | Path], rtl: dict | None, started: float) -> None:
    """Fill ``report``'s ``files`` (the plots written, plus the RTL run's VCD and .gtkw when it wrote them) and
    ``wall_seconds`` (since ``started``, a ``time.perf_counter()``), then write it to ``out_dir/report.json``."""
    report["files"] = {k: str(v) for k, v in files.items()}
    if rtl and rtl.get("vcd"):
        report["files"].update({"vcd": rtl["vcd"], "gtkw": rtl["gtkw"]})
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    outputs.write_text(out_dir / "report.json", json.dumps(report, indent=2) + "\n")


def head_rows(report: dict, extra: list[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """The table's first rows from the :func:`accuracy_fields` of ``report``; ``extra`` rows go after the mode."""
    return [
        ("data / model", f"{report['data']}; {report['model']}"),
        ("mode", f"{report['mode']}, {report['steps_per_inference']} steps per inference"),
        *extra,
        ("float accuracy", f"{report['float_accuracy']:.2%}"),
        ("SpikeCore accuracy (golden)", f"{report['spikecore_accuracy']:.2%}  ({report['held_out_samples']} "
                                        "held-out samples)"),
        ("top-1 agreement with float", f"{report['top1_agreement']:.2%}"),
        ("golden == integer reference", "yes" if report["golden_equals_integer_reference"] else "NO"),
    ]


def rtl_row(rtl: dict | None, label: str) -> tuple[str, str]:
    """The table's RTL row: ``label`` and the mismatches, records compared and samples passed, or "not run"."""
    if not rtl:
        return ("RTL vs golden", "not run (--rtl-samples 0)")
    return (label, f"{rtl['mismatches']} mismatches, {rtl['records_compared']} records compared, "
                   f"{rtl['passed']}/{rtl['samples']} samples pass")


def activity_rows(report: dict) -> list[tuple[str, str]]:
    """The table's rows of the :func:`activity_fields` of ``report``."""
    return [("cycles per inference", f"{report['cycles_per_inference']:.1f}"),
            ("spikes per inference", f"{report['spikes_per_inference']:.1f}"),
            ("synaptic ops per inference", f"{report['synops_per_inference']:.1f}")]


def finish(rows: list[tuple[str, str]], report: dict) -> int:
    """Print the table of ``rows`` (and each RTL failure on stderr); the flow's exit status: 0 when the golden
    model equals the integer reference and the RTL run (if any) compared records with no mismatch in any
    sample, else 1."""
    print(table(rows))
    rtl = report["rtl"]
    for failure in (rtl or {}).get("failures", []):
        print(failure, file=sys.stderr)
    ok = report["golden_equals_integer_reference"] and (
        rtl is None or (rtl["mismatches"] == 0 and rtl["passed"] == rtl["samples"] and rtl["records_compared"] > 0))
    return 0 if ok else 1
