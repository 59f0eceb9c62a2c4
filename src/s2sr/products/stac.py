"""STAC items as products: a local item JSON, an item URL, or items found by a STAC API search.

Bands are the item's single-band raster assets (mapped by :mod:`.bandmap`); their hrefs
(local, ``http(s)://``, ``s3://``) are opened by GDAL and read by window (HTTP Range
requests through ``/vsicurl/`` or ``/vsis3/``), never whole.  Grids come from the files'
headers, not from ``proj:*`` fields, which some catalogues copy from other resolutions.
Each band's harmonisation is decided from the item's metadata (:mod:`.harmonise`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pystac
import requests

from ..bands import canonical
from ..errors import InputError, ProductError, RemoteError
from ..remote.aws import redact_url
from ..remote.gdal import gdal_path, is_url
from ..remote.http import fetch_json, http_timeout, retry_policy, retry_settings
from .bandmap import BandAsset, band_assets
from .base import BandSource, Product, ProductInfo
from .harmonise import Harmonisation, from_stac

log = logging.getLogger(__name__)

_TILE_RE = re.compile(r"(?:^|_)T?(\d{2}[C-X][A-Z]{2})(?:_|$)")
_SAT_RE = re.compile(r"^S2([A-D])_")


def load_item(source: str | Path) -> pystac.Item:
    """Read a STAC item from a local JSON file or a URL (retries with backoff), hrefs made absolute."""
    text = str(source)
    if is_url(text) and not text.startswith("file://"):
        data = fetch_json(text)
        self_href = text
    else:
        path = Path(text.removeprefix("file://"))
        if not path.is_file():
            raise ProductError(f"STAC item {path} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProductError(f"{path} is not valid JSON: {exc}") from None
        self_href = str(path.resolve())
    return item_from_dict(data, self_href)


def item_from_dict(data: Any, self_href: str | None = None) -> pystac.Item:
    if not isinstance(data, dict) or data.get("type") != "Feature" or "assets" not in data:
        kind = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise ProductError(
            f"{self_href or 'the input'} is not a STAC item (type {kind!r})",
            hint="give one item's JSON or URL; for a catalogue use --stac-api with --collection/--ids/--bbox",
        )
    try:
        item = pystac.Item.from_dict(data, href=self_href, preserve_dict=True, migrate=False)
    except Exception as exc:  # pystac raises several types for malformed items
        raise ProductError(f"{self_href or 'the input'} is not a valid STAC item: {exc}") from None
    if self_href:
        item.set_self_href(self_href)
        item.make_asset_hrefs_absolute()
    return item


@dataclass(frozen=True)
class _Band:
    asset: BandAsset
    source: BandSource
    record: Harmonisation


class StacProduct(Product):
    """A Sentinel-2 STAC item (Earth Search v0/v1, Planetary Computer, CDSE …)."""

    def __init__(self, item: pystac.Item | str | Path, *, allow_local_assets: bool = False) -> None:
        self.item = item if isinstance(item, pystac.Item) else load_item(item)
        props = dict(self.item.properties)
        self.catalogue = _catalogue(self.item)
        self.info = self._info(props)
        self._bands: dict[str, _Band] = {}
        for band, asset in band_assets({k: a.to_dict() for k, a in self.item.assets.items()}).items():
            if not allow_local_assets:
                _check_locality(self.item, band, asset.href)
            rec = from_stac(props, asset.raster_band, product=self.item.id, source_kind=f"stac:{self.catalogue}")
            src = BandSource(band=band, href=gdal_path(asset.href), nodata=rec.nodata, scale=rec.scale,
                             offset=rec.offset)
            self._bands[band] = _Band(asset, src, rec)
        if not self._bands:
            raise ProductError(
                f"STAC item {self.item.id} has no Sentinel-2 band assets",
                hint="expected single-band assets named like B02 / blue / B02_10m with eo:bands or bands metadata",
            )

    def _info(self, props: Mapping[str, Any]) -> ProductInfo:
        item = self.item
        sat = _satellite(props, item.id)
        level = _level(props, item)
        tile = _tile(props, item.id)
        when = item.datetime or _parse_dt(props.get("start_datetime"))
        missing = [k for k, v in (("platform", sat), ("level", level), ("MGRS tile", tile), ("datetime", when)) if not v]
        if missing:
            raise ProductError(
                f"STAC item {item.id}: cannot tell its {', '.join(missing)}",
                hint="expected platform, s2:product_type / processing:level, s2:mgrs_tile / mgrs:* / grid:code, datetime",
            )
        assert sat and level and tile and when
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return ProductInfo(
            satellite=sat, acquired=when.astimezone(dt.UTC), tile=tile, level=level,
            product_id=item.id, href=redact_url(item.get_self_href() or item.id), kind=f"stac:{self.catalogue}",
            extra={k: str(props[k]) for k in ("s2:processing_baseline", "s2:product_uri", "eo:cloud_cover")
                   if k in props},
        )

    # -- Product API ----------------------------------------------------------------
    def bands(self) -> tuple[str, ...]:
        return tuple(self._bands)

    def band_source(self, band: str) -> BandSource:
        b = canonical(band)
        if b not in self._bands:
            raise ProductError(f"STAC item {self.item.id} has no asset for band {b}",
                               hint=f"it has {', '.join(self.bands())}")
        return self._bands[b].source

    def band_asset(self, band: str) -> BandAsset:
        """Which asset holds ``band`` and how it was recognised."""
        self.band_source(band)
        return self._bands[canonical(band)].asset

    def check_bands(self, wanted: tuple[str, ...] | list[str]) -> None:
        missing = [b for b in (canonical(w) for w in wanted) if b not in self._bands]
        if missing:
            have = ", ".join(f"{b} ({self._bands[b].asset.key})" for b in self._bands) or "none"
            raise ProductError(
                f"STAC item {self.item.id} lacks band(s) {', '.join(missing)} needed by the model",
                hint=f"its band assets: {have}",
            )

    def harmonisation_record(self, band: str | None = None) -> Harmonisation:
        if band is not None:
            self.band_source(band)
            return self._bands[canonical(band)].record
        return next(iter(self._bands.values())).record

    def harmonisation(self) -> str:
        recs = {b.record for b in self._bands.values()}
        if len(recs) == 1:
            return next(iter(recs)).describe()
        return "; ".join(f"{k}: {v.record.describe()}" for k, v in self._bands.items())


def _check_locality(item: pystac.Item, band: str, href: str) -> None:
    """A remote item never makes s2sr read local files, and no item reaches GDAL's virtual file
    systems (``/vsi…``) directly: both only with ``allow_local_assets`` (``--allow-local-assets``)."""
    self_href = item.get_self_href() or ""
    remote_item = urlparse(self_href).scheme in {"http", "https", "s3"}
    scheme = urlparse(href).scheme
    if href.startswith("/vsi"):
        what = "a GDAL virtual path"
    elif remote_item and scheme in {"", "file"}:
        what = "a local file"
    else:
        return
    origin = f"STAC item {item.id}" + (f" (from {redact_url(self_href)})" if remote_item else "")
    raise ProductError(
        f"{origin} names {what} for band {band} ({redact_url(href)}): refused, so that an item cannot make "
        "s2sr read files of this machine",
        hint="if you trust the item, pass --allow-local-assets",
    )


# -- metadata helpers ------------------------------------------------------------------
def _catalogue(item: pystac.Item) -> str:
    props = item.properties
    hrefs = " ".join([str(lk.get_target_str() or "") for lk in item.links] + [a.href for a in item.assets.values()])
    if any(k.startswith("earthsearch:") for k in props) or item.collection_id == "sentinel-s2-l2a-cogs":
        return "earth-search"
    if "planetarycomputer" in hrefs or "blob.core.windows.net" in hrefs:
        return "planetary-computer"
    if "dataspace.copernicus.eu" in hrefs:
        return "cdse"
    if any(k.startswith("sentinel:") for k in props):
        return "earth-search"
    return "stac"


def _satellite(props: Mapping[str, Any], item_id: str) -> str | None:
    plat = str(props.get("platform") or "").lower().replace("-", "").replace("_", "").replace(" ", "")
    m = re.match(r"^sentinel2([a-d])$", plat)
    if m:
        return f"SENTINEL2{m.group(1).upper()}"
    m = _SAT_RE.match(item_id) or _SAT_RE.match(str(props.get("s2:product_uri") or ""))
    return f"SENTINEL2{m.group(1)}" if m else None


_L2A_RE = re.compile(r"MSIL?2A|(?:^|[^A-Z0-9])L2A(?:$|[^A-Z0-9])|LEVEL-?2A")
_L1C_RE = re.compile(r"MSIL?1C|(?:^|[^A-Z0-9])L1C(?:$|[^A-Z0-9])|LEVEL-?1C")


def _level(props: Mapping[str, Any], item: pystac.Item) -> str | None:
    for text in (props.get("s2:product_type"), props.get("product:type"), props.get("processing:level"),
                 props.get("s2:product_uri"), props.get("sentinel:product_id"), item.id, item.collection_id):
        t = str(text or "").upper()
        if _L2A_RE.search(t):
            return "L2A"
        if _L1C_RE.search(t):
            return "L1C"
    return None


def _tile(props: Mapping[str, Any], item_id: str) -> str | None:
    if props.get("s2:mgrs_tile"):
        return str(props["s2:mgrs_tile"]).lstrip("T")
    if all(k in props for k in ("mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square")):
        return f"{int(props['mgrs:utm_zone']):02d}{props['mgrs:latitude_band']}{props['mgrs:grid_square']}"
    code = str(props.get("grid:code") or "")
    if code.upper().startswith("MGRS-"):
        return code[5:]
    if all(k in props for k in ("sentinel:utm_zone", "sentinel:latitude_band", "sentinel:grid_square")):
        return f"{int(props['sentinel:utm_zone']):02d}{props['sentinel:latitude_band']}{props['sentinel:grid_square']}"
    for text in (props.get("s2:product_uri"), props.get("sentinel:product_id"), item_id):
        m = _TILE_RE.search(str(text or ""))
        if m:
            return m.group(1)
    return None


def _parse_dt(text: Any) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


# -- STAC API search ---------------------------------------------------------------------
@dataclass(frozen=True)
class Search:
    """A STAC API search: by ``ids``, or by ``bbox`` / ``datetime`` / ``max_cloud``, in ``collections``."""

    api: str
    collections: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    datetime: str | None = None
    max_cloud: float | None = None
    limit: int | None = None


def search_items(search: Search) -> list[pystac.Item]:
    """Run ``search`` with pystac-client; connection failures become one clear error."""
    # imported here: a run of a local product does not pay for pystac-client (0.1 s of start)
    from pystac_client import Client
    from pystac_client.conformance import ConformanceClasses
    from pystac_client.exceptions import APIError, ParametersError
    from pystac_client.stac_api_io import StacApiIO

    if not (search.ids or search.bbox or search.datetime or search.collections):
        raise InputError("a STAC API search needs --ids, or --collection with --bbox and/or --datetime")
    retries, _ = retry_settings()
    try:
        client = Client.open(search.api, stac_io=StacApiIO(max_retries=retry_policy(), timeout=http_timeout()))
        kw: dict[str, Any] = {}
        if search.collections:
            kw["collections"] = list(search.collections)
        if search.ids:
            kw["ids"] = list(search.ids)
        if search.bbox:
            kw["bbox"] = list(search.bbox)
        if search.datetime:
            kw["datetime"] = search.datetime
        if search.max_cloud is not None:
            if client.conforms_to(ConformanceClasses.FILTER) and not client.conforms_to(ConformanceClasses.QUERY):
                kw["filter"] = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, search.max_cloud]}
                kw["filter_lang"] = "cql2-json"
            else:
                kw["query"] = {"eo:cloud_cover": {"lte": search.max_cloud}}
        if search.limit:
            kw["max_items"] = search.limit
        try:  # pystac-client checks the parameters before any request (plain Exception for bad datetimes)
            found = client.search(**kw)
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"invalid STAC search: {str(exc).strip().splitlines()[0][:300]}",
                             hint="check --bbox, --datetime and --ids") from None
        items = list(found.items())
    except (APIError, ParametersError, requests.RequestException, OSError, NotImplementedError, ValueError) as exc:
        raise _search_error(search.api, exc, retries) from None
    for it in items:
        try:
            it.make_asset_hrefs_absolute()
        except Exception:  # noqa: BLE001 - no self link: hrefs are used as given
            log.debug("item %s: asset hrefs left as given", it.id)
    return items


def _search_error(api: str, exc: BaseException, retries: int) -> RemoteError | InputError:
    """One line for a failed search: unreachable API, timeout, or what the API said."""
    from pystac_client.exceptions import ParametersError

    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = " ".join(str(c) for c in chain)
    if any(isinstance(c, requests.Timeout) for c in chain) or "timed out" in text.lower():
        return RemoteError(f"STAC API {api} timed out after {retries + 1} attempts",
                           hint="check --stac-api and the network, then retry")
    if any(isinstance(c, requests.ConnectionError) for c in chain) or "Max retries exceeded" in text:
        return RemoteError(f"STAC API {api} failed: cannot connect after {retries + 1} attempts",
                           hint="check --stac-api and the network, then retry")
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, (ValueError, ParametersError)):
        return InputError(f"invalid STAC search: {first}", hint="check --bbox, --datetime and --ids")
    return RemoteError(f"STAC API {api} failed: {first}", hint="check --stac-api and the search parameters")
