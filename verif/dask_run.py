"""Regression batches as Dask tasks: on a running cluster (``tcp://HOST:8786``) or an in-process LocalCluster.

Each batch of seeds is one task, :func:`spikecore.verif.regress.run_group` (the same function a local run
calls), submitted with ``Client.map`` and collected with ``as_completed``. A worker builds or reuses its own
Verilator build (``build/verilator/`` under its own checkout; builders on one machine serialise on a lock
file). A worker lost mid-run has its batches run again elsewhere by the scheduler; a batch that raises is
retried ``RETRIES`` times. Each batch's results arrive once, from one future, so nothing is counted twice;
the caller sorts them by seed, so the summary is the same as a local run's. Progress: a bar and one line per batch.
The workers write each seed's files under ``out``, which must be the same path on every worker (one
machine, or a shared file system).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from spikecore.errors import SpikeCoreError

#: Times a batch that raised is submitted again (a lost worker does not use these up).
RETRIES = 2


def _quiet(*_args: object) -> None:
    """Workers keep their per-seed lines to themselves; the client prints progress."""


def progress_bar(done: int, total: int, width: int = 20) -> str:
    """``[########------------] 8/20``: the progress shown after each finished task."""
    filled = width * done // max(1, total)
    return f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total}"


def connect(scheduler: str, jobs: int):
    """A Dask ``(client, cluster)``: ``scheduler == "local"`` starts a LocalCluster of ``jobs`` single-threaded
    worker processes (``cluster`` is then to be closed too), else connects to that address (``cluster`` None).
    Raises :class:`SpikeCoreError` when the scheduler cannot be reached."""
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if scheduler == "local":
            # dashboard on a free port (the default 8787 warns when taken); worker shutdown chatter kept quiet
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=":0",
                                   silence_logs=logging.ERROR)
            return Client(cluster), cluster
        return Client(scheduler, timeout="20s"), None
    except (OSError, TimeoutError) as err:
        if cluster is not None:
            cluster.close()
        raise SpikeCoreError(f"cannot reach the Dask scheduler {scheduler}: {err}") from None


def map_on_dask(func: Callable[..., object], items: list, arguments: dict, scheduler: str, *, jobs: int = 2,
                describe: Callable[[object], str] = lambda result: "done", log=print) -> list:
    """``[func(index, item, **arguments) for index, item in enumerate(items)]``, each call a Dask task; the
    results come back in the order of ``items``. After each finished task ``log`` gets the progress bar and
    ``describe(result)``. ``func`` must be a module-level function the workers can import."""
    from distributed import as_completed

    client, cluster = connect(scheduler, jobs)
    try:
        futures = client.map(func, range(len(items)), items, pure=False, retries=RETRIES, **arguments)
        index = {future.key: i for i, future in enumerate(futures)}
        results: list = [None] * len(items)
        for done, future in enumerate(as_completed(futures), start=1):
            results[index[future.key]] = result = future.result()
            log(f"{progress_bar(done, len(items))} {describe(result)}")
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_on_dask(run_group: Callable[..., list[dict]], groups: list[list[int]], arguments: dict, scheduler: str, *,
                jobs: int = 2, log=print) -> list[dict]:
    """Run ``run_group(index, group, **arguments)`` for every group as Dask tasks; returns every result dict.

    ``run_group`` must be a module-level function the workers can import
    (:func:`spikecore.verif.regress.run_group`).

    ``scheduler``: ``"local"`` for a LocalCluster of ``jobs`` single-threaded worker processes, else the
    address of a running scheduler. Raises :class:`SpikeCoreError` when the scheduler cannot be reached.
    """
    def describe(batch: list[dict]) -> str:
        return f"batch of {len(batch)} seeds done ({sum(not r['passed'] for r in batch)} failed)"

    batches = map_on_dask(run_group, groups, {**arguments, "log": _quiet}, scheduler, jobs=jobs, describe=describe,
                          log=log)
    return [r for batch in batches for r in batch]
