from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from s2sr.errors import RoiError
from s2sr.grid import Grid
from s2sr.tiling import Roi, full_roi, plan_tiles, roi_from_bounds, roi_from_pixels

GRID = Grid(CRS.from_epsg(32631), Affine(10, 0, 300000, 0, -10, 5000040), 250, 130)


@pytest.mark.parametrize("tile_size,margin", [(64, 0), (64, 8), (100, 32), (1000, 66), (2, 110)])
def test_tiles_cover_roi_exactly_once(tile_size: int, margin: int) -> None:
    roi = Roi(7, 3, 250, 101)
    plan = plan_tiles(GRID, roi, factor=2, tile_size=tile_size, margin=margin)
    cover = np.zeros((plan.output_grid.height, plan.output_grid.width), int)
    shapes = set()
    for t in plan:
        r, c, h, w = int(t.out.row_off), int(t.out.col_off), int(t.out.height), int(t.out.width)
        cover[r : r + h, c : c + w] += 1
        shapes.add((int(t.read.height), int(t.read.width)))
        # the useful output lies inside the tile's model output, at least `margin` px from its edges
        assert t.crop_row >= margin and t.crop_col >= margin
        assert t.crop_row + h <= t.read.height * 2 - margin
        assert t.crop_col + w <= t.read.width * 2 - margin
        # and maps back to the read window's centre part
        assert t.read.row_off + t.crop_row // 2 == roi.row0 + r // 2
        assert t.read.col_off + t.crop_col // 2 == roi.col0 + c // 2
    assert (cover == 1).all()
    assert len(shapes) == 1, "every tile has the same read shape"


def test_output_grid_is_roi_corner_at_half_resolution() -> None:
    roi = Roi(10, 20, 50, 60)
    plan = plan_tiles(GRID, roi, factor=2, tile_size=1000, margin=8)
    g = plan.output_grid
    assert (g.transform.c, g.transform.f) == (300000 + 100, 5000040 - 200)
    assert g.res == 5.0 and (g.width, g.height) == (80, 80)
    assert len(plan) == 1 and plan.read_shape == (40 + 8, 40 + 8)


def test_margin_not_multiple_of_factor_rounds_up() -> None:
    # s2v2x4: margin 110 output px at factor 4 → 28 input px (112 output px cropped)
    plan = plan_tiles(GRID, full_roi(GRID), factor=4, tile_size=400, margin=110)
    assert plan.margin_in == 28
    assert next(iter(plan)).crop_row == 112


def test_roi_pixels_upper_left_based() -> None:
    assert roi_from_pixels(GRID, 10, 20, 30, 40) == Roi(10, 20, 30, 40)
    assert roi_from_pixels(GRID, 10.5, 20.2, 29.1, 39.9) == Roi(10, 20, 30, 40)
    # partly outside: clipped to the product
    assert roi_from_pixels(GRID, -5, -5, 1000, 1000) == Roi(0, 0, 250, 130)


def test_roi_map_coordinates_snap_outward() -> None:
    # pixel (col 10, row 20) upper-left corner is x = 300100, y = 5000040 - 200
    roi = roi_from_bounds(GRID, 300103.0, 5000040 - 400 + 1, 300299.0, 5000040 - 200 - 3)
    assert roi == Roi(10, 20, 30, 40)
    assert roi_from_bounds(GRID, 300100, 5000040 - 400, 300300, 5000040 - 200) == Roi(10, 20, 30, 40)


@pytest.mark.parametrize(
    "args",
    [(10, 10, 10, 20), (10, 10, 5, 20), (10, 20, 20, 20), (300, 0, 400, 10), (0, -50, 10, -1)],
)
def test_bad_pixel_rois(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(RoiError):
        roi_from_pixels(GRID, *args)


def test_bad_map_rois() -> None:
    with pytest.raises(RoiError, match="outside the product"):
        roi_from_bounds(GRID, 0, 0, 100, 100)
    with pytest.raises(RoiError, match="empty"):
        roi_from_bounds(GRID, 300200, 4999000, 300100, 5000000)
