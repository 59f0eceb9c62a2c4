"""STAC items: band mapping and harmonisation decided from real records; local and HTTP reads; bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.windows import Window

from s2sr.cli import main
from s2sr.errors import CredentialsError, HarmonisationError, ProductError, RemoteError
from s2sr.products import BandReader, StacProduct, open_product
from s2sr.products.harmonise import from_stac
from s2sr.remote import fetch_json, gdal_path
from s2sr.testing import ACCESS_KEY, ES_ITEM, SECRET_KEY, RangeServer, SeaweedS3, rewrite_item, shared_es_files

from .conftest import SHARED

DATA = SHARED / "data"
PC_ITEM = DATA / "stac_items" / "odc-stac_S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json"
ES0_ITEM = DATA / "stac_items" / "odc-stac_S2A_28QCH_20200714_0_L2A.json"
needs_shared = pytest.mark.skipif(not (DATA / ES_ITEM).is_file(), reason="../shared/data is absent")


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _write(tmp_path: Path, item: dict[str, Any], name: str = "item.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(item))
    return p


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, ["run", *args])


@pytest.fixture(scope="module")
def es_local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Earth Search v1 item, hrefs and grid fields rewritten to the local reduced COGs."""
    if not (DATA / ES_ITEM).is_file():
        pytest.skip("../shared/data is absent")
    d = tmp_path_factory.mktemp("es_local")
    return _write(d, rewrite_item(_load(DATA / ES_ITEM), shared_es_files(SHARED)))


# -- band mapping and harmonisation from real records --------------------------------------
@needs_shared
def test_earth_search_v1_item() -> None:
    p = StacProduct(DATA / ES_ITEM)
    assert (p.info.satellite, p.info.level, p.info.tile, p.info.kind) == (
        "SENTINEL2A", "L2A", "29RKH", "stac:earth-search")
    keys = {b: p.band_asset(b).key for b in p.bands()}
    assert keys == {"B1": "coastal", "B2": "blue", "B3": "green", "B4": "red", "B5": "rededge1",
                    "B6": "rededge2", "B7": "rededge3", "B8": "nir", "B8A": "nir08", "B9": "nir09",
                    "B11": "swir16", "B12": "swir22"}
    assert all(p.band_asset(b).matched_by == "name" for b in p.bands())
    assert p.band_source("B2").href.startswith("/vsicurl/https://sentinel-cogs.")  # the COG, not blue-jp2
    rec = p.harmonisation_record()
    assert (rec.scale, rec.offset, rec.nodata, rec.offset_removed, rec.baseline) == (1.0, 0.0, 0.0, 0.0, "02.14")
    assert rec.decided_from == "earthsearch:boa_offset_applied=false and s2:processing_baseline=02.14"
    assert rec.as_dict()["source_kind"] == "stac:earth-search"


@needs_shared
def test_earth_search_v0_item() -> None:
    p = StacProduct(ES0_ITEM)
    assert (p.info.tile, p.info.level, p.info.satellite) == ("28QCH", "L2A", "SENTINEL2A")
    assert {p.band_asset(b).key for b in p.bands()} >= {"B02", "B05", "B8A", "B11", "B12"}
    assert p.band_asset("B8A").matched_by == "asset key"
    rec = p.harmonisation_record("B04")
    assert (rec.offset, rec.baseline, rec.decided_from) == (0.0, "02.14", "sentinel:product_id=02.14")


@needs_shared
def test_planetary_computer_item() -> None:
    p = StacProduct(PC_ITEM)
    assert (p.info.tile, p.info.satellite, p.info.kind) == ("06VVN", "SENTINEL2B", "stac:planetary-computer")
    # B8A's common name is "rededge" here: the band name decides, not the ambiguous common name
    assert p.band_asset("B8A").key == "B8A" and p.band_asset("B8A").matched_by == "name"
    assert p.band_source("B11").href.endswith("_B11_20m.tif")
    rec = p.harmonisation_record()
    assert (rec.offset, rec.baseline, rec.decided_from) == (0.0, "02.12", "s2:processing_baseline=02.12")


