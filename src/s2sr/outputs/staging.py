"""Local staging folders: where a run's files wait before they are published.

Each folder records its owner (host, pid, start time); folders whose run is gone (dead pid
on this host, or older than a week) are removed by the next run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

STAGING_DIR = ".s2sr-staging"
_OWNER_FILE = "owner.json"


@contextlib.contextmanager
def staging_dir(parent: Path) -> Iterator[Path]:
    """A fresh folder under ``parent``, removed afterwards (and ``parent`` too, when empty).

    Folders left under ``parent`` by runs that died are removed first.
    """
    parent.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(parent)
    for attempt in range(3):
        try:
            d = Path(tempfile.mkdtemp(prefix="run-", dir=parent))
            break
        except FileNotFoundError:  # another run just removed the (then empty) parent
            if attempt == 2:
                raise
            parent.mkdir(parents=True, exist_ok=True)
    (d / _OWNER_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                             "started": time.time()}))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when empty


def clean_stale_staging(parent: Path, max_age_s: float = 7 * 86400) -> int:
    """Remove staging folders under ``parent`` whose run is gone (dead pid on this host, or too old)."""
    n = 0
    host = socket.gethostname()
    for d in parent.glob("run-*"):
        try:
            owner = json.loads((d / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            owner = {}
        alive = True
        if owner.get("host") == host:
            alive = _pid_alive(int(owner.get("pid", -1)))
        if not owner or not alive or time.time() - float(owner.get("started", 0)) > max_age_s:
            shutil.rmtree(d, ignore_errors=True)
            n += 1
    if n:
        log.info("removed %d staging folder(s) left by interrupted runs in %s", n, parent)
    return n


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
