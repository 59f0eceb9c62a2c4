"""Overviews staged while tiles are written (s2sr.outputs.overviews) against GDAL's COG driver.

The reference is GDAL itself: the same pixels copied by the COG driver, which builds its own
overviews (``OVERVIEWS=IGNORE_EXISTING``), read back with rasterio.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from s2sr.grid import Grid
from s2sr.outputs.cog import COG_OPTIONS, NODATA, CogWriter
from s2sr.outputs.overviews import cog_overview_count, exact_levels, halve


def sample(bands: int, rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """int16 reflectances with negative values, nodata patches and scattered nodata pixels."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-400, 9000, size=(bands, rows, cols)).astype(np.int16)
    a[:, 40:90, 30:131] = NODATA
    a[rng.random(a.shape) < 0.02] = NODATA
    return a


def gdal_cog(data: np.ndarray, path: Path) -> Path:
    """``data`` through GDAL's COG driver, which computes every overview itself."""
    src = path.with_suffix(".src.tif")
    b, h, w = data.shape
    with rasterio.open(src, "w", driver="GTiff", width=w, height=h, count=b, dtype="int16", nodata=NODATA,
                       crs="EPSG:32631", transform=Affine(5, 0, 300000, 0, -5, 5000000)) as ds:
        ds.write(data)
    rasterio.shutil.copy(src, path, driver="COG", **COG_OPTIONS)
    return path


def levels(path: Path) -> list[np.ndarray]:
    with rasterio.open(path) as ds:
        n = len(ds.overviews(1))
    out = []
    for i in range(n):
        with rasterio.open(path, overview_level=i) as o:
            out.append(o.read())
    return out


def ours(data: np.ndarray, path: Path, tile: int) -> Path:
    b, h, w = data.shape
    grid = Grid(CRS.from_epsg(32631), Affine(5, 0, 300000, 0, -5, 5000000), w, h)
    reflectance = np.where(data == NODATA, np.nan, data).astype(np.float32)  # the writer's input: NaN = nodata
    with CogWriter(path, grid, [f"B{i}" for i in range(b)]) as cog:
        for r in range(0, h, tile):
            for c in range(0, w, tile):
                win = Window(c, r, min(tile, w - c), min(tile, h - r))
                cog.write(win, reflectance[:, r : r + win.height, c : c + win.width])
    return path


@pytest.mark.parametrize(("width", "height"), [(512, 300), (513, 300), (1025, 300), (1100, 1099), (2196, 2196),
                                               (3001, 2999), (21960, 600)])
def test_level_count_is_the_cog_drivers(tmp_path: Path, width: int, height: int) -> None:
    path = gdal_cog(np.zeros((1, height, width), np.int16), tmp_path / "c.tif")
    with rasterio.open(path) as ds:
        assert cog_overview_count(width, height) == len(ds.overviews(1))


def test_halve_is_gdal_average(tmp_path: Path) -> None:
    data = sample(3, 1100, 1104)  # 2 levels, both exact halvings
    ref = levels(gdal_cog(data, tmp_path / "ref.tif"))
    assert exact_levels(1104, 1100, 2) == 2
    one = halve(data, NODATA)
    np.testing.assert_array_equal(one, ref[0])
    np.testing.assert_array_equal(halve(one, NODATA), ref[1])
    clean = np.abs(sample(2, 64, 64, seed=3))  # the fast path (no nodata)
    clean[0, :2, :2] = [[-3, -2], [-2, -2]]  # -2.25 → -2; half away from zero below
    clean[1, :2, :2] = [[-3, -3], [-2, -2]]  # -2.5 → -3
    h = halve(clean, NODATA)
    assert h[0, 0, 0] == -2 and h[1, 0, 0] == -3


def test_cog_writer_stages_the_drivers_overviews(tmp_path: Path) -> None:
    """Tiles on the level grid: the staged levels equal GDAL's, the level left to GDAL is its
    ``gdaladdo`` average of the last staged level (⌈n/2⌉ px), and the COG is valid."""
    data = sample(2, 2196, 2196, seed=1)
    ref = levels(gdal_cog(data, tmp_path / "ref.tif"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the level files are georeferenced: no NotGeoreferencedWarning on stderr
        ours(data, tmp_path / "ours.tif", tile=732)
    got = levels(tmp_path / "ours.tif")
    assert len(got) == len(ref) == 3
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    assert got[2].shape == (2, 275, 275) and ref[2].shape == (2, 274, 274)
    with rasterio.open(tmp_path / "ours.tif") as ds:
        np.testing.assert_array_equal(ds.read(), data)
        assert ds.profile["blockxsize"] == 512 and ds.compression.name.lower() == "deflate"
    from rio_cogeo.cogeo import cog_validate

    valid, errors, _ = cog_validate(str(tmp_path / "ours.tif"))
    assert valid, errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.tif", "ref.src.tif", "ref.tif"]  # no .ovr left


def test_tiles_off_the_level_grid_leave_the_levels_to_gdal(tmp_path: Path) -> None:
    data = sample(2, 1200, 1200, seed=2)
    ref = levels(gdal_cog(data, tmp_path / "ref.tif"))
    got = levels(ours(data, tmp_path / "ours.tif", tile=333))  # odd tiles: nothing can be staged
    assert [g.shape for g in got] == [r.shape for r in ref]
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.tif", "ref.src.tif", "ref.tif"]


def test_failed_write_leaves_no_overview_file(tmp_path: Path) -> None:
    grid = Grid(CRS.from_epsg(32631), Affine(5, 0, 300000, 0, -5, 5000000), 1200, 1200)
    with pytest.raises(RuntimeError), CogWriter(tmp_path / "x.tif", grid, ["B2"]) as cog:
        cog.write(Window(0, 0, 600, 600), np.ones((1, 600, 600), np.float32))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
