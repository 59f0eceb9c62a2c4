"""Cloud-Optimized GeoTIFF output, written block by block (docs/architecture.md, "Outputs").

Tiles are written into a tiled, compressed GeoTIFF under a temporary name, and their overviews
into its external overview files as they come (:mod:`.overviews`); when every tile is in, GDAL's
COG driver copies it (streaming, with those overviews) to another temporary name, which is
renamed to the final name.  A run that fails leaves no file under the final name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.windows import Window

from ..errors import OutputError, ProcessingError
from ..grid import Grid
from .bandstats import BandStats, StatsAccumulator
from .overviews import OverviewStaging
from .space import FULL_BYTES, is_no_space, no_space_error, out_of_space

log = logging.getLogger(__name__)

#: What GDAL raises through rasterio when a write fails (CPLE_* from ``close``, RasterioIOError from ``write``).
_GDAL_ERRORS = (rasterio.errors.RasterioError, CPLE_BaseError)

NODATA = -10000
SCALE = 1e-4
# DEFLATE level 1: on a 2196×2196×10 output it halves the COG step (3.0 s vs 5.5 s at the
# default level 6) for files 2 % larger; DEFLATE rather than ZSTD for the widest readership.
COG_OPTIONS = {
    "COMPRESS": "DEFLATE",
    "LEVEL": "1",
    "PREDICTOR": "2",
    "BLOCKSIZE": "512",
    "OVERVIEWS": "IGNORE_EXISTING",
    "OVERVIEW_RESAMPLING": "AVERAGE",
    "BIGTIFF": "IF_SAFER",
    "NUM_THREADS": "ALL_CPUS",
}


#: The staging file (read once by the COG step).  Blocks 512 wide and 16 tall: a tile's edge
#: cuts few of them, so with GDAL's block cache bounded (the pipeline sets 64 MB) few
#: blocks are flushed half-written and read back; ZSTD level 1 costs a third of DEFLATE's CPU
#: for the same size.  Measured (benchmarks/README.md) on 4392² × 10 written in 732² tiles, 64 MB
#: cache: write 1.5 + COG step 10.9 CPU-s vs 2.4 + 28.2 with 512² blocks; on 2196² × 10,
#: ZSTD-1 writes in 0.44 CPU-s what DEFLATE-1 writes in 1.25 (same size, same COG step).
STAGING_LAYOUT = {
    "tiled": True,
    "blockxsize": 512,
    "blockysize": 16,
    "compress": "zstd",
    "zstd_level": 1,
    "predictor": 2,
}


def to_int16(data: np.ndarray) -> np.ndarray:
    """Float reflectance × 10000 with NaN → int16 with nodata −10000 (valid values clipped)."""
    out = np.rint(data)  # NaN stays NaN through rint and clip; ±Inf clip to the int16 range
    np.clip(out, NODATA + 1, np.iinfo(np.int16).max, out=out)
    out[np.isnan(out)] = NODATA
    return out.astype(np.int16)


class CogWriter:
    """Write an int16 COG at ``path`` tile by tile; publish it atomically on success.

    >>> with CogWriter(path, grid, ["B2", "B3"]) as w:   # doctest: +SKIP
    ...     w.write(window, data)        # float reflectance × 10000, NaN = nodata
    """

    def __init__(self, path: str | Path, grid: Grid, band_names: Sequence[str]) -> None:
        self.path = Path(path)
        self.grid = grid
        self.band_names = list(band_names)
        token = uuid.uuid4().hex[:8]
        self._staging = self.path.with_name(f".{self.path.stem}.{token}.staging.tif")
        self._cog_tmp = self.path.with_name(f".{self.path.stem}.{token}.cog.tmp")
        self._ds: rasterio.io.DatasetWriter | None = None
        self.finish_seconds = 0.0  #: time spent turning the staging file into the COG
        self._stats = StatsAccumulator(len(self.band_names), NODATA)
        self._ovr = OverviewStaging(self._staging, grid.width, grid.height, len(self.band_names), nodata=NODATA,
                                    layout=STAGING_LAYOUT, crs=grid.crs, transform=grid.transform,
                                    blocksize=int(COG_OPTIONS["BLOCKSIZE"]))

    def __enter__(self) -> CogWriter:
        profile = {
            "driver": "GTiff",
            "width": self.grid.width,
            "height": self.grid.height,
            "count": len(self.band_names),
            "dtype": "int16",
            "crs": self.grid.crs,
            "transform": self.grid.transform,
            "nodata": NODATA,
            **STAGING_LAYOUT,
            "bigtiff": "IF_SAFER",
            "sparse_ok": True,
        }
        try:
            self._ds = rasterio.open(self._staging, "w", **profile)
        except rasterio.errors.RasterioIOError as exc:
            full = no_space_error(self._staging.parent, exc)
            if full is not None:
                raise full from None
            raise OutputError(f"cannot write {self._staging.parent}: {str(exc).splitlines()[0]}") from None
        for i, name in enumerate(self.band_names, start=1):
            self._ds.set_band_description(i, name)
        self._ds.scales = [SCALE] * len(self.band_names)
        self._ds.offsets = [0.0] * len(self.band_names)
        return self

    def write(self, window: Window, data: np.ndarray) -> None:
        """Write float ``data`` (bands, rows, cols; NaN = nodata) at ``window`` of the grid."""
        assert self._ds is not None, "use CogWriter as a context manager"
        block = to_int16(data)
        try:
            self._ds.write(block, window=window)
            self._ovr.write(window, block)
        except _GDAL_ERRORS as exc:
            raise self._failed(exc) from None
        self._stats.add(block)  # each window is written once: statistics without reading the file back

    @property
    def statistics(self) -> tuple[BandStats | None, ...]:
        """Per-band statistics of what was written (stored int16 values, nodata excluded)."""
        return self._stats.result()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._ds is not None:
                try:
                    self._ds.close()
                    self._ovr.close()
                except _GDAL_ERRORS as err:
                    if exc_type is None:
                        raise self._failed(err) from None
            if exc_type is None:
                self._finish()
        finally:
            self._ovr.remove()
            for p in (self._staging, self._cog_tmp):
                p.unlink(missing_ok=True)

    def _finish(self) -> None:
        t0 = time.perf_counter()
        try:
            # the overviews staged while writing are copied; if none could be, the driver builds them
            overviews = "FORCE_USE_EXISTING" if self._ovr.finish() else "IGNORE_EXISTING"
            rasterio.shutil.copy(self._staging, self._cog_tmp, driver="COG", **{**COG_OPTIONS, "OVERVIEWS": overviews})
        except _GDAL_ERRORS as exc:
            raise self._failed(exc) from None
        if out_of_space(self.path.parent, FULL_BYTES):  # GDAL may not report a copy cut short at the end
            raise no_space_error(self.path.parent, low=FULL_BYTES) or ProcessingError(f"no space left: {self.path}")
        os.replace(self._cog_tmp, self.path)
        self.finish_seconds = time.perf_counter() - t0
        log.info("wrote %s (COG finish %.2f s)", self.path, self.finish_seconds)


    def _failed(self, exc: BaseException) -> ProcessingError:
        """One line for a failed write: "no space left" when the filesystem is full, else GDAL's cause."""
        full = no_space_error(self.path.parent, exc)
        if full is not None:
            return full
        cause = exc
        while cause.__cause__ is not None:
            cause = cause.__cause__
        text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        return ProcessingError(f"writing COG {self.path.name} failed: {text}")


