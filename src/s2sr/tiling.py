"""Tiling: ROI → tiles with margins (pure geometry, no I/O).

All windows are on the *source* grid (the model's input grid) except ``Tile.out``, which
is on the output grid (the ROI at ``factor`` times finer resolution).  A tile reads
``tile + 2·margin_in`` source pixels per side, where ``margin_in = ceil(margin / factor)``,
so at least ``margin`` output pixels are cropped on each side.  Every tile has the same
read shape (edge tiles read past the ROI and are cropped), so the runtime sees one shape.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from .errors import RoiError
from .grid import Grid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Roi:
    """A region of the source grid, in whole source pixels (upper-left based)."""

    col0: int
    row0: int
    col1: int
    row1: int

    @property
    def width(self) -> int:
        return self.col1 - self.col0

    @property
    def height(self) -> int:
        return self.row1 - self.row0

    @property
    def window(self) -> Window:
        return Window(self.col0, self.row0, self.width, self.height)


def roi_from_pixels(grid: Grid, col0: float, row0: float, col1: float, row1: float) -> Roi:
    """ROI from source-grid pixel coordinates ``COL0 ROW0 COL1 ROW1`` (the seed's ``-roip``).

    Columns and rows count from the product's upper-left corner; ``col1``/``row1`` are
    exclusive.  Fractions are snapped outward to whole pixels.
    """
    c0, r0, c1, r1 = math.floor(col0), math.floor(row0), math.ceil(col1), math.ceil(row1)
    if c1 <= c0 or r1 <= r0:
        raise RoiError(
            f"ROI {col0:g} {row0:g} {col1:g} {row1:g} is empty",
            hint="give COL0 ROW0 COL1 ROW1 with COL1 > COL0 and ROW1 > ROW0",
        )
    return _clip(grid, Roi(c0, r0, c1, r1), f"pixel ROI {c0} {r0} {c1} {r1}")


def roi_from_bounds(grid: Grid, left: float, bottom: float, right: float, top: float) -> Roi:
    """ROI from map coordinates ``LEFT BOTTOM RIGHT TOP`` in the product's CRS, snapped outward."""
    if right <= left or top <= bottom:
        raise RoiError(
            f"ROI {left:g} {bottom:g} {right:g} {top:g} is empty",
            hint="give LEFT BOTTOM RIGHT TOP with RIGHT > LEFT and TOP > BOTTOM (product CRS)",
        )
    w = grid.pixel_window(left, bottom, right, top)
    roi = Roi(int(w.col_off), int(w.row_off), int(w.col_off + w.width), int(w.row_off + w.height))
    return _clip(grid, roi, f"ROI {left:g} {bottom:g} {right:g} {top:g}")


def full_roi(grid: Grid) -> Roi:
    return Roi(0, 0, grid.width, grid.height)


def resolve_roi(
    grid: Grid,
    *,
    roi_pixels: tuple[float, float, float, float] | None = None,
    roi: tuple[float, float, float, float] | None = None,
) -> Roi:
    """The ROI on ``grid`` from pixel (``COL0 ROW0 COL1 ROW1``) or map (``L B R T``) coordinates;
    the whole grid when neither is given."""
    if roi_pixels is not None and roi is not None:
        raise RoiError("give either a pixel ROI or a map ROI, not both")
    if roi_pixels is not None:
        return roi_from_pixels(grid, *roi_pixels)
    if roi is not None:
        return roi_from_bounds(grid, *roi)
    return full_roi(grid)


def _clip(grid: Grid, roi: Roi, what: str) -> Roi:
    clipped = Roi(max(roi.col0, 0), max(roi.row0, 0), min(roi.col1, grid.width), min(roi.row1, grid.height))
    if clipped.width <= 0 or clipped.height <= 0:
        left, bottom, right, top = grid.bounds
        raise RoiError(
            f"{what} is outside the product",
            hint=(
                f"the product covers pixels 0 0 {grid.width} {grid.height} "
                f"and map bounds {left:g} {bottom:g} {right:g} {top:g} ({grid.crs})"
            ),
        )
    if clipped != roi:
        log.warning("%s extends past the product: clipped to pixels %d %d %d %d", what, *vars(clipped).values())
    return clipped


@dataclass(frozen=True)
class Tile:
    """One unit of work."""

    index: int
    read: Window  #: source-grid window to read (margins included; may leave the product)
    out: Window  #: where the useful part goes in the output raster (output pixels)
    crop_row: int  #: first row of ``out`` in the tile's model output
    crop_col: int  #: first column of ``out`` in the tile's model output

    def crop(self, output: np.ndarray) -> np.ndarray:
        """The useful part of the tile's model output ``(bands, rows, cols)``: what goes at ``out``."""
        rows, cols = int(self.out.height), int(self.out.width)
        return output[..., self.crop_row : self.crop_row + rows, self.crop_col : self.crop_col + cols]


@dataclass(frozen=True)
class TilePlan:
    """The tiles covering a ROI, and the output grid they fill."""

    roi: Roi
    factor: int
    tile_rows: int  #: useful source pixels per tile, vertically
    tile_cols: int  #: useful source pixels per tile, horizontally
    margin_in: int  #: margin in source pixels
    output_grid: Grid

    @property
    def read_shape(self) -> tuple[int, int]:
        """(rows, cols) of every tile's read window."""
        return (self.tile_rows + 2 * self.margin_in, self.tile_cols + 2 * self.margin_in)

    @property
    def n_rows(self) -> int:
        return math.ceil(self.roi.height / self.tile_rows)

    @property
    def n_cols(self) -> int:
        return math.ceil(self.roi.width / self.tile_cols)

    def __len__(self) -> int:
        return self.n_rows * self.n_cols

    @property
    def inferred_px(self) -> int:
        """Input pixels the model runs on: tiles × read shape (margins and edge overhang included)."""
        rows, cols = self.read_shape
        return len(self) * rows * cols

    @property
    def margin_overhead(self) -> float:
        """Inferred input pixels / ROI pixels (1.0 would be no margin and no overhang)."""
        return self.inferred_px / (self.roi.width * self.roi.height)

    def __iter__(self) -> Iterator[Tile]:
        f, m = self.factor, self.margin_in
        rows, cols = self.read_shape
        index = 0
        for i in range(self.n_rows):
            r0 = self.roi.row0 + i * self.tile_rows
            r1 = min(r0 + self.tile_rows, self.roi.row1)
            for j in range(self.n_cols):
                c0 = self.roi.col0 + j * self.tile_cols
                c1 = min(c0 + self.tile_cols, self.roi.col1)
                yield Tile(
                    index=index,
                    read=Window(c0 - m, r0 - m, cols, rows),
                    out=Window((c0 - self.roi.col0) * f, (r0 - self.roi.row0) * f, (c1 - c0) * f, (r1 - r0) * f),
                    crop_row=m * f,
                    crop_col=m * f,
                )
                index += 1


def even_split(length: int, longest: int) -> int:
    """The tile length that cuts ``length`` into the fewest tiles of at most ``longest``, all of
    one length, wasting the least: ``ceil(length / ceil(length / longest))``."""
    n = math.ceil(length / longest)
    return math.ceil(length / n)


def plan_tiles(source_grid: Grid, roi: Roi, *, factor: int, tile_size: int, margin: int) -> TilePlan:
    """Cut ``roi`` into tiles of at most ``tile_size`` *output* pixels plus ``margin`` output pixels.

    Tiles are sized so the ROI divides evenly (:func:`even_split`: 1098 source px with a
    tile size of 1000 output px → 3 tiles of 366, not 500 + 500 + 98 read as 3 × 500): every
    tile keeps one shape (the runtime sees one shape and can batch), and the model runs on as
    few pixels past the ROI as the tile count allows.  ``tile_size`` is rounded down to a
    multiple of ``factor``.
    """
    if tile_size < factor:
        raise RoiError(f"tile size {tile_size} is smaller than the model's factor {factor}")
    tile_in = tile_size // factor
    margin_in = math.ceil(margin / factor)
    window = source_grid.window_grid(roi.window).scaled(factor)
    return TilePlan(
        roi=roi,
        factor=factor,
        tile_rows=even_split(roi.height, tile_in),
        tile_cols=even_split(roi.width, tile_in),
        margin_in=margin_in,
        output_grid=window,
    )
