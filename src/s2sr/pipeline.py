"""The processor: product + model → super-resolved COG (and the bicubic comparison).

read (source grid, margins, NaN past the product) → :func:`s2sr.inference.infer` → crop
margins → write.  Reading the next tile and writing the last one run in two background
threads while the model works on the current one; memory stays at a few tiles.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from rasterio.enums import Resampling
from rasterio.windows import Window

from .grid import Grid
from .inference import infer
from .models import Model, ModelCard, load_model
from .outputs import CogWriter, check_writable_dir, output_name
from .products import BandReader, Product, ProductInfo, open_product
from .tiling import Roi, Tile, TilePlan, full_roi, plan_tiles, roi_from_bounds, roi_from_pixels

log = logging.getLogger(__name__)

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

    sisr: Path  #: the super-resolved COG
    bicubic: Path | None  #: the bicubic comparison COG, if asked for
    product: ProductInfo
    model_name: str
    model_sha256: str
    output_grid: Grid
    roi: Roi  #: in source-grid pixels
    tiles: int
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    #: what brought the input to reflectance x 10000 (:meth:`Product.harmonisation_record`), for STAC items
    harmonisation: dict[str, object] = field(default_factory=dict, compare=False)


def resolve_roi(
    grid: Grid,
    *,
    roi_pixels: tuple[float, float, float, float] | None = None,
    roi: tuple[float, float, float, float] | None = None,
) -> Roi:
    """The ROI on the source grid from pixel (``COL0 ROW0 COL1 ROW1``) or map (``L B R T``) coordinates."""
    if roi_pixels is not None and roi is not None:
        from .errors import RoiError

        raise RoiError("give either a pixel ROI or a map ROI, not both")
    if roi_pixels is not None:
        return roi_from_pixels(grid, *roi_pixels)
    if roi is not None:
        return roi_from_bounds(grid, *roi)
    return full_roi(grid)


def super_resolve(
    product: str | Path | Product,
    out_dir: str | Path,
    model: str | Path | ModelCard | Model | None = None,
    *,
    roi_pixels: tuple[float, float, float, float] | None = None,
    roi: tuple[float, float, float, float] | None = None,
    tile_size: int = 1000,
    bicubic: bool = False,
    sre: bool = False,
    threads: int | None = None,
    gpu: bool = False,
    progress: ProgressFactory | None = None,
) -> RunResult:
    """Super-resolve ``product`` with ``model`` into a COG in ``out_dir``.

    ``product``: a path (format detected) or an opened :class:`~s2sr.products.Product`.
    ``model``: a card path, a built-in name, a card, an opened :class:`~s2sr.models.Model`,
    or None for the default built-in.  ``roi_pixels`` counts source-grid pixels from the
    upper-left corner (``COL0 ROW0 COL1 ROW1``, the seed's ``-roip``); ``roi`` is in the
    product's CRS (``LEFT BOTTOM RIGHT TOP``), snapped outward to the source grid.
    ``tile_size`` is in output pixels, margins excluded.

    Everything is validated before any file is created; outputs appear under their final
    names only when complete.
    """
    t_start = time.perf_counter()
    prod = open_product(product, sre=sre)
    mdl = model if isinstance(model, Model) else load_model(model, threads=threads, gpu=gpu)
    card = mdl.card
    prod.check_bands(card.bands)
    source_grid = prod.group_grid(card.source_group)
    the_roi = resolve_roi(source_grid, roi_pixels=roi_pixels, roi=roi)
    plan = plan_tiles(source_grid, the_roi, factor=card.factor, tile_size=tile_size, margin=card.margin)
    out = check_writable_dir(out_dir)
    res = source_grid.res / card.factor
    sisr_path = out / output_name(prod.info, res, "sisr")
    log.info(
        "%s → %s: model %s, ROI %s, %d tile(s) of %d×%d source px, output %d×%d at %g",
        prod.info.product_id, sisr_path, mdl.name, the_roi, len(plan), plan.tile_cols, plan.tile_rows,
        plan.output_grid.width, plan.output_grid.height, res,
    )
    log.info("harmonisation: %s", prod.harmonisation())
    timings = _run_model(prod, mdl, plan, source_grid, sisr_path, progress)
    bicubic_path = None
    if bicubic:
        bicubic_path = out / output_name(prod.info, res, "bicubic")
        t0 = time.perf_counter()
        write_bicubic(prod, card.bands, plan.output_grid, bicubic_path, progress=progress)
        timings["bicubic"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    return RunResult(
        sisr=sisr_path,
        bicubic=bicubic_path,
        product=prod.info,
        model_name=mdl.name,
        model_sha256=mdl.sha256,
        output_grid=plan.output_grid,
        roi=the_roi,
        tiles=len(plan),
        timings=timings,
        harmonisation=prod.harmonisation_record(card.bands[0]).as_dict(),
    )


def _run_model(
    prod: Product,
    mdl: Model,
    plan: TilePlan,
    source_grid: Grid,
    path: Path,
    progress: ProgressFactory | None,
) -> dict[str, float]:
    card = mdl.card
    timings = {"read": 0.0, "infer": 0.0, "write": 0.0, "cog": 0.0}
    bar = progress(len(plan), "super-resolution") if progress else _NoProgress()

    def read(reader: BandReader, tile: Tile) -> np.ndarray:
        t0 = time.perf_counter()
        data = reader.read(tile.read)
        timings["read"] += time.perf_counter() - t0
        return data

    def write(writer: CogWriter, tile: Tile, y: np.ndarray) -> None:
        t0 = time.perf_counter()
        writer.write(tile.out, tile.crop(y))
        timings["write"] += time.perf_counter() - t0

    try:
        with (
            BandReader(prod, card.bands, source_grid) as reader,
            CogWriter(path, plan.output_grid, card.bands) as writer,
            ThreadPoolExecutor(1, thread_name_prefix="s2sr-read") as read_pool,
            ThreadPoolExecutor(1, thread_name_prefix="s2sr-write") as write_pool,
        ):
            pending: deque[Future[None]] = deque()
            for tile, fut in _prefetch(plan, lambda t: read_pool.submit(read, reader, t), depth=2):
                window = fut.result()
                t0 = time.perf_counter()
                y = infer(mdl, window)
                timings["infer"] += time.perf_counter() - t0
                pending.append(write_pool.submit(write, writer, tile, y))
                _drain(pending, keep=2)
                bar.update(1)
            _drain(pending, keep=0)
    finally:
        bar.close()
    timings["cog"] = writer.finish_seconds
    return timings


def _drain(pending: deque[Future[None]], keep: int) -> None:
    """Bound the write-behind queue to ``keep`` tiles (and surface write errors early)."""
    while len(pending) > keep:
        pending.popleft().result()


def _prefetch(
    plan: TilePlan, submit: Callable[[Tile], Future[np.ndarray]], depth: int
) -> Iterator[tuple[Tile, Future[np.ndarray]]]:
    queue: deque[tuple[Tile, Future[np.ndarray]]] = deque()
    for tile in plan:
        queue.append((tile, submit(tile)))
        if len(queue) > depth:
            yield queue.popleft()
    while queue:
        yield queue.popleft()


def write_bicubic(
    prod: Product,
    bands: tuple[str, ...],
    grid: Grid,
    path: Path,
    *,
    block: int = 1024,
    progress: ProgressFactory | None = None,
) -> Path:
    """The comparison product: every band resampled with GDAL's cubic onto ``grid``, streamed by blocks."""
    blocks = [
        Window(c, r, min(block, grid.width - c), min(block, grid.height - r))
        for r in range(0, grid.height, block)
        for c in range(0, grid.width, block)
    ]
    bar = progress(len(blocks), "bicubic") if progress else _NoProgress()
    try:
        with BandReader(prod, bands, grid, resampling=Resampling.cubic) as reader, CogWriter(path, grid, bands) as writer:
            for win in blocks:
                writer.write(win, reader.read(win))
                bar.update(1)
    finally:
        bar.close()
    return path
