"""File digests: SHA-256 (model provenance, STAC ``file:checksum``), SHA-1, and git blob SHA-1
(the zoo pins upstream files by it).  Reads files in 1 MiB chunks; imports nothing heavy."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def _digest(path: str | Path, h: hashlib._Hash) -> str:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, hex encoded."""
    return _digest(path, hashlib.sha256())


def file_sha1(path: str | Path) -> str:
    """The SHA-1 of a file, hex encoded."""
    return _digest(path, hashlib.sha1())


def git_blob_sha1(path: str | Path) -> str:
    """The git blob SHA-1 of a file: ``sha1(b"blob %d\\0" % size + data)`` (what ``git hash-object`` prints)."""
    return _digest(path, hashlib.sha1(b"blob %d\0" % Path(path).stat().st_size))
