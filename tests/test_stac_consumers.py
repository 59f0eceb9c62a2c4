"""The STAC outputs as catalogue users read them: each consumer installed from PyPI (the test extra)
and run on our outputs, in both asset layouts, local and on S3 (a real SeaweedFS server).

- jsonschema with format checking and stac-validator (recursive), against the offline schemas;
- odc-stac (both layouts, same pixels as the COGs), stackstac (per-band layout), rio-tiler's
  STACReader (titiler's reader) without any warning, GDAL's STACIT driver (rasterio's GDAL);
- ``pypgstac load`` into a real pgstac (stac-fastapi-pgstac), then STACIT on the API's search;
- a local output folder copied elsewhere, loaded there;
- footprints counter-clockwise on a product with nodata; no local path or credential in any item.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
import shapely.geometry
from click.testing import CliRunner

from s2sr.cli import main as s2sr_main

from s2sr.testing import ACCESS_KEY, SECRET_KEY, SeaweedS3, aws_env

from .support.stac_validate import format_checks, stac_validator_config, validate_stac

ITEM_ID = "SENTINEL2A_20170527_L2A_T33UUB_5m"
LAYOUTS = ("multiband", "per-band")
pytestmark = [  # odc-geo's and stac_validator's own deprecation warnings
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def run_cli(*args: str | Path) -> None:
    res = CliRunner().invoke(s2sr_main, [str(a) for a in args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.stderr


def publish(dest: str | Path, product: Path, card: Path, layout: str) -> None:
    run_cli("run", product, "-o", dest, "-m", card, "--bicubic", "--tile-size", "64", "--threads", "1",
            "--asset-layout", layout)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, theia_dir: Path, convnet_card: Path) -> dict[str, Path]:
    """layout → the destination folder of a local run."""
    out = {}
    for layout in LAYOUTS:
        dest = tmp_path_factory.mktemp(f"local-{layout}")
        publish(dest, theia_dir, convnet_card, layout)
        out[layout] = dest
    return out


def item_path(dest: Path) -> Path:
    return dest / "s2sr" / ITEM_ID / f"{ITEM_ID}.json"


def data_assets(item: pystac.Item | dict[str, Any]) -> dict[str, Any]:
    assets = item.assets if isinstance(item, pystac.Item) else item["assets"]
    return {k: a for k, a in assets.items() if "data" in (a.roles if isinstance(a, pystac.Asset) else a["roles"])}


def cog_band(item: pystac.Item, band: str, comparison: bool = False) -> np.ndarray:
    """Band ``band`` read straight from the COG the item names (either layout)."""
    name = f"{band}_bicubic" if comparison else band
    for asset in data_assets(item).values():
        names = [b["name"] for b in asset.extra_fields["eo:bands"]]
        if name in names:
            # an absolute path stays a path (pystac would resolve it against an API item's http self link)
            href = asset.href if asset.href.startswith(("/", "s3://")) else asset.get_absolute_href()
            with rasterio.open(href) as ds:
                return ds.read(names.index(name) + 1)
    raise KeyError(name)


# -- validators -------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
def test_jsonschema_with_format_checking(local: dict[str, Path], layout: str) -> None:
    assert {"iri", "iri-reference", "date-time"} <= format_checks(), "rfc3987 / rfc3339-validator missing"
    item = load(item_path(local[layout]))
    used = validate_stac(item)
    assert {u.split("/")[3] for u in used[1:]} == {"projection", "raster", "eo", "processing"}
    validate_stac(load(local[layout] / "s2sr" / "collection.json"))
    # what the old outputs had: a bare local path as the self link is refused with format checking
    broken = {**item, "links": [{"rel": "self", "href": str(item_path(local[layout]))}, *item["links"]]}
    with pytest.raises(Exception, match="is not a 'iri'"):
        validate_stac(broken)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_stac_validator_recursive(local: dict[str, Path], layout: str, tmp_path: Path) -> None:
    config = stac_validator_config(tmp_path / "schemas")
    exe = Path(sys.executable).parent / "stac-validator"
    r = subprocess.run([str(exe), "validate", str(local[layout] / "s2sr" / "collection.json"), "-r",
                        "-sc", str(config), "--links", "--assets"], capture_output=True, text=True, timeout=300)
    start = r.stdout.index("[")
    reports = json.loads(r.stdout[start : r.stdout.rindex("]") + 1])
    assert r.returncode == 0 and reports and all(rep["valid_stac"] for rep in reports), r.stdout[-3000:]
    assert {rep["asset_type"] for rep in reports} == {"COLLECTION", "ITEM"}
    assert not any(rep.get("validation_method") and rep.get("links_validated", {}).get("format_invalid")
                   for rep in reports)


# -- relocatable local catalogues ----------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
def test_copied_folder_loads_the_same_pixels(local: dict[str, Path], layout: str, tmp_path: Path) -> None:
    import odc.stac

    src = local[layout]
    copy = tmp_path / "elsewhere" / "catalogue"
    shutil.copytree(src, copy)
    hidden = src.with_name(src.name + ".moved")
    src.rename(hidden)  # absolute hrefs to the original would now fail
    try:
        text = (copy / "s2sr" / "collection.json").read_text() + item_path(copy).read_text()
        assert str(src) not in text and str(hidden) not in text
        coll = pystac.Collection.from_file(str(copy / "s2sr" / "collection.json"))
        items = list(coll.get_items())
        assert [i.id for i in items] == [ITEM_ID]
        item = items[0]
        ds = odc.stac.load(items, bands=["B4", "B12", "B4_bicubic"], chunks=None)
        for band in ("B4", "B12"):
            np.testing.assert_array_equal(ds[band].values[0], cog_band(item, band))
        np.testing.assert_array_equal(ds["B4_bicubic"].values[0], cog_band(item, "B4", comparison=True))
        assert all(a.get_absolute_href().startswith(str(copy)) for a in item.assets.values())
    finally:
        hidden.rename(src)


def test_odc_stac_same_pixels_in_both_layouts(local: dict[str, Path]) -> None:
    import odc.stac

    loaded = {}
    for layout in LAYOUTS:
        item = pystac.Item.from_file(str(item_path(local[layout])))
        loaded[layout] = odc.stac.load([item], bands=["B2", "B4", "B8", "B11", "red"], chunks=None)
        np.testing.assert_array_equal(loaded[layout]["B4"].values[0], cog_band(item, "B4"))
    for band in ("B2", "B4", "B8", "B11", "red"):
        np.testing.assert_array_equal(loaded["multiband"][band].values, loaded["per-band"][band].values)
    np.testing.assert_array_equal(loaded["multiband"]["red"].values, loaded["multiband"]["B4"].values)


def test_common_names_unambiguous(local: dict[str, Path]) -> None:
    """B5, B6 and B7 share eo v1.1's only red-edge name: none of them carries it, so asking for
    "rededge" is an error instead of B5 alone; their descriptions name the eo v2 names."""
    import odc.stac

    for layout in LAYOUTS:
        item = pystac.Item.from_file(str(item_path(local[layout])))
        commons = [b.get("common_name") for a in data_assets(item).values() for b in a.extra_fields["eo:bands"]
                   if b.get("common_name")]
        assert len(commons) == len(set(commons)) and "rededge" not in commons
        descs = " ".join(b["description"] for a in data_assets(item).values() for b in a.extra_fields["bands"])
        assert all(n in descs for n in ("rededge071", "rededge075", "rededge078"))
        with pytest.raises(ValueError, match="rededge"):
            odc.stac.load([item], bands=["rededge"], chunks=None)


# -- stackstac, rio-tiler, GDAL STACIT -----------------------------------------------------------
def test_stackstac_per_band(local: dict[str, Path]) -> None:
    import stackstac

    item = pystac.Item.from_file(str(item_path(local["per-band"])))
    item.make_asset_hrefs_absolute()  # stackstac opens hrefs as given (a local catalogue holds relative ones)
    keys = [k for k, a in data_assets(item).items() if not k.endswith("_bicubic")]
    # stackstac 0.5 reads only projection v1's proj:epsg, which projection v2 (proj:code) replaced:
    # the grid is given as the asset states it (proj:code, proj:bbox, gsd)
    red = item.assets["red"].extra_fields
    epsg = int(red["proj:code"].split(":")[1])
    arr = stackstac.stack([item], assets=keys, epsg=epsg, resolution=red["gsd"], bounds=tuple(red["proj:bbox"]),
                          dtype="float64", rescale=False)
    data = arr.compute()
    assert list(data.band.values) == keys
    assert "common_name" in data.coords and "red" in list(data.common_name.values)
    red = data.sel(band="red").values[0]
    want = cog_band(item, "B4").astype("float64")
    want[want == -10000] = np.nan
    np.testing.assert_array_equal(red, want)


def test_stackstac_multiband_refuses_with_its_own_message(local: dict[str, Path]) -> None:
    """stackstac reads single-band assets only: the multiband layout is for odc-stac/rio-tiler/GDAL."""
    import stackstac

    item = pystac.Item.from_file(str(item_path(local["multiband"])))
    item.make_asset_hrefs_absolute()
    with pytest.raises(ValueError, match="Multi-band rasters are not currently supported"):
        stackstac.stack([item], assets=["sisr"], epsg=32633, resolution=5.0,
                        bounds=tuple(item.assets["sisr"].extra_fields["proj:bbox"]))


def _warnings_are_errors() -> None:
    """Every warning fails (titiler's "Some statistics data in STAC are invalid" is a UserWarning) except
    the libraries' own deprecation notices (affine's ``*`` in rio-tiler), which say nothing of our STAC."""
    warnings.simplefilter("error")
    warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rio_tiler_stac_reader_without_warnings(local: dict[str, Path], layout: str) -> None:
    from rio_tiler.io import STACReader

    path = item_path(local[layout])
    item = pystac.Item.from_file(str(path))
    with warnings.catch_warnings():
        _warnings_are_errors()
        with STACReader(str(path)) as reader:
            key = "sisr" if layout == "multiband" else "red"
            info = reader._get_asset_info(key)
            img = reader.preview(assets=[key], max_size=64)
            stats = reader.statistics(assets=[key], max_size=64)
    assert info["dataset_statistics"] and all(lo < hi for lo, hi in info["dataset_statistics"])
    assert img.data.shape[0] == (10 if layout == "multiband" else 1)
    assert stats


def _item_collection(items: list[dict[str, Any]], path: Path) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": items}))
    return path


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gdal_stacit(local: dict[str, Path], layout: str, tmp_path: Path) -> None:
    """STACIT reads STAC API ItemCollections, whose hrefs are absolute: the local item as an
    API would serve it (pystac makes its hrefs absolute)."""
    item = pystac.Item.from_file(str(item_path(local[layout])))
    item.make_asset_hrefs_absolute()
    fc = _item_collection([item.to_dict()], tmp_path / "search.json")
    key = "sisr" if layout == "multiband" else "red"
    with rasterio.open(f'STACIT:"{fc}":asset={key}') as ds:
        want = cog_band(item, "B4")
        got = ds.read(3 if layout == "multiband" else 1)
        assert ds.crs.to_epsg() == 32633 and ds.res == (5.0, 5.0)
    np.testing.assert_array_equal(got, want)


# -- footprint, lineage, credentials -----------------------------------------------------------
def test_footprint_counter_clockwise_on_product_with_nodata(local: dict[str, Path]) -> None:
    item = load(item_path(local["multiband"]))
    geom = shapely.geometry.shape(item["geometry"])
    polys = [geom] if geom.geom_type == "Polygon" else list(geom.geoms)
    assert polys and all(p.exterior.is_ccw for p in polys)
    assert all(not ring.is_ccw for p in polys for ring in p.interiors)
    full = shapely.geometry.box(*item["bbox"])
    assert geom.area < full.area, "the nodata strip is outside the footprint"


def test_local_source_is_not_linked_and_no_local_path_leaks(local: dict[str, Path], theia_dir: Path) -> None:
    for layout in LAYOUTS:
        text = item_path(local[layout]).read_text() + (local[layout] / "s2sr" / "collection.json").read_text()
        item = json.loads(text[: len(item_path(local[layout]).read_text())])
        assert "derived_from" not in {lk["rel"] for lk in item["links"]}
        assert str(theia_dir) not in text and str(local[layout]) not in text and "file://" not in text
        assert item["properties"]["s2sr:source_id"] in item["properties"]["processing:lineage"]
        assert "self" not in {lk["rel"] for lk in item["links"]}, "a self-contained catalogue has no self links"


def test_no_credential_in_any_href_or_property() -> None:
    import datetime as dt

    from affine import Affine
    from rasterio.crs import CRS

    from s2sr.grid import Grid
    from s2sr.outputs.stac import ItemFacts, build_item, public_source_href
    from s2sr.products.base import ProductInfo

    secret = "https://user:s3cr3t@example.org/a/item.json?X-Amz-Signature=abcdef&X-Amz-Credential=AKIAX&v=1"
    info = ProductInfo(product_id="P1", satellite="SENTINEL2A", acquired=dt.datetime(2020, 1, 1), level="L2A",
                       tile="33UUB", href=secret)
    grid = Grid(CRS.from_epsg(32633), Affine(5, 0, 300000, 0, -5, 6200000), 10, 10)
    facts = ItemFacts(item_id="i", collection_id="c", product=info, grid=grid, bands=("B2", "B3"),
                      model_name="m", model_sha256="0" * 64, factor=2, margin=0, tile_size=10,
                      harmonisation=f"offset read from {secret}")
    geometry = shapely.geometry.mapping(shapely.geometry.box(11, 55, 11.1, 55.1))
    item = build_item(facts, geometry=geometry, item_url="s3://b/c/i/i.json", collection_url="s3://b/c/collection.json",
                      assets={"sisr": "s3://b/c/i/i_sisr.tif"})
    text = json.dumps(item)
    assert "s3cr3t" not in text and "abcdef" not in text and "AKIAX" not in text and "user@" not in text
    links = {lk["rel"]: lk["href"] for lk in item["links"]}
    assert links["derived_from"] == "https://example.org/a/item.json?v=1"
    validate_stac(item)
    assert public_source_href("/vsis3/bucket/p/item.json") == "s3://bucket/p/item.json"
    assert public_source_href("/data/products/S2A.zip") is None
    assert public_source_href("/vsizip//data/products/S2A.zip") is None


# -- collection ----------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
def test_collection_summaries_item_assets_providers(local: dict[str, Path], layout: str) -> None:
    coll = load(local[layout] / "s2sr" / "collection.json")
    item = load(item_path(local[layout]))
    assert coll["license"] == "other" and "license" in {lk["rel"] for lk in coll["links"]}
    assert {r for p in coll["providers"] for r in p["roles"]} >= {"producer", "licensor", "processor"}
    assert set(coll["item_assets"]) == set(item["assets"])
    assert all("href" not in a for a in coll["item_assets"].values())
    s = coll["summaries"]
    assert s["gsd"] == [5.0] and s["platform"] == ["sentinel-2a"] and s["s2sr:layout"] == [layout]
    assert {b["name"] for b in s["eo:bands"]} >= {"B2", "B4", "B12"}
    for key in ("s2sr:consistency_l1", "s2sr:consistency_sam"):
        assert s[key]["minimum"] == s[key]["maximum"] == item["properties"][key]
    assert coll["extent"]["spatial"]["bbox"] == [item["bbox"]]


# -- statistics, consistency, thumbnail -------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
def test_statistics_match_the_cogs(local: dict[str, Path], layout: str) -> None:
    item = pystac.Item.from_file(str(item_path(local[layout])))
    for asset in data_assets(item).values():
        with rasterio.open(asset.get_absolute_href()) as ds:
            data = ds.read()
        for i, (rb, cb) in enumerate(zip(asset.extra_fields["raster:bands"], asset.extra_fields["bands"],
                                         strict=True)):
            v = data[i][data[i] != -10000].astype(np.float64)
            st = rb["statistics"]
            assert st == cb["statistics"]
            assert (st["minimum"], st["maximum"]) == (v.min(), v.max())
            assert st["mean"] == pytest.approx(v.mean(), abs=1e-3)
            assert st["stddev"] == pytest.approx(v.std(), abs=1e-3)
            assert st["valid_percent"] == pytest.approx(100 * v.size / data[i].size, abs=1e-3)


def test_consistency_in_item(local: dict[str, Path]) -> None:
    items = {layout: load(item_path(local[layout])) for layout in LAYOUTS}
    props = items["multiband"]["properties"]
    cons = props["s2sr:consistency"]
    assert set(cons["l1"]) == {"B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12"}
    assert all(0 <= v < 0.1 for v in cons["l1"].values())
    assert 0 <= cons["sam_degrees"] < 30 and cons["pixels"] > 0
    assert props["s2sr:consistency_l1"] == cons["l1_mean"]
    assert items["per-band"]["properties"]["s2sr:consistency"] == cons, "the layout does not change the numbers"


def test_thumbnail_small_true_colour_transparent_nodata(local: dict[str, Path]) -> None:
    from PIL import Image

    from .conftest import NODATA_COLS

    path = item_path(local["multiband"]).with_name(f"{ITEM_ID}_thumbnail.png")
    assert path.stat().st_size < 300_000
    a = np.asarray(Image.open(path).convert("RGBA"))
    assert a.shape == (192, 256, 4)
    assert (a[:, : NODATA_COLS * 2 - 1, 3] == 0).all() and (a[:, NODATA_COLS * 2 + 1 :, 3] == 255).all()


# -- S3 ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3(s3_server: SeaweedS3, theia_dir: Path, convnet_card: Path) -> Iterator[dict[str, Any]]:
    """layout → item URL of a run published to a fresh bucket; the AWS variables set meanwhile."""
    s3_server.ensure_running()
    bucket = f"b-{uuid.uuid4().hex[:10]}"
    s3_server.fs().mkdir(bucket)
    env = aws_env(s3_server.endpoint)
    with pytest.MonkeyPatch.context() as mp:
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
            mp.delenv(k, raising=False)
        for k, v in env.items():
            mp.setenv(k, v)
        urls = {}
        for layout in LAYOUTS:
            dest = f"s3://{bucket}/{layout}"
            publish(dest, theia_dir, convnet_card, layout)
            urls[layout] = f"{dest}/s2sr/{ITEM_ID}/{ITEM_ID}.json"
        yield {"urls": urls, "fs": s3_server.fs(), "env": env, "endpoint": s3_server.endpoint}


def _gdal_s3(endpoint: str) -> rasterio.Env:
    from rasterio.session import AWSSession

    session = AWSSession(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                         endpoint_url=endpoint.split("://", 1)[1])
    return rasterio.Env(session=session, AWS_HTTPS="NO", AWS_VIRTUAL_HOSTING="FALSE")


@pytest.mark.slow
def test_s3_outputs_with_every_consumer(s3: dict[str, Any], tmp_path: Path) -> None:
    import odc.stac
    from rio_tiler.io import STACReader

    from s2sr.outputs.stac import FsspecStacIO

    fs = s3["fs"]
    loaded = {}
    config = stac_validator_config(tmp_path / "schemas")
    for layout, url in s3["urls"].items():
        item_d = json.loads(fs.cat(url))
        coll_url = url.rsplit("/", 2)[0] + "/collection.json"
        coll_d = json.loads(fs.cat(coll_url))
        # absolute s3:// hrefs and self links: valid IRIs
        validate_stac(item_d)
        validate_stac(coll_d)
        assert {lk["rel"]: lk["href"] for lk in item_d["links"]}["self"] == url
        assert all(a["href"].startswith("s3://") for a in item_d["assets"].values())
        # stac-validator on the documents as fetched
        for name, doc in (("item.json", item_d), ("collection.json", coll_d)):
            local_copy = tmp_path / f"{layout}-{name}"
            local_copy.write_text(json.dumps(doc))
            r = subprocess.run([str(Path(sys.executable).parent / "stac-validator"), "validate", str(local_copy),
                                "-sc", str(config)], capture_output=True, text=True, timeout=300)
            assert r.returncode == 0 and '"valid_stac": true' in r.stdout, r.stdout[-2000:]
        item = pystac.Item.from_file(url, stac_io=FsspecStacIO())
        loaded[layout] = odc.stac.load([item], bands=["B4", "B12"], chunks=None)
        key = "sisr" if layout == "multiband" else "red"
        with _gdal_s3(s3["endpoint"]):
            fc = _item_collection([item_d], tmp_path / f"{layout}-search.json")
            with rasterio.open(f'STACIT:"{fc}":asset={key}') as ds:
                stacit = ds.read(3 if layout == "multiband" else 1)
            with warnings.catch_warnings():
                _warnings_are_errors()
                reader = STACReader(None, item=item)
                with reader:
                    assert reader._get_asset_info(key)["dataset_statistics"]
                    img = reader.preview(assets=[key], max_size=64)
            assert img.data.shape[0] == (10 if layout == "multiband" else 1)
        np.testing.assert_array_equal(stacit, loaded[layout]["B4"].values[0])
    for band in ("B4", "B12"):
        np.testing.assert_array_equal(loaded["multiband"][band].values, loaded["per-band"][band].values)


# -- pgstac --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_pypgstac_load_then_search_and_stacit(local: dict[str, Path], s3: dict[str, Any]) -> None:
    """``pypgstac load`` into a real pgstac (the local catalogue with its hrefs made absolute, as a
    user loading a folder into a database does; the S3 ones as they are), then the STAC API
    serves them to pystac-client and to GDAL's STACIT."""
    import pystac_client

    from .support.stac_api import PgStacApi

    with PgStacApi() as api:
        for layout in LAYOUTS:
            coll = pystac.Collection.from_file(str(local[layout] / "s2sr" / "collection.json"))
            items = []
            for it in coll.get_items():
                it.make_asset_hrefs_absolute()
                d = it.to_dict()
                d["collection"] = f"local-{layout}"
                items.append(d)
            cd = coll.to_dict()
            cd["id"] = f"local-{layout}"
            api.load(cd, items)
            item_d = json.loads(s3["fs"].cat(s3["urls"][layout]))
            coll_d = json.loads(s3["fs"].cat(s3["urls"][layout].rsplit("/", 2)[0] + "/collection.json"))
            coll_d["id"] = item_d["collection"] = f"s3-{layout}"
            api.load(coll_d, [item_d])
        client = pystac_client.Client.open(api.url)
        for source in ("local", "s3"):
            for layout in LAYOUTS:
                cid = f"{source}-{layout}"
                found = list(client.search(collections=[cid]).items())
                assert [i.id for i in found] == [ITEM_ID]
                assert found[0].properties["s2sr:consistency_l1"] >= 0
                key = "sisr" if layout == "multiband" else "red"
                env = _gdal_s3(s3["endpoint"]) if source == "s3" else contextlib.nullcontext()
                with env, rasterio.open(f'STACIT:"{api.url}/search?collections={cid}":asset={key}') as ds:
                    got = ds.read(3 if layout == "multiband" else 1)
                with env:
                    want = cog_band(found[0], "B4")
                np.testing.assert_array_equal(got, want)


