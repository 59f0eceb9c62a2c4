"""STAC items over local COGs: Earth Search v1-like items and COGs, and a rewriter that points a real
item at local (or locally served) files.

- :func:`write_earthsearch_cogs`: Earth Search-like COGs (uint16, nodata 0, ``B02.tif`` …).
- :func:`es_v1_item`: an item in Earth Search v1's form over such files, built without any sample.
- :func:`rewrite_item`: a real STAC item rewritten to point at local files (hrefs, and the grid
  fields ``proj:shape`` / ``proj:transform`` / ``gsd`` / ``raster:bands`` resolution, bbox and
  geometry read from the files).

>>> from s2sr.testing import es_v1_item, synthetic_pixels, write_earthsearch_cogs
>>> files = write_earthsearch_cogs(tmp_dir / "cogs", *synthetic_pixels(64), offset=-1000)  # doctest: +SKIP
>>> item = es_v1_item(files)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from ..bands import BANDS, GROUP_10M, GROUP_20M, canonical, esa_name
from .safe import safe_dn

__all__ = [
    "ES_ASSET_FILES", "ES_ITEM", "es_item_for", "es_v1_item", "rewrite_item", "shared_es_files",
    "write_earthsearch_cogs",
]


#: The real Earth Search v1 item of the shared sample data, relative to ``shared/data``.
ES_ITEM = "earthsearch_l2a_T29RKH_100m/S2A_29RKH_20200219_0_L2A.json"
#: Earth Search v1 asset key → ESA band file name.
ES_ASSET_FILES = {
    "coastal": "B01", "blue": "B02", "green": "B03", "red": "B04", "rededge1": "B05", "rededge2": "B06",
    "rededge3": "B07", "nir": "B08", "nir08": "B8A", "nir09": "B09", "swir16": "B11", "swir22": "B12", "scl": "SCL",
}


def rewrite_item(item: Mapping[str, Any], files: Mapping[str, Path], *, base_href: str | None = None,
                 drop_assets: bool = True, **props: Any) -> dict[str, Any]:
    """``item`` with each asset in ``files`` pointing at that file (or ``base_href``/name) and its
    grid fields (proj:shape, proj:transform, gsd, raster:bands spatial_resolution), bbox and
    geometry read from the file; other assets dropped; ``props`` set on the properties."""
    out = copy.deepcopy(dict(item))
    assets: dict[str, Any] = {}
    bounds = None
    crs = None
    for key, path in files.items():
        a = dict(out["assets"][key])
        with rasterio.open(path) as ds:
            t = ds.transform
            a["proj:shape"] = [ds.height, ds.width]
            a["proj:transform"] = [t.a, t.b, t.c, t.d, t.e, t.f]
            if "gsd" in a:
                a["gsd"] = t.a
            for rb in a.get("raster:bands", []):
                rb["spatial_resolution"] = t.a
            bounds, crs = ds.bounds, ds.crs
        a["href"] = f"{base_href.rstrip('/')}/{path.name}" if base_href else str(path)
        assets[key] = a
    out["assets"] = assets if drop_assets else {**out["assets"], **assets}
    if bounds is not None and crs is not None:
        w, s, e, n = transform_bounds(crs, "EPSG:4326", *bounds)
        out["bbox"] = [w, s, e, n]
        out["geometry"] = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        out["properties"]["proj:epsg"] = crs.to_epsg()
    out["links"] = [lk for lk in out.get("links", []) if lk.get("rel") not in {"self", "root", "parent", "collection"}]
    out["properties"].update(props)
    return out


def write_earthsearch_cogs(out_dir: str | Path, bands10: np.ndarray, bands20: np.ndarray, *, offset: int, nodata_cols: int = 0,
               origin: tuple[float, float] = (300000.0, 6200040.0), epsg: int = 32633) -> dict[str, Path]:
    """Earth Search-like COGs (uint16, nodata 0, ``B02.tif`` …) from reflectance × 10000 arrays;
    returns {asset key: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    b10 = np.asarray(bands10, np.int16).copy()
    b20 = np.asarray(bands20, np.int16).copy()
    if nodata_cols:
        b10[:, :, :nodata_cols] = -10000
        b20[:, :, : (nodata_cols + 1) // 2] = -10000
    files: dict[str, Path] = {}
    key_of = {v: k for k, v in ES_ASSET_FILES.items()}
    for res, group, data in ((10, GROUP_10M, b10), (20, GROUP_20M, b20)):
        for i, band in enumerate(group):
            esa = esa_name(band)
            path = out_dir / f"{esa}.tif"
            with rasterio.open(path, "w", driver="COG", width=data.shape[2], height=data.shape[1], count=1,
                               dtype="uint16", nodata=0, crs=CRS.from_epsg(epsg),
                               transform=Affine(res, 0, origin[0], 0, -res, origin[1]),
                               compress="deflate", blocksize=256) as ds:
                ds.write(safe_dn(data[i], offset), 1)
            files[key_of[esa]] = path
    return files


def es_v1_item(files: Mapping[str, Path], *, item_id: str = "S2A_33UUB_20170527_0_L2A", base_href: str | None = None,
               **props: Any) -> dict[str, Any]:
    """An item in Earth Search v1's form (asset keys blue … swir22, eo:bands names, raster:bands),
    built without the shared sample so tests that only need the form run anywhere."""
    assets: dict[str, Any] = {}
    for key in files:
        esa = ES_ASSET_FILES[key]
        info = BANDS[canonical(esa)]
        assets[key] = {
            "href": "", "type": "image/tiff; application=geotiff; profile=cloud-optimized", "title": key,
            "eo:bands": [{"name": key, "common_name": info.common_name, "center_wavelength": info.center_wavelength,
                          "full_width_half_max": info.full_width_half_max}],
            "gsd": info.resolution,
            "raster:bands": [{"nodata": 0, "data_type": "uint16", "bits_per_sample": 15,
                              "spatial_resolution": info.resolution, "scale": 0.0001, "offset": 0}],
            "roles": ["data", "reflectance"],
        }
    item = {
        "type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "sentinel-2-l2a",
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.0.0/schema.json",
                            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                            "https://stac-extensions.github.io/projection/v1.0.0/schema.json"],
        "bbox": [0, 0, 0, 0], "geometry": None,
        "properties": {"platform": "sentinel-2a", "constellation": "sentinel-2", "instruments": ["msi"],
                       "s2:product_type": "S2MSI2A", "eo:cloud_cover": 1.0},
        "links": [], "assets": assets,
    }
    return rewrite_item(item, files, base_href=base_href, **props)


def es_item_for(shared: Path, files: Mapping[str, Path], *, base_href: str | None = None, **props: Any) -> dict[str, Any]:
    """The real Earth Search item of ``shared/data`` (:data:`ES_ITEM`) rewritten onto ``files``."""
    item = json.loads((shared / "data" / ES_ITEM).read_text())
    return rewrite_item(item, files, base_href=base_href, **props)


def shared_es_files(shared: Path) -> dict[str, Path]:
    """{asset key: COG} of the real Earth Search sample in ``shared/data`` (100 m)."""
    d = shared / "data" / "earthsearch_l2a_T29RKH_100m"
    return {k: d / f"{v}.tif" for k, v in ES_ASSET_FILES.items()}


#: Old name (tests' ``write_cogs``); not :func:`s2sr.write_cogs`, the pipeline's.
write_cogs = write_earthsearch_cogs
