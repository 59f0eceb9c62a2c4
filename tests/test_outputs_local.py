"""Outputs on a local destination: layout, STAC item content and validity, consumers
(pystac, odc-stac, rasterio), idempotence, collection updates, leftovers, bad destinations."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import fsspec
import numpy as np
import pystac
import pytest
import rasterio
from click.testing import CliRunner
from PIL import Image

from s2sr.cli import main as s2sr_main
from s2sr.errors import OutputError
from s2sr.outputs.collection import merge_collection
from s2sr.outputs.staging import STAGING_DIR
from s2sr.outputs.store import Store
from s2sr.outputs.thumbnail import read_quicklook
from s2sr.publisher import super_resolve_to, update_collection

from .conftest import NODATA_COLS
from .support.stac_validate import validate_stac

ITEM_ID = "SENTINEL2A_20170527_L2A_T33UUB_5m"
pytestmark = [  # odc-geo's own deprecation warnings (Affine `*`, shapely.ops.transform)
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:odc"),
]


def run_cli(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(s2sr_main, [str(a) for a in args], env=env)
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def load_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, theia_dir: Path, convnet_card: Path) -> Path:
    dest = tmp_path_factory.mktemp("dest")
    code, _, err = run_cli("run", theia_dir, "-o", dest, "-m", convnet_card, "--bicubic", "--tile-size", "64",
                             "--threads", "1")
    assert code == 0, err
    return dest


def test_layout(published: Path) -> None:
    files = sorted(str(p.relative_to(published)) for p in published.rglob("*"))
    assert files == [
        "s2sr",
        f"s2sr/{ITEM_ID}",
        f"s2sr/{ITEM_ID}/{ITEM_ID}.json",
        f"s2sr/{ITEM_ID}/{ITEM_ID}_bicubic.tif",
        f"s2sr/{ITEM_ID}/{ITEM_ID}_model.yaml",
        f"s2sr/{ITEM_ID}/{ITEM_ID}_sisr.tif",
        f"s2sr/{ITEM_ID}/{ITEM_ID}_thumbnail.png",
        "s2sr/collection.json",
    ], "no staging or temporary file is left"


def test_item_and_collection_validate_against_vendored_schemas(published: Path) -> None:
    item = load_json(published / "s2sr" / ITEM_ID / f"{ITEM_ID}.json")
    used = validate_stac(item)
    assert {u.split("/")[3] for u in used[1:]} == {"projection", "raster", "eo", "processing"}
    validate_stac(load_json(published / "s2sr" / "collection.json"))
    broken = json.loads(json.dumps(item))
    broken["assets"]["sisr"]["raster:bands"][0]["data_type"] = "int17"
    with pytest.raises(Exception, match="int17"):
        validate_stac(broken)


def test_item_content(published: Path, theia_dir: Path, convnet_card: Path) -> None:
    d = published / "s2sr" / ITEM_ID
    item = load_json(d / f"{ITEM_ID}.json")
    props = item["properties"]
    assert props["datetime"] == "2017-05-27T10:21:13.456000Z"
    assert props["platform"] == "sentinel-2a" and props["constellation"] == "sentinel-2"
    assert props["s2sr:model"] == "convnet_x2" and len(props["s2sr:model_sha256"]) == 64
    assert props["s2sr:tile_size"] == 64 and props["s2sr:harmonisation"].startswith("none")
    assert props["processing:software"]["s2sr"] and "convnet_x2" in props["processing:lineage"]
    links = {lk["rel"]: lk["href"] for lk in item["links"]}
    # a self-contained local catalogue: relative links, no self link; a local source is not linked
    # (it resolves nowhere else): the product id and the lineage record it
    assert "derived_from" not in links and "self" not in links and str(theia_dir) not in json.dumps(item)
    assert props["s2sr:source_id"] == theia_dir.name
    assert links["collection"] == links["parent"] == "../collection.json"
    assert item["assets"]["sisr"]["href"] == f"./{ITEM_ID}_sisr.tif"
    sisr = item["assets"]["sisr"]
    assert sisr["roles"] == ["data"] and "cloud-optimized" in sisr["type"]
    with rasterio.open(d / f"{ITEM_ID}_sisr.tif") as ds:
        assert sisr["proj:shape"] == [ds.height, ds.width]
        assert sisr["proj:transform"] == list(ds.transform)[:6]
        assert sisr["proj:code"] == f"EPSG:{ds.crs.to_epsg()}"
        assert [b["name"] for b in sisr["eo:bands"]] == list(ds.descriptions)
        bounds = ds.bounds
    assert {b["nodata"] for b in sisr["raster:bands"]} == {-10000}
    assert {b["scale"] for b in sisr["raster:bands"]} == {0.0001}
    assert sisr["eo:bands"][2] == {"name": "B4", "description": "Red (B04, 0.665 um), super-resolved",
                                   "common_name": "red", "center_wavelength": 0.665, "full_width_half_max": 0.038}
    assert [b["name"] for b in sisr["bands"]] == list(ds.descriptions)
    # the footprint is the valid data: the nodata strip on the west edge is outside it
    import shapely.geometry
    from rasterio.warp import transform_geom

    geom = shapely.geometry.shape(transform_geom("EPSG:4326", "EPSG:32633", item["geometry"]))
    assert geom.bounds[0] == pytest.approx(bounds.left + NODATA_COLS * 10, abs=2.0)
    assert geom.bounds[2] == pytest.approx(bounds.right, abs=1.0)
    assert item["assets"]["model"]["href"].endswith("_model.yaml")
    assert (d / f"{ITEM_ID}_model.yaml").read_text() == convnet_card.read_text()
    assert item["assets"]["bicubic"]["eo:bands"][0]["name"] == "B2_bicubic"


def test_thumbnail(published: Path) -> None:
    png = Image.open(published / "s2sr" / ITEM_ID / f"{ITEM_ID}_thumbnail.png")
    assert png.mode == "P" and png.size == (256, 192) and "transparency" in png.info  # 256-colour palette
    a = np.asarray(png.convert("RGBA"))
    assert (a[:, : NODATA_COLS * 2 - 1, 3] == 0).all(), "nodata is transparent"
    assert (a[:, NODATA_COLS * 2 + 1 :, 3] == 255).all()
    valid = a[:, NODATA_COLS * 2 + 1 :, :3]
    assert valid.min() <= 2 and valid.max() >= 250, "2-98 % stretch fills the range"


def test_thumbnail_at_most_1024(tmp_path: Path) -> None:
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.windows import Window

    from s2sr.grid import Grid
    from s2sr.outputs import CogWriter

    grid = Grid(CRS.from_epsg(32633), Affine(5, 0, 300000, 0, -5, 6200000), 2560, 1536)
    ramp = np.add.outer(np.arange(1536.0), np.arange(2560.0))
    with CogWriter(tmp_path / "big.tif", grid, ["B2", "B3", "B4"]) as w:
        w.write(Window(0, 0, 2560, 1536), np.stack([ramp, ramp, ramp]))
    q = read_quicklook(tmp_path / "big.tif")
    assert q.rgba.shape == (614, 1024, 4)
    assert q.transform.a == 12.5 and q.valid.all()


def test_pystac_round_trip(published: Path) -> None:
    path = published / "s2sr" / ITEM_ID / f"{ITEM_ID}.json"
    item = pystac.Item.from_file(str(path))
    assert item.to_dict(include_self_link=False, transform_hrefs=False) == load_json(path)
    coll = pystac.Collection.from_file(str(published / "s2sr" / "collection.json"))
    assert [i.id for i in coll.get_items()] == [ITEM_ID]


def test_odc_stac_load_equals_cog(published: Path) -> None:
    import odc.stac as odc_stac  # in the test extra: a missing one is a failure, not a skip
    item = pystac.Item.from_file(str(published / "s2sr" / ITEM_ID / f"{ITEM_ID}.json"))
    ds = odc_stac.load([item], bands=["B4", "B8", "B12", "B4_bicubic"], chunks=None)
    with rasterio.open(item.assets["sisr"].get_absolute_href()) as src:
        want = src.read([3, 4, 10])
        assert tuple(ds.sizes[k] for k in ("y", "x")) == (src.height, src.width)
        assert float(ds.x[0]) == src.transform.c + src.transform.a / 2
    with rasterio.open(item.assets["bicubic"].get_absolute_href()) as src:
        bic = src.read(3)
    for i, band in enumerate(["B4", "B8", "B12"]):
        np.testing.assert_array_equal(ds[band].values[0], want[i])
    np.testing.assert_array_equal(ds["B4_bicubic"].values[0], bic)
    red = odc_stac.load([item], bands=["red"], chunks=None)["red"].values[0]
    np.testing.assert_array_equal(red, want[0])


def test_rerun_skips_then_overwrite_redoes(tmp_path: Path, theia_dir: Path, nearest_card: Path) -> None:
    args = ("run", theia_dir, "-o", tmp_path, "-m", nearest_card, "--roi-pixels", "0", "0", "64", "48")
    assert run_cli(*args)[0] == 0
    item = tmp_path / "s2sr" / ITEM_ID / f"{ITEM_ID}.json"
    tif = item.with_name(f"{ITEM_ID}_sisr.tif")
    before, inode = item.read_bytes(), tif.stat().st_ino
    code, out, err = run_cli(*args)
    assert code == 0 and "already done" in out and "already done" in err
    assert item.read_bytes() == before and tif.stat().st_ino == inode
    code, out, err = run_cli(*args, "--overwrite")
    assert code == 0, err
    assert tif.stat().st_ino != inode, "--overwrite published a new file"
    assert len(load_json(tmp_path / "s2sr" / "collection.json")["links"]) == 3  # root, licence, 1 item


def test_existing_item_from_other_model_or_options_is_refused(
    tmp_path: Path, theia_dir: Path, nearest_card: Path, convnet_card: Path
) -> None:
    roi = ("--roi-pixels", "0", "0", "64", "48")
    assert run_cli("run", theia_dir, "-o", tmp_path, "-m", nearest_card, *roi)[0] == 0
    item = tmp_path / "s2sr" / ITEM_ID / f"{ITEM_ID}.json"
    before = item.read_bytes()
    code, _, err = run_cli("run", theia_dir, "-o", tmp_path, "-m", convnet_card, *roi)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "already exists and was produced by a different model (nearest_x2" in lines[0]
    assert "--overwrite" in lines[0]
    code, _, err = run_cli("run", theia_dir, "-o", tmp_path, "-m", nearest_card, "--roi-pixels", "0", "0", "32", "32")
    assert code == 2 and "produced with different options" in err
    assert item.read_bytes() == before
    code, _, err = run_cli("run", theia_dir, "-o", tmp_path, "-m", convnet_card, *roi, "--overwrite")
    assert code == 0, err
    assert load_json(item)["properties"]["s2sr:model"] == "convnet_x2"


def test_leftovers_of_interrupted_runs_are_cleaned(tmp_path: Path, theia_dir: Path, nearest_card: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / STAGING_DIR / "run-dead"
    stale.mkdir(parents=True)
    (stale / "owner.json").write_text(json.dumps({"host": __import__("socket").gethostname(), "pid": dead.pid,
                                                  "started": 0}))
    (stale / "partial.tif").write_bytes(b"x" * 100)
    item_dir = tmp_path / "s2sr" / ITEM_ID
    item_dir.mkdir(parents=True)
    (item_dir / f"{ITEM_ID}_bicubic.tif").write_bytes(b"half an upload")  # data without an item
    code, _, err = run_cli("run", theia_dir, "-o", tmp_path, "-m", nearest_card)
    assert code == 0, err
    assert not (tmp_path / STAGING_DIR).exists()
    assert sorted(p.name for p in item_dir.iterdir()) == sorted(
        [f"{ITEM_ID}.json", f"{ITEM_ID}_sisr.tif", f"{ITEM_ID}_thumbnail.png", f"{ITEM_ID}_model.yaml"]
    )


def _fake_item(i: int) -> dict:
    return {"id": f"item{i}", "bbox": [10 + i, 50, 11 + i, 51],
            "properties": {"datetime": f"2020-01-{i + 1:02d}T00:00:00Z"}}


def test_collection_concurrent_writers_keep_every_item(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    n = 8
    barrier = threading.Barrier(n)

    def add(i: int) -> None:
        barrier.wait()
        update_collection(store, "c/collection.json", _fake_item(i), collection_id="c",
                          collection_url=store.url("c/collection.json"), item_url=f"/x/item{i}.json")

    threads = [threading.Thread(target=add, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    coll = load_json(tmp_path / "c" / "collection.json")
    assert sorted(lk["title"] for lk in coll["links"] if lk["rel"] == "item") == sorted(f"item{i}" for i in range(n))
    assert coll["extent"]["spatial"]["bbox"] == [[10, 50, 11 + n - 1, 51]]
    assert coll["extent"]["temporal"]["interval"] == [["2020-01-01T00:00:00Z", f"2020-01-{n:02d}T00:00:00Z"]]
    validate_stac(coll)


def test_merge_collection_refreshes_an_item_once() -> None:
    c = merge_collection(None, _fake_item(0), collection_id="c", collection_url="/c.json", item_url="/i0.json")
    c = merge_collection(c, _fake_item(0), collection_id="c", collection_url="/c.json", item_url="/i0.json")
    assert [lk["href"] for lk in c["links"] if lk["rel"] == "item"] == ["/i0.json"]


def test_any_fsspec_destination(theia_dir: Path, nearest_card: Path) -> None:
    """A destination fsspec knows (here its in-memory filesystem) works through the same code."""
    pub = super_resolve_to(theia_dir, "memory://s2sr-test/out", nearest_card, roi_pixels=(0, 0, 32, 32))
    assert pub.item_url.startswith("memory://") and pub.item_url.endswith(f"out/s2sr/{ITEM_ID}/{ITEM_ID}.json")
    fs = fsspec.filesystem("memory")
    item = json.loads(fs.cat(pub.item_url))
    validate_stac(item)
    with fs.open(pub.sisr, "rb") as fh, rasterio.open(fh) as ds:
        assert ds.shape == (64, 64)
    assert super_resolve_to(theia_dir, "memory://s2sr-test/out", nearest_card, roi_pixels=(0, 0, 32, 32)).skipped


@pytest.mark.parametrize(
    "dest,message",
    [
        ("nosuchscheme://bucket/x", "unknown destination scheme 'nosuchscheme://'"),
        ("{file}/sub", "cannot be written"),
    ],
)
def test_bad_destination_one_line_exit_2(dest: str, message: str, tmp_path: Path, theia_dir: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    code, _, err = run_cli("run", theia_dir, "-o", dest.format(file=a_file), "-m", "bicubic")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("s2sr: error: ") and message in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_bad_collection_id(tmp_path: Path, theia_dir: Path) -> None:
    code, _, err = run_cli("run", theia_dir, "-o", tmp_path / "o", "--output-collection", "../up")
    assert code == 2 and "collection id '../up' is not valid" in err
    assert not (tmp_path / "o").exists()


def test_source_links_and_harmonisation_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import dataclass

    from s2sr.outputs.stac import harmonisation_record, source_link_href

    assert source_link_href("/vsis3/bucket/a/item.json") == "s3://bucket/a/item.json"
    assert source_link_href("/vsicurl/https://x.org/i.json") == "https://x.org/i.json"
    assert source_link_href("https://earth-search/items/S2A") == "https://earth-search/items/S2A"
    monkeypatch.chdir(tmp_path)
    assert source_link_href("prod.zip") == str(tmp_path / "prod.zip")

    @dataclass(frozen=True)
    class Harm:
        boa_offset_removed: int
        source: str

    assert harmonisation_record("none") == "none"
    assert harmonisation_record(Harm(-1000, "earthsearch:boa_offset_applied")) == {
        "boa_offset_removed": -1000, "source": "earthsearch:boa_offset_applied"}
    assert harmonisation_record({"offset": -1000}) == {"offset": -1000}


def test_same_name_from_another_product_is_refused_with_both_ids(
    tmp_path: Path, arrays: tuple[np.ndarray, np.ndarray], nearest_card: Path
) -> None:
    """Two products of one tile and day (a reprocessing, another datastrip) share the seed's name."""
    import datetime as dt

    from s2sr.testing import write_theia_product

    first = write_theia_product(tmp_path / "a", *arrays)
    second = write_theia_product(tmp_path / "b", *arrays, acquired=dt.datetime(2017, 5, 27, 11, 0, 0))
    super_resolve_to(first, tmp_path / "out", nearest_card, roi_pixels=(0, 0, 16, 16))
    with pytest.raises(OutputError, match=f"produced from another product \\({first.name}; this run reads {second.name}\\)"):
        super_resolve_to(second, tmp_path / "out", nearest_card, roi_pixels=(0, 0, 16, 16))