def test_collection_summaries_and_extent_follow_the_items() -> None:
    from s2sr.outputs.collection import merge_collection

    def item(i: int, l1: float, sam: float, model: str) -> dict[str, Any]:
        return {"id": f"i{i}", "bbox": [10 + i, 50, 11 + i, 51],
                "properties": {"datetime": f"2020-01-0{i + 1}T00:00:00Z", "gsd": 5.0, "platform": "sentinel-2a",
                               "s2sr:model": model, "s2sr:consistency_l1": l1, "s2sr:consistency_sam": sam},
                "assets": {"sisr": {"href": f"./i{i}.tif", "type": "image/tiff", "roles": ["data"],
                                    "eo:bands": [{"name": "B4"}],
                                    "raster:bands": [{"nodata": -10000, "statistics": {"minimum": i}}]}}}

    c = merge_collection(None, item(0, 0.002, 0.5, "a"), collection_id="c", collection_url="/x/c/collection.json",
                         item_url="/x/c/i0/i0.json", relative=True)
    c = merge_collection(c, item(1, 0.001, 0.9, "b"), collection_id="c", collection_url="/x/c/collection.json",
                         item_url="/x/c/i1/i1.json", relative=True)
    s = c["summaries"]
    assert s["s2sr:consistency_l1"] == {"minimum": 0.001, "maximum": 0.002}
    assert s["s2sr:consistency_sam"] == {"minimum": 0.5, "maximum": 0.9}
    assert s["s2sr:model"] == ["a", "b"] and s["gsd"] == [5.0]
    assert c["extent"]["spatial"]["bbox"] == [[10, 50, 12, 51]]
    assert c["extent"]["temporal"]["interval"] == [["2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z"]]
    assert "statistics" not in json.dumps(c["item_assets"]), "per-item statistics stay in the items"
    assert [lk["href"] for lk in c["links"] if lk["rel"] == "item"] == ["./i0/i0.json", "./i1/i1.json"]
    assert "self" not in {lk["rel"] for lk in c["links"]}
