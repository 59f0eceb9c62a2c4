"""AWS / S3 settings: the one place that reads the standard AWS environment.

Both sides of s2sr talk to S3: products read bands through GDAL (``/vsis3/``), outputs
write through s3fs (:mod:`s2sr.outputs.store`).  Both take their settings from here, so
one set of variables configures both:

==========================  =====================================================
``AWS_ACCESS_KEY_ID``,      the keys (with ``AWS_SESSION_TOKEN`` for temporary ones);
``AWS_SECRET_ACCESS_KEY``   or ``AWS_PROFILE`` with ``~/.aws/credentials``
                            (``AWS_SHARED_CREDENTIALS_FILE``)
``AWS_S3_ENDPOINT``,        an S3-compatible store other than AWS (first one set wins;
``AWS_ENDPOINT_URL_S3``,    ``AWS_S3_ENDPOINT`` may be ``host:port``, then ``AWS_HTTPS=NO``
``AWS_ENDPOINT_URL``        means plain HTTP)
``AWS_REGION``,             the region
``AWS_DEFAULT_REGION``
``AWS_NO_SIGN_REQUEST``     ``YES``: read public buckets without credentials (GDAL side)
==========================  =====================================================

Secrets are never returned, logged or printed: GDAL and botocore read the keys from the
environment themselves; what is built here holds only endpoints, regions and switches.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlsplit, urlunsplit

from ..errors import CredentialsError

#: The credential variables, as every hint names them (never their values).
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN for temporary keys; "
    "or AWS_PROFILE with ~/.aws/credentials or AWS_SHARED_CREDENTIALS_FILE)"
)
#: How to point at a store other than AWS.
ENDPOINT_VARIABLES = "AWS_ENDPOINT_URL (or AWS_S3_ENDPOINT)"
_TRUE = {"YES", "TRUE", "1"}


def credentials_hint(verb: str = "set", *, public_read: bool = False) -> str:
    """The one wording of "what to do about S3 credentials", e.g. ``set AWS_ACCESS_KEY_ID and …``.

    ``public_read``: also mention ``AWS_NO_SIGN_REQUEST`` (reading public buckets).
    """
    text = f"{verb} {CREDENTIAL_VARIABLES}, and {ENDPOINT_VARIABLES} for a store other than AWS"
    if public_read:
        text += "; or AWS_NO_SIGN_REQUEST=YES for a public bucket"
    return text


#: query parameters that carry credentials (presigned S3/GCS URLs, Azure SAS, API keys, tokens)
_CREDENTIAL_PARAMS = re.compile(
    r"^(x-amz-(signature|credential|security-token)|x-goog-(signature|credential)|signature|sig|token|"
    r"access_token|id_token|api[-_]?key|key|password|passwd|secret|auth|authorization|se|sp|sv|skoid|sktid)$",
    re.IGNORECASE,
)


#: A URL inside any text (an error message, a log line, a GDAL path such as ``/vsicurl/URL``).
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_url(text: str) -> str:
    """``text`` — a URL, or any text holding URLs — without credentials: the one redaction of
    secrets that ride in URLs (no ``user:password@``, no signature, token or key query
    parameters), for errors, logs, tracebacks and STAC documents alike."""
    return _URL_IN_TEXT.sub(lambda m: _redact_one(m.group(0)), str(text))


def _redact_one(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL after all (e.g. an unbalanced "[" in a message)
        return re.sub(r"://[^/@]+@", "://", url)
    netloc = parts.netloc
    if parts.username or parts.password:
        netloc = netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _CREDENTIAL_PARAMS.match(k)]
        query = urlencode(kept)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@dataclass(frozen=True)
class S3Settings:
    """The non-secret S3 settings found in the environment."""

    endpoint: str | None = None  #: endpoint URL with its scheme (``http://127.0.0.1:8333``), None: AWS
    region: str | None = None
    no_sign_request: bool = False  #: read public buckets anonymously
    has_keys: bool = False  #: both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set
    has_profile: bool = False  #: AWS_PROFILE is set and its credentials file exists
    virtual_hosting: str = "FALSE"  #: GDAL's AWS_VIRTUAL_HOSTING for a custom endpoint

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, endpoint: str | None = None) -> S3Settings:
        """Settings from ``env`` (default: ``os.environ``); ``endpoint`` overrides the variables."""
        env = os.environ if env is None else env
        creds_file = Path(env.get("AWS_SHARED_CREDENTIALS_FILE", Path.home() / ".aws" / "credentials"))
        return cls(
            endpoint=_endpoint_url(endpoint, env),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            no_sign_request=env.get("AWS_NO_SIGN_REQUEST", "").upper() in _TRUE,
            has_keys=bool(env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")),
            has_profile=bool(env.get("AWS_PROFILE")) and creds_file.is_file(),
            virtual_hosting=env.get("AWS_VIRTUAL_HOSTING", "FALSE"),
        )

    def describe_endpoint(self) -> str:
        """The endpoint for messages (no user:password part)."""
        return redact_url(self.endpoint) if self.endpoint else "the default AWS S3 endpoint"


def _endpoint_url(override: str | None, env: Mapping[str, str]) -> str | None:
    """The endpoint URL, scheme included: ``override``, else the first endpoint variable set."""
    if override:
        return override if "://" in override else f"http://{override}"
    gdal_style = env.get("AWS_S3_ENDPOINT")
    if gdal_style:
        if "://" in gdal_style:
            return gdal_style
        scheme = "http" if env.get("AWS_HTTPS", "").upper() == "NO" else "https"
        return f"{scheme}://{gdal_style}"
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def missing_credentials_error(where: str, env: Mapping[str, str] | None = None) -> CredentialsError:
    """The error for S3 access without credentials: which variables are not set, what to do."""
    env = os.environ if env is None else env
    missing = [v for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(v)]
    verb = "is" if len(missing) == 1 else "are"
    return CredentialsError(
        f"{where} needs S3 credentials but {' and '.join(missing)} {verb} not set",
        hint=credentials_hint(public_read=True),
    )


def s3_gdal_options(where: str = "s3 data") -> dict[str, str]:
    """GDAL settings for ``/vsis3/`` from the standard AWS environment variables.

    Raises :class:`CredentialsError` naming the variables to set when no credentials are
    configured (``where`` says what needed them).  The returned options never contain secrets.
    """
    s = S3Settings.from_env()
    opts: dict[str, str] = {}
    if s.no_sign_request:
        opts["AWS_NO_SIGN_REQUEST"] = "YES"
    elif not (s.has_keys or s.has_profile):
        raise missing_credentials_error(where)
    if s.endpoint:
        u = urlparse(s.endpoint)
        opts["AWS_S3_ENDPOINT"] = u.netloc + u.path.rstrip("/")
        if u.scheme == "http" or os.environ.get("AWS_HTTPS", "").upper() == "NO":
            opts["AWS_HTTPS"] = "NO"
        opts["AWS_VIRTUAL_HOSTING"] = s.virtual_hosting
    if s.region:
        opts["AWS_REGION"] = s.region
    return opts


def s3fs_options(endpoint: str | None = None) -> dict[str, Any]:
    """fsspec storage options for ``s3fs.S3FileSystem`` (endpoint, region, retries, timeouts).

    ``endpoint`` overrides the endpoint variables.  Keys are left to botocore, which reads
    the same variables (or the profile) itself.
    """
    s = S3Settings.from_env(endpoint=endpoint)
    client_kwargs: dict[str, Any] = {}
    if s.endpoint:
        client_kwargs["endpoint_url"] = s.endpoint
    if s.region:
        client_kwargs["region_name"] = s.region
    return {
        "client_kwargs": client_kwargs,
        "config_kwargs": {"retries": {"max_attempts": 3, "mode": "standard"}, "connect_timeout": 10,
                          "read_timeout": 60},
    }
