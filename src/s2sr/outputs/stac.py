"""STAC items and collections for s2sr outputs (docs/architecture.md, "Outputs"), built with pystac.

One item per output product: WGS84 footprint (valid data, rings counter-clockwise) and bbox,
the acquisition datetime, the data assets, ``thumbnail`` (PNG) and ``model`` (the card);
extensions projection, raster, eo and processing; ``s2sr:*`` properties saying how it was
made (model and digest, tile size, harmonisation, the run key that makes reruns idempotent)
and how consistent the output is with its input (``s2sr:consistency``).

Data assets, by layout:

* ``multiband`` (default): ``sisr`` (one COG, every band) and ``bicubic`` (optional);
* ``per-band``: one single-band COG per band, keyed as Earth Search keys them (``blue``,
  ``rededge1`` …; ``blue_bicubic`` … for the comparison), roles ``data`` + ``reflectance``.

Band metadata, for the widest set of readers: the eo v1.1 / raster v1.1 fields ``eo:bands``
and ``raster:bands`` (what stackstac, odc-stac's band aliases, GDAL and pystac read) *and* the
STAC 1.1 core ``bands`` with the core fields (name, description, nodata, data_type,
statistics: what rio-tiler/titiler and odc-stac read first).  The eo v2 fields
(``eo:common_name`` inside ``bands``) cannot be added beside ``eo:bands``: the eo v2 schema
rejects ``eo:bands``.  eo v1.1 has a single common name ``rededge`` for B5, B6 and B7, which
would make ``rededge`` ambiguous (odc-stac silently returns B5): those three bands carry no
common name; their descriptions name the eo v2 ones (``rededge071`` …).  Statistics are of the
stored int16 values (GDAL's convention; ``scale`` turns them into reflectance).

Hrefs: on object storage (``s3://``, ``https://`` …) absolute, with ``self`` links; in a local
folder relative (a self-contained catalogue: no ``self`` link, as the STAC best practices
describe), so the folder can be moved or copied and still loads.  Lineage links only to a
source that resolves elsewhere (a URL, without credentials); a local source is recorded by
its product id and the processing lineage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pystac
from pystac.extensions.eo import EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterExtension

from .. import __version__
from ..bands import BANDS, esa_name
from ..grid import Grid
from ..products.base import ProductInfo
from ..remote.aws import redact_url
from ..remote.gdal import href_from_gdal_path
from .bandstats import BandStats
from .cog import NODATA, SCALE
from .naming import MULTIBAND, PER_BAND
from .thumbnail import Quicklook

PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
EO_SCHEMA = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
RASTER_SCHEMA = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
SENTINEL_LICENCE = "https://sentinels.copernicus.eu/documents/247904/690755/Sentinel_Data_Legal_Notice"
_LABELS = {
    "B1": "Coastal aerosol", "B2": "Blue", "B3": "Green", "B4": "Red", "B5": "Red edge 1", "B6": "Red edge 2",
    "B7": "Red edge 3", "B8": "NIR", "B8A": "Narrow NIR", "B9": "Water vapour", "B10": "Cirrus",
    "B11": "SWIR 1.6 um", "B12": "SWIR 2.2 um",
}
#: eo v2 common names that eo v1.1 lacks (B5/B6/B7 would all be "rededge"): named in descriptions only
_EO2_NAMES = {"B5": "rededge071", "B6": "rededge075", "B7": "rededge078"}
@dataclass(frozen=True)
class DataAsset:
    """One data file of an output: its key, href, bands (file order) and statistics."""

    key: str
    href: str
    bands: tuple[str, ...]  #: card band names
    comparison: bool = False  #: the bicubic comparison rather than the super-resolved output
    statistics: tuple[BandStats | None, ...] = ()  #: per band, if computed while writing


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
    layout: str = MULTIBAND
    consistency: Any = None  #: :class:`s2sr.consistency.Consistency`, if measured


def run_key(product_id: str, model_sha256: str, options: Mapping[str, Any]) -> str:
    """Digest of what determines an output: the input, the model's bytes and the options."""
    text = json.dumps({"product": product_id, "model": model_sha256, "options": dict(options)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def source_link_href(href: str) -> str:
    """The ``derived_from`` target for a product read from ``href`` (GDAL paths → URLs, local paths absolute)."""
    return href_from_gdal_path(href)


def public_source_href(href: str) -> str | None:
    """The ``derived_from`` target for a product read from ``href``: a URL another machine can
    resolve (credentials removed), or None for a local file (recorded by product id instead)."""
    url = source_link_href(href)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in {"", "file", "local", "memory"} or url.startswith("/"):
        return None
    return redact_url(url)


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
    bounds when every pixel (or none) is valid.  Outer rings counter-clockwise (RFC 7946)."""
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
    return shapely.geometry.mapping(oriented(shp))  # type: ignore[no-any-return]


def oriented(geom: Any) -> Any:
    """``geom`` with every polygon's exterior ring counter-clockwise and holes clockwise."""
    from shapely.geometry import MultiPolygon, Polygon
    from shapely.geometry.polygon import orient

    if isinstance(geom, Polygon):
        return orient(geom, sign=1.0)
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])
    return geom


