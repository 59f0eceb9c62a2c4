"""The products of a batch: from a STAC API search, a file of paths/URLs, or a folder.

Each source is checked before anything runs (a list line that cannot be read, a path that does
not exist, the same product twice: one clear :class:`~s2sr.errors.UserError` naming the line),
so a batch never starts on a list it would half-process.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import UserError
from ..remote.gdal import is_url

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class WorkItem:
    """One product to process: what ``s2sr run`` takes as INPUT, and where it came from."""

    source: str  #: a local path (absolute) or a URL
    name: str  #: a short name: the STAC item id, or the file name without .zip/.json
    origin: str  #: e.g. ``list.txt:3``, ``folder``, ``search``


def _name_of(source: str) -> str:
    if is_url(source):
        path = urlsplit(source).path.rstrip("/")
        base = posixpath.basename(path) or source
    else:
        base = Path(source).name
    for suffix in (".zip", ".json", ".geojson", ".SAFE"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def _check_unique(items: Sequence[WorkItem]) -> None:
    seen_src: dict[str, WorkItem] = {}
    seen_name: dict[str, WorkItem] = {}
    for it in items:
        for seen, key, what in ((seen_src, it.source, "product"), (seen_name, it.name, "product name")):
            other = seen.get(key)
            if other is not None:
                raise UserError(
                    f"duplicate {what} {key!r}: {other.origin} and {it.origin}",
                    hint="list each product once (a rerun skips finished products anyway)",
                )
            seen[key] = it


def work_from_sources(sources: Iterable[tuple[str, str]]) -> list[WorkItem]:
    """Work items from ``(source, origin)`` pairs: paths made absolute and checked, URLs kept."""
    items = []
    for source, origin in sources:
        if is_url(source):
            items.append(WorkItem(source, _name_of(source), origin))
            continue
        path = Path(source).expanduser()
        if not path.exists():
            raise UserError(f"{origin}: {source} does not exist", hint="fix or remove the line")
        src = str(path.absolute())
        items.append(WorkItem(src, _name_of(src), origin))
    _check_unique(items)
    return items


def work_from_file(list_file: str | Path) -> list[WorkItem]:
    """One product per line (a path, relative to the list's folder, or a URL); blank lines and
    ``#`` comments skipped."""
    path = Path(list_file)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the product list {path}: {exc.strerror or exc}") from None
    pairs = []
    for no, line_bytes in enumerate(raw.splitlines(), start=1):
        origin = f"{path}:{no}"
        try:
            line = line_bytes.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise UserError(f"{origin}: the line is not UTF-8 text",
                             hint="the list holds one product path or URL per line") from None
        if not line or line.startswith("#"):
            continue
        if _CONTROL.search(line):
            raise UserError(f"{origin}: the line holds control characters ({line[:40]!r})",
                             hint="the list holds one product path or URL per line")
        if not is_url(line) and "://" in line:
            raise UserError(f"{origin}: unsupported URL {line!r}",
                             hint="use a local path, or an http(s)://, s3:// or file:// URL")
        if not is_url(line) and not Path(line).is_absolute():
            line = str(path.parent / line)
        pairs.append((line, origin))
    return work_from_sources(pairs)


def work_from_folder(folder: str | Path) -> list[WorkItem]:
    """Every product directly inside ``folder`` (Theia/SAFE folders and zips, STAC item files)."""
    from ..products.detect import detect_kind

    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"{root} is not a folder", hint="give a folder holding products")
    pairs = [(str(p), f"{root}/{p.name}") for p in sorted(root.iterdir())
             if not p.name.startswith(".") and detect_kind(p) is not None]
    return work_from_sources(pairs)


def work_from_search(api: str, *, collections: Sequence[str] = (), ids: Sequence[str] = (),
                     bbox: tuple[float, float, float, float] | None = None, datetime: str | None = None,
                     max_cloud: float | None = None, max_items: int | None = None) -> list[WorkItem]:
    """The items a STAC API search finds, each by its URL on the API (what a worker opens)."""
    from ..products.stac import Search, search_items

    search = Search(api=api, collections=tuple(collections), ids=tuple(ids), bbox=bbox, datetime=datetime,
                    max_cloud=max_cloud, limit=max_items)
    items = []
    for it in search_items(search):
        href = it.get_self_href()
        if not href:
            coll = it.collection_id or (collections[0] if collections else "")
            href = f"{api.rstrip('/')}/collections/{coll}/items/{it.id}"
        items.append(WorkItem(href, it.id, f"search:{it.id}"))
    _check_unique(items)
    log.info("%d item(s) found on %s", len(items), api)
    return items
