"""Done-when of the inputs issue: the same model on the same pixels gives the same output whatever
the container — Theia folder, Theia zip, SAFE L2A (baseline 05.09, offset carried), SAFE L1C zip
(02.06, no offset), STAC item with local COGs (Earth Search v1 form, offset carried) and the same
item with its COGs served over HTTP (Range requests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2sr import super_resolve
from s2sr.products import open_product
from s2sr.testing import RangeServer, es_v1_item, write_earthsearch_cogs, write_safe_product

from .conftest import NODATA_COLS, make_product

ITEM_PROPS = {
    "datetime": "2017-05-27T10:21:13.456000Z", "mgrs:utm_zone": 33, "mgrs:latitude_band": "U",
    "mgrs:grid_square": "UB", "grid:code": "MGRS-33UUB", "s2:processing_baseline": "05.10",
    "earthsearch:boa_offset_applied": False,
}


@pytest.fixture(scope="module")
def containers(tmp_path_factory: pytest.TempPathFactory, arrays: tuple[np.ndarray, np.ndarray]) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("containers")
    out = {
        "theia_dir": make_product(d / "theia", arrays, nodata_cols=NODATA_COLS),
        "theia_zip": make_product(d / "theia_zip", arrays, nodata_cols=NODATA_COLS, as_zip=True),
        "safe_l2a_dir": write_safe_product(d / "safe", *arrays, nodata_cols=NODATA_COLS),
        "safe_l1c_zip": write_safe_product(d / "safe_zip", *arrays, level="L1C", baseline="02.06",
                                           nodata_cols=NODATA_COLS, as_zip=True),
    }
    files = write_earthsearch_cogs(d / "cogs", *arrays, offset=-1000, nodata_cols=NODATA_COLS)
    (d / "cogs" / "item.json").write_text(json.dumps(es_v1_item(files, **ITEM_PROPS)))
    out["stac_local"] = d / "cogs" / "item.json"
    (d / "cogs_http").mkdir()
    (d / "cogs_http" / "item.json").write_text(json.dumps(es_v1_item(files, base_href="{BASE}", **ITEM_PROPS)))
    out["stac_http"] = d / "cogs_http" / "item.json"
    return out


@pytest.mark.slow
def test_same_output_whatever_the_container(containers: dict[str, Path], convnet_card: Path, tmp_path: Path) -> None:
    results: dict[str, np.ndarray] = {}
    with RangeServer(containers["stac_local"].parent) as srv:
        http_item = containers["stac_http"]
        http_item.write_text(http_item.read_text().replace("{BASE}", srv.url))
        with RangeServer(http_item.parent) as isrv:
            sources = {**containers, "stac_http": f"{isrv.url}/item.json"}
            for name, src in sources.items():
                prod = open_product(str(src))
                r = super_resolve(prod, tmp_path / name, convnet_card, tile_size=64)
                with rasterio.open(r.sisr) as ds:
                    results[name] = ds.read()
                    transform = ds.transform
                assert transform.c == 300000.0 and transform.f == 6200040.0 and transform.a == 5.0
        assert srv.stats["range_requests"] > 0
    ref = results["theia_dir"]
    assert (ref == -10000).any() and (ref != -10000).any()
    for name, arr in results.items():
        assert arr.shape == ref.shape, name
        assert np.array_equal(arr, ref), f"{name} differs from the Theia folder: max {np.abs(arr - ref.astype(int)).max()}"
