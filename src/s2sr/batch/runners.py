"""Where a batch's products run: in this process, a bounded local process pool, or Dask.

Every runner executes :func:`~s2sr.batch.task.process` once per product and collects the
:class:`~s2sr.batch.task.Outcome` values: one product's failure (even its worker dying) never
stops the others. Nothing here schedules across machines: ``--dask-scheduler`` hands the tasks to
an existing Dask cluster; ``--dask local`` starts a ``distributed.LocalCluster`` for the run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from ..errors import UserError
from .plan import PlanEntry
from .summary import BatchSummary
from .task import FAILED, Outcome, process

log = logging.getLogger(__name__)

OnOutcome = Callable[[Outcome], None]
LOCAL = "local"


def _threads_for(entries: Sequence[PlanEntry], workers: int) -> list[PlanEntry]:
    """Share this machine's cores between parallel workers unless --threads says otherwise."""
    if workers <= 1:
        return list(entries)
    per = max(1, (os.cpu_count() or 1) // workers)
    return [e if e.settings.threads is not None else
            dataclasses.replace(e, settings=dataclasses.replace(e.settings, threads=per)) for e in entries]


def run_batch(entries: Sequence[PlanEntry], *, workers: int = 1, dask: str | None = None,
              on_outcome: OnOutcome | None = None) -> BatchSummary:
    """Process every entry; ``dask``: None (this machine), ``"local"`` (a LocalCluster of
    ``workers`` processes) or a scheduler address (``tcp://host:8786``)."""
    report = on_outcome or (lambda o: None)
    t0 = time.perf_counter()
    if dask is None and workers <= 1:
        engine, outcomes = "this process", _in_process(entries, report)
    elif dask is None:
        engine = f"a local pool of {workers} processes"
        outcomes = _pool(_threads_for(entries, workers), workers, report)
    else:
        engine, outcomes = _dask(entries, dask, workers, report)
    return BatchSummary(tuple(outcomes), time.perf_counter() - t0, engine)


def _in_process(entries: Sequence[PlanEntry], report: OnOutcome) -> list[Outcome]:
    outcomes = []
    for e in entries:
        out = process(e.item.source, e.settings)
        report(out)
        outcomes.append(out)
    return outcomes


def _pool(entries: Sequence[PlanEntry], workers: int, report: OnOutcome) -> list[Outcome]:
    """A bounded pool of spawned processes (no fork: ONNX Runtime and GDAL hold threads).

    A worker that dies (killed, out of memory) breaks the pool: the products it took down are
    retried once in a fresh pool; a product that breaks a pool twice is reported failed."""
    results: dict[int, Outcome] = {}
    todo = list(enumerate(entries))
    broke_once: set[int] = set()
    while todo:
        broken: list[tuple[int, PlanEntry]] = []
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=get_context("spawn")) as pool:
            futs: dict[Future[Outcome], tuple[int, PlanEntry]] = {
                pool.submit(process, e.item.source, e.settings): (i, e) for i, e in todo}
            for fut in as_completed(futs):
                i, e = futs[fut]
                try:
                    out = fut.result()
                except BrokenProcessPool:
                    if i in broke_once:
                        out = Outcome(e.item.source, FAILED, exit_code=1,
                                      reason="its worker process died twice (killed, or out of memory?)")
                    else:
                        broke_once.add(i)
                        broken.append((i, e))
                        continue
                results[i] = out
                report(out)
        todo = broken
        if todo:
            log.warning("a worker process died; retrying %d product(s) in a fresh pool", len(todo))
    return [results[i] for i in range(len(entries))]


def _dask(entries: Sequence[PlanEntry], address: str, workers: int,
          report: OnOutcome) -> tuple[str, list[Outcome]]:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError:
        raise UserError("--dask needs the 'distributed' package",
                         hint="pip install 's2sr[batch]' (or pip install distributed)") from None
    cluster: Any = None
    if address == LOCAL:
        entries = _threads_for(entries, workers)
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        engine = f"dask local ({max(1, workers)} worker processes)"
    else:
        engine = f"dask {address}"
    try:
        try:
            client = Client(cluster if cluster is not None else address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {address}: {str(exc).splitlines()[0]}",
                             hint="check the address (tcp://HOST:8786) and that the scheduler runs, "
                             "or use --dask local") from None
        with client:
            futs = [client.submit(process, e.item.source, e.settings, pure=False, key=f"s2sr-{i}-{e.item.name}")
                    for i, e in enumerate(entries)]
            index = {f.key: i for i, f in enumerate(futs)}
            results: dict[int, Outcome] = {}
            for fut in dask_completed(futs):
                i = index[fut.key]
                try:
                    out = fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: this product only
                    out = Outcome(entries[i].item.source, FAILED, exit_code=1,
                                  reason=f"the Dask task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                results[i] = out
                report(out)
        return engine, [results[i] for i in range(len(entries))]
    finally:
        if cluster is not None:
            cluster.close()
