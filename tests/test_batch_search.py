"""``s2sr batch --stac-api``: the work list from a real STAC API (stac-fastapi-pgstac), each item
by its URL on the API; a search that finds nothing is said (exit 0, ``[]`` with --plan) or, with
--require, an error (exit 2)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from s2sr.cli import main
from s2sr.testing import ES_ITEM, RangeServer, rewrite_item, shared_es_files

from .conftest import SHARED
from .support.stac_api import PgStacApi

DATA = SHARED / "data"
COLLECTION = DATA / "stac_items" / "odc-stac_sentinel-2-l2a.collection.json"
IDS = ("S2A_29RKH_20200219_0_L2A", "S2A_29RKH_20200224_0_L2A")
ROI = ["--roi-pixels", "100", "100", "164", "148"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    if not (DATA / ES_ITEM).is_file():
        pytest.skip("../shared/data is absent")
    with RangeServer(DATA / "earthsearch_l2a_T29RKH_100m") as cogs, PgStacApi() as stac:
        first = rewrite_item(json.loads((DATA / ES_ITEM).read_text()), shared_es_files(SHARED), base_href=cogs.url)
        second = copy.deepcopy(first)
        second["id"] = IDS[1]
        second["properties"]["datetime"] = "2020-02-24T11:34:25.405000Z"
        stac.load(json.loads(COLLECTION.read_text()), [first, second])
        yield stac.url


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["batch", *args])


def test_search_plan_and_batch(api: str, tmp_path: Path, nearest_card: Path) -> None:
    search = ["--stac-api", api, "--collection", "sentinel-2-l2a", "--ids", ",".join(IDS)]
    r = _cli(*search, "-m", str(nearest_card), *ROI, "-o", str(tmp_path / "out"), "--plan")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert sorted(e["name"] for e in plan) == sorted(IDS)
    assert all(e["product"] == f"{api}/collections/sentinel-2-l2a/items/{e['name']}" for e in plan)

    r = _cli(*search, "-m", str(nearest_card), *ROI, "-o", str(tmp_path / "out"), "--stac-catalog")
    assert r.exit_code == 0, r.output
    assert "2 done, 0 skipped (already done), 0 failed" in r.stdout
    cat = json.loads((tmp_path / "out" / "catalog.json").read_text())
    assert len([lk for lk in cat["links"] if lk["rel"] == "item"]) == 2


def test_search_finding_nothing(api: str, tmp_path: Path) -> None:
    search = ["--stac-api", api, "--collection", "sentinel-2-l2a", "--datetime", "1999-01-01/1999-01-31",
              "-o", str(tmp_path / "out")]
    r = _cli(*search, "--plan")
    assert r.exit_code == 0 and json.loads(r.stdout) == [] and "no product to process" in r.stderr
    r = _cli(*search, "--require")
    assert r.exit_code == 2 and r.stderr.strip().startswith("s2sr: error: no product to process")
    assert not (tmp_path / "out").exists()
