"""The processor's contract (docs/radiometry.md, docs/architecture.md), on small products in the real Theia format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rio_cogeo.cogeo import cog_validate

import s2sr
from s2sr.errors import ProcessingError
from s2sr.models.runtime import Model
from s2sr.products import BandReader, open_product

from .conftest import ALL_BANDS, COLS, NODATA_COLS, ROWS

ORIGIN = (300000.0, 6200040.0)


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, theia_dir: Path, convnet_card: Path) -> s2sr.RunResult:
    return s2sr.super_resolve(theia_dir, tmp_path_factory.mktemp("full"), convnet_card, tile_size=1000)


def test_output_grid_bands_and_encoding(full_run: s2sr.RunResult) -> None:
    assert full_run.sisr.name == "SENTINEL2A_20170527_L2A_T33UUB_5m_sisr.tif"
    with rasterio.open(full_run.sisr) as ds:
        assert ds.crs.to_epsg() == 32633
        assert tuple(ds.transform)[:6] == (5.0, 0.0, ORIGIN[0], 0.0, -5.0, ORIGIN[1])
        assert (ds.width, ds.height, ds.count) == (2 * COLS, 2 * ROWS, 10)
        assert ds.dtypes[0] == "int16" and ds.nodata == -10000
        assert ds.descriptions == tuple(ALL_BANDS)
        assert ds.scales == (1e-4,) * 10
        assert ds.profile["blockxsize"] == 512 and ds.compression.name.lower() == "deflate"
    # the 5 m grid shares every corner of the 10 m grid
    assert (full_run.output_grid.transform.c - ORIGIN[0]) % 10 == 0


def test_cog_is_valid(full_run: s2sr.RunResult) -> None:
    valid, errors, _ = cog_validate(str(full_run.sisr))
    assert valid, errors


def test_nodata_exact_and_full_extent(full_run: s2sr.RunResult, theia_dir: Path) -> None:
    """Output nodata == input nodata at 5 m, per band: no valid pixel lost, none invented,
    and the product's borders are produced (no margin strip lost as in the seed)."""
    p = open_product(theia_dir)
    grid = p.group_grid("10m")
    with BandReader(p, ALL_BANDS, grid) as r:
        x = r.read(rasterio.windows.Window(0, 0, grid.width, grid.height))
    expected = np.isnan(x).repeat(2, axis=1).repeat(2, axis=2)
    out = read(full_run.sisr)
    np.testing.assert_array_equal(out == -10000, expected)
    assert expected[:4, :, : 2 * NODATA_COLS].all()
    # border rows/columns of the product are valid output
    assert (out[:, 0, 2 * NODATA_COLS + 8 :] != -10000).all() and (out[:, -1, 2 * NODATA_COLS + 8 :] != -10000).all()
    assert (out[:, :, -1] != -10000).all()


def test_tiled_equals_untiled(full_run: s2sr.RunResult, theia_dir: Path, convnet_card: Path, tmp_path: Path) -> None:
    """For a model whose receptive field fits its margin, tiling leaves no seam."""
    tiled = s2sr.super_resolve(theia_dir, tmp_path, convnet_card, tile_size=40)
    assert tiled.tiles > 6
    a, b = read(full_run.sisr).astype(int), read(tiled.sisr).astype(int)
    diff = np.abs(a - b)
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999


def test_zip_equals_directory(full_run: s2sr.RunResult, theia_zip: Path, convnet_card: Path, tmp_path: Path) -> None:
    z = s2sr.super_resolve(theia_zip, tmp_path, convnet_card)
    np.testing.assert_array_equal(read(z.sisr), read(full_run.sisr))


def test_nearest_model_keeps_radiometry(theia_dir: Path, nearest_card: Path, tmp_path: Path) -> None:
    r = s2sr.super_resolve(theia_dir, tmp_path, nearest_card, tile_size=64)
    out = read(r.sisr)
    with rasterio.open(open_product(theia_dir).band_source("B3").href) as ds:
        b3 = ds.read(1)
    np.testing.assert_array_equal(out[1], b3.repeat(2, 0).repeat(2, 1))


