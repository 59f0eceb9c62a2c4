"""ESA SAFE (L1C, Sen2Cor L2A; folder and zip), format detection, and the seed CLI's --l1c / --l3a."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from s2sr.cli import main
from s2sr.errors import HarmonisationError, ProductError
from s2sr.products import SafeProduct, TheiaProduct, detect_kind, open_product
from s2sr.cli.seed import main as seed_main
from s2sr.testing import write_safe_product

from .conftest import ALL_BANDS, COLS, NODATA_COLS, ROWS, make_product


@pytest.fixture(scope="module")
def safe_l2a(tmp_path_factory: pytest.TempPathFactory, arrays: tuple[np.ndarray, np.ndarray]) -> Path:
    return write_safe_product(tmp_path_factory.mktemp("safe_l2a"), *arrays, nodata_cols=NODATA_COLS)


@pytest.fixture(scope="module")
def safe_l1c_zip(tmp_path_factory: pytest.TempPathFactory, arrays: tuple[np.ndarray, np.ndarray]) -> Path:
    return write_safe_product(tmp_path_factory.mktemp("safe_l1c"), *arrays, level="L1C", baseline="05.10",
                              nodata_cols=NODATA_COLS, as_zip=True)


def test_sen2cor_l2a_safe_folder(safe_l2a: Path) -> None:
    assert detect_kind(safe_l2a) == "safe" and detect_kind(safe_l2a.parent) == "safe"
    p = open_product(safe_l2a)
    assert isinstance(p, SafeProduct)
    assert (p.info.satellite, p.info.level, p.info.tile, p.info.kind) == ("SENTINEL2A", "L2A", "33UUB", "safe:L2A")
    assert p.info.acquired.isoformat() == "2017-05-27T10:21:13.456000+00:00"
    assert set(p.bands()) == set(ALL_BANDS)
    # native resolution: B02 from R10m (not Sen2Cor's resampled R20m copy), B05 from R20m
    assert "/IMG_DATA/R10m/T33UUB_20170527T102113_B02_10m.jp2" in p.band_source("B2").href
    assert "/IMG_DATA/R20m/T33UUB_20170527T102113_B05_20m.jp2" in p.band_source("B05").href
    g10, g20 = p.group_grid("10m"), p.group_grid("20m")
    assert (g10.width, g10.height, g10.res, g20.res) == (COLS, ROWS, 10.0, 20.0)
    rec = p.harmonisation_record()
    assert (rec.scale, rec.offset, rec.nodata, rec.offset_removed, rec.baseline) == (1.0, -1000.0, 0.0, 1000.0, "05.09")
    assert rec.decided_from == "MTD_MSIL2A.xml BOA_ADD_OFFSET=-1000, PROCESSING_BASELINE=05.09"
    assert "offset of 1000 removed" in p.harmonisation()


def test_l1c_safe_zip(safe_l1c_zip: Path) -> None:
    p = open_product(safe_l1c_zip)
    assert isinstance(p, SafeProduct) and p.info.level == "L1C"
    assert p.band_source("B8A").href.startswith(f"/vsizip/{safe_l1c_zip}/")
    assert p.band_source("B8A").href.endswith("IMG_DATA/T33UUB_20170527T102113_B8A.jp2")
    rec = p.harmonisation_record("B8A")
    assert rec.decided_from == "MTD_MSIL1C.xml RADIO_ADD_OFFSET=-1000, PROCESSING_BASELINE=05.10"
    assert rec.offset == -1000.0


def test_l1c_baseline_02(tmp_path: Path, arrays: tuple[np.ndarray, np.ndarray]) -> None:
    p = open_product(write_safe_product(tmp_path, *arrays, level="L1C", baseline="02.06"))
    rec = p.harmonisation_record()
    assert (rec.offset, rec.offset_removed, rec.baseline) == (0.0, 0.0, "02.06")
    assert "no RADIO_ADD_OFFSET before 04.00" in rec.decided_from


def test_safe_with_missing_jp2(tmp_path: Path, arrays: tuple[np.ndarray, np.ndarray], nearest_card: Path) -> None:
    path = write_safe_product(tmp_path, *arrays, drop=("B5", "B12"))
    p = open_product(path)
    with pytest.raises(ProductError, match=r"lacks the JP2 file\(s\) of B5 \(GRANULE/L2A_T33UUB_.*_B05_20m.jp2\), B12"):
        p.check_bands(ALL_BANDS)
    r = CliRunner().invoke(main, ["run", str(path), "-o", str(tmp_path / "out"), "-m", str(nearest_card)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "_B05_20m.jp2" in r.output
    assert not (tmp_path / "out").exists()


def test_safe_unknown_baseline_refused(tmp_path: Path, arrays: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(HarmonisationError, match="unknown processing baseline '09.99'"):
        open_product(write_safe_product(tmp_path / "a", *arrays, baseline="09.99"))
    with pytest.raises(HarmonisationError, match="baseline 05.09 but MTD_MSIL2A.xml lists no BOA_ADD_OFFSET"):
        open_product(write_safe_product(tmp_path / "b", *arrays, offset_in_xml=False))


def test_seed_cli_l1c_and_l3a(tmp_path: Path, safe_l1c_zip: Path, arrays: tuple[np.ndarray, np.ndarray],
                              nearest_card: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_main(["-i", str(safe_l1c_zip), "-o", str(tmp_path / "l1c"), "--l1c", "-m", str(nearest_card),
               "-roip", "0", "0", "32", "32"])
    out = tmp_path / "l1c" / "SENTINEL2A_20170527_L1C_T33UUB_5m_sisr.tif"
    with rasterio.open(out) as ds:
        assert (ds.width, ds.height, ds.count) == (64, 64, 10)
    l3a = make_product(tmp_path / "l3a_in", arrays, satellite="SENTINEL2X", level="L3A")
    assert isinstance(open_product(l3a), TheiaProduct)
    seed_main(["-i", str(l3a), "-o", str(tmp_path / "l3a"), "--l3a", "-m", str(nearest_card),
               "-roip", "0", "0", "32", "32"])
    assert (tmp_path / "l3a" / "SENTINEL2X_20170527_L3A_T33UUB_5m_sisr.tif").is_file()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        seed_main(["-i", str(l3a), "-o", str(tmp_path / "bad"), "--l1c"])
    assert exc.value.code == 2 and "--l1c given but" in capsys.readouterr().err


def test_run_result_records_harmonisation(safe_l2a: Path, nearest_card: Path, tmp_path: Path) -> None:
    from s2sr import super_resolve

    r = super_resolve(safe_l2a, tmp_path, nearest_card, roi_pixels=(0, 0, 16, 16))
    assert r.harmonisation["offset_removed"] == 1000.0 and r.harmonisation["baseline"] == "05.09"
    assert r.harmonisation["source_kind"] == "safe:L2A"
