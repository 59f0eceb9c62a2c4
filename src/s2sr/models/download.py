"""Resumable, verified, atomic downloads (HTTP(S) with Range; ``file://`` copies).

The file grows as ``DEST.part``; after a dropped connection the next attempt asks for the
rest with ``Range: bytes=N-`` (a server that ignores Range restarts it from zero).  Once
complete, its checksum is checked: a mismatch deletes it, a match renames it to ``DEST``.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..hashing import file_sha256, git_blob_sha1

log = logging.getLogger(__name__)

_CHUNK = 1 << 16


class DownloadError(Exception):
    """A download failed (``corrupt``: it completed but its checksum did not match)."""

    def __init__(self, reason: str, *, corrupt: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.corrupt = corrupt


class _Bar:
    def __init__(self, desc: str, total: int | None, initial: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                         disable=None, leave=False)

    def update(self, n: int) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def _attempt(url: str, part: Path, timeout: float, progress: bool) -> None:
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "s2sr", "Accept-Encoding": "identity"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the .part is complete
            return
        raise
    with resp:
        status = getattr(resp, "status", 200)
        if have and status != 206:
            log.info("%s: server ignored the Range request; downloading from the start", url)
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        bar = _Bar(part.name.removesuffix(".part"), total, have) if progress else None
        try:
            with open(part, "ab" if have else "wb") as out:
                got = 0
                while True:
                    chunk = resp.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    got += len(chunk)
                    if bar:
                        bar.update(len(chunk))
        finally:
            if bar:
                bar.close()
        if length and length.isdigit() and got < int(length):
            raise http.client.IncompleteRead(b"", int(length) - got)


def download(
    url: str,
    dest: str | Path,
    *,
    expected_blob_sha1: str | None = None,
    expected_sha256: str | None = None,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` atomically, resuming a previous ``.part``; verify; return ``dest``.

    A transfer that drops after some progress is resumed up to ``retries`` times.  Raises
    :class:`DownloadError` when the server cannot be reached or the retries are spent (the
    ``.part`` is kept for the next call) or the checksum does not match
    (the ``.part`` is deleted).
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    scheme = urllib.parse.urlparse(url).scheme
    if scheme in ("", "file"):
        src = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)) if scheme else Path(url)
        try:
            shutil.copyfile(src, part)
        except OSError as exc:
            raise DownloadError(f"{type(exc).__name__}: {exc.strerror or exc}") from None
    else:
        attempt = 0
        while True:
            before = part.stat().st_size if part.exists() else 0
            try:
                _attempt(url, part, timeout, progress)
                break
            except urllib.error.HTTPError as exc:
                raise DownloadError(f"HTTP {exc.code} {exc.reason}") from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", None) or exc
                attempt += 1
                have = part.stat().st_size if part.exists() else 0
                # Resume only after progress (a dropped transfer); an unreachable server fails at once.
                if attempt > retries or have <= before:
                    raise DownloadError(f"{type(exc).__name__}: {reason}") from None
                log.info("%s: interrupted after %d bytes (%s); resuming (%d/%d)", url, have, reason, attempt, retries)
                time.sleep(min(0.2 * attempt, 2.0))
    for expected, fn, label in (
        (expected_blob_sha1, git_blob_sha1, "git blob SHA-1"),
        (expected_sha256, file_sha256, "SHA-256"),
    ):
        if expected:
            got = fn(part)
            if got != expected.lower():
                part.unlink(missing_ok=True)
                raise DownloadError(f"{label} {got}, expected {expected}", corrupt=True)
    os.replace(part, dest)
    return dest
