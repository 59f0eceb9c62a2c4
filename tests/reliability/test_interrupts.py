"""Interruptions (SIGINT, SIGTERM) at each stage, on local and S3 destinations; an item written
but not yet in its collection; a damaged collection; two runs of one product at once."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from s2sr.testing.servers import SECRET_KEY, RangeServer, SeaweedS3, aws_env

from . import harness as h
from .conftest import ITEM_ID

SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
SIG_IDS = ["SIGINT", "SIGTERM"]


def _item_over_http(product: Path, items: RangeServer, bands: RangeServer) -> str:
    item = h.stac_item_for(product, "S2A_33UUB_20170527_0_L2A", lambda f: f"{bands.url}/{product.name}/{f.name}")
    (product.parent / "item.json").write_text(json.dumps(item))
    return f"{items.url}/item.json"


# -- 9: SIGINT and SIGTERM while processing (local destination) ------------------------------------------
@pytest.mark.parametrize(("sig", "code"), SIGNALS, ids=SIG_IDS)
def test_signal_while_processing(product: Path, model: Path, tmp_path: Path, sig: int, code: int) -> None:
    dest = tmp_path / "out"
    staging = dest / ".s2sr-staging"
    with h.http_server(product.parent) as items, h.http_server(product.parent) as srv:
        url = _item_over_http(product, items, srv)
        # B2 answers (the checks pass, the run starts), every other band hangs: the run is mid-read
        srv.stall(60, unless="_B2.")
        # a read stuck inside GDAL returns to Python within the HTTP timeout; the signal acts then
        p = h.spawn("run", url, "-m", model, "-o", dest, env={"S2SR_HTTP_TIMEOUT": "4", "S2SR_HTTP_RETRIES": "1"})
        try:
            h.wait_for(lambda: any(staging.glob("run-*/owner.json")), what="the run's staging folder", proc=p)
            h.wait_for(lambda: len(srv.paths) > 2, what="band reads", proc=p)
            p.signal(sig)
            res = p.wait(timeout=60)
        finally:
            if p.proc.poll() is None:
                p.kill()
        h.assert_one_error(res, code, "interrupted", h.signal_name(code))
        assert "no output was published" in res.err_lines[0]
        h.assert_nothing_published(dest)
        h.assert_no_staging_left(staging)
        srv.stall(0)
        res = h.run("run", url, "-m", model, "-o", dest)
    assert res.rc == 0, res.describe()
    h.assert_published(dest)


# -- 5, 9 (S3): interrupted uploads leave nothing visible, staging removed ---------------------------------
@pytest.fixture
def s3(s3_server: SeaweedS3) -> Iterator[tuple[SeaweedS3, h.StallProxy]]:
    s3_server.ensure_running()
    h.add_secret(SECRET_KEY)
    proxy = h.StallProxy(s3_server.port)
    try:
        yield s3_server, proxy
    finally:
        proxy.close()


def _s3_env(proxy: h.StallProxy, tmp: Path) -> dict[str, str | None]:
    env: dict[str, str | None] = {**aws_env(proxy.endpoint), "AWS_SESSION_TOKEN": None}
    env["TMPDIR"] = str(tmp)  # the staging folder of an S3 run: checked empty afterwards
    return env


def _bucket(server: SeaweedS3, name: str) -> str:
    fs = server.fs()
    fs.mkdir(name)
    return name


def _objects(server: SeaweedS3, bucket: str) -> list[str]:
    fs = server.fs()
    fs.invalidate_cache()
    return sorted(fs.find(bucket))


@pytest.mark.parametrize(("sig", "code"), SIGNALS, ids=SIG_IDS)
def test_signal_during_s3_upload(s3: tuple[SeaweedS3, h.StallProxy], product: Path, model: Path, tmp_path: Path,
                                 sig: int, code: int) -> None:
    server, proxy = s3
    bucket = _bucket(server, f"rel-up-{sig}")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = _s3_env(proxy, tmp)
    proxy.stall_on(b"_sisr.tif")
    p = h.spawn("run", product, "-m", model, "-o", f"s3://{bucket}", env=env)
    try:
        h.wait_for(proxy.stalled.is_set, 60, "the upload", proc=p)
        p.signal(sig)
        res = p.wait(timeout=60)
    finally:
        proxy.heal()
        if p.proc.poll() is None:
            p.kill()
    h.assert_one_error(res, code, "interrupted", "no output was published")
    left = _objects(server, bucket)
    assert not left, f"objects left visible: {left}"
    h.assert_no_staging_left(tmp / "s2sr-staging")
    res = h.run("run", product, "-m", model, "-o", f"s3://{bucket}", env=env)
    assert res.rc == 0, res.describe()
    names = {o.rsplit("/", 1)[-1] for o in _objects(server, bucket)}
    assert {f"{ITEM_ID}.json", f"{ITEM_ID}_sisr.tif", "collection.json"} <= names, names
    assert not any("tmp" in n for n in names), names
    h.assert_no_staging_left(tmp / "s2sr-staging")


# -- 2: interrupted between the item and the collection ---------------------------------------------------
def test_signal_before_the_collection_update_says_so_and_rerun_repairs(
    s3: tuple[SeaweedS3, h.StallProxy], product: Path, model: Path, tmp_path: Path
) -> None:
    server, proxy = s3
    bucket = _bucket(server, "rel-coll")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = _s3_env(proxy, tmp)
    proxy.stall_on(f"PUT /{bucket}/s2sr/collection.json".encode())
    p = h.spawn("run", product, "-m", model, "-o", f"s3://{bucket}", env=env)
    try:
        h.wait_for(proxy.stalled.is_set, 60, "the collection update", proc=p)
        p.signal(signal.SIGINT)
        res = p.wait(timeout=60)
    finally:
        proxy.heal()
        if p.proc.poll() is None:
            p.kill()
    line = h.assert_one_error(res, 130, "interrupted", ITEM_ID, "collection")
    assert "no output was published" not in line
    h.assert_no_staging_left(tmp / "s2sr-staging")
    res = h.run("run", product, "-m", model, "-o", f"s3://{bucket}", env=env)
    assert res.rc == 0, res.describe()
    coll = json.loads(server.fs().cat_file(f"{bucket}/s2sr/collection.json"))
    assert any(lk["href"].endswith(f"{ITEM_ID}/{ITEM_ID}.json") for lk in coll["links"] if lk["rel"] == "item")


def test_item_missing_from_its_collection_is_added_by_the_rerun(product: Path, model: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    assert h.run("run", product, "-m", model, "-o", dest).rc == 0
    coll_path = dest / "s2sr" / "collection.json"
    coll = json.loads(coll_path.read_text())
    coll["links"] = [lk for lk in coll["links"] if lk["rel"] != "item"]  # the state an interruption leaves
    coll_path.write_text(json.dumps(coll))
    res = h.run("run", product, "-m", model, "-o", dest)
    assert res.rc == 0, res.describe()
    assert "already done" in res.out
    h.assert_published(dest)


def test_missing_collection_is_rebuilt_from_its_items(
    product: Path, product_b: Path, model: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    assert h.run("run", product, "-m", model, "-o", dest).rc == 0
    assert h.run("run", product_b, "-m", model, "-o", dest).rc == 0
    (dest / "s2sr" / "collection.json").unlink()
    res = h.run("run", product, "-m", model, "-o", dest)
    assert res.rc == 0, res.describe()
    h.assert_published(dest, n_items=2)  # the other product's item is listed again too


def test_truncated_collection_is_a_clear_error_then_rebuilt(product: Path, model: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    assert h.run("run", product, "-m", model, "-o", dest).rc == 0
    coll_path = dest / "s2sr" / "collection.json"
    text = coll_path.read_text()
    coll_path.write_text(text[: len(text) // 2])
    for _ in range(2):  # not "already done" on the second try: the same clear error
        res = h.run("run", product, "-m", model, "-o", dest)
        h.assert_one_error(res, 2, "collection.json", "not valid JSON")
    coll_path.unlink()  # what the error says to do
    res = h.run("run", product, "-m", model, "-o", dest)
    assert res.rc == 0, res.describe()
    h.assert_published(dest)


# -- 11: two runs of one product at once --------------------------------------------------------------------
def test_concurrent_runs_of_one_product_never_hide_the_item(product: Path, model: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    item = dest / "s2sr" / ITEM_ID / f"{ITEM_ID}.json"
    coll = dest / "s2sr" / "collection.json"
    broken: list[str] = []
    stop = threading.Event()

    def watch() -> None:  # a consumer polling while both runs publish
        while not stop.is_set():
            try:
                listed = coll.exists() and ITEM_ID in coll.read_text()
            except OSError:
                continue
            if listed and not item.exists():
                broken.append("collection lists the item but it is missing")
            if item.exists():
                try:
                    doc = json.loads(item.read_text())
                except (OSError, ValueError):
                    continue
                missing = [a["href"] for a in doc["assets"].values() if not (item.parent / a["href"]).exists()]
                if missing:
                    broken.append(f"item names missing assets {missing}")

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    runs = [h.spawn("run", product, "-m", model, "-o", dest) for _ in range(3)]
    results = [r.wait(timeout=120) for r in runs]
    stop.set()
    t.join()
    for r in results:
        assert r.rc == 0, r.describe()
    assert not broken, broken[:3]
    h.assert_published(dest)
    h.assert_no_staging_left(dest / ".s2sr-staging")
