"""Destinations: any fsspec URL (a local folder, ``s3://bucket/prefix``, ``memory://…``).

A :class:`Store` is a destination root plus the few operations publishing needs, each
atomic where the storage allows it:

- :meth:`Store.put_file` / :meth:`Store.put_bytes`: an object appears whole or not at all
  (local: temporary name then ``os.replace``; object stores: one PUT or a multipart upload,
  which S3 makes visible only when it completes).
- :meth:`Store.read_versioned` / :meth:`Store.write_if_unchanged`: compare-and-swap for the
  collection document (S3: ``If-Match`` / ``If-None-Match``; local: a lock file; other
  filesystems: re-read and compare, best effort).
- :meth:`Store.remove_stray`: delete everything under an item's prefix (objects left by an
  interrupted run, unfinished S3 multipart uploads).

S3 endpoint, region and credentials come from the standard AWS environment variables /
profile, read in one place for reads and writes alike (:mod:`s2sr.remote.aws`);
``s3_endpoint`` overrides the endpoint.  No credential value is ever logged or put in an
error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

import fsspec

from ..errors import OutputError, ProcessingError
from ..remote.aws import CREDENTIAL_VARIABLES, S3Settings, credentials_hint, redact_url, s3fs_options
from .space import is_no_space, no_space_error
from .staging import STAGING_DIR, staging_dir

log = logging.getLogger(__name__)

_CRED_CODES = {
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
    "AuthorizationHeaderMalformed", "InvalidClientTokenId", "TokenRefreshRequired",
}
_TRANSIENT_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "500", "502", "503", "504"}
_CAS_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
_LOCAL_PROTOCOLS = {"file", "local"}


def _s3_code(exc: BaseException) -> str | None:
    """The S3 error code (``NoSuchBucket`` …) behind an s3fs/botocore exception, if any."""
    for e in (exc, exc.__cause__, exc.__context__):
        resp = getattr(e, "response", None)
        if isinstance(resp, dict):
            code = resp.get("Error", {}).get("Code")
            if code:
                return str(code)
    return None


def _is_connection_error(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None}
    markers = ("Connect", "Connection", "Timeout", "EndpointConnectionError", "ServerDisconnected", "ClientPayload",
               "ReadTimeout", "ResponseStreamingError", "IncompleteRead", "ProtocolError")
    return any(m in n for n in names for m in markers) or isinstance(exc, ConnectionError | TimeoutError)


class Store:
    """A destination root (an fsspec URL) and atomic operations on keys below it."""

    def __init__(self, url: str, *, s3_endpoint: str | None = None, create_bucket: bool = False) -> None:
        self.url_given = url
        self.create_bucket = create_bucket
        self.s3_endpoint = s3_endpoint
        text = str(url)
        protocol = text.split("://", 1)[0].lower() if "://" in text else "file"
        self.protocol = protocol
        self.display = redact_url(text)
        try:
            cls = fsspec.get_filesystem_class(protocol)
        except ValueError:
            raise OutputError(
                f"unknown destination scheme '{protocol}://' in {self.display}",
                hint="use a local folder, s3://bucket/prefix, or another URL fsspec supports",
            ) from None
        except ImportError as exc:
            raise OutputError(
                f"destination {self.display} needs a package that is not installed: {exc}",
                hint=f"install the fsspec implementation for '{protocol}://'",
            ) from None
        del cls
        if protocol in _LOCAL_PROTOCOLS:
            path = text.split("://", 1)[1] if "://" in text else text
            self.root = str(Path(path).expanduser().absolute()).rstrip("/") or "/"
            self.fs: Any = fsspec.filesystem("file")
        elif protocol in {"s3", "s3a"}:
            self.fs = _s3_filesystem(s3_endpoint)
            self.root = text.split("://", 1)[1].strip("/")
            if not self.root:
                raise OutputError(f"destination {self.display} names no bucket", hint="use s3://bucket/prefix")
            self.protocol = "s3"
        else:
            try:
                self.fs, root = fsspec.core.url_to_fs(text)
            except Exception as exc:  # noqa: BLE001 - any failure to build the filesystem is bad input
                raise OutputError(f"cannot open destination {self.display}: {type(exc).__name__}") from None
            self.root = str(root).rstrip("/")

    # -- names ---------------------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        return self.protocol in _LOCAL_PROTOCOLS

    @property
    def bucket(self) -> str:
        return self.root.split("/", 1)[0]

    def path(self, key: str) -> str:
        """The filesystem path of ``key`` (relative to the root, ``/``-separated)."""
        key = key.strip("/")
        return f"{self.root}/{key}" if key else self.root

    def url(self, key: str) -> str:
        """The public URL of ``key``: a local absolute path, or ``scheme://…``."""
        p = self.path(key)
        if self.is_local:
            return p
        if self.protocol == "s3":
            return f"s3://{p}"
        return str(self.fs.unstrip_protocol(p))

    # -- checks ----------------------------------------------------------------------------
    def check(self) -> None:
        """Fail early (one clear :class:`OutputError`) if the destination cannot be written."""
        if self.is_local:
            from .cog import check_writable_dir

            check_writable_dir(self.root)
            return
        if self.protocol == "s3":
            self._check_bucket()
        probe = f".s2sr-write-test-{uuid.uuid4().hex[:8]}"
        try:
            self.fs.pipe_file(self.path(probe), b"")
            self.fs.rm_file(self.path(probe))
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "writing a test object") from None

    def _check_bucket(self) -> None:
        try:
            self.fs.call_s3("list_objects_v2", Bucket=self.bucket, MaxKeys=1)
            return
        except Exception as exc:  # noqa: BLE001
            if _s3_code(exc) != "NoSuchBucket":
                raise self._error(exc, "checking the bucket") from None
        if not self.create_bucket:
            raise OutputError(
                f"bucket '{self.bucket}' does not exist at {self._endpoint_text()}",
                hint="create it first, or pass --create-bucket",
            )
        try:
            region = S3Settings.from_env().region
            where = {"CreateBucketConfiguration": {"LocationConstraint": region}} if region not in {None, "", "us-east-1"} else {}
            self.fs.call_s3("create_bucket", Bucket=self.bucket, **where)
            self.fs.invalidate_cache()
            log.info("created bucket %s", self.bucket)
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"creating bucket '{self.bucket}'") from None

    def _endpoint_text(self) -> str:
        return S3Settings.from_env(endpoint=self.s3_endpoint).describe_endpoint()

    def _error(self, exc: BaseException, action: str) -> Exception:
        """One clear error for a storage failure; never includes credential values."""
        code = _s3_code(exc)
        where = self.display
        if code in _CRED_CODES:
            return OutputError(
                f"the object store refused the credentials ({code}) while {action} at {where}",
                hint=credentials_hint("check"),
            )
        if code == "NoSuchBucket":
            return OutputError(f"bucket '{self.bucket}' does not exist", hint="create it first, or pass --create-bucket")
        if code in {"AccessDenied", "AllAccessDisabled"} or isinstance(exc, PermissionError):
            return OutputError(
                f"destination {where} cannot be written: access denied while {action}",
                hint=f"use credentials with write access ({CREDENTIAL_VARIABLES}) or another destination",
            )
        if type(exc).__name__ in {"NoCredentialsError", "PartialCredentialsError"} or type(
            exc.__cause__
        ).__name__ in {"NoCredentialsError", "PartialCredentialsError"}:
            return OutputError(f"no credentials found for {where}", hint=credentials_hint("set"))
        if _is_connection_error(exc):
            return ProcessingError(
                f"lost the connection to the object store ({self._endpoint_text()}) while {action} at {where}",
                hint="check that it is reachable, then rerun: finished items are skipped, partial uploads removed",
            )
        if code:
            return ProcessingError(f"the object store answered {code} while {action} at {where}")
        if self.is_local and is_no_space(exc):
            return no_space_error(self.root, exc) or ProcessingError(f"no space left on device at {where}")
        if isinstance(exc, OSError) and exc.strerror:
            return OutputError(f"destination {where} cannot be written: {exc.strerror} while {action}")
        return ProcessingError(f"{action} at {where} failed: {type(exc).__name__}")

    # -- reads -----------------------------------------------------------------------------
    def read_bytes(self, key: str) -> bytes | None:
        """The object at ``key``, or None if there is none."""
        return self.read_versioned(key)[0]

    def read_versioned(self, key: str) -> tuple[bytes | None, str | None]:
        """The object at ``key`` and a version token for :meth:`write_if_unchanged`."""
        path = self.path(key)
        try:
            if self.protocol == "s3":
                bucket, k = path.split("/", 1)
                # version first, content second: a newer content than the token only makes
                # the conditional write fail (and retry), never lose an update
                try:
                    head = self.fs.call_s3("head_object", Bucket=bucket, Key=k)
                except FileNotFoundError:
                    return None, None
                self.fs.invalidate_cache(path)
                try:
                    return self.fs.cat_file(path), head.get("ETag")
                except FileNotFoundError:
                    return None, None
            if not self.fs.exists(path):
                return None, None
            data = self.fs.cat_file(path)
            return data, hashlib.sha256(data).hexdigest()
        except (OutputError, ProcessingError):
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"reading {key}") from None

    def item_keys(self, folder: str) -> list[str]:
        """The keys ``FOLDER/ID/ID.json`` (the STAC items of a collection folder)."""
        base = self.path(folder)
        try:
            self.fs.invalidate_cache(base)
            found = self.fs.glob(f"{base}/*/*.json")
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"listing the items under {folder}") from None
        keys = []
        for f in found:
            parts = str(f).rstrip("/").rsplit("/", 2)
            if len(parts) == 3 and parts[2] == f"{parts[1]}.json":
                keys.append(f"{folder.strip('/')}/{parts[1]}/{parts[2]}")
        return sorted(keys)

    def exists(self, key: str) -> bool:
        try:
            return bool(self.fs.exists(self.path(key)))
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"looking for {key}") from None

    # -- writes ----------------------------------------------------------------------------
    def put_file(self, local: str | Path, key: str) -> None:
        """Publish the local file at ``key``, atomically (whole object or nothing)."""
        dest = self.path(key)
        try:
            if self.is_local:
                Path(dest).parent.mkdir(parents=True, exist_ok=True)
                if _same_device(local, Path(dest).parent):
                    os.replace(local, dest)  # staging is inside the destination: a rename
                    return
                tmp = Path(f"{dest}.{uuid.uuid4().hex[:8]}.s2sr-tmp")
                try:
                    shutil.copyfile(local, tmp)
                    os.replace(tmp, dest)
                finally:
                    tmp.unlink(missing_ok=True)
                return
            self._retry_transient(lambda: self.fs.put_file(str(local), dest), key)
        except (OutputError, ProcessingError):
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"uploading {key}") from None

    def put_bytes(self, key: str, data: bytes) -> None:
        """Publish ``data`` at ``key``, atomically."""
        dest = self.path(key)
        try:
            if self.is_local:
                Path(dest).parent.mkdir(parents=True, exist_ok=True)
                tmp = Path(f"{dest}.{uuid.uuid4().hex[:8]}.s2sr-tmp")
                try:
                    tmp.write_bytes(data)
                    os.replace(tmp, dest)
                finally:
                    tmp.unlink(missing_ok=True)
                return
            self._retry_transient(lambda: self.fs.pipe_file(dest, data), key)
        except OSError as exc:
            if self.is_local:
                full = no_space_error(dest, exc) if is_no_space(exc) else None
                if full is not None:
                    raise full from None
                raise OutputError(f"destination {self.display} cannot be written: {exc.strerror}") from None
            raise self._error(exc, f"writing {key}") from None
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"writing {key}") from None

    def _retry_transient(self, fn: Any, key: str, delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)) -> None:
        """Run an upload, retrying when the store answers a transient server error (5xx:
        InternalError, ServiceUnavailable, SlowDown …) — as S3 asks clients to."""
        for delay in (*delays, None):
            try:
                fn()
                return
            except Exception as exc:
                if delay is None or _s3_code(exc) not in _TRANSIENT_CODES:
                    raise
                log.warning("the object store answered %s for %s; retrying in %g s", _s3_code(exc), key, delay)
                time.sleep(delay)

    def write_if_unchanged(self, key: str, data: bytes, token: str | None) -> bool:
        """Write ``data`` at ``key`` only if it is still at version ``token`` (None: absent).

        Returns False when another writer got there first (read again, merge, retry).
        """
        if self.protocol == "s3":
            bucket, k = self.path(key).split("/", 1)
            cond = {"IfMatch": token} if token else {"IfNoneMatch": "*"}
            try:
                self.fs.call_s3("put_object", Bucket=bucket, Key=k, Body=data, **cond)
                self.fs.invalidate_cache(self.path(key))
                return True
            except FileExistsError:
                return False
            except Exception as exc:  # noqa: BLE001
                code = _s3_code(exc)
                if code in _CAS_CONFLICT_CODES:
                    return False
                if code == "NoSuchKey" and token:
                    return False  # deleted since we read it
                if code not in {"NotImplemented", "InvalidArgument"}:
                    raise self._error(exc, f"writing {key}") from None
                log.debug("the store ignores conditional writes (%s); comparing by content", code)
        if self.is_local:
            folder = Path(self.path(key)).parent
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder, os.O_RDONLY)  # lock the folder itself: no lock file left behind
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if self.read_versioned(key)[1] != token:
                    return False
                self.put_bytes(key, data)
                return True
            finally:
                os.close(fd)  # releases the lock
        # best effort on filesystems without compare-and-swap
        if self.read_versioned(key)[1] != token and token is not None:
            return False
        self.put_bytes(key, data)
        return True

    def remove(self, key: str) -> None:
        """Delete the object at ``key`` if present."""
        try:
            if self.is_local:
                Path(self.path(key)).unlink(missing_ok=True)
            elif self.fs.exists(self.path(key)):
                self.fs.rm_file(self.path(key))
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"removing {key}") from None

    def copy(self, src: str, dest: str) -> None:
        """Copy the object at ``src`` to ``dest`` within the store (server-side on object stores)."""
        try:
            self._retry_transient(lambda: self.fs.copy(self.path(src), self.path(dest)), dest)
            self.fs.invalidate_cache(self.path(dest))
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"copying {src} to {dest}") from None

    def remove_stray(self, prefix: str, keep: Collection[str] = ()) -> int:
        """Delete every object under ``prefix`` but the keys in ``keep`` (and abort unfinished S3
        multipart uploads there)."""
        n = 0
        path = self.path(prefix)
        kept = {self.path(k) for k in keep}
        try:
            if self.protocol == "s3":
                bucket, k = path.split("/", 1)
                resp = self.fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=k.rstrip("/") + "/")
                for up in resp.get("Uploads", []) or []:
                    self.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
                    n += 1
            self.fs.invalidate_cache(path)
            if self.fs.exists(path):
                found = [f for f in self.fs.find(path) if f.rstrip("/") not in kept]
                if found:
                    n += len(found)
                    self.fs.rm(found)
                if self.is_local and not kept:
                    shutil.rmtree(path, ignore_errors=True)
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"removing leftovers under {prefix}") from None
        if n:
            log.info("removed %d leftover object(s) of an interrupted run under %s", n, self.url(prefix))
        return n

    # -- local staging ---------------------------------------------------------------------
    def staging(self) -> contextlib.AbstractContextManager[Path]:
        """A local folder for a run's files before they are published; removed afterwards.

        Local destinations stage inside the destination (so publishing is a rename);
        others in the system temporary folder.
        """
        parent = Path(self.root) / STAGING_DIR if self.is_local else Path(tempfile.gettempdir()) / "s2sr-staging"
        return staging_dir(parent)


def _same_device(a: str | Path, b: str | Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


class _DropOrphanedConnectionErrors(logging.Filter):
    """aiohttp leaves "Task exception was never retrieved" records behind when a connection
    drops mid-request; s3fs already turned the failure into our one-line error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Task exception was never retrieved"):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            fut = getattr(record, "future", None) or (record.args if isinstance(record.args, dict) else {}).get("future")
            exc = fut.exception() if fut is not None and fut.done() and not fut.cancelled() else None
        text = f"{record.getMessage()} {type(exc).__module__ if exc else ''}"
        return "aiohttp" not in text and not isinstance(exc, ConnectionError | OSError)


_ASYNCIO_FILTER = _DropOrphanedConnectionErrors()


def _s3_filesystem(endpoint: str | None) -> Any:
    try:
        import s3fs
    except ImportError:
        raise OutputError("s3:// destinations need s3fs", hint="pip install s3fs") from None
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3fs_options(endpoint))
    fs.retries = 2
    if _ASYNCIO_FILTER not in logging.getLogger("asyncio").filters:
        logging.getLogger("asyncio").addFilter(_ASYNCIO_FILTER)
    return fs
