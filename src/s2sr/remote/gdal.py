"""Hrefs ⇄ GDAL paths, and the GDAL settings for reading remote files.

- :func:`gdal_path`: a local path, ``file://``, ``http(s)://`` or ``s3://`` href → what GDAL
  opens (``/vsicurl/…``, ``/vsis3/…``); pixels are then read by window with HTTP Range requests.
- :func:`href_from_gdal_path`: its inverse, for links that readers outside GDAL follow
  (``/vsis3/b/k`` → ``s3://b/k``, ``/vsicurl/URL`` → ``URL``, a relative path → an absolute one).
- :func:`gdal_options`: the GDAL settings for reading a set of paths (retries, no directory
  listing on open, S3 settings from :mod:`.aws` when needed).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlparse

from .aws import s3_gdal_options
from .http import http_timeout, retry_settings

#: GDAL virtual file system prefixes → URL schemes (the prefix is replaced by ``scheme://``).
_VSI_SCHEMES = {"/vsis3/": "s3", "/vsigs/": "gs"}
#: prefixes that wrap another path or URL (dropped by :func:`href_from_gdal_path`).
_VSI_WRAPPERS = ("/vsicurl/", "/vsizip/")


def is_url(text: str) -> bool:
    """True for the URL schemes s2sr reads: ``http``, ``https``, ``s3``, ``file``."""
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


def href_from_gdal_path(path: str) -> str:
    """The inverse of :func:`gdal_path`: a URL, or an absolute local path, that others can follow.

    ``/vsis3/b/k`` → ``s3://b/k`` (``/vsigs/`` → ``gs://``); ``/vsicurl/`` and ``/vsizip/``
    are unwrapped; a local path is made absolute; any other URL is returned as is.
    """
    for prefix, scheme in _VSI_SCHEMES.items():
        if path.startswith(prefix):
            return f"{scheme}://{path[len(prefix):]}"
    for prefix in _VSI_WRAPPERS:
        if path.startswith(prefix):
            return href_from_gdal_path(path[len(prefix):])
    if "://" not in path and not path.startswith("/vsi"):
        return str(Path(path).absolute())
    return path


def gdal_options(paths: Iterable[str]) -> dict[str, str]:
    """GDAL settings for reading ``paths`` (already through :func:`gdal_path`); {} when all are local."""
    remote = [p for p in paths if p.startswith(("/vsicurl/", "/vsis3/"))]
    if not remote:
        return {}
    retries, backoff = retry_settings()
    timeout = f"{http_timeout():g}"
    opts = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no directory listing per file opened
        "GDAL_HTTP_MAX_RETRY": str(retries),  # 429/5xx/timeouts retried, delay doubling
        "GDAL_HTTP_RETRY_DELAY": f"{backoff:g}",
        "GDAL_HTTP_TIMEOUT": timeout,  # S2SR_HTTP_TIMEOUT: the same budget as s2sr's own requests
        "GDAL_HTTP_CONNECTTIMEOUT": timeout,
        "VSI_CACHE": "TRUE",
        "GDAL_HTTP_MULTIRANGE": "SINGLE_GET",
    }
    s3 = [p for p in remote if p.startswith("/vsis3/")]
    if s3:
        opts.update(s3_gdal_options("s3://" + s3[0][len("/vsis3/"):]))
    return opts