def _bbox(geometry: Mapping[str, Any]) -> list[float]:
    import shapely.geometry

    return [round(v, 7) for v in shapely.geometry.shape(geometry).bounds]


def _platform(satellite: str) -> str | None:
    s = satellite.upper()
    if s.startswith("SENTINEL2") and len(s) == len("SENTINEL2A"):
        return f"sentinel-2{s[-1].lower()}"
    return None


def _band_fields(band: str, comparison: bool) -> tuple[dict[str, Any], str]:
    """(``eo:bands`` entry, description) of ``band``."""
    info = BANDS[band]
    label = f"{_LABELS[band]} ({esa_name(band)}, {info.center_wavelength:g} um)"
    if band in _EO2_NAMES:
        label += f", eo v2 common name {_EO2_NAMES[band]}"
    if comparison:
        desc = f"{label}, bicubic comparison"
        eo = {"name": f"{band}_bicubic", "description": desc}
    else:
        desc = f"{label}, super-resolved"
        eo = {"name": band, "description": desc}
        # only the main product's bands carry common names, so that "red" selects the super-resolved band
        if band not in _EO2_NAMES and info.common_name:
            eo["common_name"] = info.common_name
    eo["center_wavelength"] = info.center_wavelength
    eo["full_width_half_max"] = info.full_width_half_max
    return eo, desc


def band_metadata(bands: Sequence[str], res: float, *, comparison: bool = False,
                  statistics: Sequence[BandStats | None] = ()) -> dict[str, Any]:
    """The band fields of a data asset (``eo:bands``, ``raster:bands``, STAC 1.1 ``bands``)."""
    eo_bands, raster_bands, core_bands = [], [], []
    for i, b in enumerate(bands):
        eo, desc = _band_fields(b, comparison)
        stats = statistics[i] if i < len(statistics) else None
        raster: dict[str, Any] = {"nodata": NODATA, "data_type": "int16", "scale": SCALE, "offset": 0.0,
                                  "spatial_resolution": res}
        core: dict[str, Any] = {"name": eo["name"], "description": desc, "nodata": NODATA, "data_type": "int16"}
        if stats is not None:
            raster["statistics"] = stats.to_stac()
            core["statistics"] = stats.to_stac()
        eo_bands.append(eo)
        raster_bands.append(raster)
        core_bands.append(core)
    return {"bands": core_bands, "eo:bands": eo_bands, "raster:bands": raster_bands}


def _proj_fields(g: Grid) -> dict[str, Any]:
    epsg = g.crs.to_epsg()
    out: dict[str, Any] = {"proj:code": f"EPSG:{epsg}"} if epsg is not None else {"proj:wkt2": g.crs.to_wkt()}
    out.update({"proj:shape": [g.height, g.width], "proj:transform": list(g.transform)[:6],
                "proj:bbox": list(g.bounds)})
    return out


def _data_asset(data: DataAsset, facts: ItemFacts, href: str) -> dict[str, Any]:
    per_band = len(data.bands) == 1 and facts.layout == PER_BAND
    if per_band:
        b = data.bands[0]
        title = f"{_LABELS[b]} ({esa_name(b)})" + (", bicubic comparison" if data.comparison else
                                                   f", super-resolved ({facts.model_name})")
        roles = ["data", "reflectance"]
    elif data.comparison:
        title, roles = "Bicubic comparison", ["data"]
    else:
        title, roles = f"Super-resolved reflectance ({facts.model_name})", ["data"]
    asset = {"href": href, "type": pystac.MediaType.COG, "title": title, "roles": roles}
    asset.update(_proj_fields(facts.grid))
    asset["gsd"] = facts.grid.res
    asset.update(band_metadata(data.bands, facts.grid.res, comparison=data.comparison, statistics=data.statistics))
    return asset


