"""HTTP with retries, backoff and timeouts: one policy for every request s2sr makes.

The policy: up to ``S2SR_HTTP_RETRIES`` retries (default 4) of connection errors,
timeouts and answers 429/500/502/503/504, the delay doubling from ``S2SR_HTTP_BACKOFF``
seconds (default 0.5); every request has a timeout.  GDAL's reads get the same numbers
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

from ..errors import RemoteError

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying (server-side or throttling).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Seconds a request may take (connect, then each read) unless told otherwise.
DEFAULT_TIMEOUT = 30.0


def retry_settings() -> tuple[int, float]:
    """(retries, first backoff delay in s) for HTTP: 4 and 0.5, or ``S2SR_HTTP_RETRIES`` / ``S2SR_HTTP_BACKOFF``."""
    return int(os.environ.get("S2SR_HTTP_RETRIES", "4")), float(os.environ.get("S2SR_HTTP_BACKOFF", "0.5"))


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
            timeout: float = DEFAULT_TIMEOUT) -> requests.Session:
    """A :class:`requests.Session` retrying per :func:`retry_policy`, with a default ``timeout``."""
    s = _TimeoutSession(timeout)
    adapter = HTTPAdapter(max_retries=retry_policy(retries, backoff))
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def fetch_json(
    url: str, *, retries: int | None = None, backoff: float | None = None, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """GET ``url`` as JSON, retrying 5xx/429 answers, connection errors and timeouts with backoff.

    Defaults: 4 retries, delays 0.5, 1, 2, 4 s (``S2SR_HTTP_RETRIES`` / ``S2SR_HTTP_BACKOFF`` override).
    Each retry is logged; the error after the last one says how many attempts were made and why
    the last failed.
    """
    d_retries, d_backoff = retry_settings()
    retries = d_retries if retries is None else retries
    backoff = d_backoff if backoff is None else backoff

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
