"""The one remote layer, shared by products (reading) and outputs (writing).

- :mod:`.aws`: the AWS / S3 settings from the standard environment, and the one wording of
  the credential hints;
- :mod:`.gdal`: hrefs ⇄ GDAL paths (``/vsicurl/``, ``/vsis3/`` …) and GDAL's read settings;
- :mod:`.http`: HTTP with retries, backoff and timeouts (``S2SR_HTTP_RETRIES`` / ``S2SR_HTTP_BACKOFF``).
"""

from __future__ import annotations

from .aws import S3Settings, credentials_hint, redact_url, s3_gdal_options, s3fs_options
from .gdal import gdal_options, gdal_path, href_from_gdal_path, is_url
from .http import fetch_json, http_timeout, retry_policy, retry_settings, session

__all__ = [
    "S3Settings", "credentials_hint", "fetch_json", "gdal_options", "gdal_path", "href_from_gdal_path", "http_timeout", "is_url",
    "redact_url", "retry_policy", "retry_settings", "s3_gdal_options", "s3fs_options", "session",
]
