"""Executing a :class:`~s2sr.plan.RunPlan`: product + model → super-resolved COG (and the bicubic comparison).

read (source grid, margins, NaN past the product) → :func:`s2sr.inference.infer` → crop
margins → write.  Reading the next tile and writing the last one run in two background
threads while the model works on the current one (bounded queues: memory stays at a few
tiles).  GDAL's block cache is bounded
(:data:`GDAL_CACHE_BYTES`, unless ``GDAL_CACHEMAX`` is set) so memory does not grow with the
product.  On a GPU several tiles go to the model per call (``RunOptions.batch``).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from . import interrupt
from .cpus import available_cpus
from .grid import Grid
from .inference import infer
from .models import Model, ModelCard
from .consistency import Consistency, ConsistencyCheck
from .outputs import check_writable_dir
from .outputs.bandstats import BandStats
from .outputs.cog import CogSet
from .outputs.naming import DataFile
from .plan import RunOptions, RunPlan, as_plan
from .products import BandReader, Product, ProductInfo
from .tiling import Roi, Tile, TilePlan

log = logging.getLogger(__name__)

#: GDAL block cache during a run (GDAL's default is 5 % of RAM, which the output's blocks
#: fill as the product grows): 64 MB holds the tiles in flight.  ``GDAL_CACHEMAX`` overrides it.
GDAL_CACHE_BYTES = 64 * 2**20
#: Niceness of the read and write threads (Linux: per thread).  0: measured on the 2-core machine
#: (benchmarks/run.py, ``pipeline_ratio_io_nice_10``), lowering them (+10) made runs slower, not
#: faster: starved reads stall the model more than their CPU slows it.
IO_NICE = 0


class Progress(Protocol):
    """A progress sink; the CLI passes a tqdm-backed one (``factory(total, description)``)."""

    def update(self, n: int = 1) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[int, str], Progress]


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class RunResult:
    """What a run produced."""

    sisr: Path  #: the super-resolved COG (per-band layout: the first band's)
    bicubic: Path | None  #: the bicubic comparison COG, if asked for (per-band layout: the first band's)
    product: ProductInfo
    model_name: str
    model_sha256: str
    output_grid: Grid
    roi: Roi  #: in source-grid pixels
    tiles: int
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    #: input pixels the model ran on / ROI pixels (margins and edge overhang; 1.0 = none)
    margin_overhead: float = field(default=1.0, compare=False)
    inferred_px: int = field(default=0, compare=False)  #: input pixels the model ran on
    read_shape: tuple[int, int] = field(default=(0, 0), compare=False)  #: (rows, cols) of every tile read
    threads: int = field(default=0, compare=False)  #: the model's intra-op threads
    device: str = field(default="cpu", compare=False)  #: where the model ran (cpu, cuda, tensorrt)
    batch: int = field(default=1, compare=False)  #: tiles per model call
    #: what brought the input to reflectance x 10000 (:meth:`Product.harmonisation_record`), for STAC items
    harmonisation: dict[str, object] = field(default_factory=dict, compare=False)
    #: every data file: (asset key, path, bands, is the comparison), in the options' asset layout
    files: tuple[tuple[DataFile, Path], ...] = ()
    #: per asset key, per band: statistics of the written values (computed while writing)
    statistics: dict[str, tuple[BandStats | None, ...]] = field(default_factory=dict, compare=False)
    #: consistency of the output with its input (computed tile by tile while writing)
    consistency: Consistency | None = None


def execute(plan: RunPlan, out_dir: str | Path, *, progress: ProgressFactory | None = None) -> RunResult:
    """Execute ``plan`` into COGs in ``out_dir`` (the seed's file names); outputs appear under
    their final names only when complete."""
    t_start = time.perf_counter()
    out = check_writable_dir(out_dir)
    prod, mdl, card = plan.product, plan.model, plan.card
    files = plan.data_files()
    paths = [(f.key, out / f.name, f.bands) for f in files]
    log.info("%s → %s", plan.describe(), ", ".join(str(p) for _, p, _ in paths))
    log.info("harmonisation: %s", prod.harmonisation())
    cogs = CogSet(paths, plan.output_grid)
    check = ConsistencyCheck(prod, card.bands, plan.source_grid, plan.roi, card.factor)
    batch = plan.options.batch or (1 if mdl.device == "cpu" else 4)
    timings = _run_model(prod, mdl, plan.tiles, plan.source_grid, cogs, check, progress, batch=batch,
                         model_workers=plan.options.model_workers)
    statistics = dict(cogs.statistics)
    written = [(f, out / f.name) for f in files]
    bicubic_path = None
    if plan.options.bicubic:
        bic = plan.data_files(comparison=True)
        t0 = time.perf_counter()
        bic_cogs = write_bicubic(prod, card.bands, plan.output_grid, [(f.key, out / f.name, f.bands) for f in bic],
                                 progress=progress)
        statistics.update(bic_cogs.statistics)
        written += [(f, out / f.name) for f in bic]
        bicubic_path = out / bic[0].name
        timings["bicubic"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    log.info(
        "%s: %d tile(s) of %d×%d px (batch %d, %s, %d model worker(s) × %d thread(s)), margin overhead %.3f; "
        "read %.2f s, model %.2f s, write %.2f s (read and write overlap the model), COG %.2f s, total %.2f s",
        prod.info.product_id, len(plan.tiles), *plan.tiles.read_shape, batch, mdl.device,
        plan.options.model_workers, mdl.threads,
        plan.tiles.margin_overhead, timings["read"], timings["infer"], timings["write"], timings["cog"],
        timings["total"],
    )
    consistency = check.result()
    log.info("consistency with the input: L1 %.5f (reflectance), SAM %.3f° (%.2f s, %.1f %% of the run)",
             consistency.l1_mean, consistency.sam, timings["consistency"],
             100 * timings["consistency"] / max(timings["total"], 1e-9))
    return RunResult(
        sisr=out / files[0].name,
        bicubic=bicubic_path,
        product=prod.info,
        model_name=mdl.name,
        model_sha256=mdl.sha256,
        output_grid=plan.output_grid,
        roi=plan.roi,
        tiles=len(plan.tiles),
        timings=timings,
        harmonisation=prod.harmonisation_record(card.bands[0]).as_dict(),
        margin_overhead=plan.tiles.margin_overhead,
        inferred_px=plan.tiles.inferred_px,
        read_shape=plan.tiles.read_shape,
        threads=mdl.threads,
        device=mdl.device,
        batch=batch,
        files=tuple(written),
        statistics=statistics,
        consistency=consistency,
    )


def write_cogs(
    product: str | Path | Product | RunPlan,
    out_dir: str | Path,
    model: str | Path | ModelCard | Model | None = None,
    options: RunOptions | None = None,
    *,
    progress: ProgressFactory | None = None,
) -> RunResult:
    """Super-resolve ``product`` with ``model`` into COG files in the folder ``out_dir``.

    ``product`` may be a :class:`~s2sr.plan.RunPlan` already made by :func:`s2sr.plan_run`;
    else the product, ``model`` and ``options`` (:class:`s2sr.RunOptions`) are planned first,
    which validates everything (product, model, bands, ROI) before any file is created.
    """
    t_start = time.perf_counter()
    plan = as_plan(product, model, options)
    result = execute(plan, out_dir, progress=progress)
    result.timings["total"] = time.perf_counter() - t_start
    return result


def super_resolve(
    product: str | Path | Product,
    out_dir: str | Path,
    model: str | Path | ModelCard | Model | None = None,
    *,
    progress: ProgressFactory | None = None,
    **options: Any,
) -> RunResult:
    """Former name of :func:`write_cogs`, taking the :class:`~s2sr.plan.RunOptions` fields as
    keyword arguments (``roi_pixels``, ``roi``, ``tile_size``, ``bicubic``, ``sre``, ``threads``, ``gpu``)."""
    return write_cogs(product, out_dir, model, RunOptions(**options), progress=progress)


def _lower_priority() -> None:
    """Thread initializer: run this thread at niceness :data:`IO_NICE` (Linux: per thread)."""
    if not IO_NICE:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), IO_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


def _gdal_cache() -> rasterio.Env:
    """The GDAL environment of a run: a bounded block cache unless the user set ``GDAL_CACHEMAX``."""
    return rasterio.Env() if "GDAL_CACHEMAX" in os.environ else rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES)


def read_workers(device: str) -> int:
    """Read threads: on CPU the model takes the cores and one read thread keeps up; a GPU leaves
    the cores to reading (GDAL's cubic warp of the 20 m bands is its costliest part)."""
    return 1 if device == "cpu" else max(1, min(8, available_cpus() - 2))


def _run_model(
    prod: Product,
    mdl: Model,
    plan: TilePlan,
    source_grid: Grid,
    cogs: CogSet,
    check: ConsistencyCheck,
    progress: ProgressFactory | None,
    *,
    batch: int = 1,
    model_workers: int = 1,
) -> dict[str, float]:
    card = mdl.card
    timings = {"read": 0.0, "infer": 0.0, "write": 0.0, "cog": 0.0, "consistency": 0.0}
    bar = progress(len(plan), "super-resolution") if progress else _NoProgress()
    lock = threading.Lock()

    def add(key: str, seconds: float) -> None:
        with lock:
            timings[key] += seconds

    free: queue.SimpleQueue[BandReader] = queue.SimpleQueue()  # one reader per read thread (not thread-safe)

    def read(tiles: list[Tile]) -> np.ndarray:
        interrupt.check()
        t0 = time.perf_counter()
        reader = free.get()
        try:
            data = np.stack([reader.read(tile.read) for tile in tiles])
        finally:
            free.put(reader)
        add("read", time.perf_counter() - t0)
        return data

    def write(tiles: list[Tile], windows: np.ndarray, y: np.ndarray) -> None:
        for tile, window, out in zip(tiles, windows, y, strict=True):
            t0 = time.perf_counter()
            useful = tile.crop(out)
            cogs.write(tile.out, useful)  # the COG writers accumulate each band's statistics
            t1 = time.perf_counter()
            check.add(tile, window, useful)  # consistency with the input, on the tile in memory
            add("write", t1 - t0)
            add("consistency", time.perf_counter() - t1)

    groups = [list(plan)[i : i + batch] for i in range(0, len(plan), batch)]
    workers = read_workers(mdl.device)
    # model_workers > 1: tiles go through the model concurrently (one session, ONNX Runtime runs
    # are thread-safe), each call on the session's threads
    model_pool = ThreadPoolExecutor(model_workers, thread_name_prefix="s2sr-model") if model_workers > 1 else None
    try:
        with (
            _gdal_cache(),
            ExitStack() as readers,  # opened here, in the calling thread (GDAL environments are per thread)
            cogs,
            check,
            ThreadPoolExecutor(workers, thread_name_prefix="s2sr-read", initializer=_lower_priority) as read_pool,
            ThreadPoolExecutor(1, thread_name_prefix="s2sr-write", initializer=_lower_priority) as write_pool,
        ):
            for _ in range(workers):
                free.put(readers.enter_context(BandReader(prod, card.bands, source_grid)))
            pending: deque[Future[None]] = deque()
            running: deque[tuple[list[Tile], np.ndarray, Future[np.ndarray]]] = deque()

            def model(window: np.ndarray) -> np.ndarray:
                t0 = time.perf_counter()
                n = window.shape[0]
                if n < batch:  # the last batch, padded: the runtime sees one shape (TensorRT builds one engine)
                    window = np.concatenate([window, np.repeat(window[-1:], batch - n, axis=0)])
                y = infer(mdl, window)[:n]
                add("infer", time.perf_counter() - t0)  # summed over the model workers
                return y

            def collect(keep: int) -> None:
                while len(running) > keep:
                    tiles, window, done = running.popleft()
                    pending.append(write_pool.submit(write, tiles, window, done.result()))
                    _drain(pending, keep=2)
                    bar.update(len(tiles))

            depth = workers + model_workers
            for tiles, fut in _prefetch(groups, lambda g: read_pool.submit(read, g), depth=depth):
                interrupt.check()  # a signal swallowed by native code stops the run here
                window = fut.result()
                if model_pool is None:
                    running.append((tiles, window, _done(model(window))))
                else:
                    running.append((tiles, window, model_pool.submit(model, window)))
                collect(keep=model_workers - 1)
            collect(keep=0)
            _drain(pending, keep=0)
    finally:
        if model_pool is not None:
            model_pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    timings["cog"] = cogs.finish_seconds
    return timings


def _done(value: np.ndarray) -> Future[np.ndarray]:
    fut: Future[np.ndarray] = Future()
    fut.set_result(value)
    return fut


def _drain(pending: deque[Future[None]], keep: int) -> None:
    """Bound the write-behind queue to ``keep`` tiles (and surface write errors early)."""
    while len(pending) > keep:
        pending.popleft().result()


def _prefetch(
    groups: list[list[Tile]], submit: Callable[[list[Tile]], Future[np.ndarray]], depth: int
) -> Iterator[tuple[list[Tile], Future[np.ndarray]]]:
    queue: deque[tuple[list[Tile], Future[np.ndarray]]] = deque()
    for group in groups:
        queue.append((group, submit(group)))
        if len(queue) > depth:
            yield queue.popleft()
    while queue:
        yield queue.popleft()


def write_bicubic(
    prod: Product,
    bands: tuple[str, ...],
    grid: Grid,
    files: Path | list[tuple[str, Path, tuple[str, ...]]],
    *,
    block: int = 1024,
    progress: ProgressFactory | None = None,
) -> CogSet:
    """The comparison product: every band resampled with GDAL's cubic onto ``grid``, streamed by
    blocks into ``files`` (one multi-band path, or (key, path, bands) per file)."""
    blocks = [
        Window(c, r, min(block, grid.width - c), min(block, grid.height - r))
        for r in range(0, grid.height, block)
        for c in range(0, grid.width, block)
    ]
    targets = [("bicubic", files, bands)] if isinstance(files, Path) else files
    bar = progress(len(blocks), "bicubic") if progress else _NoProgress()
    try:
        with BandReader(prod, bands, grid, resampling=Resampling.cubic) as reader, CogSet(targets, grid) as cogs:
            for win in blocks:
                cogs.write(win, reader.read(win))
                bar.update(1)
    finally:
        bar.close()
    return cogs
