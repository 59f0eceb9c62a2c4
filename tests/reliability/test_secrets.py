"""The secrets sweep: with credentials in the environment and in URLs, no secret value appears in
any log, error, STAC document, model card or COG (tags included) that s2sr produced.

Runs last in this package (file order): besides its own runs it greps everything the suite's
other commands printed and every local destination they wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

from s2sr.testing.servers import SECRET_KEY, SeaweedS3, aws_env

from . import harness as h


def _leaks(data: bytes) -> list[str]:
    return [s for s in h.SECRETS if s.encode() in data]


def test_s3_run_with_debug_logs_leaks_nothing(s3_server: SeaweedS3, product: Path, model: Path, tmp_path: Path) -> None:
    s3_server.ensure_running()
    h.add_secret(SECRET_KEY)
    fs = s3_server.fs()
    fs.mkdir("rel-secrets")
    env: dict[str, str | None] = {**aws_env(s3_server.endpoint), "AWS_SESSION_TOKEN": None}
    env["S2SR_TEST_PASSWORD"] = h.ENV_SECRETS["S2SR_TEST_PASSWORD"]
    res = h.run("run", product, "-m", model, "-o", "s3://rel-secrets", "-vv", env=env)
    assert res.rc == 0, res.describe()
    assert not _leaks((res.out + res.err).encode())
    fs.invalidate_cache()
    objects = fs.find("rel-secrets")
    assert any(o.endswith("_sisr.tif") for o in objects)
    for o in objects:
        assert not _leaks(fs.cat_file(o)), o
    # wrong keys: the error names the variables, never their values
    bad = dict(env, AWS_SECRET_ACCESS_KEY=h.ENV_SECRETS["AWS_SECRET_ACCESS_KEY"])
    res = h.run("run", product, "-m", model, "-o", "s3://rel-secrets/x", "-vv", env=bad)
    assert res.rc == 2, res.describe()
    assert not _leaks((res.out + res.err).encode()), res.describe()
    assert "AWS_SECRET_ACCESS_KEY" in res.err_lines[-1]


def test_url_credentials_in_a_failing_debug_run(product: Path, model: Path, tmp_path: Path) -> None:
    item = h.stac_item_for(product, "S2A_33UUB_20170527_0_L2A", lambda f: f"{product.name}/{f.name}")
    (product.parent / "item.json").write_text(json.dumps(item))
    with h.http_server(product.parent, auth=f"{h.URL_USER}:{h.URL_PASSWORD}x") as srv:
        url = srv.url.replace("http://", f"http://{h.URL_USER}:{h.URL_PASSWORD}@") + "/item.json"
        res = h.run("run", url, "-m", model, "-o", tmp_path / "out", "-vv")
    assert res.rc == 2, res.describe()
    assert not _leaks((res.out + res.err).encode()), res.describe()


def test_sweep_everything_the_suite_produced(product: Path, model: Path, tmp_path: Path) -> None:
    # one more output of this file's own: a run from an item behind a password, with -vv
    item = h.stac_item_for(product, "S2A_33UUB_20170527_0_L2A", lambda f: f"{product.name}/{f.name}")
    (product.parent / "item.json").write_text(json.dumps(item))
    with h.http_server(product.parent, auth=f"{h.URL_USER}:{h.URL_PASSWORD}") as srv:
        url = srv.url.replace("http://", f"http://{h.URL_USER}:{h.URL_PASSWORD}@") + "/item.json"
        res = h.run("run", url, "-m", model, "-o", tmp_path / "out", "-vv")
    assert res.rc == 0, res.describe()
    assert h.TRANSCRIPTS, "no command ran"
    for text in h.TRANSCRIPTS:
        assert not _leaks(text.encode()), text[-2000:]
    scanned = 0
    for dest in h.DESTINATIONS:
        if not dest.exists():
            continue
        for f in dest.rglob("*"):
            if f.is_file():
                scanned += 1
                assert not _leaks(f.read_bytes()), f
    assert scanned, "no output file to sweep"
