"""Plan a run once: product + model + options → what every entry point then executes.

:func:`plan_run` opens the product, loads the model, checks the bands, picks the source grid,
resolves the ROI and cuts it into tiles — everything that can fail on bad input, before any
file is created.  The library (:func:`s2sr.write_cogs`), the publisher (:func:`s2sr.publish`),
:func:`s2sr.evaluate.evaluate`, the CLI's pre-checks and ``s2sr batch`` all start here, so a
run is validated and described the same way whichever way it was asked for.  Like
odc-stac's plan-then-load split: a :class:`RunPlan` is cheap to make and to log; executing it
(:func:`s2sr.pipeline.execute`) does the work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .errors import RoiError, UserError
from .grid import Grid
from .models import Model, ModelCard, load_model
from .outputs.naming import LAYOUTS, MULTIBAND, DataFile, data_files, output_name
from .products import Product, open_product
from .defaults import DEFAULT_TILE_SIZE, DEVICES, PRECISIONS
from .tiling import Roi, TilePlan, plan_tiles, resolve_roi

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class RunOptions:
    """How to run, independent of which product and model (one value shared by every entry point).

    ``roi_pixels`` counts source-grid pixels from the upper-left corner (``COL0 ROW0 COL1 ROW1``,
    the seed's ``-roip``, ``COL1``/``ROW1`` exclusive); ``roi`` is in the product's CRS
    (``LEFT BOTTOM RIGHT TOP``), snapped outward to the source grid; neither: the whole product.
    ``tile_size`` is in output pixels, margins excluded.
    """

    roi_pixels: Box | None = None
    roi: Box | None = None
    tile_size: int = DEFAULT_TILE_SIZE
    bicubic: bool = False  #: also write the bicubic comparison product
    sre: bool = False  #: Theia: SRE instead of FRE reflectances
    threads: int | None = None  #: ONNX Runtime intra-op threads (None: the cores this process may use)
    gpu: bool = False  #: CUDA when available (falls back to CPU with a warning); same as ``device="cuda"``
    device: str | None = None  #: ``cpu``, ``cuda`` or ``tensorrt`` (falls back TensorRT → CUDA → CPU with a warning)
    precision: str = "fp32"  #: ``fp16``: model converted at load (inputs/outputs float32)
    batch: int | None = None  #: tiles per model call (None: 1 on CPU, 4 on a GPU)
    #: tiles through the model at once, each call on ``threads`` (default: the usable cores / model_workers);
    #: 2 on a small CPU keeps the cores busier than one call on all of them, for twice the model's memory
    model_workers: int = 1
    #: ``multiband`` (one COG with every band) or ``per-band`` (one COG per band, for stackstac & co)
    asset_layout: str = MULTIBAND

    def __post_init__(self) -> None:
        for name in ("roi_pixels", "roi"):
            value = getattr(self, name)
            if value is not None:
                if len(value) != 4:
                    raise RoiError(f"{name} needs 4 numbers, got {len(value)}")
                object.__setattr__(self, name, tuple(float(v) for v in value))
        if self.roi_pixels is not None and self.roi is not None:
            raise RoiError("give either a pixel ROI or a map ROI, not both")
        if int(self.tile_size) < 1:
            raise UserError(f"tile size {self.tile_size} is not positive", hint="give --tile-size N with N >= 1")
        if self.asset_layout not in LAYOUTS:
            raise UserError(f"asset layout {self.asset_layout!r} is not one of {', '.join(LAYOUTS)}",
                            hint="give --asset-layout multiband or --asset-layout per-band")
        if self.threads is not None and int(self.threads) < 1:
            raise UserError(f"{self.threads} threads is not a thread count", hint="give --threads N with N >= 1")
        if int(self.model_workers) < 1:
            raise UserError(f"{self.model_workers} model workers is not a count", hint="give --model-workers N >= 1")
        if self.batch is not None and int(self.batch) < 1:
            raise UserError(f"batch {self.batch} is not positive", hint="give --batch N with N >= 1")
        if self.device is not None and self.device not in DEVICES:
            raise UserError(f"unknown device {self.device!r}", hint=f"use one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision {self.precision!r}", hint=f"use one of {', '.join(PRECISIONS)}")

    @property
    def has_roi(self) -> bool:
        return self.roi_pixels is not None or self.roi is not None


@dataclass(frozen=True)
class RunPlan:
    """A validated run: what will be read, with which model, on which tiles, into which grid."""

    product: Product
    model: Model
    options: RunOptions
    source_grid: Grid  #: the model's input grid on this product
    roi: Roi  #: in source-grid pixels
    tiles: TilePlan

    @property
    def card(self) -> ModelCard:
        return self.model.card

    @property
    def output_grid(self) -> Grid:
        return self.tiles.output_grid

    @property
    def resolution(self) -> float:
        """Output pixel size (CRS units)."""
        return self.source_grid.res / self.card.factor

    @property
    def sisr_name(self) -> str:
        """The seed's file name of the super-resolved COG."""
        return output_name(self.product.info, self.resolution, "sisr")

    @property
    def bicubic_name(self) -> str:
        return output_name(self.product.info, self.resolution, "bicubic")

    def data_files(self, comparison: bool = False) -> tuple[DataFile, ...]:
        """The data files of the output (or of the bicubic comparison) in the options' asset layout."""
        return data_files(self.product.info, self.resolution, self.card.bands, self.options.asset_layout, comparison)

    @property
    def item_id(self) -> str:
        """The STAC item id (the seed's name without the ``_sisr.tif`` suffix)."""
        return self.sisr_name.removesuffix("_sisr.tif")

    @property
    def roi_pixels(self) -> tuple[int, int, int, int]:
        r = self.roi
        return (r.col0, r.row0, r.col1, r.row1)

    def describe(self) -> str:
        """One line for the log: product, model, ROI, tiles, output size."""
        t, g = self.tiles, self.output_grid
        return (
            f"{self.product.info.product_id}: model {self.model.name}, ROI {' '.join(map(str, self.roi_pixels))}, "
            f"{len(t)} tile(s) of {t.tile_cols}×{t.tile_rows} source px, output {g.width}×{g.height} "
            f"at {self.resolution:g}; margin overhead {t.margin_overhead:.3f} (inferred input px / ROI px)"
        )


def open_run_model(model: str | Path | ModelCard | Model | None, options: RunOptions) -> Model:
    """``model`` as an opened :class:`~s2sr.models.Model` (an opened one is used as is)."""
    if isinstance(model, Model):
        return model
    threads = options.threads
    if threads is None and options.model_workers > 1:
        from .cpus import available_cpus

        threads = max(1, available_cpus() // options.model_workers)
    return load_model(model, threads=threads, gpu=options.gpu, device=options.device, precision=options.precision)


def as_plan(
    product: str | Path | Product | RunPlan,
    model: str | Path | ModelCard | Model | None = None,
    options: RunOptions | None = None,
) -> RunPlan:
    """``product`` if it is already a :class:`RunPlan` (then ``model`` and ``options`` must be None), else
    :func:`plan_run` of the three: lets the executors take either, so a run is planned once."""
    if isinstance(product, RunPlan):
        if model is not None or options is not None:
            raise TypeError("a RunPlan already holds its model and options; pass neither with it")
        return product
    return plan_run(product, model, options)


def plan_run(
    product: str | Path | Product,
    model: str | Path | ModelCard | Model | None = None,
    options: RunOptions | None = None,
) -> RunPlan:
    """Validate and plan one run; raises a :class:`~s2sr.errors.UserError` on bad input.

    ``product``: a path or URL (the kind is detected from the content) or an opened
    :class:`~s2sr.products.Product`; ``model``: a card path, a built-in or zoo name, a card, an
    opened :class:`~s2sr.models.Model`, or None for the default model.
    """
    opts = options if options is not None else RunOptions()
    prod = product if isinstance(product, Product) else open_product(product, sre=opts.sre)
    mdl = open_run_model(model, opts)
    card = mdl.card
    prod.check_bands(card.bands)
    source_grid = prod.group_grid(card.source_group)
    roi = resolve_roi(source_grid, roi_pixels=opts.roi_pixels, roi=opts.roi)
    tiles = plan_tiles(source_grid, roi, factor=card.factor, tile_size=opts.tile_size, margin=card.margin)
    return RunPlan(product=prod, model=mdl, options=opts, source_grid=source_grid, roi=roi, tiles=tiles)
