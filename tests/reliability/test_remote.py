"""Remote inputs: STAC items over HTTP that point at local files, credentials riding in URLs,
and servers that stall (timeouts and retry budgets are explicit and configurable)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from . import harness as h
from .conftest import ITEM_ID


def _write_item(root: Path, name: str, item: dict) -> Path:
    p = root / name
    p.write_text(json.dumps(item))
    return p


def _served_item(product: Path, base: str) -> dict:
    return h.stac_item_for(product, "S2A_33UUB_20170527_0_L2A", lambda f: f"{base}/{product.name}/{f.name}")


# -- 1: a remote item never makes s2sr read local files -----------------------------------------------
@pytest.mark.parametrize("href", ["file", "etc", "vsi"])
def test_remote_item_pointing_at_local_files_is_refused(product: Path, model: Path, tmp_path: Path, href: str) -> None:
    def local_href(f: Path) -> str:
        return {"file": f"file://{f}", "etc": "file:///etc/passwd",
                "vsi": f"/vsizip/{f.parent}.zip/{f.name}"}[href]

    root = product.parent
    _write_item(root, "local.json", h.stac_item_for(product, "S2A_33UUB_20170527_0_L2A", local_href))
    dest = tmp_path / "out"
    with h.http_server(root) as srv:
        res = h.run("run", f"{srv.url}/local.json", "-m", model, "-o", dest)
        h.assert_one_error(res, 2, "local", "--allow-local-assets")
        h.assert_nothing_published(dest)
        # the fault gone: the item names its bands over HTTP
        _write_item(root, "remote.json", _served_item(product, srv.url))
        res = h.run("run", f"{srv.url}/remote.json", "-m", model, "-o", dest)
        assert res.rc == 0, res.describe()
    h.assert_published(dest)


def test_allow_local_assets_is_the_explicit_opt_in(product: Path, model: Path, tmp_path: Path) -> None:
    root = product.parent
    _write_item(root, "local.json", h.stac_item_for(product, "S2A_33UUB_20170527_0_L2A", lambda f: f"file://{f}"))
    dest = tmp_path / "out"
    with h.http_server(root) as srv:
        res = h.run("run", f"{srv.url}/local.json", "-m", model, "-o", dest, "--allow-local-assets")
    assert res.rc == 0, res.describe()
    h.assert_published(dest)


def test_local_item_with_gdal_virtual_paths_is_refused(product: Path, model: Path, tmp_path: Path) -> None:
    item = h.stac_item_for(product, "S2A_33UUB_20170527_0_L2A", lambda f: f"/vsicurl/http://127.0.0.1:9/{f.name}")
    p = _write_item(tmp_path, "item.json", item)
    dest = tmp_path / "out"
    res = h.run("run", p, "-m", model, "-o", dest)
    h.assert_one_error(res, 2, "/vsi")
    h.assert_nothing_published(dest)
    good = _write_item(tmp_path, "good.json", h.stac_item_for(product, "S2A_33UUB_20170527_0_L2A", str))
    res = h.run("run", good, "-m", model, "-o", dest)
    assert res.rc == 0, res.describe()
    h.assert_published(dest)


# -- 8: credentials in input URLs are redacted everywhere ------------------------------------------------
def test_credentials_in_input_urls_never_shown(product: Path, model: Path, tmp_path: Path) -> None:
    root = product.parent
    _write_item(root, "item.json", h.stac_item_for(product, "S2A_33UUB_20170527_0_L2A",
                                                    lambda f: f"{product.name}/{f.name}"))
    dest = tmp_path / "out"
    with h.http_server(root, auth=f"{h.URL_USER}:{h.URL_PASSWORD}") as srv:
        authed = srv.url.replace("http://", f"http://{h.URL_USER}:{h.URL_PASSWORD}@")
        wrong = srv.url.replace("http://", f"http://{h.URL_USER}:{h.URL_PASSWORD}-wrong@")
        res = h.run("run", f"{wrong}/item.json", "-m", model, "-o", dest)
        line = h.assert_one_error(res, 2, "401")
        assert h.URL_PASSWORD not in line and "127.0.0.1" in line
        h.assert_nothing_published(dest)
        res = h.run("run", f"{authed}/item.json", "-m", model, "-o", dest, "-v")
    assert res.rc == 0, res.describe()
    assert h.URL_PASSWORD not in res.out + res.err
    h.assert_published(dest)
    item = (dest / "s2sr" / ITEM_ID / f"{ITEM_ID}.json").read_text()
    assert h.URL_PASSWORD not in item and h.URL_USER + ":" not in item
    assert "127.0.0.1" in item  # the source is still named, without its credentials


# -- 12: stalled servers fail within the configured budget ------------------------------------------------
def test_stalled_item_server_fails_within_the_budget(product: Path, model: Path, tmp_path: Path) -> None:
    root = product.parent
    dest = tmp_path / "out"
    with h.http_server(root) as srv:
        _write_item(root, "remote.json", _served_item(product, srv.url))
        srv.stall(30)
        t0 = time.monotonic()
        res = h.run("run", f"{srv.url}/remote.json", "-m", model, "-o", dest,
                    env={"S2SR_HTTP_TIMEOUT": "2", "S2SR_HTTP_RETRIES": "1"})
        took = time.monotonic() - t0
        line = h.assert_one_error(res, 2, "timed out", "S2SR_HTTP_TIMEOUT")
        assert took < 25, f"{took:.0f} s for a 2 s timeout and 1 retry: {line}"
        h.assert_nothing_published(dest)
        srv.stall(0)
        res = h.run("run", f"{srv.url}/remote.json", "-m", model, "-o", dest)
        assert res.rc == 0, res.describe()
    h.assert_published(dest)


def test_stalled_asset_server_fails_within_the_budget(product: Path, model: Path, tmp_path: Path) -> None:
    root = product.parent
    dest = tmp_path / "out"
    with h.http_server(root) as items, h.http_server(root) as bands:
        _write_item(root, "remote.json", _served_item(product, bands.url))
        bands.stall(30)
        t0 = time.monotonic()
        res = h.run("run", f"{items.url}/remote.json", "-m", model, "-o", dest,
                    env={"S2SR_HTTP_TIMEOUT": "2", "S2SR_HTTP_RETRIES": "1"})
        took = time.monotonic() - t0
        h.assert_one_error(res, 2, "timed out", "S2SR_HTTP_TIMEOUT")
        assert took < 40, f"{took:.0f} s for a 2 s timeout and 1 retry"
        h.assert_nothing_published(dest)
        bands.stall(0)
        res = h.run("run", f"{items.url}/remote.json", "-m", model, "-o", dest)
        assert res.rc == 0, res.describe()
    h.assert_published(dest)


def test_http_budget_is_documented() -> None:
    readme = (h.REPO / "README.md").read_text()
    for var in ("S2SR_HTTP_TIMEOUT", "S2SR_HTTP_RETRIES", "S2SR_HTTP_BACKOFF"):
        assert var in readme, f"{var} is not documented in the README"
