"""Placing one item's files under their final names as the last step before the item itself.

A consumer who can see a file under its final name can see the item that names it, and a run
that fails or is interrupted (SIGINT, SIGTERM, disk full, connection lost) leaves nothing under
a final name:

1. :meth:`Placement.stage`: every file goes to the destination under a temporary name first —
   local destinations already hold it in their hidden staging folder (same filesystem); object
   stores get it under ``ITEM_DIR/.s2sr-tmp-TOKEN/`` (a key no item names);
2. :meth:`Placement.commit`: each file is renamed (local) or copied server-side (object stores)
   to its final name, then the item is written; nothing here needs new space or inodes on a
   local disk (the item was written into the staging folder too);
3. on any failure or interruption before the item is written, :meth:`Placement.abort` removes
   what was placed and the temporary keys (best effort: a store that went away keeps its
   leftovers, which the next successful run of the item removes).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from pathlib import Path

from .store import Store

log = logging.getLogger(__name__)

TMP_PREFIX = ".s2sr-tmp-"


class Placement:
    """The files of one item on their way to ``item_dir`` of ``store``."""

    def __init__(self, store: Store, item_dir: str, staging: Path) -> None:
        self.store = store
        self.item_dir = item_dir.strip("/")
        self.staging = staging
        self.token = uuid.uuid4().hex[:12]
        self._files: dict[str, Path] = {}  #: final name → local file
        self._staged: dict[str, str] = {}  #: final name → temporary key (object stores)
        self.placed: list[str] = []  #: final keys written so far
        self.item_written = False
        self._item_name = ""

    @property
    def tmp_dir(self) -> str:
        return f"{self.item_dir}/{TMP_PREFIX}{self.token}"

    def stage(self, files: dict[str, Path]) -> int:
        """Put ``files`` (final name → local file) in the destination under temporary names; bytes sent."""
        nbytes = 0
        for name, path in files.items():
            self._files[name] = path
            nbytes += path.stat().st_size
            if not self.store.is_local:
                key = f"{self.tmp_dir}/{name}"
                self.store.put_file(path, key)
                self._staged[name] = key
        return nbytes

    def commit(self, item_name: str, item_bytes: bytes) -> None:
        """Move every staged file to its final name, then write the item."""
        for name, path in self._files.items():
            final = f"{self.item_dir}/{name}"
            self.placed.append(final)  # before the move: an interruption during it is rolled back too
            if self.store.is_local:
                self.store.put_file(path, final)
            else:
                self.store.copy(self._staged[name], final)
        self._item_name = item_name
        item_key = f"{self.item_dir}/{item_name}"
        if self.store.is_local:
            local = self.staging / item_name
            local.write_bytes(item_bytes)  # in the staging folder: the rename below needs no new space
            self.store.put_file(local, item_key)
        else:
            self.store.put_bytes(item_key, item_bytes)
        self.item_written = True
        self._drop_tmp()

    def abort(self) -> None:
        """Remove what this run placed (unless its item was written) and its temporary keys."""
        if not self.item_written:
            for key in reversed(self.placed):
                with contextlib.suppress(Exception):
                    self.store.remove(key)
            if self.placed:
                log.info("removed %d file(s) of an unfinished publication under %s", len(self.placed),
                         self.store.url(self.item_dir))
        self._drop_tmp()

    def rollback(self) -> None:
        """Remove the item and every file placed (the collection could not list it)."""
        self.item_written = False
        self.placed.append(f"{self.item_dir}/{self._item_name}")
        self.abort()

    def _drop_tmp(self) -> None:
        if self._staged:
            with contextlib.suppress(Exception):
                self.store.remove_stray(self.tmp_dir)
            self._staged = {}
