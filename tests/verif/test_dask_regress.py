"""A regression on a real Dask cluster (scheduler + two workers on 127.0.0.1), one worker killed mid-run:
the summary equals a local run's of the same seeds (nothing lost, nothing counted twice)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from spikecore.config import ChipConfig
from spikecore.verif.regress import run_regression

pytestmark = [pytest.mark.rtl, pytest.mark.slow, pytest.mark.xdist_group("verilator")]

FOUR = ChipConfig(cores=4)
SEEDS = list(range(40, 48))
#: summary fields that must not depend on where the seeds ran (not wall time, jobs)
SAME = ("passed", "programs", "array_cycles", "records_compared", "mismatches", "failed_programs", "failures",
        "variants", "full_programs", "fill_programs", "active_cores", "coverage")
DASK = Path(sys.executable).parent / "dask"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(*args: str, log: Path) -> subprocess.Popen:
    # own session: the worker and the simulators it started are stopped together (by this process group's id)
    return subprocess.Popen([str(DASK), *args], cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=120)


def test_regression_on_a_dask_cluster_survives_a_lost_worker(tmp_path):
    local = run_regression(SEEDS, FOUR, tmp_path / "local", jobs=2, batch=1, log=lambda line: None)
    assert local["passed"] and local["records_compared"] > 0

    address = f"tcp://127.0.0.1:{free_port()}"
    scheduler = start("scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                      "--no-dashboard", log=tmp_path / "scheduler.log")
    workers = []
    try:
        time.sleep(2)
        workers = [start("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                         "--name", f"w{i}", log=tmp_path / f"worker{i}.log") for i in range(2)]
        wait_for_workers(address, 2)
        lines: list[str] = []
        killed = threading.Event()

        def log(line: str) -> None:
            lines.append(line)
            # the first batch is back (progress "[##---...] 1/8"): the rest are in flight
            if line.startswith("[#") and " 1/" in line and not killed.is_set():
                stop(workers[0])
                killed.set()

        remote = run_regression(SEEDS, FOUR, tmp_path / "dask", jobs=2, batch=1, scheduler=address, log=log)
        assert killed.is_set(), lines
        assert lines[-1].startswith(f"[{'#' * 20}] {len(SEEDS)}/{len(SEEDS)} batch of 1 seeds done"), lines
        for key in SAME:
            assert remote[key] == local[key], key
    finally:
        for process in [*workers, scheduler]:
            stop(process)
