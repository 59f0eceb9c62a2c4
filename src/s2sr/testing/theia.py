"""Theia (MUSCATE) L2A / L3A product writer: the real folder layout, file names, ``MTD_ALL.xml``
and ``MASKS/``, from arrays, as a folder or a zip.

>>> from s2sr.testing import synthetic_pixels, write_theia_product
>>> path = write_theia_product(tmp_dir, *synthetic_pixels(64), nodata_cols=4)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from ..bands import GROUP_10M, GROUP_20M

__all__ = ["ACQUIRED", "theia_name", "write_theia_product"]

#: The acquisition time of the sample products (the real Malmö scene, 2017-05-27).
ACQUIRED = dt.datetime(2017, 5, 27, 10, 21, 13, 456000)

_MTD = """<?xml version="1.0" encoding="UTF-8"?>
<Muscate_Metadata_Document>
  <Metadata_Identification>
    <METADATA_FORMAT version="1.16">METADATA_MUSCATE</METADATA_FORMAT>
  </Metadata_Identification>
  <Dataset_Identification>
    <IDENTIFIER>{name}</IDENTIFIER>
    <AUTHORITY>THEIA</AUTHORITY>
    <PRODUCER>MUSCATE</PRODUCER>
    <PROJECT>SENTINEL2</PROJECT>
    <GEOGRAPHICAL_ZONE type="Tile">T{tile}</GEOGRAPHICAL_ZONE>
  </Dataset_Identification>
  <Product_Characteristics>
    <PRODUCT_ID>{name}</PRODUCT_ID>
    <ACQUISITION_DATE>{acq}</ACQUISITION_DATE>
    <PRODUCTION_DATE>{prod}</PRODUCTION_DATE>
    <PRODUCT_VERSION>{version}</PRODUCT_VERSION>
    <PRODUCT_LEVEL>{level}</PRODUCT_LEVEL>
    <PLATFORM>{sat}</PLATFORM>
    <SPECTRAL_CONTENT>XSBSWIR</SPECTRAL_CONTENT>
    <ORBIT_NUMBER type="Orbit">7</ORBIT_NUMBER>
  </Product_Characteristics>
  <Product_Organisation>
    <Muscate_Product>
      <QUICKLOOK>{name}_QKL_ALL.jpg</QUICKLOOK>
    </Muscate_Product>
  </Product_Organisation>
  <Geoposition_Informations>
    <Coordinate_Reference_System>
      <GEO_TABLES version="1.0">EPSG</GEO_TABLES>
      <Horizontal_Coordinate_System>
        <HORIZONTAL_CS_TYPE>PROJECTED</HORIZONTAL_CS_TYPE>
        <HORIZONTAL_CS_CODE>{epsg}</HORIZONTAL_CS_CODE>
      </Horizontal_Coordinate_System>
    </Coordinate_Reference_System>
  </Geoposition_Informations>
</Muscate_Metadata_Document>
"""


def theia_name(
    satellite: str = "SENTINEL2A",
    acquired: dt.datetime = ACQUIRED,
    tile: str = "33UUB",
    level: str = "L2A",
    version: str = "3-1",
) -> str:
    """A MUSCATE product name, e.g. ``SENTINEL2A_20170527-102113-456_L2A_T33UUB_C_V3-1``."""
    stamp = acquired.strftime("%Y%m%d-%H%M%S-") + f"{acquired.microsecond // 1000:03d}"
    return f"{satellite}_{stamp}_{level}_T{tile}_C_V{version}"


def write_theia_product(
    out_dir: str | Path,
    bands10: np.ndarray,
    bands20: np.ndarray,
    *,
    origin: tuple[float, float] = (300000.0, 6200040.0),
    res10: float = 10.0,
    epsg: int = 32633,
    satellite: str = "SENTINEL2A",
    acquired: dt.datetime = ACQUIRED,
    tile: str = "33UUB",
    level: str = "L2A",
    nodata_cols: int = 0,
    as_zip: bool = False,
    reflectances: Sequence[str] = ("FRE", "SRE"),
    with_mtd: bool = True,
) -> Path:
    """Write a Theia product from ``bands10`` (B2 B3 B4 B8, h×w) and ``bands20`` (B5 … B12, h/2×w/2).

    ``nodata_cols`` sets the leftmost columns (10 m columns; half as many at 20 m) to nodata
    −10000, like a swath edge.  Returns the product folder, or the zip with ``as_zip``.
    """
    out = Path(out_dir)
    name = theia_name(satellite, acquired, tile, level)
    root = out / name
    (root / "MASKS").mkdir(parents=True, exist_ok=True)
    crs = CRS.from_epsg(epsg)
    kinds = ("FRC",) if level == "L3A" else tuple(reflectances)
    b10 = np.asarray(bands10, dtype=np.int16).copy()
    b20 = np.asarray(bands20, dtype=np.int16).copy()
    if nodata_cols:
        b10[:, :, :nodata_cols] = -10000
        b20[:, :, : (nodata_cols + 1) // 2] = -10000
    for res, group, data, rname in ((res10, GROUP_10M, b10, "R1"), (2 * res10, GROUP_20M, b20, "R2")):
        transform = Affine(res, 0, origin[0], 0, -res, origin[1])
        prof = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=1, crs=crs,
                    transform=transform, compress="deflate", tiled=True, blockxsize=256, blockysize=256)
        for kind in kinds:
            for i, band in enumerate(group):
                with rasterio.open(root / f"{name}_{kind}_{band}.tif", "w", dtype="int16", nodata=-10000, **prof) as ds:
                    ds.write(data[i], 1)
        edge = (data[0] == -10000).astype(np.uint8)
        masks = ("EDG", "CLM", "SAT", "MG2") if level == "L2A" else ("FLG",)
        for m in masks:
            with rasterio.open(root / "MASKS" / f"{name}_{m}_{rname}.tif", "w", dtype="uint8", nodata=None, **prof) as ds:
                ds.write(edge if m in {"EDG", "FLG"} else np.zeros_like(edge), 1)
    if with_mtd:
        now = dt.datetime(2024, 1, 1, 0, 0, 0)
        (root / f"{name}_MTD_ALL.xml").write_text(
            _MTD.format(
                name=name, tile=tile, sat=satellite, level=level, epsg=epsg,
                acq=acquired.strftime("%Y-%m-%dT%H:%M:%S.") + f"{acquired.microsecond // 1000:03d}Z",
                prod=now.isoformat() + "Z", version="3.1",
            ),
            encoding="utf-8",
        )
    if not as_zip:
        return root
    zpath = out / f"{name}.zip"
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in sorted(root.rglob("*")):
            zf.write(f, f.relative_to(out).as_posix())
    for f in sorted(root.rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    root.rmdir()
    return zpath