@needs_shared
@pytest.mark.parametrize(
    ("props", "raster_offset", "offset", "source"),
    [
        # baseline >= 04.00 and Earth Search says the offset is still in the pixels
        ({"earthsearch:boa_offset_applied": False, "s2:processing_baseline": "04.00"}, 0, -1000.0,
         "earthsearch:boa_offset_applied=false and s2:processing_baseline=04.00"),
        # Earth Search applied it: its flag wins over a stale raster:bands offset of -0.1
        ({"earthsearch:boa_offset_applied": True, "s2:processing_baseline": "05.09"}, -0.1, 0.0,
         "earthsearch:boa_offset_applied=true"),
    ],
)
def test_earth_search_offset_flag(props: dict[str, Any], raster_offset: float, offset: float, source: str) -> None:
    item = _load(DATA / ES_ITEM)
    item["properties"].update(props)
    for a in item["assets"].values():
        for rb in a.get("raster:bands", []):
            rb["offset"] = raster_offset
    p = StacProduct(_item(item))
    rec = p.harmonisation_record("B5")
    assert (rec.offset, rec.decided_from) == (offset, source)


def _item(d: dict[str, Any]) -> Any:
    from s2sr.products.stac import item_from_dict

    return item_from_dict(d, None)


def cdse_item() -> dict[str, Any]:
    """A CDSE-style item (STAC 1.1): asset keys B02_10m, B02_20m …, ``bands``, raster:scale/offset."""
    assets: dict[str, Any] = {}
    for esa, res in (("B02", 10), ("B02", 20), ("B02", 60), ("B03", 10), ("B04", 10), ("B08", 10), ("B05", 20),
                     ("B06", 20), ("B07", 20), ("B8A", 20), ("B11", 20), ("B12", 20), ("SCL", 20)):
        a: dict[str, Any] = {
            "href": f"s3://eodata/Sentinel-2/MSI/L2A/2024/06/01/S2A_MSIL2A_20240601T102021_N0510_R065_T33UUB_"
                    f"20240601T140000.SAFE/GRANULE/L2A_T33UUB_A046700_20240601T102021/IMG_DATA/R{res}m/"
                    f"T33UUB_20240601T102021_{esa}_{res}m.jp2",
            "type": "image/jp2", "roles": ["data", "reflectance", f"gsd:{res}m"], "gsd": res,
            "nodata": 0, "data_type": "uint16",
        }
        if esa != "SCL":
            a["bands"] = [{"name": esa}]
            a["raster:scale"] = 0.0001
            a["raster:offset"] = -0.1
        assets[f"{esa}_{res}m"] = a
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": "S2A_MSIL2A_20240601T102021_N0510_R065_T33UUB_20240601T140000",
        "collection": "sentinel-2-l2a", "bbox": [12.0, 55.0, 13.0, 56.0],
        "geometry": {"type": "Polygon", "coordinates": [[[12, 55], [13, 55], [13, 56], [12, 56], [12, 55]]]},
        "properties": {"datetime": "2024-06-01T10:20:21.024Z", "platform": "sentinel-2a", "processing:version": "05.10",
                       "product:type": "S2MSI2A", "processing:level": "L2", "grid:code": "MGRS-33UUB"},
        "links": [{"rel": "collection", "href": "https://stac.dataspace.copernicus.eu/v1/collections/sentinel-2-l2a"}],
        "assets": assets,
    }


