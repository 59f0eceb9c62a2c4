"""A self-contained STAC catalogue at the root of a destination: ``DEST/catalog.json``.

``s2sr run --stac-catalog`` (what the EO Application Package runs) and ``s2sr batch
--stac-catalog`` add every item they publish to it: one ``item`` link per item, relative
(``./s2sr/ITEM_ID/ITEM_ID.json``), a ``root`` link to itself and no ``self`` link, as the STAC
best practices describe self-contained catalogues. A platform's stage-out (or any STAC
reader) opens ``catalog.json`` and finds the items, and through them their assets; the folder
can be moved or copied as a whole.

Updates are read-merge-compare-and-swap through :class:`~s2sr.outputs.store.Store`, so
concurrent runs (a batch's workers) keep each other's links; a rerun adds nothing twice.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pystac

from ..errors import OutputError, ProcessingError
from .store import Store

log = logging.getLogger(__name__)

CATALOG_FILE = "catalog.json"
CATALOG_ID = "s2sr-outputs"
CATALOG_DESCRIPTION = (
    "Sentinel-2 products super-resolved by s2sr: one STAC item per product, with its COG assets. "
    "Self-contained: every href is relative to this catalogue."
)
_RETRIES = 10


def item_key(store: Store, item_url: str) -> str:
    """``item_url`` (as :class:`~s2sr.publish.Published` gives it) as a key below ``store``'s root."""
    root = store.url("").rstrip("/") + "/"
    if not item_url.startswith(root):
        raise OutputError(
            f"item {item_url} is not below the catalogue's destination {store.display}",
            hint="publish the items and the catalogue into the same destination",
        )
    return item_url[len(root):]


def merge_catalog(existing: Mapping[str, Any] | None, keys: Iterable[str], *,
                  catalog_id: str = CATALOG_ID, title: str | None = None) -> dict[str, Any]:
    """The catalogue document with an ``item`` link for each key (relative to the catalogue)."""
    if existing:
        doc = json.loads(json.dumps(existing))
    else:
        doc = pystac.Catalog(id=catalog_id, description=CATALOG_DESCRIPTION, title=title or "s2sr outputs",
                             catalog_type=pystac.CatalogType.SELF_CONTAINED).to_dict(
            include_self_link=False, transform_hrefs=False)
        doc["links"] = [{"rel": "root", "href": f"./{CATALOG_FILE}", "type": "application/json"}]
    links = [lk for lk in doc.get("links", []) if lk.get("rel") != "self"]
    present = {lk.get("href") for lk in links if lk.get("rel") == "item"}
    for key in keys:
        href = "./" + key.strip("/")
        if href not in present:
            links.append({"rel": "item", "href": href, "type": "application/geo+json"})
            present.add(href)
    doc["links"] = links
    return doc


def add_to_catalog(store: Store, item_urls: Iterable[str], *, catalog_id: str = CATALOG_ID,
                   title: str | None = None) -> str:
    """Link the published items ``item_urls`` from ``store``'s ``catalog.json`` (created if
    missing); returns the catalogue's URL. Safe against concurrent writers (retried CAS)."""
    keys = [item_key(store, u) for u in item_urls]
    for attempt in range(_RETRIES):
        data, token = store.read_versioned(CATALOG_FILE)
        current: dict[str, Any] | None = None
        if data:
            try:
                loaded = json.loads(data)
            except ValueError:
                raise OutputError(f"{store.url(CATALOG_FILE)} exists but is not JSON",
                                  hint="remove it or publish into another destination") from None
            current = loaded if isinstance(loaded, dict) else None
            if current is None or current.get("type") != "Catalog":
                raise OutputError(f"{store.url(CATALOG_FILE)} exists but is not a STAC catalog",
                                  hint="remove it or publish into another destination")
        merged = merge_catalog(current, keys, catalog_id=catalog_id, title=title)
        if current is not None and merged == current:
            return store.url(CATALOG_FILE)
        body = (json.dumps(merged, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        if store.write_if_unchanged(CATALOG_FILE, body, token):
            log.info("catalogue %s links %d item(s)", store.url(CATALOG_FILE), len(keys))
            return store.url(CATALOG_FILE)
        time.sleep(random.uniform(0.02, 0.1) * (2 ** min(attempt, 5)))
    raise ProcessingError(
        f"could not update {store.url(CATALOG_FILE)}: other writers kept changing it ({_RETRIES} attempts)",
        hint="rerun: the items are published and the rerun links them",
    )
