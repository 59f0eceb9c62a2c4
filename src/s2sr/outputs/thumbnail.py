"""Quicklooks: a true-colour PNG (B4/B3/B2, 2–98 % stretch, at most 1024 px) of an output COG.

The COG's internal overviews make the read cheap.  The same low-resolution read gives the
valid-data mask used for the STAC item's footprint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling

TRUE_COLOUR = ("B4", "B3", "B2")
MAX_SIZE = 1024


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


def stretch(data: np.ndarray, valid: np.ndarray, low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """The ``low``–``high`` percentiles of the valid pixels of all bands together → 1–255 (0 left
    for nodata).  One stretch for the three bands keeps true colours true (a per-band stretch
    shifts hues: vegetation turns cyan)."""
    out = np.zeros(data.shape, np.uint8)
    vals = data[:, valid]
    if vals.size == 0:
        return out
    lo, hi = np.percentile(vals, [low, high])
    scale = 254.0 / (hi - lo) if hi > lo else 0.0
    for i, band in enumerate(data):
        out[i] = np.where(valid, np.clip((band - lo) * scale + 1, 1, 255), 0).astype(np.uint8)
    return out


def read_quicklook(cog: str | Path, max_size: int = MAX_SIZE) -> Quicklook:
    """Read ``cog`` at most ``max_size`` px on its long side (from its overviews)."""
    with rasterio.open(cog) as ds:
        names = [d or f"band{i}" for i, d in enumerate(ds.descriptions, start=1)]
        idx = quicklook_bands(names)
        scale = max(ds.width, ds.height) / max_size
        if scale > 1:
            shape = (max(1, round(ds.height / scale)), max(1, round(ds.width / scale)))
        else:
            shape = (ds.height, ds.width)
        data = ds.read(idx, out_shape=(len(idx), *shape), resampling=Resampling.average, masked=True)
        transform = ds.transform @ Affine.scale(ds.width / shape[1], ds.height / shape[0])
        crs = ds.crs
    valid = np.asarray(~np.ma.getmaskarray(data).any(axis=0), dtype=bool)
    rgb = stretch(np.ma.filled(data, 0).astype(np.float32), valid)
    alpha = np.where(valid, 255, 0).astype(np.uint8)
    rgba = np.dstack([rgb[0], rgb[1], rgb[2], alpha])
    return Quicklook(rgba=rgba, valid=valid, transform=transform, crs=crs)


def write_png(quicklook: Quicklook, path: str | Path) -> Path:
    """Write the quicklook as an RGBA PNG."""
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(quicklook.rgba)).save(path, format="PNG", compress_level=3)
    return Path(path)
