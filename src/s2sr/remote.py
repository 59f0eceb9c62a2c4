"""Remote access shared by inputs (and later outputs): hrefs → GDAL paths, S3 settings, JSON over HTTP.

- :func:`gdal_path`: a local path, ``file://``, ``http(s)://`` or ``s3://`` href → what GDAL
  opens (``/vsicurl/…``, ``/vsis3/…``); pixels are then read by window with HTTP Range requests.
- :func:`s3_gdal_options`: the one place that turns the standard AWS environment
  (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_S3_ENDPOINT`` /
  ``AWS_ENDPOINT_URL``, ``AWS_NO_SIGN_REQUEST``, ``AWS_PROFILE``) into GDAL settings, or an
  error naming the variables to set.  Secrets are never returned, logged or printed: GDAL reads
  the keys from the environment itself.
- :func:`gdal_options`: the GDAL settings for reading a set of hrefs (retries, no directory
  listing on open, S3 settings when needed).
- :func:`fetch_json`: GET a JSON document with retries and exponential backoff on 5xx and
  timeouts, then one clear error.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .errors import CredentialsError, RemoteError

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying (server-side or throttling).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_url(text: str) -> bool:
    return urlparse(str(text)).scheme in {"http", "https", "s3", "file"}


def gdal_path(href: str) -> str:
    """The path GDAL opens for ``href``: ``/vsicurl/`` for HTTP(S), ``/vsis3/`` for S3, local as is."""
    if href.startswith("/vsi"):
        return href
    u = urlparse(href)
    if u.scheme in {"http", "https"}:
        return f"/vsicurl/{href}"
    if u.scheme == "s3":
        return f"/vsis3/{u.netloc}{u.path}"
    if u.scheme == "file":
        return unquote(u.path)
    return href


def s3_gdal_options(where: str = "s3 data") -> dict[str, str]:
    """GDAL settings for ``/vsis3/`` from the standard AWS environment variables.

    Raises :class:`CredentialsError` naming the variables to set when no credentials are
    configured.  The returned options never contain secrets.
    """
    env = os.environ
    opts: dict[str, str] = {}
    if env.get("AWS_NO_SIGN_REQUEST", "").upper() in {"YES", "TRUE", "1"}:
        opts["AWS_NO_SIGN_REQUEST"] = "YES"
    elif not (env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")):
        creds_file = Path(env.get("AWS_SHARED_CREDENTIALS_FILE", Path.home() / ".aws" / "credentials"))
        if not (env.get("AWS_PROFILE") and creds_file.is_file()):
            missing = [v for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(v)]
            raise CredentialsError(
                f"{where} needs S3 credentials but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_S3_ENDPOINT or AWS_ENDPOINT_URL "
                "for a store other than AWS), or AWS_NO_SIGN_REQUEST=YES for a public bucket",
            )
    endpoint = env.get("AWS_S3_ENDPOINT") or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        u = urlparse(endpoint if "://" in endpoint else f"//{endpoint}")
        opts["AWS_S3_ENDPOINT"] = u.netloc + u.path.rstrip("/")
        if u.scheme == "http" or env.get("AWS_HTTPS", "").upper() == "NO":
            opts["AWS_HTTPS"] = "NO"
        opts["AWS_VIRTUAL_HOSTING"] = env.get("AWS_VIRTUAL_HOSTING", "FALSE")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        opts["AWS_REGION"] = region
    return opts


def gdal_options(paths: Iterable[str]) -> dict[str, str]:
    """GDAL settings for reading ``paths`` (already through :func:`gdal_path`); {} when all are local."""
    paths = list(paths)
    remote = [p for p in paths if p.startswith(("/vsicurl/", "/vsis3/"))]
    if not remote:
        return {}
    retries, backoff = retry_settings()
    opts = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no directory listing per file opened
        "GDAL_HTTP_MAX_RETRY": str(retries),  # 429/5xx/timeouts retried, delay doubling
        "GDAL_HTTP_RETRY_DELAY": f"{backoff:g}",
        "GDAL_HTTP_TIMEOUT": "60",
        "VSI_CACHE": "TRUE",
        "GDAL_HTTP_MULTIRANGE": "SINGLE_GET",
    }
    s3 = [p for p in remote if p.startswith("/vsis3/")]
    if s3:
        opts.update(s3_gdal_options("s3://" + s3[0][len("/vsis3/"):]))
    return opts


def retry_settings() -> tuple[int, float]:
    """(retries, first backoff delay in s) for HTTP: 4 and 0.5, or ``S2SR_HTTP_RETRIES`` / ``S2SR_HTTP_BACKOFF``."""
    return int(os.environ.get("S2SR_HTTP_RETRIES", "4")), float(os.environ.get("S2SR_HTTP_BACKOFF", "0.5"))


def fetch_json(
    url: str, *, retries: int | None = None, backoff: float | None = None, timeout: float = 30.0
) -> dict[str, Any]:
    """GET ``url`` as JSON, retrying 5xx/429 answers, connection errors and timeouts with backoff.

    Defaults: 4 retries, delays 0.5, 1, 2, 4 s (``S2SR_HTTP_RETRIES`` / ``S2SR_HTTP_BACKOFF`` override).
    """
    import requests

    d_retries, d_backoff = retry_settings()
    retries = d_retries if retries is None else retries
    backoff = d_backoff if backoff is None else backoff

    if urlparse(url).scheme == "s3":
        raise RemoteError(f"{url}: give STAC items over HTTP(S) or as a local file", hint="s3:// is used for band hrefs")
    last = ""
    for attempt in range(retries + 1):
        try:
            resp = requests.get(url, timeout=timeout, headers={"Accept": "application/geo+json, application/json"})
        except requests.Timeout:
            last = f"timed out after {timeout:g} s"
        except requests.ConnectionError:
            last = "cannot connect"
        else:
            if resp.status_code in RETRY_STATUSES:
                last = f"HTTP {resp.status_code}"
            elif resp.status_code >= 400:
                raise RemoteError(f"{url} answered HTTP {resp.status_code}", hint="check the URL")
            else:
                try:
                    return json.loads(resp.content)
                except ValueError:
                    raise RemoteError(f"{url} did not return JSON", hint="give the URL of a STAC item") from None
        if attempt < retries:
            delay = backoff * 2**attempt
            log.info("%s: %s; retrying in %.1f s (%d/%d)", url, last, delay, attempt + 1, retries)
            time.sleep(delay)
    raise RemoteError(f"{url} is unreachable after {retries + 1} attempts ({last})",
                      hint="check the URL and the network, then retry")