def test_roi_in_pixels_and_map_coordinates(
    full_run: s2sr.RunResult, theia_dir: Path, convnet_card: Path, tmp_path: Path
) -> None:
    col0, row0, col1, row1 = 20, 10, 84, 58
    by_px = s2sr.super_resolve(theia_dir, tmp_path / "px", convnet_card, roi_pixels=(col0, row0, col1, row1))
    left, top = ORIGIN[0] + 10 * col0, ORIGIN[1] - 10 * row0
    right, bottom = ORIGIN[0] + 10 * col1, ORIGIN[1] - 10 * row1
    # map ROI a little inside the pixel edges: snapped outward to the same pixels
    by_map = s2sr.super_resolve(
        theia_dir, tmp_path / "map", convnet_card, roi=(left + 3, bottom + 7, right - 2, top - 9)
    )
    with rasterio.open(by_px.sisr) as ds:
        assert (ds.transform.c, ds.transform.f) == (left, top)
        assert (ds.width, ds.height) == (2 * (col1 - col0), 2 * (row1 - row0))
    a = read(by_px.sisr)
    np.testing.assert_array_equal(a, read(by_map.sisr))
    crop = read(full_run.sisr)[:, 2 * row0 : 2 * row1, 2 * col0 : 2 * col1]
    assert np.abs(a.astype(int) - crop).max() <= 1


def test_bicubic_product(theia_dir: Path, nearest_card: Path, tmp_path: Path) -> None:
    r = s2sr.super_resolve(theia_dir, tmp_path, nearest_card, bicubic=True, roi_pixels=(10, 5, 110, 90))
    assert r.bicubic is not None and r.bicubic.name.endswith("_5m_bicubic.tif")
    assert cog_validate(str(r.bicubic))[0]
    out = read(r.bicubic)
    g = r.output_grid
    p = open_product(theia_dir)
    for i, band in enumerate(("B3", "B11")):
        src = p.band_source(band)
        with rasterio.open(src.href) as ds:
            ref = np.full((g.height, g.width), np.nan, np.float32)
            reproject(
                rasterio.band(ds, 1), ref, dst_transform=g.transform, dst_crs=g.crs,
                resampling=Resampling.cubic, src_nodata=-10000, dst_nodata=np.nan,
            )
        k = ALL_BANDS.index(band)
        valid = ~np.isnan(ref)
        assert np.abs(out[k][valid] - np.rint(ref[valid])).max() <= 1, band
        assert (out[k][~valid] == -10000).all()


def test_20m_model_works_on_the_20m_grid(theia_dir: Path, models_dir: Path, tmp_path: Path) -> None:
    r = s2sr.super_resolve(theia_dir, tmp_path, models_dir / "convnet20_x4.yaml")
    with rasterio.open(r.sisr) as ds:
        assert ds.descriptions == ("B5", "B6", "B7", "B8A", "B11", "B12")
        assert ds.res == (5.0, 5.0) and (ds.width, ds.height) == (4 * COLS // 2, 4 * ROWS // 2)
    assert r.sisr.name.endswith("_5m_sisr.tif")


def test_failure_mid_run_leaves_no_output(
    theia_dir: Path, convnet_card: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = s2sr.load_model(convnet_card)
    calls = {"n": 0}
    real = Model.predict

    def flaky(self: Model, batch: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 3:
            raise ProcessingError("simulated failure on tile 3")
        return real(self, batch)

    monkeypatch.setattr(Model, "predict", flaky)
    out = tmp_path / "out"
    with pytest.raises(ProcessingError, match="simulated"):
        s2sr.super_resolve(theia_dir, out, model, tile_size=40)
    assert list(out.iterdir()) == [], "no final file, no temporary file"
