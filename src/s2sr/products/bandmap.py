"""Which asset of a STAC item holds which Sentinel-2 band, from the item's own metadata.

Catalogues name bands differently: Earth Search v1 asset keys and ``eo:bands`` names are
``blue``, ``rededge1``, ``nir08``, ``swir16`` …; Earth Search v0 and Planetary Computer use
``B02`` …; CDSE uses asset keys ``B02_10m``, ``B05_20m`` … with ``bands`` (STAC 1.1) names
``B02``.  A band asset is recognised, in this order, by

1. the band ``name`` of its ``eo:bands`` / ``bands`` entry (``B02``, ``B8A``, ``B05_20m`` or an
   Earth Search name such as ``rededge1``);
2. the band's centre wavelength (within 10 nm of one band's);
3. its common name, where it names one band only (``blue`` but not ``rededge``);
4. the asset key, read like a name.

Multi-band assets (``visual``), thumbnails and metadata are skipped.  Where several assets
hold one band (COG and JP2 copies; CDSE's 10/20/60 m versions) the COG at the finest
resolution wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..bands import BANDS

#: Earth Search v1 band names (also STAC common names where unambiguous).
EARTH_SEARCH_NAMES: dict[str, str] = {
    "coastal": "B1", "blue": "B2", "green": "B3", "red": "B4", "rededge1": "B5", "rededge2": "B6",
    "rededge3": "B7", "nir": "B8", "nir08": "B8A", "nir09": "B9", "cirrus": "B10", "swir16": "B11",
    "swir22": "B12",
}
_AMBIGUOUS_COMMON = {"rededge"}
_B_RE = re.compile(r"^B0?(\d{1,2})(A?)(?:_(\d{2})m)?$", re.IGNORECASE)
_RES_SUFFIX_RE = re.compile(r"_(\d{2})m$")
_SKIP_ROLES = {"thumbnail", "overview", "visual", "metadata"}
_RASTER_TYPES = ("image/tiff", "image/jp2", "image/vnd.stac.geotiff", "application/x-geotiff")


@dataclass(frozen=True)
class BandAsset:
    """One band's asset in an item, and how it was recognised."""

    band: str  #: card name, e.g. ``B8A``
    key: str  #: asset key, e.g. ``nir08`` or ``B8A_20m``
    href: str
    resolution: float | None
    is_cog: bool
    raster_band: Mapping[str, Any] | None  #: its ``raster:bands[0]`` (scale, offset, nodata)
    matched_by: str  #: ``name``, ``wavelength``, ``common_name`` or ``asset key``


def band_from_name(name: str | None) -> str | None:
    """``B02`` / ``B2`` / ``B05_20m`` / ``rededge1`` → card band name, else None."""
    if not name:
        return None
    n = str(name).strip()
    m = _B_RE.match(n)
    if m:
        cand = f"B{int(m.group(1))}{m.group(2).upper()}"
        return cand if cand in BANDS else None
    return EARTH_SEARCH_NAMES.get(n.lower())


def _band_from_wavelength(wl: Any) -> str | None:
    try:
        w = float(wl)
    except (TypeError, ValueError):
        return None
    best = min(BANDS.values(), key=lambda b: abs(b.center_wavelength - w))
    return best.name if abs(best.center_wavelength - w) <= 0.010 else None


def _band_from_common(common: str | None) -> str | None:
    if not common or common.lower() in _AMBIGUOUS_COMMON:
        return None
    matches = [b.name for b in BANDS.values() if b.common_name == common.lower()]
    return matches[0] if len(matches) == 1 else None


def _entries(asset: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(asset.get("eo:bands") or asset.get("bands") or [])


def identify(key: str, asset: Mapping[str, Any]) -> tuple[str, str] | None:
    """(band, how) for a single-band asset, or None if it is not a Sentinel-2 band."""
    roles = set(asset.get("roles") or [])
    if roles & _SKIP_ROLES and "data" not in roles:
        return None
    mtype = str(asset.get("type") or "")
    if mtype and not mtype.startswith(_RASTER_TYPES):
        return None
    entries = _entries(asset)
    if len(entries) > 1:
        return None  # visual / multi-band
    if entries:
        e = entries[0]
        if not isinstance(e, Mapping):
            e = {}
        if b := band_from_name(e.get("name")):
            return b, "name"
        wl = e.get("center_wavelength", e.get("eo:center_wavelength"))
        if b := _band_from_wavelength(wl):
            return b, "wavelength"
        if b := _band_from_common(e.get("common_name", e.get("eo:common_name"))):
            return b, "common_name"
    if b := band_from_name(key):
        return b, "asset key"
    return None


def _resolution(key: str, asset: Mapping[str, Any], rb: Mapping[str, Any] | None) -> float | None:
    if rb and rb.get("spatial_resolution"):
        return float(rb["spatial_resolution"])
    if asset.get("gsd"):
        return float(asset["gsd"])
    m = _RES_SUFFIX_RE.search(key)
    return float(m.group(1)) if m else None


def band_assets(assets: Mapping[str, Mapping[str, Any]]) -> dict[str, BandAsset]:
    """The best asset for each band found in ``assets`` (asset dicts as in the item JSON)."""
    found: dict[str, list[BandAsset]] = {}
    for key, asset in assets.items():
        ident = identify(key, asset)
        if ident is None:
            continue
        band, how = ident
        rbs = asset.get("raster:bands") or []
        rb = dict(rbs[0]) if rbs and isinstance(rbs[0], Mapping) else None
        if rb is None:
            # STAC 1.1 (CDSE): raster fields on the asset or inline in its single "bands" entry
            e = _entries(asset)[0] if _entries(asset) and isinstance(_entries(asset)[0], Mapping) else {}
            fields = {
                "scale": e.get("raster:scale", asset.get("raster:scale")),
                "offset": e.get("raster:offset", asset.get("raster:offset")),
                "nodata": e.get("nodata", asset.get("nodata")),
                "spatial_resolution": e.get("raster:spatial_resolution", asset.get("raster:spatial_resolution")),
            }
            rb = {k: v for k, v in fields.items() if v is not None} or None
        mtype = str(asset.get("type") or "")
        href = str(asset.get("href"))
        is_cog = "tiff" in mtype or href.lower().endswith((".tif", ".tiff"))
        found.setdefault(band, []).append(
            BandAsset(band, key, href, _resolution(key, asset, rb), is_cog, rb, how)
        )
    best: dict[str, BandAsset] = {}
    for band, cands in found.items():
        cands.sort(key=lambda a: (not a.is_cog, a.resolution if a.resolution else 1e9, a.key))
        best[band] = cands[0]
    return {b: best[b] for b in BANDS if b in best}
