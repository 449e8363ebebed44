"""``make fuzz``: a long fuzzing campaign over every reader of user input (not part of ``make test``).

    python tests/fuzz_campaign.py [--scale 1.0] [--subprocess 200] [--hang 10]

Draws the Hypothesis strategies of ``tests/fuzz_inputs.py`` (generation only: no shrinking, no database)
and feeds each case to the Python API (``assemble``, ``Stimulus.load``, ``parse_chip``) or to the command
line's ``main()`` in process, and a sample of them to ``python -m spikecore`` as subprocesses. Every case
is classified by ``fuzz_inputs.verdict``: accepted, clean error (exit 2, one line naming the input, no file
changed), crash (anything else: a traceback, an internal error, several lines, an error that names no input,
a changed or half-written output) or hang (longer than ``--hang`` seconds). Prints one row per input kind
and the first crashes of each; exits 1 if there was any crash or hang.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import fuzz_inputs as fi

PROGRAM = ".chip cores=2\n.core 0\n    halt\n.core 1\n    halt\n"
PREVIOUS = b"PREVIOUS-GOOD-OUTPUT"


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


class Campaign:
    def __init__(self, work: Path, hang: float) -> None:
        self.work = work
        self.hang = hang
        self.counts: dict[str, Counter] = {}
        self.crashes: dict[str, list[str]] = {}
        self.seconds: Counter = Counter()
        self.samples: dict[str, list[tuple[list[str], dict[str, bytes], list[str]]]] = {}

    def folder(self) -> Path:
        """An empty working folder with the valid program and a pre-existing output."""
        for path in self.work.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        (self.work / "p.s").write_text(PROGRAM)
        return self.work

    def record(self, kind: str, result: str, reason: str, example: str) -> None:
        self.counts.setdefault(kind, Counter())[result] += 1
        if result in ("crash", "hang"):
            found = self.crashes.setdefault(kind, [])
            if len(found) < 5:
                found.append(f"{result}: {reason[:300]} | input {example[:120]!r}")

    def timed(self, kind: str, work: Callable[[], tuple[str, str]], example: str) -> None:
        started = time.perf_counter()
        # Compiling a model takes seconds on a loaded machine; text readers get the plain limit.
        limit = self.hang * (6 if kind.startswith(("torch", "NIR", "--chip (CLI)")) else 1)
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            result, reason = work()
        except Hang:
            result, reason = "hang", f"more than {limit} s"
        except BaseException as exc:
            result, reason = "crash", f"{type(exc).__name__}: {exc}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.seconds[kind] += time.perf_counter() - started
        self.record(kind, result, reason, example)

    # -- one case of each kind

    def api(self, call: Callable[[], object], names: list[str]) -> tuple[str, str]:
        from spikecore.errors import SpikeCoreError

        try:
            call()
        except SpikeCoreError as err:
            text = str(err)
            if "\n" in text or not any(name in text for name in names):
                return "crash", f"bad message: {text[:300]!r}"
            return "clean", text
        return "accepted", ""

    def cli(self, files: dict[str, bytes], argv: list[str], names: list[str], kind: str,
            sample: bool) -> tuple[str, str]:
        outcome, before, after = fi.run_cli_in(self.folder(), files, argv)
        if sample and _fits_an_argv(argv):
            self.samples.setdefault(kind, []).append((argv, {**files, "p.s": PROGRAM.encode()}, names))
        return fi.verdict(outcome, names, before, after if outcome.status != 0 else before)

    def subprocess_sample(self, kind: str, limit: int) -> None:
        """Run up to ``limit`` stored cases of ``kind`` as ``python -m spikecore`` subprocesses."""
        cases = self.samples.get(kind, [])
        random.Random(0).shuffle(cases)
        for argv, files, names in cases[:limit]:
            folder = self.folder()
            for name, data in files.items():
                (folder / name).write_bytes(data)
            before = fi.snapshot(folder)
            started = time.perf_counter()
            try:
                proc = subprocess.run([sys.executable, "-m", "spikecore", *argv], cwd=folder, capture_output=True,
                                      text=True, timeout=max(60.0, self.hang * 6), errors="replace")
                outcome = fi.Outcome(proc.returncode, proc.stdout, proc.stderr)
                after = fi.snapshot(folder)
                result, reason = fi.verdict(outcome, names, before, after if proc.returncode != 0 else before)
            except subprocess.TimeoutExpired:
                result, reason = "hang", "subprocess timed out"
            self.seconds[f"{kind} (subprocess)"] += time.perf_counter() - started
            self.record(f"{kind} (subprocess)", result, reason, " ".join(argv))


# Linux refuses a single argument longer than MAX_ARG_STRLEN (32 pages) and an argument list beyond ARG_MAX with
# E2BIG before the program starts: such a case says nothing about spikecore, so only its in-process run counts.
_MAX_ARG_BYTES = 32 * 4096


def _fits_an_argv(argv: list[str]) -> bool:
    """Whether ``argv`` can be passed to a subprocess at all (no NUL, every argument and the whole list small)."""
    sizes = [len(a.encode("utf-8", "surrogateescape")) + 1 for a in argv]
    return (all("\x00" not in a for a in argv) and max(sizes, default=0) < _MAX_ARG_BYTES
            and sum(sizes) < os.sysconf("SC_ARG_MAX") // 2)


def _run_kind(campaign: Campaign, kind: str, strategy, examples: int, case: Callable[[object], tuple[str, str]],
              describe: Callable[[object], str] = repr) -> None:
    @settings(max_examples=examples, phases=[Phase.generate], database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def drive(value):
        campaign.timed(kind, lambda: case(value), describe(value))

    drive()
    counts = campaign.counts.get(kind, Counter())
    print(f"  {kind}: {sum(counts.values())} cases in {campaign.seconds[kind]:.0f} s: {counts['accepted']} accepted, "
          f"{counts['clean']} clean errors, {counts['crash']} crashes, {counts['hang']} hangs", file=sys.stderr,
          flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every kind's case count (1: >= 10^5)")
    parser.add_argument("--subprocess", type=int, default=40, help="cases per CLI kind re-run as subprocesses")
    parser.add_argument("--hang", type=float, default=10.0, help="seconds after which a case counts as a hang")
    parser.add_argument("--only", default="", help="run only the kinds whose name contains this text")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    warnings.filterwarnings("ignore")  # torch's own, while the campaign builds degenerate models

    from spikecore.compiler.asm import assemble
    from spikecore.config import parse_chip
    from spikecore.stimulus import Stimulus

    work = Path(tempfile.mkdtemp(prefix="spikecore-fuzz-"))
    campaign = Campaign(work, args.hang)
    n = lambda count: max(1, int(count * args.scale))  # noqa: E731

    def stim_api(suffix: str):
        def case(text: str) -> tuple[str, str]:
            path = campaign.folder() / f"in{suffix}"
            path.write_bytes(text.encode("utf-8", "surrogatepass"))
            return campaign.api(lambda: Stimulus.load(path), [str(path)])
        return case

    def stim_cli(suffix: str):
        def case(text: str) -> tuple[str, str]:
            data = text.encode("utf-8", "surrogatepass")
            return campaign.cli({f"in{suffix}": data, "out.csv": PREVIOUS},
                                ["run", "p.s", "--steps", "3", "--inputs", f"in{suffix}", "--trace", "out.csv"],
                                [f"in{suffix}"], f"stimulus {suffix} (CLI)", True)
        return case

    nir_model = _nir_model(work)
    plan: list[tuple[str, object, int, Callable]] = [
        ("assembly (API)", fi.asm_sources(), n(40_000),
         lambda text: campaign.api(lambda: assemble(text, "in.s"), ["in.s:"])),
        ("assembly (CLI)", fi.asm_sources(), n(15_000),
         lambda text: campaign.cli({"in.s": text.encode("utf-8", "surrogatepass"), "out.bin": PREVIOUS},
                                   ["asm", "in.s", "-o", "out.bin"], ["in.s"], "assembly (CLI)", True)),
        ("stimulus .csv (API)", fi.stimulus_csv(), n(12_000), stim_api(".csv")),
        ("stimulus .csv (CLI)", fi.stimulus_csv(), n(8_000), stim_cli(".csv")),
        ("stimulus .json (API)", fi.stimulus_json(), n(10_000), stim_api(".json")),
        ("stimulus .json (CLI)", fi.stimulus_json(), n(5_000), stim_cli(".json")),
        ("--chip (API)", fi.chip_strings(), n(10_000),
         lambda text: campaign.api(lambda: parse_chip(text), ["--chip", "chip config"])),
        ("--chip (CLI)", fi.chip_strings(), n(300),
         lambda text: campaign.cli({"m.nir": nir_model, "out.bin": PREVIOUS},
                                   ["compile", "m.nir", f"--chip={text}", "--dt", "1e-3", "--out", "out.bin"],
                                   # a well-formed chip too small for the model is refused naming the model
                                   ["--chip", "chip config", "m.nir"], "--chip (CLI)", True)),
        ("image (CLI)", st.binary(max_size=64).flatmap(_image_mutant), n(5_000),
         lambda data: campaign.cli({"in.bin": data, "out.s": PREVIOUS}, ["disasm", "in.bin", "-o", "out.s"],
                                   ["in.bin"], "image (CLI)", True)),
        ("NIR graph (CLI)", fi.nir_cases(), n(1_500), lambda case: _nir_case(campaign, case)),
        ("torch model (CLI)", _torch_cases(), n(150), lambda case: _torch_case(campaign, case)),
    ]
    # Import the heavy libraries before any timer runs: an alarm inside torch's first import leaves it broken.
    import h5py  # noqa: F401
    import nir  # noqa: F401
    import torch  # noqa: F401

    import spikecore.compiler.frontends.torch
    import spikecore.compiler.pipeline  # noqa: F401
    started = time.perf_counter()
    print(f"fuzzing in {work}", file=sys.stderr)
    for kind, strategy, count, case in plan:
        if args.only.lower() not in kind.lower():
            continue
        _run_kind(campaign, kind, strategy, count, case)
    for kind in list(campaign.samples):
        campaign.subprocess_sample(kind, args.subprocess)

    total = Counter()
    print(f"\n{'input kind':<30} {'cases':>7} {'accepted':>9} {'clean':>7} {'crashes':>8} {'hangs':>6} {'seconds':>8}")
    for kind, counts in campaign.counts.items():
        cases = sum(counts.values())
        total.update(counts)
        print(f"{kind:<30} {cases:>7} {counts['accepted']:>9} {counts['clean']:>7} {counts['crash']:>8} "
              f"{counts['hang']:>6} {campaign.seconds[kind]:>8.0f}")
    print(f"{'total':<30} {sum(total.values()):>7} {total['accepted']:>9} {total['clean']:>7} {total['crash']:>8} "
          f"{total['hang']:>6} {time.perf_counter() - started:>8.0f}")
    for kind, found in campaign.crashes.items():
        print(f"\n{kind}:")
        for line in found:
            print(f"  {line}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if total["crash"] or total["hang"] else 0


# --- binary images, NIR graphs and torch models ----------------------------------------------------------------


def _valid_image() -> bytes:
    from spikecore.compiler.asm import assemble
    from spikecore.image import encode_image

    return encode_image(assemble(fi.ASM_SEED, "seed"))


@st.composite
def _image_mutant(draw, noise: bytes) -> bytes:
    data = bytearray(_valid_image())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        what = draw(st.sampled_from(["flip", "cut", "insert"]))
        if what == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif what == "cut":
            del data[at:]
            if not data:
                break
        else:
            data[at:at] = noise
    return bytes(data)


def _nir_model(work: Path) -> bytes:
    import nir
    import numpy as np

    graph = nir.NIRGraph.from_list(
        nir.Affine(np.full((4, 3), 0.5), np.zeros(4)),
        nir.LIF(tau=np.full(4, 5e-3), r=np.full(4, 5.0), v_leak=np.zeros(4), v_threshold=np.ones(4),
                v_reset=np.zeros(4)),
        nir.Linear(np.full((2, 4), 0.5)))
    path = work.parent / f"{work.name}-model.nir"
    nir.write(str(path), graph)
    data = path.read_bytes()
    path.unlink()
    return data


def _nir_case(campaign: Campaign, case: fi.NirCase) -> tuple[str, str]:
    folder = campaign.folder()
    try:
        fi.write_nir_case(case, folder / "in.nir")
    except Exception:  # the nir library refuses to build or write this graph: nothing reaches SpikeCore
        return "accepted", "not writable"
    data = (folder / "in.nir").read_bytes()
    argv = ["compile", "in.nir", "--out", "out.bin"] + ([] if case.dt else ["--dt", "1e-3"])
    return campaign.cli({"in.nir": data, "out.bin": PREVIOUS}, argv, ["in.nir"], "NIR graph (CLI)", True)


def _torch_cases():
    sizes = st.sampled_from([0, 1, 3])
    values = st.sampled_from(fi.WEIGHTS)
    return st.tuples(sizes, sizes, sizes, values, st.sampled_from(["linear", "conv", "corrupt", "notmodel"]),
                     st.integers(0, 10**6))


def _torch_case(campaign: Campaign, case) -> tuple[str, str]:
    import io

    import torch

    a, b, c, value, shape, seed = case
    buffer = io.BytesIO()
    try:
        if shape == "linear":
            model = torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.Linear(b, c))
        elif shape == "conv":
            model = torch.nn.Sequential(torch.nn.Conv2d(1, max(b, 1), 2, stride=max(a, 1)), torch.nn.ReLU(),
                                        torch.nn.Flatten(), torch.nn.Linear(max(b, 1), c))
        else:
            model = torch.nn.Sequential(torch.nn.Linear(3, 2))
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(value)
        torch.save(model if shape != "notmodel" else {"x": 1}, buffer)
    except Exception:
        return "accepted", "torch refuses to build it"
    data = bytearray(buffer.getvalue())
    if shape == "corrupt" and data:
        rng = random.Random(seed)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    return campaign.cli({"in.pt": bytes(data), "out.bin": PREVIOUS}, ["compile", "in.pt", "--out", "out.bin"],
                        ["in.pt"], "torch model (CLI)", True)


if __name__ == "__main__":
    sys.exit(main())
