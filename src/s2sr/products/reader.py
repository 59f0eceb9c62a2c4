"""Reading bands of any product onto a grid, window by window (GDAL does the work).

A band already on the target grid is read directly; any other band is resampled onto it
with GDAL's cubic through a :class:`rasterio.vrt.WarpedVRT` (nodata excluded from the
kernel), which is how docs/radiometry.md ("Resampling") says the pretrained models' inputs were made.  Windows may
extend past the grid: pixels outside are NaN.  Values come back as float32 reflectance
× 10000 with NaN for nodata.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from types import TracebackType

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from ..errors import InputError, ProcessingError, ProductError
from ..grid import Grid
from ..remote.gdal import gdal_options
from .base import BandSource, Product
from .raster import open_error

log = logging.getLogger(__name__)


def _same_grid(ds: rasterio.io.DatasetReader, grid: Grid) -> bool:
    t, g = ds.transform, grid.transform
    if ds.crs != grid.crs or not np.isclose(t.a, g.a) or not np.isclose(t.e, g.e):
        return False
    col = (g.c - t.c) / t.a
    row = (g.f - t.f) / t.e
    return abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6 and t.b == 0 and t.d == 0


class BandReader:
    """Reads ``bands`` of ``product`` on ``grid``; use as a context manager.

    Not thread-safe: use it from one thread at a time.
    """

    def __init__(
        self,
        product: Product,
        bands: Sequence[str],
        grid: Grid,
        *,
        resampling: Resampling = Resampling.cubic,
    ) -> None:
        self.product = product
        self.bands = tuple(bands)
        self.grid = grid
        self.resampling = resampling
        self._stack = ExitStack()
        self._gdal_opts: dict[str, str] = {}
        self._env_per_read = False
        self._readers: list[tuple[BandSource, rasterio.io.DatasetReaderBase, int, int, float | None]] = []

    def __enter__(self) -> BandReader:
        try:
            sources = [self.product.band_source(band) for band in self.bands]
            # remote hrefs (/vsicurl/, /vsis3/): retries, no directory listing, S3 settings.  Set in
            # the main thread they are global to GDAL; set elsewhere, reads re-enter them per call.
            self._gdal_opts = gdal_options(s.href for s in sources)
            if self._gdal_opts:
                self._stack.enter_context(rasterio.Env(**self._gdal_opts))
                self._env_per_read = threading.current_thread() is not threading.main_thread()
            for src in sources:
                ds = self._open(src)
                nodata = src.nodata if src.nodata is not None else ds.nodata
                if _same_grid(ds, self.grid):
                    col = round((self.grid.transform.c - ds.transform.c) / ds.transform.a)
                    row = round((self.grid.transform.f - ds.transform.f) / ds.transform.e)
                    self._readers.append((src, ds, col, row, nodata))
                else:
                    vrt = self._stack.enter_context(
                        WarpedVRT(
                            ds,
                            crs=self.grid.crs,
                            transform=self.grid.transform,
                            width=self.grid.width,
                            height=self.grid.height,
                            resampling=self.resampling,
                            src_nodata=nodata,
                            nodata=np.nan,
                            # float64 working type: cubic(DN) - offset equals cubic(DN - offset) to
                            # float32 precision, so containers with and without the offset agree
                            dtype="float64",
                        )
                    )
                    self._readers.append((src, vrt, 0, 0, None))
        except BaseException:
            self._stack.close()
            raise
        return self

    def _open(self, src: BandSource) -> rasterio.io.DatasetReader:
        try:
            return self._stack.enter_context(rasterio.open(src.href))
        except RasterioIOError as exc:
            raise open_error(
                src.href, exc, f"band {src.band} of product {self.product.info.product_id} cannot be read"
            ) from None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def read(self, window: Window) -> np.ndarray:
        """Bands × rows × cols float32 over ``window`` of the grid, NaN outside it or at nodata."""
        h, w = int(window.height), int(window.width)
        out = np.full((len(self.bands), h, w), np.nan, dtype=np.float32)
        c0, r0 = int(window.col_off), int(window.row_off)
        ic0, ir0 = max(c0, 0), max(r0, 0)
        ic1, ir1 = min(c0 + w, self.grid.width), min(r0 + h, self.grid.height)
        if ic1 <= ic0 or ir1 <= ir0:
            return out
        for i, (src, ds, dcol, drow, nodata) in enumerate(self._readers):
            win = Window(ic0 + dcol, ir0 + drow, ic1 - ic0, ir1 - ir0)
            try:
                if self._env_per_read:
                    with rasterio.Env(**self._gdal_opts):
                        data = ds.read(1, window=win, boundless=False)
                else:
                    data = ds.read(1, window=win, boundless=False)
                data = data.astype(np.float64 if data.dtype == np.float64 else np.float32, copy=False)
            except RasterioIOError as exc:
                raise read_error(src.band, src.href, self.product.info.product_id, exc) from None
            if nodata is not None and not np.isnan(nodata):
                data[data == nodata] = np.nan
            if src.scale != 1.0 or src.offset != 0.0:
                data = data * data.dtype.type(src.scale) + data.dtype.type(src.offset)
            out[i, ir0 - r0 : ir1 - r0, ic0 - c0 : ic1 - c0] = data
        return out


def root_cause(exc: BaseException) -> str:
    """The innermost message of a GDAL error chain (rasterio's "Read failed. See previous
    exception for details." hides it in ``__cause__``)."""
    msgs: list[str] = []
    e: BaseException | None = exc
    while e is not None and len(msgs) < 10:
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        if text and "See previous exception" not in text:
            msgs.append(text)
        e = e.__cause__ or e.__context__
    return msgs[-1] if msgs else type(exc).__name__


def read_error(band: str, href: str, product_id: str, exc: BaseException) -> InputError | ProcessingError:
    """One line for a band read that failed mid-run, naming the cause: a local file that is
    damaged (truncated, corrupt) is bad input; a remote read that failed is a processing failure."""
    cause = root_cause(exc)
    if href.startswith(("/vsicurl/", "/vsis3/", "/vsigs/", "/vsiaz/")):
        timed_out = "timed out" in cause.lower() or "timeout" in cause.lower()
        return ProcessingError(
            f"reading band {band} of {product_id} failed ({cause})",
            hint="the server stalled: raise S2SR_HTTP_TIMEOUT / S2SR_HTTP_RETRIES or retry later" if timed_out
            else "check the network and the server, then rerun",
        )
    return ProductError(
        f"band {band} of {product_id} is damaged (truncated or corrupt): {cause}",
        hint="download or extract the product again",
    )