def default_data_assets(facts: ItemFacts, assets: Mapping[str, str]) -> list[DataAsset]:
    """The multiband layout's data assets from ``assets`` (keys ``sisr``, ``bicubic``)."""
    return [DataAsset(k, assets[k], facts.bands, comparison=(k == "bicubic")) for k in ("sisr", "bicubic")
            if k in assets]


def relative_href(target: str, base_dir: str) -> str:
    """``target`` relative to the folder ``base_dir`` (both absolute, ``/``-separated), ``./``-prefixed."""
    rel = posixpath.relpath(target, base_dir)
    return rel if rel.startswith("../") else f"./{rel}"


def build_item(
    facts: ItemFacts,
    *,
    geometry: Mapping[str, Any],
    item_url: str,
    collection_url: str,
    assets: Mapping[str, str],
    data: Sequence[DataAsset] | None = None,
    relative: bool = False,
) -> dict[str, Any]:
    """The STAC item (a dict ready for JSON) of one output.

    ``assets`` maps the other asset keys (``thumbnail``, ``model``; and ``sisr``/``bicubic``
    when ``data`` is not given) to their published URLs; ``data`` lists the data files.
    ``relative``: write hrefs relative to the item and no ``self`` link (a local catalogue).
    """
    info = facts.product
    acquired = info.acquired if info.acquired.tzinfo else info.acquired.replace(tzinfo=dt.UTC)
    harm = harmonisation_record(facts.harmonisation)
    base = posixpath.dirname(item_url)

    def href(url: str) -> str:
        return relative_href(url, base) if relative else url

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
        "s2sr:layout": facts.layout,
    }
    platform = _platform(info.satellite)
    if platform:
        props["platform"] = platform
    if info.tile:
        props["s2sr:source_tile"] = info.tile
    if facts.consistency is not None:
        cons = facts.consistency.to_stac()
        props["s2sr:consistency"] = cons
        if cons["l1_mean"] is not None:
            props["s2sr:consistency_l1"] = cons["l1_mean"]
        if cons["sam_degrees"] is not None:
            props["s2sr:consistency_sam"] = cons["sam_degrees"]
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
    d = item.to_dict(include_self_link=False, transform_hrefs=False)
    out_assets: dict[str, Any] = {}
    for da in (data if data is not None else default_data_assets(facts, assets)):
        out_assets[da.key] = _data_asset(da, facts, href(da.href))
    if "thumbnail" in assets:
        out_assets["thumbnail"] = {"href": href(assets["thumbnail"]), "type": pystac.MediaType.PNG,
                                   "title": "True-colour quicklook", "roles": ["thumbnail", "overview"]}
    if "model" in assets:
        out_assets["model"] = {"href": href(assets["model"]), "type": "application/yaml",
                               "title": f"Model card: {facts.model_name}", "roles": ["metadata"],
                               "s2sr:model_sha256": facts.model_sha256}
    d["assets"] = out_assets
    coll = href(collection_url)
    links: list[dict[str, Any]] = []
    if not relative:
        links.append({"rel": "self", "href": item_url, "type": pystac.MediaType.JSON})
    links += [
        {"rel": "collection", "href": coll, "type": pystac.MediaType.JSON},
        {"rel": "parent", "href": coll, "type": pystac.MediaType.JSON},
        {"rel": "root", "href": coll, "type": pystac.MediaType.JSON},
    ]
    source = public_source_href(info.href)
    if source is not None:
        links.append({"rel": "derived_from", "href": source, "title": f"source product {info.product_id}"})
    links.append({"rel": "license", "href": SENTINEL_LICENCE, "type": "text/html",
                  "title": "Legal notice on the use of Copernicus Sentinel data"})
    d["links"] = links
    return scrub(d)


def scrub(value: Any) -> Any:
    """``value`` (JSON) with credentials removed from every URL-looking string."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return re.sub(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+", lambda m: redact_url(m.group(0)), value)
    return value


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
