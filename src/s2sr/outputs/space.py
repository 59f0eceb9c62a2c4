"""Telling "no space left" apart from other write failures.

GDAL and libtiff report a full disk as a generic write error ("TIFFAppendToStrip: Write
error"; the "No space left on device" text goes to stderr, not into the exception), so after a
failed write the filesystem itself is asked: no free inode, or almost no free byte, means the
failure was the space.  Python's own ``OSError`` says so directly (``ENOSPC``, ``EDQUOT``).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ..errors import ProcessingError

#: Below this many free bytes a failed write is put down to the space.
LOW_SPACE_BYTES = 64 << 20
#: Below this many free bytes after a write that reported no error, the write is taken as cut short.
FULL_BYTES = 256 << 10
_NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def out_of_space(path: str | Path, low: int = LOW_SPACE_BYTES) -> str | None:
    """Why the filesystem holding ``path`` cannot take more ("12 kB free", "no free inode"), or None
    (below ``low`` free bytes counts as full)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except OSError:
        return None
    if st.f_files and st.f_favail == 0:
        return "no free inode"
    free = st.f_bavail * st.f_frsize
    if free < low:
        return f"{free // 1024} kB free"
    return None


def is_no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _NO_SPACE_ERRNOS


def no_space_error(
    path: str | Path, exc: BaseException | None = None, low: int = LOW_SPACE_BYTES
) -> ProcessingError | None:
    """A one-line "no space left" error for a failed write under ``path``, or None if space is not why."""
    why = out_of_space(path, low)
    if why is None and not (exc is not None and is_no_space(exc)):
        return None
    return ProcessingError(
        f"no space left on device writing {path}" + (f" ({why})" if why else ""),
        hint="free space (or inodes) there, or choose another destination, then rerun: nothing was published",
    )
