"""Per-band statistics of an output, accumulated tile by tile as the COG is written.

The values are the stored ones (int16 reflectance x 10000, nodata excluded), as GDAL's own
statistics and the readers that rescale from STAC (rio-tiler, titiler) expect them; the
raster ``scale`` turns them into reflectance.  Tiles are merged with Chan's parallel update
of mean and variance, so the result does not depend on the order tiles arrive in and needs
no second read of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BandStats:
    """Statistics of one band's valid pixels (stored values), as STAC ``statistics`` states them."""

    minimum: float
    maximum: float
    mean: float
    stddev: float
    valid_percent: float  #: share of the band's pixels that are not nodata, 0-100

    def to_stac(self) -> dict[str, float]:
        """The ``statistics`` object of the raster extension / STAC 1.1 ``bands``."""
        return {
            "minimum": self.minimum,
            "maximum": self.maximum,
            "mean": round(self.mean, 4),
            "stddev": round(self.stddev, 4),
            "valid_percent": round(self.valid_percent, 4),
        }


class StatsAccumulator:
    """Running statistics of ``bands`` int16 bands; :meth:`add` each written block once."""

    def __init__(self, bands: int, nodata: int) -> None:
        self.nodata = nodata
        self.total = 0  #: pixels seen per band (valid or not)
        self.count = np.zeros(bands, np.int64)
        self.mean = np.zeros(bands, np.float64)
        self.m2 = np.zeros(bands, np.float64)
        self.minimum = np.full(bands, np.inf)
        self.maximum = np.full(bands, -np.inf)

    def add(self, block: np.ndarray) -> None:
        """Merge a written block ``(bands, rows, cols)`` of stored int16 values."""
        b = block.shape[0]
        flat = block.reshape(b, -1)
        self.total += flat.shape[1]
        for i in range(b):
            v = flat[i][flat[i] != self.nodata]
            n = v.size
            if n == 0:
                continue
            v64 = v.astype(np.float64)
            mean = float(v64.mean())
            m2 = float(((v64 - mean) ** 2).sum())
            n0 = int(self.count[i])
            tot = n0 + n
            delta = mean - self.mean[i]
            self.mean[i] += delta * n / tot
            self.m2[i] += m2 + delta * delta * n0 * n / tot
            self.count[i] = tot
            self.minimum[i] = min(self.minimum[i], float(v.min()))
            self.maximum[i] = max(self.maximum[i], float(v.max()))

    def result(self) -> tuple[BandStats | None, ...]:
        """One :class:`BandStats` per band (None for a band without any valid pixel)."""
        out: list[BandStats | None] = []
        for i in range(len(self.count)):
            n = int(self.count[i])
            if n == 0:
                out.append(None)
                continue
            out.append(BandStats(
                minimum=float(self.minimum[i]), maximum=float(self.maximum[i]), mean=float(self.mean[i]),
                stddev=float(np.sqrt(self.m2[i] / n)), valid_percent=100.0 * n / self.total if self.total else 0.0,
            ))
        return tuple(out)


def stats_of(arrays: Sequence[np.ndarray], nodata: int) -> tuple[BandStats | None, ...]:
    """Statistics of whole ``(bands, rows, cols)`` arrays (for tests and small outputs)."""
    acc = StatsAccumulator(arrays[0].shape[0], nodata)
    for a in arrays:
        acc.add(a)
    return acc.result()
