"""Sample products in the Theia format, for demos, tests and benchmarks.

:func:`write_theia_product` writes a product with the real MUSCATE layout (file names,
``MTD_ALL.xml``, ``MASKS/``) from arrays; :func:`make_demo_product` fills it with real
Sentinel-2 pixels (``shared/data/real_pixels``: Malmö, T33UUB, 2017-05-27) when they can be
found, else with generated textures.  Contains modified Copernicus Sentinel data (2017).
"""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from .bands import GROUP_10M, GROUP_20M

REAL_PIXELS_FILE = "S2A_MSIL1C_20170527_T33UUB.npz"
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
    acquired: dt.datetime = dt.datetime(2017, 5, 27, 10, 21, 13, 456000),
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
    acquired: dt.datetime = dt.datetime(2017, 5, 27, 10, 21, 13, 456000),
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


def find_real_pixels() -> Path | None:
    """The real-pixel sample (``shared/data/real_pixels``) if it can be found, else None.

    Looks at ``$S2SR_SAMPLE_DATA`` (a folder), then for ``shared/data/real_pixels`` beside the
    working directory or any of its parents, then beside the source checkout.
    """
    env = os.environ.get("S2SR_SAMPLE_DATA")
    candidates = [Path(env)] if env else []
    for base in (Path.cwd(), Path(__file__).resolve()):
        for parent in (base, *base.parents):
            candidates.append(parent / "shared" / "data" / "real_pixels")
    for c in candidates:
        if (c / REAL_PIXELS_FILE).is_file():
            return c
    return None


def _tile_to(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    """Mirror-tile ``arr`` (bands, rows, cols) to at least h×w, then crop (seamless)."""
    reps_r = -(-h // arr.shape[1])
    reps_c = -(-w // arr.shape[2])
    rows = np.concatenate([arr if i % 2 == 0 else arr[:, ::-1] for i in range(reps_r)], axis=1)
    full = np.concatenate([rows if j % 2 == 0 else rows[:, :, ::-1] for j in range(reps_c)], axis=2)
    return full[:, :h, :w]


def synthetic_pixels(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generated textures (fields, roads, smooth noise) as (bands10, bands20) reflectance × 10000."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    h = w = size
    base = np.zeros((h, w), np.float32)
    for sigma, amp in ((24, 1.0), (6, 0.5), (1.5, 0.25)):
        base += amp * ndimage.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), sigma) * sigma
    fields = np.zeros((h, w), np.float32)
    for _ in range(max(4, size // 20)):
        r, c = rng.integers(0, h), rng.integers(0, w)
        fh, fw = rng.integers(8, 60, size=2)
        fields[r : r + fh, c : c + fw] = rng.uniform(-1, 1)
    roads = np.zeros((h, w), np.float32)
    for _ in range(max(2, size // 150)):
        roads[rng.integers(0, h), :] = 1.0
        roads[:, rng.integers(0, w)] = 1.0
    tex = base / (np.abs(base).max() + 1e-6) + fields
    gains10 = (400, 600, 500, 2500)
    gains20 = (900, 1800, 2200, 2600, 1800, 1100)
    offs10 = (700, 900, 800, 2800)
    offs20 = (1100, 2000, 2400, 2700, 2200, 1400)
    b10 = np.stack([o + g * tex + 600 * roads for g, o in zip(gains10, offs10, strict=True)])
    hi20 = np.stack([o + g * tex + 400 * roads for g, o in zip(gains20, offs20, strict=True)])
    b20 = hi20.reshape(6, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    return np.clip(b10, 1, 12000).astype(np.int16), np.clip(b20, 1, 12000).astype(np.int16)


def make_demo_product(
    out_dir: str | Path,
    *,
    size: int = 600,
    source: str = "auto",
    as_zip: bool = False,
    nodata_cols: int = 0,
) -> Path:
    """Write a ``size``×``size`` (10 m pixels) Theia L2A sample product into ``out_dir``.

    ``source``: ``"real"`` (the Malmö real pixels, mirrored past 600 px; an error if absent),
    ``"synthetic"`` (generated textures) or ``"auto"`` (real when found).
    """
    if size < 2 or size % 2:
        raise ValueError("size must be an even number of 10 m pixels >= 2")
    real = find_real_pixels() if source in {"auto", "real"} else None
    if source == "real" and real is None:
        from .errors import InputError

        raise InputError(
            "the real-pixel sample (shared/data/real_pixels) was not found",
            hint="set S2SR_SAMPLE_DATA to its folder, or use --source synthetic",
        )
    if real is not None:
        data = np.load(real / REAL_PIXELS_FILE)
        b10 = _tile_to(data["bands10"].astype(np.int16), size, size)
        b20 = _tile_to(data["bands20"].astype(np.int16), size // 2, size // 2)
    else:
        b10, b20 = synthetic_pixels(size)
    return write_theia_product(out_dir, b10, b20, nodata_cols=nodata_cols, as_zip=as_zip)
