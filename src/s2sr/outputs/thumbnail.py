"""Quicklooks: a true-colour PNG (B4/B3/B2, 2–98 % stretch, at most 512 px) of an output COG.

The COG's internal overviews make the read cheap.  The same low-resolution read gives the
valid-data mask used for the STAC item's footprint (at most 1024 px, finer than the
thumbnail).  The PNG is palette-coded (256 colours, nodata transparent): a catalogue can afford
it (~100-200 KB for a full tile, where the RGBA PNG at 1024 px weighed 2 MB).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling

TRUE_COLOUR = ("B4", "B3", "B2")
MAX_SIZE = 1024  #: the quicklook read (footprint mask)
THUMBNAIL_SIZE = 512  #: the PNG's long side


@dataclass(frozen=True)
class Quicklook:
    """A low-resolution view of an output: RGBA bytes and the valid-data mask on its grid."""

    rgba: np.ndarray  #: uint8 (rows, cols, 4); alpha 0 where no band is valid
    valid: np.ndarray  #: bool (rows, cols)
    transform: Affine  #: of the low-resolution grid
    crs: CRS


def quicklook_bands(bands: Sequence[str]) -> list[int]:
    """1-based band indexes to show: B4/B3/B2 when all are there, else the first band (grey)."""
    names = list(bands)
    if all(b in names for b in TRUE_COLOUR):
        return [names.index(b) + 1 for b in TRUE_COLOUR]
    return [1, 1, 1]


def stretch_limits(data: np.ndarray, valid: np.ndarray, low: float = 2.0, high: float = 98.0) -> tuple[float, float]:
    """The ``low``–``high`` percentiles of the valid pixels of all bands together.

    One stretch for the three bands keeps true colours true (a per-band stretch shifts hues:
    vegetation turns cyan)."""
    vals = data[:, valid]
    if vals.size == 0:
        return (0.0, 1.0)
    lo, hi = np.percentile(vals, [low, high])
    return float(lo), float(hi)


def to_bytes(data: np.ndarray, valid: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``lo``–``hi`` → 1–255 per pixel, 0 where not ``valid`` (nodata)."""
    scale = 254.0 / (hi - lo) if hi > lo else 0.0
    scaled = np.clip((np.nan_to_num(data, nan=lo) - lo) * scale + 1, 1, 255)
    return np.where(valid, scaled, 0).astype(np.uint8)


def stretch(data: np.ndarray, valid: np.ndarray, low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """``data`` (bands, rows, cols) → uint8 with one 2–98 % stretch for all bands (0 = nodata)."""
    return to_bytes(data, valid, *stretch_limits(data, valid, low, high))


def read_quicklook(cog: str | Path | Sequence[str | Path], max_size: int = MAX_SIZE) -> Quicklook:
    """Read ``cog`` at most ``max_size`` px on its long side (from its overviews).

    ``cog``: one multi-band COG (its B4/B3/B2 are shown), or the single-band COGs of the
    per-band layout in the order red, green, blue."""
    if isinstance(cog, str | Path):
        with rasterio.open(cog) as ds:
            names = [d or f"band{i}" for i, d in enumerate(ds.descriptions, start=1)]
            return _read([(ds, i) for i in quicklook_bands(names)], max_size)
    with contextlib.ExitStack() as stack:
        sources = [stack.enter_context(rasterio.open(p)) for p in cog]
        return _read([(ds, 1) for ds in (sources * 3)[:3]], max_size)


def _read(bands: Sequence[tuple[rasterio.io.DatasetReader, int]], max_size: int) -> Quicklook:
    ds = bands[0][0]
    scale = max(ds.width, ds.height) / max_size
    if scale > 1:
        shape = (max(1, round(ds.height / scale)), max(1, round(ds.width / scale)))
    else:
        shape = (ds.height, ds.width)
    data = np.ma.stack([src.read(i, out_shape=shape, resampling=Resampling.average, masked=True)
                        for src, i in bands])
    transform = ds.transform @ Affine.scale(ds.width / shape[1], ds.height / shape[0])
    valid = np.asarray(~np.ma.getmaskarray(data).any(axis=0), dtype=bool)
    rgb = stretch(np.ma.filled(data, 0).astype(np.float32), valid)
    alpha = np.where(valid, 255, 0).astype(np.uint8)
    rgba = np.dstack([rgb[0], rgb[1], rgb[2], alpha])
    return Quicklook(rgba=rgba, valid=valid, transform=transform, crs=ds.crs)


def save_png(pixels: np.ndarray, path: str | Path) -> Path:
    """Write uint8 ``(rows, cols, 3 or 4)`` pixels as an RGB(A) PNG."""
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(pixels)).save(path, format="PNG", compress_level=3)
    return Path(path)


def write_png(quicklook: Quicklook, path: str | Path, max_size: int = THUMBNAIL_SIZE) -> Path:
    """Write the quicklook as a thumbnail: at most ``max_size`` px, 256-colour palette PNG whose
    nodata pixels are fully transparent."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(quicklook.rgba), mode="RGBA")
    if max(img.size) > max_size:
        scale = max_size / max(img.size)
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        # premultiplied resampling: nodata (alpha 0, black) does not darken the valid edge
        img = img.resize(size, Image.Resampling.BOX, reducing_gap=None)
        a = np.asarray(img).copy()
        a[..., 3] = np.where(a[..., 3] >= 128, 255, 0)
        img = Image.fromarray(a, mode="RGBA")
    rgba = np.asarray(img)
    opaque = rgba[..., 3] == 255
    # 255 colours for the valid pixels, index 255 for nodata (transparent)
    rgb = Image.fromarray(np.ascontiguousarray(rgba[..., :3]), mode="RGB")
    # fast octree: 2 ms where median cut took 144 ms on a 512² quicklook, RMSE 3.84 vs 3.58 (of 255)
    pal = rgb.quantize(255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    idx = np.where(opaque, np.asarray(pal), 255).astype(np.uint8)
    out = Image.fromarray(idx, mode="P")
    palette = (pal.getpalette() or [])[: 255 * 3]
    out.putpalette(palette + [0] * (768 - len(palette)))
    out.save(path, format="PNG", optimize=True, transparency=255)
    return Path(path)
