"""A COG's overviews, computed from each tile while it is written (docs/architecture.md, "Outputs").

GDAL's COG driver builds the overviews after the last tile, from the whole staging file: on
2 cores that was the larger part of the COG step (1.8–2.1 s of it for a 2196² × 10 output,
against 1.1–1.2 s when the overviews are already there).  The first levels are exact halvings of
the tile that has just been written, so the write thread computes them as each tile comes (tens
of ms a tile, overlapped with the model) into *chained external overviews* of the staging file —
``x.tif.ovr`` holds level 2, ``x.tif.ovr.ovr`` level 4 …, which GDAL reads as the overviews of
``x.tif`` — and the COG driver copies them (``OVERVIEWS=FORCE_USE_EXISTING``).  Levels no tile
gives whole (an odd size, or a tile edge not on the level's grid) are built by GDAL from the last
staged level when the run ends: a sixteenth of the pixels or less.

The averages are GDAL's ``AVERAGE`` for an exact 2× reduction: nodata excluded, the mean of the
valid pixels rounded half away from zero (the levels staged here are equal, value for value, to
the ones the COG driver computes; tests/test_outputs_overviews.py checks it).  The levels GDAL
builds from a staged level have GDAL's ``gdaladdo`` sizes (⌈n/2⌉, where the COG driver rounds
down: one row and column more at odd sizes).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

log = logging.getLogger(__name__)


def cog_overview_count(width: int, height: int, blocksize: int = 512) -> int:
    """How many overview levels (2, 4, …) GDAL's COG driver gives a ``width`` × ``height`` raster:
    it halves until the long side is at most ``blocksize``."""
    n = 0
    while max(width, height) >> n > blocksize:
        n += 1
    return n


def exact_levels(width: int, height: int, count: int) -> int:
    """Of the first ``count`` levels, how many are exact 2× halvings (every level above even)."""
    k = 0
    while k < count and width % (2 ** (k + 1)) == 0 and height % (2 ** (k + 1)) == 0:
        k += 1
    return k


def halve(block: np.ndarray, nodata: int) -> np.ndarray:
    """``block`` (bands, rows, cols; even rows and cols, int16) averaged over 2×2 pixels as GDAL's
    ``AVERAGE`` does it: nodata excluded, half away from zero, nodata where all four are."""
    valid = block != nodata
    if valid.all():  # the common case: no nodata, no masks
        s = block[:, 0::2, 0::2].astype(np.int32)
        s += block[:, 1::2, 0::2]
        s += block[:, 0::2, 1::2]
        s += block[:, 1::2, 1::2]
        if s.min() >= 0:
            s += 2
            s >>= 2
            return s.astype(np.int16)
        q = (np.abs(s) + 2) >> 2
        return np.where(s < 0, -q, q).astype(np.int16)
    x = np.where(valid, block, 0).astype(np.int32)
    s = x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2]
    n = (valid[:, 0::2, 0::2].astype(np.int32) + valid[:, 1::2, 0::2] + valid[:, 0::2, 1::2]
         + valid[:, 1::2, 1::2])
    q = (2 * np.abs(s) + n) // np.maximum(2 * n, 1)
    out = np.where(s < 0, -q, q)
    out[n == 0] = nodata
    return out.astype(np.int16)


class OverviewStaging:
    """The overviews of the staging GeoTIFF ``staging``, written level by level as tiles come.

    >>> ovr = OverviewStaging(path, 2196, 2196, 10, nodata=-10000, layout={...})  # doctest: +SKIP
    >>> ovr.write(window, block)      # every tile, int16
    >>> ovr.finish()                  # True: ``path`` has its overviews (copy with FORCE_USE_EXISTING)
    """

    def __init__(self, staging: Path, width: int, height: int, count: int, *, nodata: int,
                 layout: dict[str, object], crs: CRS | None = None, transform: Affine | None = None,
                 blocksize: int = 512) -> None:
        self.staging = Path(staging)
        self.crs, self.transform = crs, transform  # the level files are georeferenced (GDAL warns otherwise)
        self.width, self.height, self.count = width, height, count
        self.nodata = nodata
        self.layout = dict(layout)
        self.total = cog_overview_count(width, height, blocksize)  #: the levels the COG gets
        self.staged = exact_levels(width, height, self.total)  #: levels still computed from the tiles
        self._ds: dict[int, rasterio.io.DatasetWriter] = {}

    def path(self, level: int) -> Path:
        """The file of overview ``level`` (1: 2×, 2: 4× …): the staging file's name + ``.ovr`` × level."""
        return self.staging.with_name(self.staging.name + ".ovr" * level)

    def _dataset(self, level: int) -> rasterio.io.DatasetWriter:
        ds = self._ds.get(level)
        if ds is None:
            f = 2**level
            geo = {} if self.transform is None else {"crs": self.crs, "transform": self.transform @ Affine.scale(f)}
            ds = rasterio.open(self.path(level), "w", driver="GTiff", width=self.width // f,
                               height=self.height // f, count=self.count, dtype="int16",
                               nodata=self.nodata, sparse_ok=True, bigtiff="IF_SAFER", **geo, **self.layout)
            self._ds[level] = ds
        return ds

    def write(self, window: Window, block: np.ndarray) -> None:
        """Add the overview pixels of ``block`` (int16, bands × rows × cols) written at ``window``."""
        off = (int(window.col_off), int(window.row_off), int(window.width), int(window.height))
        k = 0
        while k < self.staged and all(v % (2 ** (k + 1)) == 0 for v in off):
            k += 1
        if k < self.staged:  # a tile edge off this level's grid: GDAL builds it and those below
            log.debug("overview levels %d.. of %s left to GDAL (window %s)", k + 1, self.staging.name, off)
            self.staged = k
        cur = block
        for level in range(1, self.staged + 1):
            cur = halve(cur, self.nodata)
            f = 2**level
            self._dataset(level).write(cur, window=Window(off[0] // f, off[1] // f, cur.shape[2], cur.shape[1]))

    def close(self) -> None:
        """Close the level files (idempotent)."""
        while self._ds:
            _, ds = self._ds.popitem()
            ds.close()

    def finish(self) -> bool:
        """Close the levels and build the rest with GDAL; False if nothing was staged (then the
        COG driver builds every level itself, and the level files are gone)."""
        self.close()
        for level in range(self.staged + 1, self.total + 1):  # staged, then left off: incomplete
            self.path(level).unlink(missing_ok=True)
        if self.staged == 0:
            return False
        rest = self.total - self.staged
        if rest:
            with rasterio.open(self.path(self.staged), "r+") as ds:
                ds.build_overviews([2**i for i in range(1, rest + 1)], Resampling.average)
        return True

    def remove(self) -> None:
        """Delete every level file."""
        self.close()
        for level in range(1, max(self.total, 1) + 1):
            self.path(level).unlink(missing_ok=True)
