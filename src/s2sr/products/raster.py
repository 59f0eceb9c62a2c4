"""Opening band files with GDAL: a band's grid from its header, and one clear error when
a file cannot be opened (S3 refusals name the variables to check, never their values)."""

from __future__ import annotations

import rasterio
from rasterio.errors import RasterioIOError

from ..errors import CredentialsError, InputError, ProductError, RemoteError
from ..grid import Grid
from ..remote.aws import credentials_hint, redact_url
from ..remote.gdal import gdal_options
from ..remote.http import http_timeout, retry_settings


def grid_of(href: str) -> Grid:
    """The grid of the raster at ``href`` (a GDAL path), read from its header only."""
    try:
        with rasterio.Env(**gdal_options([href])), rasterio.open(href) as ds:
            return Grid(ds.crs, ds.transform, ds.width, ds.height)
    except RasterioIOError as exc:
        raise open_error(href, exc, f"band file {href} cannot be read") from None


def open_error(href: str, exc: Exception, what: str) -> InputError:
    """One clear error for a band that GDAL cannot open (S3 refusals name the variables to check)."""
    text = redact_url(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
    what, href = redact_url(what), redact_url(href)
    denied = ("403", "Access Denied", "AccessDenied", "InvalidAccessKeyId", "signature", "SignatureDoesNotMatch")
    if href.startswith("/vsis3/") and any(d in text for d in denied):
        return CredentialsError(f"{what}: access denied (HTTP 403) by the S3 store", hint=credentials_hint("check"))
    if href.startswith(("/vsicurl/", "/vsis3/")) and ("timed out" in text.lower() or "timeout" in text.lower()):
        retries, _ = retry_settings()
        return RemoteError(
            f"{what}: the server timed out (no answer within {http_timeout():g} s, {retries + 1} attempts)",
            hint="check the server, or raise S2SR_HTTP_TIMEOUT / S2SR_HTTP_RETRIES (README: Failure behaviour)",
        )
    return ProductError(f"{what} ({href})" if href not in what else what, hint=text)
