"""Verilator builds of the generated SpikeCore array, made once per configuration and reused.

A build lives in ``build/verilator/<name>/`` where ``<name>`` is ``array<cores>`` (plus ``-fst`` when its
compiled-in trace format is FST). One build serves plain and traced runs: tracing is compiled in
(:data:`TRACING_COMPILED_IN`) and switched on only for the run that dumps waves (the runner's ``--trace``
argument at run time); ``bench/bench_speed.py`` measures what carrying it costs (docs/verification.md).
Verilator compiles one trace format in, so the format is part of the build configuration
(:mod:`spikecore.verif.wave_format` picks it: VCD for small arrays, FST for big ones, ``WAVES_FORMAT``
overrides). A build is keyed by a SHA-256 of the generated Verilog, the Verilator control files and the build
flags, stored in ``build.json``; a later call with the same key reuses the simulator binary. To avoid
re-running Amaranth (10 s for 128 cores) just to compute that key, a second, cheaper key — a hash of every
Python source the Verilog is generated from, plus the configuration — is stored beside it: when it still
matches, not even the Verilog is regenerated.

Concurrent builders (pytest-xdist workers, regression jobs) serialise on a lock file per build, so two
processes never run Verilator into the same folder.

Two deviations from cocotb's stock Verilator runner, both measured: ``--public-flat-rw`` is dropped (it
makes every internal signal VPI-visible and slows the simulation several times over); a generated
control file makes only the top module's ports public instead. The RTL's own waiver file (``rtl/*.vlt``)
is passed as well, so Verilator's lint warnings are waived by rule name in one place.

``ccache`` is used when it is on PATH (Verilator's generated Makefile prefixes every compile with
``OBJCACHE``), so a rebuild after ``make clean`` or in a fresh clone reuses object files whose C++ did
not change.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import resource
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl import generate as rtl_generate
from spikecore.rtl.generate import TOP_MODULE
from spikecore.rtl.instanced import CORE_MODULE
from spikecore.verif import wave_format
from spikecore.verif.patched_rtl import PatchedRtl, patched_verilog
from spikecore.verif.protocol import checked_verilog
from spikecore.verif.toolchain import configure_environment

#: Name of the simulated top-level module: the array itself (with the protocol monitor beside its cores).
TOPLEVEL = TOP_MODULE
#: The packed trace port the testbench reads (spec §8.5).
TRACE_PORT = "trace_port"
#: Default root of all Verilator builds (relative to the repository root).
REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_ROOT = REPO_ROOT / "build" / "verilator"
#: Tracing is compiled into every build, so the same simulator serves plain runs and the run that dumps
#: waves. ``False`` goes back to a separate ``-waves`` build (only worth it if carrying the trace code made
#: plain runs markedly slower: bench/bench_cosim.py prints the ratio).
TRACING_COMPILED_IN = True
#: Scope levels kept in a VCD: the top ports, each core's ports and its direct internals. Deeper levels
#: (memories, arithmetic helpers) would make the VCD of a 128-core array gigabytes long.
TRACE_DEPTH = 2
#: Arrays of this many cores or more are built with Verilator's hierarchical verilation: the core module
#: (:data:`~spikecore.rtl.instanced.CORE_MODULE`) is a hierarchy block, verilated and compiled once and
#: shared by every instance, instead of each instance's code being emitted and compiled separately. It
#: builds the 128-core array in half the flat build's CPU time (a sixth of its wall time) and simulates it
#: about as fast per CPU second (measured 5-10 % slower in one session, 7-23 % faster in another, alternating
#: runs on a loaded machine); small arrays build quickly flat and simulate 2-2.6x slower as blocks, so they stay
#: flat
#: (docs/verification.md, "Hierarchical verilation").
HIERARCHICAL_FROM_CORES = 32
#: Verilator model threads (``--threads``) of a build unless the caller asks for more. One: on this 2-core
#: machine ``--threads 2`` ran the 16-core array at 70 % of the single-threaded wall speed at load 1.5 and at
#: 9 % at load 4, the hierarchical 128-core array at 7-11 % (clock only, alternating; docs/verification.md,
#: "Speed"). ``build_array(..., threads=2)`` builds the threaded model in its own folder (``-t2``) for the
#: comparison (``bench/bench_cosim.py --compare-threads 2``).
THREADS = 1
#: Python sources whose change changes the generated Verilog (the cheap cache key).
SOURCE_GLOBS = ("rtl/*.py", "rtl/*.vlt", "spikecore/isa.py", "spikecore/config.py", "spikecore/signature.py",
                "spikecore/trace.py",
                "verif/build.py", "verif/protocol.py", "verif/patched_rtl.py")

#: Scopes and signals left out of VCDs (Verilator ``tracing_off``; patterns match ``scope.signal``): the
#: signature unit and its 1024-bit histories change every cycle and are checked by the testbench anyway;
#: the parameter memory only changes while loading; ``$``-names are Amaranth's temporaries and the copies it
#: makes of a port (``$12``, ``busy$45``, ``trace$132``), matched as ``$`` followed by a digit: ``"*$*"`` would
#: also match the internal scope of a hierarchy block's own verilation and leave its core untraced.
WAVES_VLT = """`verilator_config
tracing_off -scope "*.signature*"
tracing_off -scope "*history*"
tracing_off -scope "*$0*"
tracing_off -scope "*$1*"
tracing_off -scope "*$2*"
tracing_off -scope "*$3*"
tracing_off -scope "*$4*"
tracing_off -scope "*$5*"
tracing_off -scope "*$6*"
tracing_off -scope "*$7*"
tracing_off -scope "*$8*"
tracing_off -scope "*$9*"
tracing_off -scope "*.params*"
tracing_off -scope "*.p_rd__*"
tracing_off -scope "*.p_wr__*"
"""

#: Control file of a hierarchical build. The block boundary hides that the core's outputs are registered,
#: so the top's path core output -> router -> core input (``ev_full`` -> ``ev_in_valid``) looks like a
#: combinational loop to Verilator (UNOPTFLAT, reported on the ports of the block's generated stub
#: ``V<block>/<block>.sv``), waived here only; the flat builds keep the warning. On a board the same hidden
#: register closes apparent loops through the board top's host logic (a chip's ``inject_ok`` from its cores'
#: ``ev_full``), reported in the generated Verilog itself: waived there too, for hierarchical builds only.
HIER_VLT = f"""`verilator_config
hier_block -module "{CORE_MODULE}"
lint_off -rule UNOPTFLAT -file "*/{CORE_MODULE}.sv"
lint_off -rule UNOPTFLAT -file "*/{TOP_MODULE}_*c.v"
"""

PUBLIC_VLT = """`verilator_config
// Only the top module's ports are visible to cocotb (see spikecore/verif/build.py).
{lines}
"""


def top_ports(verilog: str, top: str = TOPLEVEL) -> list[str]:
    """The port names of module ``top`` in ``verilog`` (its header's list), in header order.

    Raises :class:`SpikeCoreError` when the module or its header is not found.
    """
    match = re.search(rf"^module {re.escape(top)}\((.*?)\);", verilog, flags=re.MULTILINE | re.DOTALL)
    if match is None:
        raise SpikeCoreError(f"verilator build: module {top} not found in the generated Verilog")
    return [name.strip() for name in match.group(1).split(",")]


def public_vlt(verilog: str, top: str = TOPLEVEL) -> str:
    """The control file making each port of ``top`` public, and nothing else.

    ``-var "*"`` would also match every internal wire of the module (10,860 of them in the 128-core
    array: the per-core wiring of the router, the configuration bus and the signature unit, flattened
    into the top); a public variable is kept and computed as written, which blocks Verilator's
    optimisations, slows the simulation and adds megabytes of VPI registration code.
    """
    return PUBLIC_VLT.format(lines="\n".join(f'public_flat_rw -module "{top}" -var "{port}"'
                                              for port in top_ports(verilog, top)))


@dataclass(frozen=True)
class Build:
    """A finished Verilator build: what cocotb_tools.runner.test() needs to run it."""

    name: str
    directory: Path
    toplevel: str
    config: ChipConfig
    waves: bool
    verilog: Path
    key: str
    trace_format: str = "vcd"
    hierarchical: bool = False

    @property
    def binary(self) -> Path:
        return self.directory / self.toplevel


def default_hierarchical(config: ChipConfig) -> bool:
    """Whether ``config``'s array is built hierarchically by default (:data:`HIERARCHICAL_FROM_CORES`)."""
    return config.cores >= HIERARCHICAL_FROM_CORES


def build_name(config: ChipConfig, traced: bool, trace_format: str = "vcd", patched: PatchedRtl | None = None,
               monitors: bool = True, hierarchical: bool | None = None, threads: int = THREADS) -> str:
    """``array<cores>``, plus the non-product sizes, plus ``-chips<n>`` for a board, plus ``-waves`` (``-notrace``)
    for a build with (without)
    tracing when that is not the default (:data:`TRACING_COMPILED_IN`), plus ``-fst`` for FST tracing, plus
    ``-<patched name>`` for a patched RTL, plus ``-nomon`` without the protocol monitors, plus ``-hier``
    (``-flat``) for a hierarchical (flat) build where that is not :func:`default_hierarchical`, plus
    ``-t<threads>`` for a model of other than :data:`THREADS` threads: one folder per distinct build."""
    product = ChipConfig(cores=config.cores)
    sizes = "".join(f"-{k}{v}" for k, v in config.as_dict().items() if k != "cores" and v != getattr(product, k))
    sizes += f"-chips{config.chips}" if config.chips > 1 else ""    # a board (docs/spec.md §13)
    suffix = "" if traced == TRACING_COMPILED_IN else ("-waves" if traced else "-notrace")
    fst = "-fst" if traced and trace_format == "fst" else ""
    default = default_hierarchical(config)
    hier = "" if hierarchical is None or hierarchical == default else ("-hier" if hierarchical else "-flat")
    return (f"array{config.cores}{sizes}{suffix}{fst}" + (f"-{patched.name}" if patched is not None else "")
            + ("" if monitors else "-nomon") + hier + ("" if threads == THREADS else f"-t{threads}"))


def waiver_files() -> list[Path]:
    """The RTL's Verilator waiver files (``rtl/*.vlt``), which name each lint rule they waive."""
    return sorted((REPO_ROOT / "rtl").glob("*.vlt"))


def model_verilog(config: ChipConfig, patched: PatchedRtl | None = None, work: Path | None = None,
                     monitors: bool = True) -> str:
    """The Verilog of the simulated model for ``config``, top module :data:`TOPLEVEL`: the array of ``make rtl``
    with the protocol monitor beside its cores (:func:`spikecore.verif.protocol.checked_verilog`); for a
    ``patched`` (planted fault, mutant), generated from the patched source in the scratch folder ``work``;
    ``monitors=False``: the array of ``make rtl`` alone (the speed benchmark's reference)."""
    if not monitors:
        if patched is not None:
            raise SpikeCoreError("model_verilog: a patched RTL is always built with its monitors")
        return rtl_generate.generate_verilog(config)
    if patched is not None:
        return patched_verilog(patched, config, work or BUILD_ROOT / f"src-{patched.name}")
    return checked_verilog(config)


def source_key(config: ChipConfig, flags: list[str]) -> str:
    """Hash of every source the Verilog is generated from, the configuration and the build flags."""
    board = [config.chips] if config.chips > 1 else []     # a one-chip build keeps its key
    digest = hashlib.sha256(json.dumps([config.as_dict(), *board, flags]).encode())
    for pattern in SOURCE_GLOBS:
        for path in sorted(REPO_ROOT.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def verilog_key(verilog: str, controls: list[str], flags: list[str]) -> str:
    """Hash of the Verilog, the control files' text and the flags: equal keys, identical simulators."""
    digest = hashlib.sha256(verilog.encode())
    for text in controls:
        digest.update(b"\0" + text.encode())
    digest.update(json.dumps(flags).encode())
    return digest.hexdigest()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _child_cpu() -> float:
    """User + system CPU seconds of this process's finished children (Verilator, make, gcc)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: cocotb's C++ main opens the wave file before the first evaluation; in a hierarchical build each block's
#: model is created by that first evaluation (its ``initial`` block), so it would miss the trace (empty
#: ``core<N>`` scopes). The main of a hierarchical build (:func:`late_trace_main`) opens it right after the
#: first time step has been evaluated instead, before that step is dumped.
_MAIN_OPEN = """    if (traceOn) {
        tfp = new verilated_trace_t;
        top->trace(tfp, 99);
        tfp->open(traceFile);
    }
"""
_MAIN_FIRST_STEP = """        top->eval_end_step();
"""
_MAIN_LATE_OPEN = """        top->eval_end_step();
#if VM_TRACE
        if (traceOn && !tfp) {  // spikecore: after the first evaluation created the hierarchy blocks' models
            tfp = new verilated_trace_t;
            top->trace(tfp, 99);
            tfp->open(traceFile);
        }
#endif
"""


def late_trace_main(cocotb_main: str) -> str:
    """cocotb's Verilator main (``verilator.cpp``'s text) opening the wave file after the first evaluation
    instead of before it (see :data:`_MAIN_OPEN`). Raises :class:`SpikeCoreError` if the text is not the
    one this patch was written for (another cocotb version)."""
    if cocotb_main.count(_MAIN_OPEN) != 1 or cocotb_main.count(_MAIN_FIRST_STEP) != 1:
        raise SpikeCoreError("verilator build: cocotb's verilator.cpp is not the one the hierarchical build's "
                             "trace patch knows (spikecore/verif/build.py, late_trace_main)")
    return cocotb_main.replace(_MAIN_OPEN, "").replace(_MAIN_FIRST_STEP, _MAIN_LATE_OPEN)


def _hierarchical_main() -> str:
    """The C++ main of a traced hierarchical build: cocotb's, through :func:`late_trace_main`."""
    import cocotb_tools.config

    return late_trace_main((cocotb_tools.config.share_dir / "lib" / "verilator" / "verilator.cpp").read_text())


def _runner(main: Path | None = None):
    """cocotb's Verilator runner without ``--public-flat-rw`` (see the module docstring); ``main`` replaces
    cocotb's C++ main (``verilator.cpp``) in the build."""
    from cocotb_tools.runner import Verilator

    class PortsOnlyVerilator(Verilator):
        def _build_command(self):
            commands = super()._build_command()
            commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
            if main is not None:
                commands[0] = [str(main) if arg.endswith("/verilator.cpp") else arg for arg in commands[0]]
            return commands

    return PortsOnlyVerilator()


def runner():
    """A runner for :meth:`run <cocotb_tools.runner.Runner.test>` on an existing build."""
    configure_environment()
    return _runner()


def build_flags(waves: bool, trace_depth: int = TRACE_DEPTH, trace_format: str = "vcd",
                hierarchical: bool = False, threads: int = THREADS) -> list[str]:
    """Verilator flags of a build (the runner adds ``--trace`` itself when ``waves``; ``--trace-fst``, given
    after it, makes the compiled-in format FST; ``hierarchical`` adds ``--hierarchical``, whose block is named
    in :data:`HIER_VLT`; ``threads`` > 1 adds ``--threads <threads>``, a model evaluated by that many
    threads)."""
    # --output-split-cfuncs: Verilator inlines every core into a few giant C++ functions; unsplit, gcc spent
    # over 20 minutes on one of them for the 128-core array (split: the whole build compiles in ~80 s).
    flags = ["--x-assign", "fast", "--x-initial", "fast", "--output-split-cfuncs", "2000"]
    if waves:
        flags += ["--trace-depth", str(trace_depth)] + (["--trace-fst"] if trace_format == "fst" else [])
    if hierarchical:
        flags += ["--hierarchical"]
    if threads != 1:
        flags += ["--threads", str(threads)]
    return flags


def use_ccache(env: dict[str, str] | None = None) -> bool:
    """Let Verilator's generated Makefile compile through ``ccache`` when it is on PATH (``OBJCACHE``);
    returns whether it is used. An ``OBJCACHE`` already set in ``env`` is left alone."""
    env = os.environ if env is None else env
    if "OBJCACHE" in env:
        return bool(env["OBJCACHE"])
    found = shutil.which("ccache", path=env.get("PATH"))
    if found:
        env["OBJCACHE"] = found
    return found is not None


def build_array(config: ChipConfig, *, waves: bool = False, traced: bool | None = None, root: Path = BUILD_ROOT,
                trace_depth: int = TRACE_DEPTH, log=print, trace_format: str | None = None,
                patched: PatchedRtl | None = None, monitors: bool = True, hierarchical: bool | None = None,
                threads: int = THREADS) -> Build:
    """Build (or reuse) the Verilator simulator of the array for ``config``; returns the :class:`Build`.

    ``waves``: the build must be able to dump waves. ``traced`` forces tracing in (``True``) or out
    (``False``, the benchmark's reference); by default it is compiled in when ``waves`` or
    :data:`TRACING_COMPILED_IN`. ``trace_format`` (``vcd`` or ``fst``; default
    :func:`~spikecore.verif.wave_format.trace_format` of ``config``) is the format compiled in, so a plain run
    and a later traced run of the same configuration share one build. ``log`` receives one line saying
    whether the build was reused or how long it took. ``patched``: build the RTL with these source patches
    (a planted fault or a mutant, :mod:`spikecore.verif.patched_rtl`) in its own folder. ``monitors=False``
    leaves the protocol monitors out (only for measuring what they cost). ``hierarchical``: build the core
    as a Verilator hierarchy block (default :func:`default_hierarchical`: arrays of
    :data:`HIERARCHICAL_FROM_CORES` cores or more). ``threads``: Verilator model threads (``--threads``; the
    flags enter both build keys, and a count other than :data:`THREADS` gets its own folder). Raises
    :class:`SpikeCoreError` when Verilator or the
    C++ compiler fails, for an unknown trace format, for ``waves`` with ``traced=False``, or for ``threads`` < 1.
    """
    configure_environment()
    if config.chips > 1 and trace_depth == TRACE_DEPTH:
        trace_depth += 1     # a board's cores are one level deeper (spikecore.chip0.core0)
    traced = (waves or TRACING_COMPILED_IN) if traced is None else traced
    if waves and not traced:
        raise SpikeCoreError("build_array: a build that dumps waves needs tracing compiled in (traced=True)")
    if threads < 1:
        raise SpikeCoreError(f"build_array: threads must be at least 1, got {threads}")
    waves = traced
    trace_format = wave_format.trace_format(config, trace_format) if traced else "vcd"
    hierarchical = default_hierarchical(config) if hierarchical is None else hierarchical
    name = build_name(config, traced, trace_format, patched, monitors, hierarchical, threads)
    directory = Path(root) / name
    flags = build_flags(waves, trace_depth, trace_format, hierarchical, threads)
    stamp_path = directory / "build.json"
    cheap_key = source_key(config, [*flags, patched.key() if patched is not None else "", monitors])
    with _locked(Path(root) / f"{name}.lock"):
        stamp = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
        binary = directory / TOPLEVEL
        verilog_path = rtl_generate.verilog_path(directory, config.cores)
        if stamp.get("source_key") == cheap_key and binary.exists() and verilog_path.exists():
            log(f"verilator build {name}: reused (sources unchanged)")
            return Build(name, directory, TOPLEVEL, config, waves, verilog_path, stamp["verilog_key"], trace_format,
                         hierarchical)
        started = time.monotonic()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        verilog = model_verilog(config, patched, directory / "src", monitors)
        controls = [public_vlt(verilog)] + ([WAVES_VLT] if waves else []) + ([HIER_VLT] if hierarchical else []) + [
            p.read_text() for p in waiver_files()]
        main_text = _hierarchical_main() if hierarchical and waves else None
        key = verilog_key(verilog, controls + ([main_text] if main_text else []), flags)
        if stamp.get("verilog_key") == key and binary.exists():
            stamp["source_key"] = cheap_key
            stamp_path.write_text(json.dumps(stamp, indent=1))
            log(f"verilator build {name}: reused (Verilog unchanged)")
            return Build(name, directory, TOPLEVEL, config, waves, verilog_path, key, trace_format, hierarchical)
        directory.mkdir(parents=True, exist_ok=True)
        stamp_path.unlink(missing_ok=True)
        verilog_path.write_text(verilog)
        public = directory / "public.vlt"
        public.write_text(controls[0])
        sources = [verilog_path, public, *waiver_files()]
        if waves:
            (directory / "waves.vlt").write_text(WAVES_VLT)
            sources.append(directory / "waves.vlt")
        if hierarchical:
            (directory / "hier.vlt").write_text(HIER_VLT)
            sources.append(directory / "hier.vlt")
        build_log = directory / "build.log"
        main = None
        if main_text is not None:
            main = directory / "verilator_main.cpp"
            main.write_text(main_text)
        use_ccache()
        try:
            _runner(main).build(sources=sources, hdl_toplevel=TOPLEVEL, build_dir=directory, build_args=flags,
                            waves=waves, always=True, log_file=build_log)
        except (RuntimeError, SystemExit) as err:
            tail = build_log.read_text().splitlines()[-15:] if build_log.exists() else []
            raise SpikeCoreError(f"verilator build {name} failed ({err}); see {build_log}:\n"
                                 + "\n".join(tail)) from None
        stamp = {"name": name, "config": config.as_dict(), "waves": waves, "hierarchical": hierarchical,
                 "flags": flags, "verilog_key": key,
                 "source_key": cheap_key, "seconds": round(time.monotonic() - started, 1),
                 "child_cpu_seconds": round(_child_cpu() - children.ru_utime - children.ru_stime, 1),
                 "verilog_bytes": len(verilog), "built": time.strftime("%Y-%m-%d %H:%M:%S")}
        stamp_path.write_text(json.dumps(stamp, indent=1))
        log(f"verilator build {name}: built in {stamp['seconds']} s")
        return Build(name, directory, TOPLEVEL, config, waves, verilog_path, key, trace_format, hierarchical)