def test_cdse_item_mapping_offset_and_s3_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = StacProduct(_item(cdse_item()))
    assert p.info.kind == "stac:cdse" and p.info.tile == "33UUB" and p.info.level == "L2A"
    assert p.band_asset("B2").key == "B02_10m"  # the native 10 m file, not B02_20m / B02_60m
    assert p.band_asset("B5").key == "B05_20m"
    assert p.band_source("B2").href.startswith("/vsis3/eodata/Sentinel-2/")
    rec = p.harmonisation_record("B2")
    assert (rec.scale, rec.offset, rec.offset_removed, rec.decided_from) == (1.0, -1000.0, 1000.0,
                                                                             "raster:bands scale/offset")
    # reading needs credentials: the error names the variables, never a secret
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_NO_SIGN_REQUEST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(CredentialsError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"):
        p.group_grid("10m")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECRETVALUE123")
    item = _write(tmp_path, cdse_item())
    r = _run(str(item), "-o", str(tmp_path / "out"), "-m", "bicubic")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "AWS_SECRET_ACCESS_KEY is not set" in lines[0], r.output
    assert "AKIASECRETVALUE123" not in r.output
    assert not (tmp_path / "out").exists()


def test_unknown_or_missing_baseline_is_refused() -> None:
    with pytest.raises(HarmonisationError, match="unknown processing baseline '07.00'"):
        from_stac({"s2:processing_baseline": "07.00"}, None, product="x")
    with pytest.raises(HarmonisationError, match="no processing baseline and no offset statement"):
        from_stac({"platform": "sentinel-2a"}, {"nodata": 0}, product="x")
    with pytest.raises(HarmonisationError, match="boa_offset_applied=false but no processing baseline"):
        from_stac({"earthsearch:boa_offset_applied": False}, None, product="x")


@needs_shared
def test_cli_refuses_unknown_baseline(tmp_path: Path) -> None:
    item = _load(PC_ITEM)
    item["properties"]["s2:processing_baseline"] = "07.00"
    r = _run(str(_write(tmp_path, item)), "-o", str(tmp_path / "out"))
    assert r.exit_code == 2 and "unknown processing baseline '07.00'" in r.output
    assert not (tmp_path / "out").exists()


@needs_shared
def test_item_without_needed_bands(tmp_path: Path, es_local: Path, nearest_card: Path) -> None:
    item = _load(es_local)
    for k in ("rededge1", "rededge2", "swir22"):
        del item["assets"][k]
    r = _run(str(_write(tmp_path, item)), "-o", str(tmp_path / "out"), "-m", str(nearest_card))
    assert r.exit_code == 2
    line = r.output.strip()
    assert "lacks band(s) B5, B6, B12 needed by the model" in line and "\n" not in line
    assert not (tmp_path / "out").exists()


def test_not_an_item(tmp_path: Path) -> None:
    p = tmp_path / "fc.json"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(ProductError, match="is not a STAC item"):
        open_product(p)


# -- pixels: local files and HTTP Range reads ------------------------------------------------
@needs_shared
def test_local_item_reads_reduced_cogs(es_local: Path) -> None:
    p = open_product(es_local)
    assert isinstance(p, StacProduct)
    g10, g20 = p.group_grid("10m"), p.group_grid("20m")
    assert (g10.width, g10.res, g20.width, g20.res) == (1098, 100.0, 549, 200.0)
    assert (g10.transform.c, g10.transform.f) == (199980.0, 2800020.0)
    with BandReader(p, ["B2", "B8A"], g10) as r:
        x = r.read(Window(500, 500, 64, 64))
    with rasterio.open(DATA / "earthsearch_l2a_T29RKH_100m" / "B02.tif") as ds:
        raw = ds.read(1, window=Window(500, 500, 64, 64)).astype(np.float32)
    raw[raw == 0] = np.nan
    np.testing.assert_array_equal(x[0], raw)
    assert np.isfinite(x[1]).all()


@needs_shared
def test_http_item_reads_by_range(tmp_path: Path, es_local: Path) -> None:
    d = DATA / "earthsearch_l2a_T29RKH_100m"
    with RangeServer(d) as srv:
        item = rewrite_item(_load(DATA / ES_ITEM), shared_es_files(SHARED), base_href=srv.url)
        (tmp_path / "srv").mkdir()
        with RangeServer(tmp_path / "srv") as isrv:
            _write(tmp_path / "srv", item)
            p = open_product(f"{isrv.url}/item.json")
        assert p.band_source("B2").href == f"/vsicurl/{srv.url}/B02.tif"
        srv.reset_stats()
        g = p.group_grid("10m")
        with BandReader(p, ["B2", "B3", "B4", "B8"], g) as r:
            x = r.read(Window(100, 100, 128, 128))
        total = sum((d / f).stat().st_size for f in ("B02.tif", "B03.tif", "B04.tif", "B08.tif"))
        stats = srv.stats
    local = open_product(es_local)
    with BandReader(local, ["B2", "B3", "B4", "B8"], local.group_grid("10m")) as r:
        y = r.read(Window(100, 100, 128, 128))
    np.testing.assert_array_equal(x, y)
    assert stats["range_requests"] > 0
    assert stats["bytes"] < total / 3, f"a 128 px window should not fetch whole bands: {stats} of {total}"


def test_item_url_retries_then_succeeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S2SR_HTTP_BACKOFF", "0.01")
    _write(tmp_path, cdse_item())
    with RangeServer(tmp_path) as srv:
        srv.fail_next("/item.json", 2)
        assert fetch_json(f"{srv.url}/item.json")["id"].startswith("S2A_MSIL2A_20240601")
        srv.fail_next("/item.json", 10)
        with pytest.raises(RemoteError, match=r"unreachable after 3 attempts \(HTTP 503\)"):
            fetch_json(f"{srv.url}/item.json", retries=2)
        with pytest.raises(RemoteError, match="answered HTTP 404"):
            fetch_json(f"{srv.url}/missing.json")


def test_unreachable_item_url_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setenv("S2SR_HTTP_BACKOFF", "0.01")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    r = _run(f"http://127.0.0.1:{port}/item.json", "-o", str(tmp_path / "out"))
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "unreachable after 5 attempts (cannot connect)" in lines[0], r.output


def test_gdal_paths() -> None:
    assert gdal_path("https://h/x.tif") == "/vsicurl/https://h/x.tif"
    assert gdal_path("s3://bucket/k/x.tif") == "/vsis3/bucket/k/x.tif"
    assert gdal_path("file:///data/x.tif") == "/data/x.tif"
    assert gdal_path("/data/x.tif") == "/data/x.tif"


def test_s3_options_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from s2sr.remote import s3_gdal_options

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "K")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "S")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8333")
    monkeypatch.delenv("AWS_S3_ENDPOINT", raising=False)
    opts = s3_gdal_options()
    assert opts == {"AWS_S3_ENDPOINT": "127.0.0.1:8333", "AWS_HTTPS": "NO", "AWS_VIRTUAL_HOSTING": "FALSE",
                    **({"AWS_REGION": opts["AWS_REGION"]} if "AWS_REGION" in opts else {})}
    assert "S" not in opts.values() and "K" not in opts.values()




