"""The one tile-inference implementation, shared by the pipeline and the openEO UDF.

:func:`infer` takes a window of reflectance × 10000 with NaN for nodata (inside the
product, or beyond its edges), fills the gaps, runs the model, and puts NaN back where the
input had none: output nodata == input nodata at the output resolution, nothing more
(docs/radiometry.md, "Nodata").  Gap filling:

* rows/columns at the window's border where every band is NaN (past the product's edge,
  or an openEO window hanging over the cube's edge) are filled by mirroring the valid part
  (reflect padding), so border pixels see natural context;
* any remaining NaN is filled per band with its nearest valid value.

A window with no valid pixel is not run through the model.

A model output that is not finite (NaN, ±Inf: a broken or mis-scaled model) is never written
as data: :func:`infer` raises :class:`~s2sr.errors.ProcessingError` naming the model and how
many values were not finite, so nothing is published (README, "Failure behaviour").
"""

from __future__ import annotations

import numpy as np

from .errors import ProcessingError
from .models.runtime import Model


def _valid_span(any_valid: np.ndarray) -> tuple[int, int] | None:
    idx = np.flatnonzero(any_valid)
    if idx.size == 0:
        return None
    return int(idx[0]), int(idx[-1]) + 1


def fill_nodata(window: np.ndarray) -> np.ndarray | None:
    """``window`` (bands, rows, cols) with every NaN filled (a copy if any); None if all are NaN."""
    valid = ~np.isnan(window)
    if valid.all():
        return window
    any_valid = valid.any(axis=0)
    rows = _valid_span(any_valid.any(axis=1))
    cols = _valid_span(any_valid.any(axis=0))
    if rows is None or cols is None:
        return None
    (r0, r1), (c0, c1) = rows, cols
    core = window[:, r0:r1, c0:c1]
    pad = ((0, 0), (r0, window.shape[1] - r1), (c0, window.shape[2] - c1))
    filled = core if not any(p for ax in pad for p in ax) else _reflect(core, pad)
    filled = np.array(filled, dtype=np.float32, copy=True)
    holes = np.isnan(filled)
    if holes.any():
        from scipy import ndimage  # only for windows with holes: a run without any starts 0.4 s sooner

        for b in range(filled.shape[0]):
            hb = holes[b]
            if not hb.any():
                continue
            if hb.all():
                filled[b] = np.nanmean(filled) if np.isfinite(filled).any() else 0.0
                continue
            idx = ndimage.distance_transform_edt(hb, return_distances=False, return_indices=True)
            filled[b] = filled[b][idx[0], idx[1]]
    return filled


def _reflect(core: np.ndarray, pad: tuple[tuple[int, int], ...]) -> np.ndarray:
    # np.pad's reflect needs at least 2 pixels along an axis; fall back to edge for 1.
    if min(core.shape[1:]) > 1:
        return np.pad(core, pad, mode="reflect")
    return np.pad(core, pad, mode="edge")


def restore_nodata(output: np.ndarray, window: np.ndarray, factor: int) -> np.ndarray:
    """Set NaN in ``output`` wherever ``window`` (input grid) is NaN, per band, in place."""
    nan = np.isnan(window)
    if nan.any():
        up = nan.repeat(factor, axis=-2).repeat(factor, axis=-1)
        output[up] = np.nan
    return output


def _check_finite(model: Model, y: np.ndarray) -> None:
    finite = np.isfinite(y)
    if finite.all():
        return
    bad = y[~finite]
    n_nan = int(np.isnan(bad).sum())
    n_pos = int((bad == np.inf).sum())
    n_neg = bad.size - n_nan - n_pos
    parts = ", ".join(f"{n} {what}" for n, what in ((n_nan, "NaN"), (n_pos, "+Inf"), (n_neg, "-Inf")) if n)
    raise ProcessingError(
        f"model {model.name} produced {bad.size} non-finite value(s) of {y.size} in a tile ({parts}); "
        "nothing was published",
        hint="check the model and its input scaling (reflectance x 10000)",
    )


def infer(model: Model, window: np.ndarray) -> np.ndarray:
    """Super-resolve one window: ``(bands, h, w)`` → ``(bands, h·f, w·f)`` float32, NaN kept.

    ``window`` may also be a batch ``(n, bands, h, w)``; each item is filled independently
    and the batch runs through the model at once.
    """
    f = model.card.factor
    x = np.asarray(window, dtype=np.float32)
    single = x.ndim == 3
    batch = x[None] if single else x
    n, c, h, w = batch.shape
    out = np.full((n, c, h * f, w * f), np.nan, dtype=np.float32)
    filled = [fill_nodata(item) for item in batch]
    todo = [i for i, item in enumerate(filled) if item is not None]
    if todo:
        y = model.predict(np.stack([filled[i] for i in todo]))  # type: ignore[misc]
        _check_finite(model, y)
        for k, i in enumerate(todo):
            out[i] = restore_nodata(y[k], batch[i], f)
    return out[0] if single else out
