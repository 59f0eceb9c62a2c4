"""The STAC collection of s2sr outputs: grown item by item (extent, ``summaries``, ``item_assets``,
one link per item), with ``providers`` and the Sentinel licence; documents are plain JSON so the
store can write them with a compare-and-swap (:func:`s2sr.publisher.update_collection`)."""

from __future__ import annotations

import datetime as dt
import json
import posixpath
from collections.abc import Mapping
from typing import Any

import pystac

from .stac import EO_SCHEMA, RASTER_SCHEMA, SENTINEL_LICENCE, relative_href, scrub

COLLECTION_DESCRIPTION = (
    "Sentinel-2 surface reflectance super-resolved by s2sr (single-image super-resolution, ONNX models, "
    "seam-free tiling). Values are reflectance x 10000 (scale 0.0001), int16, nodata -10000. "
    "s2sr:consistency says how well each output, degraded back to the input's grids, matches its input."
)
PROVIDERS = [
    {"name": "European Space Agency (Copernicus Sentinel-2)", "roles": ["producer", "licensor"],
     "url": "https://sentinels.copernicus.eu/web/sentinel/missions/sentinel-2"},
    {"name": "s2sr", "roles": ["processor"],
     "description": "single-image super-resolution of Sentinel-2 surface reflectance (ONNX models)"},
]
_SUMMARY_LISTS = ("platform", "constellation", "instruments", "gsd", "s2sr:model", "s2sr:layout")
_SUMMARY_RANGES = ("s2sr:consistency_l1", "s2sr:consistency_sam")


def _item_assets(item: Mapping[str, Any]) -> dict[str, Any]:
    """``item_assets`` entries describing ``item``'s assets (no hrefs, no per-item statistics)."""
    out: dict[str, Any] = {}
    for key, asset in item.get("assets", {}).items():
        entry = {k: v for k, v in asset.items() if k in {"type", "title", "roles", "gsd"}}
        for name in ("bands", "raster:bands"):
            if name in asset:
                entry[name] = [{k: v for k, v in b.items() if k != "statistics"} for b in asset[name]]
        if "eo:bands" in asset:
            entry["eo:bands"] = asset["eo:bands"]
        out[key] = entry
    return out


def _merge_summaries(summaries: dict[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    props = item.get("properties", {})
    out = dict(summaries)
    for key in _SUMMARY_LISTS:
        if key in props:
            vals = props[key] if isinstance(props[key], list) else [props[key]]
            have = list(out.get(key, []))
            out[key] = have + [v for v in vals if v not in have]
    for key in _SUMMARY_RANGES:
        v = props.get(key)
        if isinstance(v, int | float):
            r = out.get(key) or {"minimum": v, "maximum": v}
            out[key] = {"minimum": min(r["minimum"], v), "maximum": max(r["maximum"], v)}
    bands = list(out.get("eo:bands", []))
    names = {b.get("name") for b in bands}
    for asset in item.get("assets", {}).values():
        for b in asset.get("eo:bands", []):
            if b.get("name") not in names:
                bands.append(b)
                names.add(b.get("name"))
    if bands:
        out["eo:bands"] = bands
    return out


def merge_collection(
    existing: Mapping[str, Any] | None,
    item: Mapping[str, Any],
    *,
    collection_id: str,
    collection_url: str,
    item_url: str,
    relative: bool = False,
) -> dict[str, Any]:
    """The collection document with ``item`` added (or refreshed): extent, summaries and
    ``item_assets`` grown, one link per item.  ``relative``: links relative to the collection,
    no ``self`` link (a local catalogue)."""
    if existing:
        coll = json.loads(json.dumps(existing))
    else:
        coll = pystac.Collection(
            id=collection_id,
            description=COLLECTION_DESCRIPTION,
            extent=pystac.Extent(
                pystac.SpatialExtent([list(item["bbox"])]),
                pystac.TemporalExtent([[None, None]]),  # type: ignore[arg-type]  # set below
            ),
            license="other",
            title=f"s2sr outputs: {collection_id}",
            keywords=["sentinel-2", "super-resolution", "s2sr"],
        ).to_dict(include_self_link=False, transform_hrefs=False)
        coll["extent"]["temporal"]["interval"] = [[item["properties"]["datetime"], item["properties"]["datetime"]]]
    coll["license"] = "other"
    coll["providers"] = PROVIDERS
    exts = [e for e in coll.get("stac_extensions", []) if e not in (EO_SCHEMA, RASTER_SCHEMA)]
    coll["stac_extensions"] = exts + [EO_SCHEMA, RASTER_SCHEMA]
    bbox = coll["extent"]["spatial"]["bbox"][0]
    ib = item["bbox"]
    coll["extent"]["spatial"]["bbox"][0] = [min(bbox[0], ib[0]), min(bbox[1], ib[1]),
                                           max(bbox[2], ib[2]), max(bbox[3], ib[3])]
    interval = coll["extent"]["temporal"]["interval"][0]
    when = item["properties"]["datetime"]
    lo, hi = interval
    coll["extent"]["temporal"]["interval"][0] = [
        when if lo is None or _ts(when) < _ts(lo) else lo,
        when if hi is None or _ts(when) > _ts(hi) else hi,
    ]
    coll["summaries"] = _merge_summaries(coll.get("summaries") or {}, item)
    coll["item_assets"] = {**(coll.get("item_assets") or {}), **_item_assets(item)}

    base = posixpath.dirname(collection_url)

    def href(url: str) -> str:
        return relative_href(url, base) if relative else url

    me = href(collection_url)
    head: list[dict[str, Any]] = []
    if not relative:
        head.append({"rel": "self", "href": collection_url, "type": "application/json"})
    head.append({"rel": "root", "href": me, "type": "application/json"})
    head.append({"rel": "license", "href": SENTINEL_LICENCE, "type": "text/html",
                 "title": "Legal notice on the use of Copernicus Sentinel data"})
    this = href(item_url)
    items = [lk for lk in coll.get("links", []) if lk.get("rel") == "item"
             and lk.get("href") not in (item_url, this) and lk.get("title") != item["id"]]
    others = [lk for lk in coll.get("links", []) if lk.get("rel") not in {"self", "root", "license", "item"}]
    items.append({"rel": "item", "href": this, "type": "application/geo+json", "title": item["id"]})
    coll["links"] = head + others + items
    return scrub(coll)


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)
