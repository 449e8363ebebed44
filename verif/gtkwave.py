"""GTKWave run headless: a private Xvfb display, GTKWave on a save file, a Tcl script, a screenshot.

Used by the viewer test (tests/verif/test_waves_gtkwave.py), which asks GTKWave itself what it displays, and by
``spikecore waves RUN_DIR --screenshot out.png``, which renders the view of a run as a PNG for a report or
a CI log. Needs the Debian packages ``gtkwave``, ``xvfb`` and ``imagemagick`` (its ``import`` grabs the
screen); :func:`missing_tools` names what is absent so callers can say why they skip.

Xvfb picks a free display number itself (``-displayfd``), so parallel runs never collide; both processes
are ended by their own ids when the run is over.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spikecore.errors import SpikeCoreError

#: Screen of the private display (pixels, depth) and the height of GTKWave's window on it (its width stays
#: GTKWave's default, which the save file's zoom is computed for; tall, so a screenshot shows the host,
#: router and a core group).
SCREEN = "1000x1250x24"
WINDOW_HEIGHT = 1250
#: Debian package of each tool.
TOOLS = {"gtkwave": "gtkwave", "Xvfb": "xvfb", "import": "imagemagick"}
#: Seconds GTKWave may take to load a save file and run the script (a 128-core FST loads in a few).
TIMEOUT = 120.0
#: Seconds to let GTKWave paint after the script said the view is loaded, before the screen is grabbed.
SETTLE = 2.0


def missing_tools(screenshot: bool = False) -> list[str]:
    """The tools (``name (Debian package)``) not on PATH: gtkwave and Xvfb, plus ImageMagick's import for
    a screenshot. Empty when everything is there."""
    wanted = ["gtkwave", "Xvfb"] + (["import"] if screenshot else [])
    return [f"{tool} (Debian package {TOOLS[tool]})" for tool in wanted if shutil.which(tool) is None]


@contextmanager
def virtual_display() -> Iterator[str]:
    """Start Xvfb on a free display; yields its name (``:N``) and ends that Xvfb afterwards."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", SCREEN, "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise SpikeCoreError("Xvfb did not start (no display number reported)")
        yield f":{number}"
    finally:
        _stop(xvfb)



def _stop(process: subprocess.Popen) -> None:
    """Ask ``process`` to end, and kill it if it has not within 10 s (a viewer or X server must never outlive
    the command)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class ViewerRun:
    """What a headless GTKWave run left: the output its Tcl script wrote and GTKWave's own log."""

    output: str
    log: str


def run_script(gtkw: str | Path, tcl: str, screenshot: str | Path | None = None,
               timeout: float = TIMEOUT) -> ViewerRun:
    """Open ``gtkw`` in GTKWave on a private display, run Tcl ``tcl`` once it is loaded, and return what
    the script wrote to the channel ``$out`` (a file the wrapper opens and closes). With ``screenshot``,
    the screen is grabbed to that PNG after the script ran. GTKWave is ended by the wrapper.

    Raises :class:`SpikeCoreError` when a tool is missing, GTKWave exits early or does not finish in
    ``timeout`` seconds.
    """
    missing = missing_tools(screenshot is not None)
    if missing:
        raise SpikeCoreError(f"cannot run GTKWave headless: missing {', '.join(missing)}")
    gtkw = Path(gtkw).resolve()
    with tempfile.TemporaryDirectory(prefix="spikecore-gtkwave-") as tmp:
        out, done, script = Path(tmp) / "out.txt", Path(tmp) / "done", Path(tmp) / "script.tcl"
        script.write_text(f'set out [open "{out}" w]\n{tcl}\nclose $out\n'
                          f'set done [open "{done}" w]\nclose $done\n')
        log_path = Path(tmp) / "gtkwave.log"
        with virtual_display() as display, log_path.open("w") as log:
            env = dict(os.environ, DISPLAY=display)
            # Only the height: a window wider than GTKWave's default would not match the save file's zoom.
            size = ["--rcvar", f"initial_window_y {WINDOW_HEIGHT}"]
            viewer = subprocess.Popen(["gtkwave", *size, "-S", str(script), str(gtkw)], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp)
            try:
                deadline = time.monotonic() + timeout
                while not done.exists():
                    if viewer.poll() is not None:
                        raise SpikeCoreError(f"GTKWave exited ({viewer.returncode}) before loading {gtkw}: "
                                             + " ".join(log_path.read_text(errors="replace").split()[-40:]))
                    if time.monotonic() > deadline:
                        raise SpikeCoreError(f"GTKWave did not load {gtkw} within {timeout:.0f} s")
                    time.sleep(0.1)
                if screenshot is not None:
                    time.sleep(SETTLE)
                    grab(display, Path(screenshot))
            finally:
                _stop(viewer)
        return ViewerRun(out.read_text() if out.exists() else "", log_path.read_text(errors="replace"))


def grab(display: str, png: Path) -> Path:
    """Grab the whole screen of ``display`` into ``png`` (8-bit palette PNG: a waveform has few colours)."""
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    partial = png.with_name(png.name + ".partial.png")
    result = subprocess.run(["import", "-display", display, "-window", "root", f"png8:{partial}"],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        raise SpikeCoreError(f"screen grab of {display} failed: {result.stderr.strip() or result.returncode}")
    partial.replace(png)      # never a half-written PNG under the asked name
    return png


#: Tcl that writes what the view displays: one ``key value`` line each (read by :func:`displayed`).
PROBE_TCL = """puts $out "signals [gtkwave::getDisplayedSignals]"
puts $out "marker [gtkwave::getMarker]"
puts $out "window [gtkwave::getWindowStartTime] [gtkwave::getWindowEndTime]"
puts $out "time [gtkwave::getMinTime] [gtkwave::getMaxTime]"
"""


@dataclass
class Displayed:
    """What GTKWave displays for a save file: its trace names, marker (-1: none), window and dump times
    (in the dump's unit), and the value GTKWave shows at the marker for each name asked for."""

    signals: list[str]
    marker: int
    window: tuple[int, int]
    dump_times: tuple[int, int]
    at_marker: dict[str, str]


def displayed(gtkw: str | Path, screenshot: str | Path | None = None, at_marker: tuple[str, ...] = ()) -> Displayed:
    """Ask GTKWave (headless) what it displays for save file ``gtkw``; optionally grab a screenshot.

    ``at_marker`` names displayed traces by the name shown for them (their alias in the save file, e.g.
    ``trace_cycle``) whose value at the marker to read, as GTKWave shows it (translated by a filter).
    """
    tcl = PROBE_TCL + "".join(f'puts $out "value [gtkwave::getTraceValueAtMarkerFromName {{{name}}}]"\n'
                              for name in at_marker)
    run = run_script(gtkw, tcl, screenshot)
    fields: dict[str, str] = {}
    values: list[str] = []
    for line in run.output.splitlines():
        key, _, rest = line.partition(" ")
        if key == "value":
            values.append(rest.strip())
        else:
            fields[key] = rest
    if "signals" not in fields:
        raise SpikeCoreError(f"GTKWave's script wrote nothing for {gtkw}; its log: {run.log[-2000:]}")
    # Raw names, split on blanks (not as a Tcl list: that would read the escape backslash of \\trace.x).
    start, stop = (int(v) for v in fields["window"].split())
    low, high = (int(v) for v in fields["time"].split())
    return Displayed(fields["signals"].split(), int(fields["marker"]), (start, stop), (low, high),
                     dict(zip(at_marker, values, strict=True)))
