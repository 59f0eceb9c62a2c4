"""Raster grids: a value object shared by products, tiling and outputs (pure geometry)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: CRS, affine transform and size in pixels."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def res(self) -> float:
        """Pixel size in CRS units (square pixels)."""
        return float(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)

    def window_grid(self, window: Window) -> Grid:
        """The grid of a window of this grid (the window may extend past its edges)."""
        return Grid(
            self.crs,
            self.transform @ Affine.translation(int(window.col_off), int(window.row_off)),
            int(window.width),
            int(window.height),
        )

    def scaled(self, factor: int) -> Grid:
        """The grid with pixels ``factor`` times smaller covering the same extent."""
        return Grid(
            self.crs,
            self.transform @ Affine.scale(1.0 / factor),
            self.width * factor,
            self.height * factor,
        )

    def pixel_window(self, left: float, bottom: float, right: float, top: float) -> Window:
        """The window of whole pixels covering map bounds, snapped outward to this grid."""
        inv = ~self.transform
        c0, r0 = inv @ (left, top)
        c1, r1 = inv @ (right, bottom)
        eps = 1e-6
        col0, row0 = math.floor(c0 + eps), math.floor(r0 + eps)
        col1, row1 = math.ceil(c1 - eps), math.ceil(r1 - eps)
        return Window(col0, row0, col1 - col0, row1 - row0)

    def is_north_up(self) -> bool:
        t = self.transform
        return t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0 and math.isclose(t.a, -t.e)
