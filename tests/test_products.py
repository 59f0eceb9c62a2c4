from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import pytest
from rasterio.windows import Window

from s2sr.errors import ProductError
from s2sr.products import BandReader, TheiaProduct, open_product

from .conftest import ACQ, ALL_BANDS, COLS, NODATA_COLS, ROWS, make_product


def test_theia_dir_metadata_and_grids(theia_dir: Path) -> None:
    p = open_product(theia_dir)
    assert isinstance(p, TheiaProduct)
    info = p.info
    assert (info.satellite, info.level, info.tile) == ("SENTINEL2A", "L2A", "33UUB")
    assert info.acquired == ACQ.replace(tzinfo=dt.UTC)
    assert set(p.bands()) == set(ALL_BANDS)
    g10, g20 = p.group_grid("10m"), p.group_grid("20m")
    assert (g10.width, g10.height, g10.res) == (COLS, ROWS, 10.0)
    assert (g20.width, g20.height, g20.res) == (COLS // 2, ROWS // 2, 20.0)
    assert g10.crs.to_epsg() == 32633
    assert p.band_source("B02").href.endswith("_FRE_B2.tif")


def test_parent_folder_holding_one_product(theia_dir: Path) -> None:
    assert open_product(theia_dir.parent).info.product_id == theia_dir.name


def test_zip_reads_through_vsizip(theia_zip: Path, theia_dir: Path) -> None:
    p = open_product(theia_zip)
    assert p.band_source("B8A").href.startswith(f"/vsizip/{theia_zip}")
    assert p.info == open_product(theia_dir).info.__class__(**p.info.__dict__)
    assert p.info.product_id == theia_dir.name


def test_sre_selected_on_request(theia_dir: Path) -> None:
    assert open_product(theia_dir, sre=True).band_source("B4").href.endswith("_SRE_B4.tif")


def test_sentinel2c_product(tmp_path: Path, arrays: tuple[np.ndarray, np.ndarray]) -> None:
    path = make_product(tmp_path, arrays, satellite="SENTINEL2C", acquired=dt.datetime(2025, 3, 1, 10, 0, 0))
    info = open_product(path).info
    assert info.satellite == "SENTINEL2C" and info.acquired.year == 2025


def test_theia_l3a_synthesis(tmp_path: Path, arrays: tuple[np.ndarray, np.ndarray]) -> None:
    path = make_product(tmp_path, arrays, satellite="SENTINEL2X", level="L3A")
    p = open_product(path)
    assert p.info.level == "L3A" and p.band_source("B2").href.endswith("_FRC_B2.tif")


def test_metadata_from_name_when_mtd_missing(tmp_path: Path, arrays: tuple[np.ndarray, np.ndarray]) -> None:
    p = open_product(make_product(tmp_path, arrays, with_mtd=False))
    assert p.info.tile == "33UUB" and p.info.level == "L2A"


def test_reader_nodata_and_cubic_20m(theia_dir: Path) -> None:
    p = open_product(theia_dir)
    grid = p.group_grid("10m")
    with BandReader(p, ALL_BANDS, grid) as r:
        x = r.read(Window(-4, -4, COLS + 8, ROWS + 8))
    assert x.shape == (10, ROWS + 8, COLS + 8) and x.dtype == np.float32
    assert np.isnan(x[:, :4]).all() and np.isnan(x[:, :, :4]).all(), "outside the product is NaN"
    inner = x[:, 4:-4, 4:-4]
    assert np.isnan(inner[:4, :, :NODATA_COLS]).all() and not np.isnan(inner[:4, :, NODATA_COLS:]).any()
    assert not np.isnan(inner[4:, :, NODATA_COLS + 4 :]).any()


def test_not_a_product_folder(tmp_path: Path) -> None:
    (tmp_path / "something.txt").write_text("x")
    with pytest.raises(ProductError, match="is not a supported product.*expected a Theia"):
        open_product(tmp_path)


def test_zip_without_product(tmp_path: Path) -> None:
    z = tmp_path / "empty.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(ProductError, match="holds no supported product"):
        open_product(z)


def test_corrupt_zip(tmp_path: Path) -> None:
    z = tmp_path / "bad.zip"
    z.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ProductError):
        open_product(z)


def test_missing_input() -> None:
    with pytest.raises(ProductError, match="does not exist"):
        open_product("/no/such/product.zip")


def test_missing_band_file(tmp_path: Path, arrays: tuple[np.ndarray, np.ndarray]) -> None:
    path = make_product(tmp_path, arrays)
    next(path.glob("*_FRE_B11.tif")).unlink()
    p = open_product(path)
    with pytest.raises(ProductError, match="lacks band.*B11"):
        p.check_bands(ALL_BANDS)
