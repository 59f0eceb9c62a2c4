"""Consistency of an output with its own input, measured tile by tile while a run writes.

The output, degraded back to each band's native grid with the operator ``s2sr evaluate``
uses (:func:`s2sr.metrics.degrade`: Gaussian blur with MTF 0.3 at the native Nyquist, then
decimation), is compared with the input on that grid: the mean absolute difference in
reflectance (L1) per band, and the mean spectral angle (SAM, degrees) over all bands on the
coarsest band grid.  A perfect super-resolution reproduces its input when degraded, so low
values say the model added detail without changing what the sensor saw; high values flag
hallucination or radiometric drift.  No high-resolution truth is needed.

Each tile is checked on its part aligned with the coarsest band's pixels (edge tiles of a ROI
that does not fall on that grid are checked on their aligned part only); the blur is mirrored
at tile edges, as ``s2sr evaluate`` mirrors it at the edges of its region.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
from rasterio.windows import Window

from .bands import BANDS
from .grid import Grid
from .metrics import DEFAULT_MTF, block_mean, degrade
from .tiling import Roi, Tile

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Consistency:
    """What :class:`ConsistencyAccumulator` found, ready for the STAC item."""

    l1: dict[str, float]  #: band → mean |degraded output − input| in reflectance
    sam: float  #: mean spectral angle (degrees) on the coarsest band grid
    pixels: int  #: output pixels the check covered
    mtf: float = DEFAULT_MTF

    @property
    def l1_mean(self) -> float:
        vals = [v for v in self.l1.values() if math.isfinite(v)]
        return float(np.mean(vals)) if vals else float("nan")

    def to_stac(self) -> dict[str, Any]:
        """The ``s2sr:consistency`` object (JSON numbers; NaN → null)."""

        def num(v: float, nd: int) -> float | None:
            return round(v, nd) if math.isfinite(v) else None

        return {
            "l1": {b: num(v, 6) for b, v in self.l1.items()},
            "l1_mean": num(self.l1_mean, 6),
            "sam_degrees": num(self.sam, 4),
            "pixels": self.pixels,
            "degradation": f"Gaussian blur, MTF {self.mtf:g} at the native Nyquist frequency, then decimation "
                           "(as s2sr evaluate)",
        }


class ConsistencyAccumulator:
    """Running consistency scores; I/O-free (the caller provides aligned blocks and references)."""

    def __init__(self, bands: Sequence[str], factor: int, ratios: Sequence[int], mtf: float = DEFAULT_MTF) -> None:
        self.bands = tuple(bands)
        self.factor = factor
        self.ratios = tuple(ratios)
        self.kmax = max(self.ratios)
        self.mtf = mtf
        self._abs = np.zeros(len(self.bands), np.float64)
        self._n = np.zeros(len(self.bands), np.int64)
        self._sam_sum = 0.0
        self._sam_n = 0
        self._pixels = 0
        self._lock = threading.Lock()

    def add(self, pred: np.ndarray, refs: Sequence[np.ndarray]) -> None:
        """Merge one block: ``pred`` ``(bands, h, w)`` output (reflectance × 10000, NaN = nodata)
        aligned with every band's native grid (``h``, ``w`` multiples of ``factor × kmax``);
        ``refs[i]`` the input of band ``i`` on its native grid over the same ground."""
        f = self.factor
        abs_sum = np.zeros(len(self.bands))
        n = np.zeros(len(self.bands), np.int64)
        cons: list[np.ndarray] = []
        ref_c: list[np.ndarray] = []
        degraded: dict[int, np.ndarray] = {}
        for k in set(self.ratios):  # the bands of one native grid together: one pass over the tile
            idx = [i for i, r in enumerate(self.ratios) if r == k]
            contiguous = idx == list(range(idx[0], idx[-1] + 1))
            group = pred[idx[0] : idx[-1] + 1] if contiguous else pred[idx]  # a view when it can
            for j, cp in zip(idx, degrade(group, f * k, self.mtf, dtype=np.float32), strict=True):
                degraded[j] = cp
        for i, k in enumerate(self.ratios):
            cp = degraded[i]
            ref = refs[i]
            diff = np.abs(cp - ref)  # NaN where either is nodata
            n[i] = diff.size - int(np.count_nonzero(np.isnan(diff)))
            abs_sum[i] = float(np.nansum(diff, dtype=np.float64))
            down = self.kmax // k
            cons.append(block_mean(cp[None], down)[0])
            ref_c.append(block_mean(ref[None], down)[0])
        p = np.stack(cons).astype(np.float64)
        r = np.stack(ref_c).astype(np.float64)
        dot, pn, rn = (p * r).sum(axis=0), np.sqrt((p * p).sum(axis=0)), np.sqrt((r * r).sum(axis=0))
        cos = dot / np.maximum(pn * rn, 1e-12)
        angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))  # NaN where any band is nodata
        ok = ~np.isnan(angle)
        sam_sum = float(angle[ok].sum())
        with self._lock:
            self._abs += abs_sum
            self._n += n
            self._sam_sum += sam_sum
            self._sam_n += int(ok.sum())
            self._pixels += pred.shape[1] * pred.shape[2]

    def result(self) -> Consistency:
        l1 = {
            b: (float(self._abs[i] / self._n[i]) / 10000.0 if self._n[i] else float("nan"))
            for i, b in enumerate(self.bands)
        }
        sam = self._sam_sum / self._sam_n if self._sam_n else float("nan")
        return Consistency(l1=l1, sam=sam, pixels=self._pixels, mtf=self.mtf)


def aligned(start: int, stop: int, origin: int, step: int) -> tuple[int, int]:
    """The largest ``[a, b)`` inside ``[start, stop)`` with ``origin + a`` and ``b - a`` multiples of ``step``."""
    a = start + (-(origin + start)) % step
    b = a + max(0, (stop - a) // step * step)
    return a, max(a, b)


class ConsistencyCheck:
    """The run's consistency check: references read from the product on each band's native grid.

    Use as a context manager around the run; call :meth:`add` from one thread (the writer's)
    with each tile's input window and model output.
    """

    def __init__(self, product: Any, bands: Sequence[str], source_grid: Grid, roi: Roi, factor: int,
                 mtf: float = DEFAULT_MTF) -> None:
        self.product = product
        self.bands = tuple(bands)
        self.source_grid = source_grid
        self.roi = roi
        self.factor = factor
        self.ratios = [max(1, round(BANDS[b].resolution / source_grid.res)) for b in self.bands]
        self.kmax = max(self.ratios)
        self.acc = ConsistencyAccumulator(self.bands, factor, self.ratios, mtf)
        self._stack = contextlib.ExitStack()
        self._readers: dict[int, Any] = {}  #: ratio → BandReader of the bands with that ratio, native grid
        self.enabled = True

    def __enter__(self) -> ConsistencyCheck:
        from .products import BandReader

        src = self.source_grid.transform
        for k in sorted(set(self.ratios)):
            if k == 1:
                continue
            group = [b for b, r in zip(self.bands, self.ratios, strict=True) if r == k]
            grid = self.product.grid(group[0])
            t = grid.transform
            if abs(t.c - src.c) > 1e-6 * abs(src.a) or abs(t.f - src.f) > 1e-6 * abs(src.a) or \
                    abs(t.a - k * src.a) > 1e-6 * abs(src.a):
                # the native grid does not share the source grid's corner: no aligned comparison
                log.info("consistency not measured: the grid of %s is not aligned with the source grid", group)
                self.enabled = False
                self._stack.close()
                return self
            self._readers[k] = self._stack.enter_context(BandReader(self.product, group, grid))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.close()

    def add(self, tile: Tile, window: np.ndarray, output: np.ndarray) -> None:
        """Check one tile: ``window`` its input (source grid, margins included), ``output`` the
        useful part of the model output (what goes at ``tile.out``)."""
        if not self.enabled:
            return
        f, step = self.factor, self.factor * self.kmax
        out = tile.out
        c0, c1 = aligned(int(out.col_off), int(out.col_off + out.width), self.roi.col0 * f, step)
        r0, r1 = aligned(int(out.row_off), int(out.row_off + out.height), self.roi.row0 * f, step)
        if c1 <= c0 or r1 <= r0:
            return
        pred = output[:, r0 - int(out.row_off) : r1 - int(out.row_off), c0 - int(out.col_off) : c1 - int(out.col_off)]
        # the block on the source grid (absolute source pixels)
        sc0, sc1 = self.roi.col0 + c0 // f, self.roi.col0 + c1 // f
        sr0, sr1 = self.roi.row0 + r0 // f, self.roi.row0 + r1 // f
        refs: list[np.ndarray | None] = [None] * len(self.bands)
        for i, k in enumerate(self.ratios):
            if k == 1:
                refs[i] = window[i, sr0 - int(tile.read.row_off) : sr1 - int(tile.read.row_off),
                                 sc0 - int(tile.read.col_off) : sc1 - int(tile.read.col_off)]
        for k, reader in self._readers.items():
            native = reader.read(Window(sc0 // k, sr0 // k, (sc1 - sc0) // k, (sr1 - sr0) // k))
            idx = [i for i, r in enumerate(self.ratios) if r == k]
            for j, i in enumerate(idx):
                refs[i] = native[j]
        self.acc.add(pred, [r for r in refs if r is not None])

    def result(self) -> Consistency:
        return self.acc.result()