@needs_shared
@pytest.mark.slow
def test_s3_item_reads_through_vsis3(tmp_path: Path, es_local: Path, nearest_card: Path,
                                     monkeypatch: pytest.MonkeyPatch, s3_server: SeaweedS3) -> None:
    roi = ["--roi-pixels", "300", "200", "364", "264"]
    s3_server.ensure_running()
    fs = s3_server.fs()
    if not fs.exists("s2sr-in"):
        fs.mkdir("s2sr-in")
    files = shared_es_files(SHARED)
    for f in files.values():
        fs.put_file(str(f), f"s2sr-in/es/{f.name}")
        fs.put_file(str(f), f"s2sr-in/other/{f.name}")
    path = _write(tmp_path, rewrite_item(_load(DATA / ES_ITEM), files, base_href="s3://s2sr-in/es"))
    other = _write(tmp_path, rewrite_item(_load(DATA / ES_ITEM), files, base_href="s3://s2sr-in/other"), "o.json")
    assert StacProduct(path).band_source("B8A").href == "/vsis3/s2sr-in/es/B8A.tif"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("AWS_S3_ENDPOINT", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    r = _run(str(path), "-o", str(tmp_path / "s3"), "-m", str(nearest_card), *roi)
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-xyz")
    r = _run(str(other), "-o", str(tmp_path / "bad"), "-m", str(nearest_card), *roi)
    assert r.exit_code == 2 and "access denied (HTTP 403)" in r.output, r.output
    assert "AWS_SECRET_ACCESS_KEY" in r.output and "not-the-secret-xyz" not in r.output
    assert not (tmp_path / "bad").exists()
    r = _run(str(es_local), "-o", str(tmp_path / "local"), "-m", str(nearest_card), *roi)
    assert r.exit_code == 0, r.output
    name = "SENTINEL2A_20200219_L2A_T29RKH_50m_sisr.tif"
    s3_tif, local_tif = (next((tmp_path / d).rglob(name)) for d in ("s3", "local"))
    with rasterio.open(s3_tif) as a, rasterio.open(local_tif) as b:
        assert a.transform == b.transform and np.array_equal(a.read(), b.read())


@needs_shared
def test_item_with_relative_hrefs(tmp_path: Path) -> None:
    """A catalogue copied to disk: hrefs relative to the item file are resolved against it."""
    src = DATA / "earthsearch_l2a_T29RKH_100m"
    files = {}
    for key, f in shared_es_files(SHARED).items():
        (tmp_path / "cogs").mkdir(exist_ok=True)
        (tmp_path / "cogs" / f.name).symlink_to(f)
        files[key] = tmp_path / "cogs" / f.name
    item = rewrite_item(_load(DATA / ES_ITEM), files, base_href="./cogs")
    p = open_product(_write(tmp_path, item))
    assert p.band_source("B2").href == str(tmp_path / "cogs" / "B02.tif")
    assert p.group_grid("20m").width == 549
    assert src.is_dir()


def test_l1c_item_level_not_fooled_by_satellite_letter() -> None:
    d = cdse_item()
    d["id"] = d["id"].replace("MSIL2A", "MSIL1C")  # "S2A_MSIL1C…": the A of S2A is no level
    del d["properties"]["product:type"]
    p = StacProduct(_item(d))
    assert (p.info.level, p.info.satellite) == ("L1C", "SENTINEL2A")
    assert p.harmonisation_record("B8").offset == -1000.0


@needs_shared
def test_http_band_reads_retry_on_503(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GDAL retries 5xx answers of band reads (GDAL_HTTP_MAX_RETRY with backoff) before failing."""
    monkeypatch.setenv("S2SR_HTTP_BACKOFF", "0.05")
    with RangeServer(DATA / "earthsearch_l2a_T29RKH_100m") as srv:
        item = rewrite_item(_load(DATA / ES_ITEM), shared_es_files(SHARED), base_href=srv.url)
        p = open_product(_write(tmp_path, item))
        srv.fail_next("/B03.tif", 2)
        with BandReader(p, ["B3"], p.group_grid("10m")) as r:
            x = r.read(Window(0, 0, 32, 32))
        assert np.isfinite(x).all() and srv.stats["requests"] >= 3
        srv.fail_next("/B04.tif", 50)
        with pytest.raises(ProductError, match="B04.tif"):
            with BandReader(p, ["B4"], p.group_grid("10m")) as r:
                r.read(Window(0, 0, 32, 32))


@needs_shared
def test_run_logs_the_harmonisation(es_local: Path, nearest_card: Path, tmp_path: Path) -> None:
    r = _run(str(es_local), "-o", str(tmp_path), "-m", str(nearest_card), "--roi-pixels", "0", "0", "32", "32", "-v")
    assert r.exit_code == 0, r.output
    assert ("harmonisation: no offset to remove (value x 1 +0), processing baseline 02.14, source nodata 0; "
            "decided from earthsearch:boa_offset_applied=false and s2:processing_baseline=02.14") in r.output
    assert next(tmp_path.rglob("SENTINEL2A_20200219_L2A_T29RKH_50m_sisr.tif")).is_file()
