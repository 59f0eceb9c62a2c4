"""HTTP with retries, backoff and timeouts: one policy for every request s2sr makes.

The policy: up to ``S2SR_HTTP_RETRIES`` retries (default 4) of connection errors,
timeouts and answers 429/500/502/503/504, the delay doubling from ``S2SR_HTTP_BACKOFF``
seconds (default 0.5); every request may stall at most ``S2SR_HTTP_TIMEOUT`` seconds
(default 20) to connect or between two reads.  GDAL's reads get the same numbers
(:func:`s2sr.remote.gdal.gdal_options`).

- :func:`fetch_json`: GET one JSON document (a STAC item), each retry logged, then one clear error;
- :func:`retry_policy`: the policy as a :class:`urllib3.util.retry.Retry` (for clients that take
  one, e.g. pystac-client's ``StacApiIO``);
- :func:`session`: a :class:`requests.Session` that applies the policy and a default timeout.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..errors import RemoteError, UserError
from .aws import redact_url

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying (server-side or throttling).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Seconds a request may take (to connect, then between two reads) unless ``S2SR_HTTP_TIMEOUT`` says otherwise.
DEFAULT_TIMEOUT = 20.0
DEFAULT_RETRIES = 4
DEFAULT_BACKOFF = 0.5


def retry_settings() -> tuple[int, float]:
    """(retries, first backoff delay in s) for HTTP: 4 and 0.5, or ``S2SR_HTTP_RETRIES`` / ``S2SR_HTTP_BACKOFF``."""
    return (int(_env_number("S2SR_HTTP_RETRIES", DEFAULT_RETRIES)),
            _env_number("S2SR_HTTP_BACKOFF", DEFAULT_BACKOFF))


def http_timeout() -> float:
    """Seconds one HTTP request may stall (connect, or wait for data): 20, or ``S2SR_HTTP_TIMEOUT``.

    With the retries, a server that stalls for good fails after at most
    ``(retries + 1) × timeout + backoff × (2^retries − 1)`` seconds: 107.5 s by default.
    """
    return _env_number("S2SR_HTTP_TIMEOUT", DEFAULT_TIMEOUT)


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{name}={text!r} is not a number", hint=f"unset it (default {default:g}) or give a number")
    if value < 0 or (name == "S2SR_HTTP_TIMEOUT" and value == 0):
        raise UserError(f"{name}={text!r} is out of range", hint=f"unset it (default {default:g}) or give a positive number")
    return value


def retry_policy(retries: int | None = None, backoff: float | None = None) -> Retry:
    """The retry policy as urllib3 applies it (any method; the last answer returned, not raised)."""
    d_retries, d_backoff = retry_settings()
    return Retry(
        total=d_retries if retries is None else retries,
        backoff_factor=d_backoff if backoff is None else backoff,
        status_forcelist=sorted(RETRY_STATUSES),
        allowed_methods=None,
        raise_on_status=False,
    )


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


def session(*, retries: int | None = None, backoff: float | None = None,
            timeout: float | None = None) -> requests.Session:
    """A :class:`requests.Session` retrying per :func:`retry_policy`, with a default ``timeout``
    (:func:`http_timeout`)."""
    s = _TimeoutSession(http_timeout() if timeout is None else timeout)
    adapter = HTTPAdapter(max_retries=retry_policy(retries, backoff))
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def fetch_json(
    url: str, *, retries: int | None = None, backoff: float | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """GET ``url`` as JSON, retrying 5xx/429 answers, connection errors and timeouts with backoff.

    Defaults: 4 retries, delays 0.5, 1, 2, 4 s (``S2SR_HTTP_RETRIES`` / ``S2SR_HTTP_BACKOFF`` override).
    Each retry is logged; the error after the last one says how many attempts were made and why
    the last failed.
    """
    d_retries, d_backoff = retry_settings()
    retries = d_retries if retries is None else retries
    backoff = d_backoff if backoff is None else backoff
    timeout = http_timeout() if timeout is None else timeout

    if urlparse(url).scheme == "s3":
        raise RemoteError(f"{url}: give STAC items over HTTP(S) or as a local file",
                          hint="s3:// is used for band hrefs")
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
                raise RemoteError(f"{redact_url(url)} answered HTTP {resp.status_code}", hint="check the URL")
            else:
                try:
                    return json.loads(resp.content)
                except ValueError:
                    raise RemoteError(f"{redact_url(url)} did not return JSON",
                                      hint="give the URL of a STAC item") from None
        if attempt < retries:
            delay = backoff * 2**attempt
            log.info("%s: %s; retrying in %.1f s (%d/%d)", redact_url(url), last, delay, attempt + 1, retries)
            time.sleep(delay)
    if last.startswith("timed out"):
        raise RemoteError(
            f"{redact_url(url)} timed out: no answer within {timeout:g} s, {retries + 1} attempts",
            hint="check the server, or raise S2SR_HTTP_TIMEOUT / S2SR_HTTP_RETRIES (README: Failure behaviour)",
        )
    raise RemoteError(f"{redact_url(url)} is unreachable after {retries + 1} attempts ({last})",
                      hint="check the URL and the network, then retry")
