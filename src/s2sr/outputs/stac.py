"""STAC items and collections for s2sr outputs (DESIGN §5), built with pystac.

One item per output product: WGS84 footprint (valid data) and bbox, the acquisition
datetime, assets ``sisr`` (COG, role data), ``bicubic`` (optional), ``thumbnail`` (PNG) and
``model`` (the card); extensions projection, raster, eo and processing; a ``derived_from``
link to the source; ``s2sr:*`` properties saying how it was made (model and digest, tile
size, harmonisation, the run key that makes reruns idempotent).  Every href is absolute
(an "absolute published" catalogue), so an item read on its own still finds its assets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pystac
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension

from .. import __version__
from ..bands import BANDS
from ..grid import Grid
from ..products.base import ProductInfo
from ..remote.gdal import href_from_gdal_path
from .cog import NODATA, SCALE
from .thumbnail import Quicklook

PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
COLLECTION_DESCRIPTION = (
    "Sentinel-2 surface reflectance super-resolved by s2sr (single-image super-resolution, ONNX models, "
    "seam-free tiling). Values are reflectance x 10000 (scale 0.0001), int16, nodata -10000."
)
SENTINEL_LICENCE = "https://sentinels.copernicus.eu/documents/247904/690755/Sentinel_Data_Legal_Notice"


@dataclass(frozen=True)
class ItemFacts:
    """Everything an output item states, gathered by the publish step."""

    item_id: str
    collection_id: str
    product: ProductInfo
    grid: Grid  #: the output grid
    bands: tuple[str, ...]  #: card band names, in file order
    model_name: str
    model_sha256: str
    factor: int
    margin: int
    tile_size: int
    harmonisation: Any  #: ``Product.harmonisation()``: a string, or a structured record
    options: Mapping[str, Any] = field(default_factory=dict)  #: what the run was asked for
    run_key: str = ""


def run_key(product_id: str, model_sha256: str, options: Mapping[str, Any]) -> str:
    """Digest of what determines an output: the input, the model's bytes and the options."""
    text = json.dumps({"product": product_id, "model": model_sha256, "options": dict(options)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def source_link_href(href: str) -> str:
    """The ``derived_from`` target for a product read from ``href`` (GDAL paths → URLs, local paths absolute)."""
    return href_from_gdal_path(href)


def harmonisation_record(value: Any) -> str | dict[str, Any] | list[Any]:
    """``Product.harmonisation()`` as JSON: a string as is; a structured record (mapping,
    dataclass, or an object with ``to_dict()``) as a mapping."""
    import dataclasses

    if isinstance(value, str | list):
        return value
    if isinstance(value, Mapping):
        return json.loads(json.dumps(dict(value), default=str))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json.loads(json.dumps(dataclasses.asdict(value), default=str))
    if callable(getattr(value, "to_dict", None)):
        return json.loads(json.dumps(value.to_dict(), default=str))
    return str(value)


def footprint(quicklook: Quicklook, grid: Grid) -> dict[str, Any]:
    """The valid-data footprint in WGS84 (GeoJSON), from the quicklook's mask; the grid's
    bounds when every pixel (or none) is valid."""
    import shapely.geometry
    from rasterio.features import shapes
    from rasterio.warp import transform_geom
    from shapely.ops import unary_union

    full = shapely.geometry.box(*grid.bounds)
    valid = quicklook.valid
    if valid.all() or not valid.any():
        geom = full
    else:
        polys = [
            shapely.geometry.shape(g)
            for g, v in shapes(valid.astype(np.uint8), mask=valid, transform=quicklook.transform)
            if v == 1
        ]
        px = abs(quicklook.transform.a)
        geom = unary_union(polys).simplify(px, preserve_topology=True).intersection(full)
        if geom.is_empty:
            geom = full
    wgs = transform_geom(grid.crs, "EPSG:4326", shapely.geometry.mapping(geom), precision=7)
    shp = shapely.geometry.shape(wgs)
    if not shp.is_valid:
        shp = shp.buffer(0)
    return shapely.geometry.mapping(shp)  # type: ignore[no-any-return]


def _bbox(geometry: Mapping[str, Any]) -> list[float]:
    import shapely.geometry

    return [round(v, 7) for v in shapely.geometry.shape(geometry).bounds]


def _platform(satellite: str) -> str | None:
    s = satellite.upper()
    if s.startswith("SENTINEL2") and len(s) == len("SENTINEL2A"):
        return f"sentinel-2{s[-1].lower()}"
    return None


def _data_asset(href: str, title: str, facts: ItemFacts, item: pystac.Item, suffix: str = "") -> pystac.Asset:
    asset = pystac.Asset(href=href, media_type=pystac.MediaType.COG, title=title, roles=["data"])
    item.add_asset("_tmp", asset)  # extensions need the owner
    g = facts.grid
    proj = ProjectionExtension.ext(asset)
    proj.apply(
        code=g.crs.to_string() if g.crs.to_epsg() is None else f"EPSG:{g.crs.to_epsg()}",
        shape=[g.height, g.width],
        transform=list(g.transform)[:6],
        bbox=list(g.bounds),
    )
    RasterExtension.ext(asset).apply(
        [
            RasterBand.create(nodata=NODATA, data_type=DataType.INT16, scale=SCALE, offset=0.0,
                              spatial_resolution=g.res, unit="")
            for _ in facts.bands
        ]
    )
    # band names (and common names) of the main product only, so that consumers asking
    # odc-stac for "B4" or "red" get the super-resolved band, never the comparison's
    main = suffix == ""
    EOExtension.ext(asset).apply(
        bands=[
            Band.create(
                name=f"{b}{suffix}", common_name=BANDS[b].common_name if main else None,
                description=None if main else f"{b} ({BANDS[b].common_name}), bicubic comparison",
                center_wavelength=BANDS[b].center_wavelength, full_width_half_max=BANDS[b].full_width_half_max,
            )
            for b in facts.bands
        ]
    )
    for rb in asset.extra_fields.get("raster:bands", []):
        rb.pop("unit", None)
    item.assets.pop("_tmp")
    return asset


def build_item(
    facts: ItemFacts,
    *,
    geometry: Mapping[str, Any],
    item_url: str,
    collection_url: str,
    assets: Mapping[str, str],
) -> dict[str, Any]:
    """The STAC item (a dict ready for JSON) of one output.

    ``assets`` maps asset keys (``sisr``, ``bicubic``, ``thumbnail``, ``model``) to their
    published hrefs.
    """
    info = facts.product
    acquired = info.acquired if info.acquired.tzinfo else info.acquired.replace(tzinfo=dt.UTC)
    harm = harmonisation_record(facts.harmonisation)
    props: dict[str, Any] = {
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "gsd": facts.grid.res,
        "s2sr:model": facts.model_name,
        "s2sr:model_sha256": facts.model_sha256,
        "s2sr:factor": facts.factor,
        "s2sr:margin": facts.margin,
        "s2sr:tile_size": facts.tile_size,
        "s2sr:harmonisation": harm,
        "s2sr:source_id": info.product_id,
        "s2sr:source_level": info.level,
        "s2sr:options": dict(facts.options),
        "s2sr:run_key": facts.run_key,
    }
    platform = _platform(info.satellite)
    if platform:
        props["platform"] = platform
    if info.tile:
        props["s2sr:source_tile"] = info.tile
    item = pystac.Item(
        id=facts.item_id,
        geometry=dict(geometry),
        bbox=_bbox(geometry),
        datetime=acquired,
        properties=props,
        collection=facts.collection_id,
    )
    g = facts.grid
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = f"EPSG:{g.crs.to_epsg()}" if g.crs.to_epsg() is not None else None
    if proj.code is None:
        proj.wkt2 = g.crs.to_wkt()
    RasterExtension.add_to(item)
    EOExtension.add_to(item)
    item.stac_extensions.append(PROCESSING_SCHEMA)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    item.properties.update(
        {
            "processing:level": f"{info.level}-SR",
            "processing:lineage": (
                f"{info.level} product {info.product_id} super-resolved x{facts.factor} to {g.res:g} m by s2sr "
                f"{__version__} with model {facts.model_name} (sha256 {facts.model_sha256[:12]}), "
                f"tiles of {facts.tile_size} px with a {facts.margin} px margin; input harmonisation: "
                f"{harm if isinstance(harm, str) else json.dumps(harm, sort_keys=True, default=str)}"
            ),
            "processing:software": {"s2sr": __version__},
            "processing:datetime": now.isoformat().replace("+00:00", "Z"),
        }
    )
    titles = {"sisr": f"Super-resolved reflectance ({facts.model_name})", "bicubic": "Bicubic comparison"}
    for key in ("sisr", "bicubic"):
        if key in assets:
            suffix = "" if key == "sisr" else f"_{key}"
            item.add_asset(key, _data_asset(assets[key], titles[key], facts, item, suffix))
    if "thumbnail" in assets:
        item.add_asset("thumbnail", pystac.Asset(assets["thumbnail"], title="True-colour quicklook",
                                                 media_type=pystac.MediaType.PNG, roles=["thumbnail", "overview"]))
    if "model" in assets:
        item.add_asset("model", pystac.Asset(assets["model"], title=f"Model card: {facts.model_name}",
                                             media_type="application/yaml", roles=["metadata"],
                                             extra_fields={"s2sr:model_sha256": facts.model_sha256}))
    item.set_self_href(item_url)
    item.add_link(pystac.Link("collection", collection_url, media_type=pystac.MediaType.JSON))
    item.add_link(pystac.Link("parent", collection_url, media_type=pystac.MediaType.JSON))
    item.add_link(pystac.Link("root", collection_url, media_type=pystac.MediaType.JSON))
    item.add_link(pystac.Link("derived_from", source_link_href(info.href), title=f"source product {info.product_id}"))
    item.add_link(pystac.Link("license", SENTINEL_LICENCE, media_type="text/html",
                              title="Legal notice on the use of Copernicus Sentinel data"))
    d = item.to_dict(include_self_link=True, transform_hrefs=False)
    d["links"] = _absolute_links(d["links"], item_url)
    return d


def _absolute_links(links: list[dict[str, Any]], self_url: str) -> list[dict[str, Any]]:
    out = []
    for link in links:
        if link.get("rel") == "self":
            link = {**link, "href": self_url}
        out.append(link)
    return out


def merge_collection(
    existing: Mapping[str, Any] | None,
    item: Mapping[str, Any],
    *,
    collection_id: str,
    collection_url: str,
    item_url: str,
) -> dict[str, Any]:
    """The collection document with ``item`` added (or refreshed): extent grown, one link per item."""
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
        coll["links"] = [
            {"rel": "self", "href": collection_url, "type": "application/json"},
            {"rel": "root", "href": collection_url, "type": "application/json"},
            {"rel": "license", "href": SENTINEL_LICENCE, "type": "text/html",
             "title": "Legal notice on the use of Copernicus Sentinel data"},
        ]
        coll["extent"]["temporal"]["interval"] = [[item["properties"]["datetime"], item["properties"]["datetime"]]]
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
    links = [lk for lk in coll.get("links", []) if not (lk.get("rel") == "item" and lk.get("href") == item_url)]
    links.append({"rel": "item", "href": item_url, "type": "application/geo+json", "title": item["id"]})
    coll["links"] = links
    return coll


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class FsspecStacIO(pystac.StacIO):
    """pystac I/O through fsspec, so items on ``s3://`` (or any fsspec URL) open with
    ``pystac.Item.from_file(url, stac_io=FsspecStacIO())``; credentials as for the store."""

    def __init__(self, **storage_options: Any) -> None:
        super().__init__()
        self.storage_options = storage_options

    def read_text(self, source: Any, *args: Any, **kwargs: Any) -> str:
        import fsspec

        href = str(source.get_absolute_href() if isinstance(source, pystac.Link) else source)
        with fsspec.open(href, "r", encoding="utf-8", **self.storage_options) as fh:
            return str(fh.read())

    def write_text(self, dest: Any, txt: str, *args: Any, **kwargs: Any) -> None:
        import fsspec

        href = str(dest.get_absolute_href() if isinstance(dest, pystac.Link) else dest)
        with fsspec.open(href, "w", encoding="utf-8", **self.storage_options) as fh:
            fh.write(txt)
