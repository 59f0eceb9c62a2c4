"""The remote layer (s2sr.remote): GDAL paths both ways, one reading of the AWS variables for
GDAL and s3fs, one wording of the credential hints, HTTP retries against a real local server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from s2sr.errors import CredentialsError, RemoteError
from s2sr.remote import gdal_path, href_from_gdal_path, s3_gdal_options, s3fs_options, session
from s2sr.remote.aws import CREDENTIAL_VARIABLES, S3Settings, credentials_hint, redact_url
from s2sr.remote.http import fetch_json

_AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_NO_SIGN_REQUEST",
        "AWS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_HTTPS", "AWS_REGION", "AWS_DEFAULT_REGION",
        "AWS_VIRTUAL_HOSTING")


@pytest.fixture()
def clean_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for var in _AWS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws/credentials
    return monkeypatch


@pytest.mark.parametrize("href", ["s3://bucket/a/b.tif", "https://example.org/x/B04.tif", "http://h:8080/i.json"])
def test_gdal_path_and_back(href: str) -> None:
    assert href_from_gdal_path(gdal_path(href)) == href


def test_href_from_gdal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert href_from_gdal_path("/vsigs/b/k.tif") == "gs://b/k.tif"
    assert href_from_gdal_path(f"/vsizip/{tmp_path}/p.zip/B2.tif") == f"{tmp_path}/p.zip/B2.tif"
    assert href_from_gdal_path("/vsicurl//vsis3/b/k") == "s3://b/k"
    assert href_from_gdal_path("p.zip") == str(tmp_path / "p.zip")
    assert href_from_gdal_path(gdal_path(f"file://{tmp_path}/x.tif")) == f"{tmp_path}/x.tif"


def test_endpoint_precedence(clean_aws: pytest.MonkeyPatch) -> None:
    assert S3Settings.from_env().endpoint is None
    assert S3Settings.from_env().describe_endpoint() == "the default AWS S3 endpoint"
    clean_aws.setenv("AWS_ENDPOINT_URL", "https://all.example")
    assert S3Settings.from_env().endpoint == "https://all.example"
    clean_aws.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example")
    assert S3Settings.from_env().endpoint == "https://s3.example"
    clean_aws.setenv("AWS_S3_ENDPOINT", "127.0.0.1:8333")
    clean_aws.setenv("AWS_HTTPS", "NO")
    assert S3Settings.from_env().endpoint == "http://127.0.0.1:8333"
    assert S3Settings.from_env(endpoint="other:9000").endpoint == "http://other:9000"


def test_gdal_and_s3fs_read_the_same_settings(clean_aws: pytest.MonkeyPatch) -> None:
    clean_aws.setenv("AWS_ACCESS_KEY_ID", "AKIAVALUE")
    clean_aws.setenv("AWS_SECRET_ACCESS_KEY", "secretvalue")
    clean_aws.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8333")
    clean_aws.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    gdal = s3_gdal_options()
    fs = s3fs_options()
    assert gdal == {"AWS_S3_ENDPOINT": "127.0.0.1:8333", "AWS_HTTPS": "NO", "AWS_VIRTUAL_HOSTING": "FALSE",
                    "AWS_REGION": "eu-central-1"}
    assert fs["client_kwargs"] == {"endpoint_url": "http://127.0.0.1:8333", "region_name": "eu-central-1"}
    assert s3fs_options("https://override.example:9000")["client_kwargs"]["endpoint_url"] == (
        "https://override.example:9000")
    text = repr(gdal) + repr(fs)
    assert "AKIAVALUE" not in text and "secretvalue" not in text


def test_missing_credentials_name_the_variables(clean_aws: pytest.MonkeyPatch) -> None:
    with pytest.raises(CredentialsError) as err:
        s3_gdal_options("s3://b/k.tif")
    assert err.value.message == (
        "s3://b/k.tif needs S3 credentials but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
    assert err.value.hint == credentials_hint(public_read=True)
    assert CREDENTIAL_VARIABLES in err.value.hint and "AWS_NO_SIGN_REQUEST=YES" in err.value.hint
    clean_aws.setenv("AWS_NO_SIGN_REQUEST", "YES")
    assert s3_gdal_options() == {"AWS_NO_SIGN_REQUEST": "YES"}


def test_redact_url() -> None:
    assert redact_url("https://user:pw@host:8443/p?q=1") == "https://host:8443/p?q=1"
    assert redact_url("s3://bucket/p") == "s3://bucket/p"


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first ``failures`` requests, then a JSON document."""

    failures = 0
    seen = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).seen += 1
        if type(self).seen <= type(self).failures:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"id": "x"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def flaky_server() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Handler", (_Flaky,), {"failures": 0, "seen": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_session_retries_then_succeeds(flaky_server: tuple[str, type[_Flaky]],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url, handler = flaky_server
    monkeypatch.setenv("S2SR_HTTP_BACKOFF", "0.01")
    handler.failures = 2
    with session() as s:
        r = s.get(f"{url}/item.json")
    assert r.status_code == 200 and r.json() == {"id": "x"} and handler.seen == 3
    handler.failures, handler.seen = 10, 0
    with session(retries=1) as s:
        assert s.get(f"{url}/item.json").status_code == 503  # the last answer, after the retries
    assert handler.seen == 2


def test_fetch_json_gives_up_with_one_error(flaky_server: tuple[str, type[_Flaky]],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    url, handler = flaky_server
    monkeypatch.setenv("S2SR_HTTP_RETRIES", "2")
    monkeypatch.setenv("S2SR_HTTP_BACKOFF", "0.01")
    handler.failures = 10
    with pytest.raises(RemoteError, match=r"unreachable after 3 attempts \(HTTP 503\)"):
        fetch_json(f"{url}/item.json")
    handler.failures, handler.seen = 1, 0
    assert fetch_json(f"{url}/item.json") == {"id": "x"}