def check_writable_dir(path: str | Path) -> Path:
    """Create ``path`` if needed and check a file can be created in it."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".s2sr-write-test-{uuid.uuid4().hex[:8]}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        full = no_space_error(p, exc) if is_no_space(exc) else None
        if full is not None:
            raise full from None
        reason = exc.strerror or type(exc).__name__
        raise OutputError(
            f"output directory {p} cannot be written: {reason}",
            hint="choose a writable folder with -o",
        ) from None
    return p


class CogSet:
    """The data files of one output in a layout: one multi-band COG, or one COG per band.

    ``write`` takes every band at once and sends each file its bands; statistics are kept per
    file; like :class:`CogWriter`, nothing appears under a final name unless every file is done.
    """

    def __init__(self, files: Sequence[tuple[str, str | Path, Sequence[str]]], grid: Grid) -> None:
        #: (key, path, bands) per file, bands in the order of the blocks given to :meth:`write`
        self.files = [(key, Path(path), list(bands)) for key, path, bands in files]
        self.grid = grid
        self._writers: list[CogWriter] = []
        self._slices: list[slice] = []
        start = 0
        for _, _, bands in self.files:
            self._slices.append(slice(start, start + len(bands)))
            start += len(bands)
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> CogSet:
        self._stack = contextlib.ExitStack()
        try:
            for _, path, bands in self.files:
                self._writers.append(self._stack.enter_context(CogWriter(path, self.grid, bands)))
        except BaseException:
            self._stack.close()
            raise
        return self

    def write(self, window: Window, data: np.ndarray) -> None:
        """Write float ``data`` (every band, in file order) at ``window``."""
        for writer, sl in zip(self._writers, self._slices, strict=True):
            writer.write(window, data[sl])

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._stack is not None
        if exc_type is None:
            try:
                self._stack.close()
            except BaseException:
                for _, path, _ in self.files:  # no half output: the files already finished go too
                    path.unlink(missing_ok=True)
                raise
        else:
            self._stack.__exit__(exc_type, exc, tb)

    @property
    def finish_seconds(self) -> float:
        return sum(w.finish_seconds for w in self._writers)

    @property
    def paths(self) -> dict[str, Path]:
        return {key: path for key, path, _ in self.files}

    @property
    def statistics(self) -> dict[str, tuple[BandStats | None, ...]]:
        """Per file key, per band: statistics of what was written."""
        return {key: w.statistics for (key, _, _), w in zip(self.files, self._writers, strict=True)}
