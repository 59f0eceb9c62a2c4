"""``s2sr run --stac-api``: a real STAC API (stac-fastapi-pgstac on PostgreSQL + PostGIS) serving the
real Earth Search item, whose COGs are served over HTTP with Range requests, searched with pystac-client."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from s2sr.cli import main
from s2sr.testing import ES_ITEM, RangeServer, rewrite_item, shared_es_files

from .conftest import SHARED
from .support.stac_api import PgStacApi

DATA = SHARED / "data"
COLLECTION = DATA / "stac_items" / "odc-stac_sentinel-2-l2a.collection.json"
CLEAR_ID, CLOUDY_ID = "S2A_29RKH_20200219_0_L2A", "S2A_29RKH_20200224_0_L2A"
ROI = ["--roi-pixels", "100", "100", "196", "164"]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any], Path]]:
    if not (DATA / ES_ITEM).is_file():
        pytest.skip("../shared/data is absent")
    with RangeServer(DATA / "earthsearch_l2a_T29RKH_100m") as cogs, PgStacApi() as stac:
        real = json.loads((DATA / ES_ITEM).read_text())
        clear = rewrite_item(real, shared_es_files(SHARED), base_href=cogs.url)
        cloudy = copy.deepcopy(clear)
        cloudy["id"] = CLOUDY_ID
        cloudy["properties"].update({"datetime": "2020-02-24T11:34:25.405000Z", "eo:cloud_cover": 81.5})
        stac.load(json.loads(COLLECTION.read_text()), [clear, cloudy])
        local = tmp_path_factory.mktemp("local") / "item.json"
        local.write_text(json.dumps(rewrite_item(real, shared_es_files(SHARED))))
        yield stac.url, clear, local


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, ["run", *args])


@pytest.mark.slow
def test_search_processes_matching_items(api: tuple[str, dict[str, Any], Path], tmp_path: Path,
                                         nearest_card: Path) -> None:
    url, clear, local = api
    w, s, _, _ = clear["bbox"]
    bbox = [str(w + 0.1), str(s + 0.1), str(w + 0.3), str(s + 0.3)]
    r = _run("--stac-api", url, "--collection", "sentinel-2-l2a", "--bbox", *bbox, "--datetime",
             "2020-02-01/2020-02-29", "--max-cloud", "20", "-m", str(nearest_card), *ROI, "-o", str(tmp_path / "api"))
    assert r.exit_code == 0, r.output
    outs = sorted(p.name for p in (tmp_path / "api").rglob("*_sisr.tif"))  # DEST/COLLECTION/ITEM/…
    assert outs == ["SENTINEL2A_20200219_L2A_T29RKH_50m_sisr.tif"], "the cloudy item is filtered out by --max-cloud"
    # the same item read from local files gives the same pixels
    r2 = _run(str(local), "-m", str(nearest_card), *ROI, "-o", str(tmp_path / "local"))
    assert r2.exit_code == 0, r2.output
    api_tif, local_tif = (next((tmp_path / d).rglob(outs[0])) for d in ("api", "local"))
    with rasterio.open(api_tif) as a, rasterio.open(local_tif) as b:
        assert a.transform == b.transform and (a.width, a.height) == (192, 128)
        assert a.transform.c == 199980 + 100 * 100 and a.transform.f == 2800020 - 100 * 100
        x = a.read()
        assert np.array_equal(x, b.read()) and (x != -10000).all()


@pytest.mark.slow
def test_search_by_ids_processes_each_item(api: tuple[str, dict[str, Any], Path], tmp_path: Path,
                                           nearest_card: Path) -> None:
    url, _, _ = api
    r = _run("--stac-api", url, "--collection", "sentinel-2-l2a", "--ids", f"{CLEAR_ID},{CLOUDY_ID}",
             "-m", str(nearest_card), *ROI, "-o", str(tmp_path))
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.rglob("*_sisr.tif")) == [
        "SENTINEL2A_20200219_L2A_T29RKH_50m_sisr.tif", "SENTINEL2A_20200224_L2A_T29RKH_50m_sisr.tif"]


@pytest.mark.slow
def test_search_that_finds_nothing(api: tuple[str, dict[str, Any], Path], tmp_path: Path) -> None:
    url, _, _ = api
    args = ["--stac-api", url, "--collection", "sentinel-2-l2a", "--datetime", "2019-01-01/2019-01-31",
            "-o", str(tmp_path / "out")]
    r = _run(*args)
    assert r.exit_code == 0 and "no STAC item matched the search" in r.output and "nothing to do" in r.output
    r = _run(*args, "--require")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "--require" in r.output
    assert not (tmp_path / "out").exists()
    r = _run("--stac-api", url, "--collection", "sentinel-2-l2a", "--datetime", "last tuesday", "-o", str(tmp_path))
    assert r.exit_code == 2 and "invalid STAC search" in r.output, r.output


def test_unreachable_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S2SR_HTTP_RETRIES", "1")
    monkeypatch.setenv("S2SR_HTTP_BACKOFF", "0.01")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = _run("--stac-api", f"http://127.0.0.1:{port}", "--collection", "c", "-o", str(tmp_path / "o"))
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and f"STAC API http://127.0.0.1:{port} failed: cannot connect after 2 attempts" in lines[0]


def test_search_options_need_the_api(tmp_path: Path) -> None:
    r = _run("--collection", "c", "-o", str(tmp_path))
    assert r.exit_code == 2 and "need --stac-api" in r.output
    r = _run("-o", str(tmp_path))
    assert r.exit_code == 2 and "give an INPUT product" in r.output
