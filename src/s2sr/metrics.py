"""Image-quality numerics for the Wald protocol: sensor-like degradation and metrics.

NumPy/SciPy on arrays (bands, rows, cols), no I/O (nodata filled as `s2sr.infer` fills it): :mod:`s2sr.evaluate` runs the
protocol on products with them.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from .inference import fill_nodata

if TYPE_CHECKING:
    from scipy import sparse

# SciPy is imported where used: a run (whose consistency check degrades tiles in the write
# thread) then imports it there, overlapped with the model, not before the first tile (0.4 s).

#: Default modulation of the degradation blur at the degraded grid's Nyquist frequency.
DEFAULT_MTF = 0.3


# --------------------------------------------------------------------------- degradation


def gaussian_sigma(factor: int, mtf: float = DEFAULT_MTF) -> float:
    """σ (fine pixels) of the Gaussian whose MTF at the coarse grid's Nyquist frequency is ``mtf``.

    A Gaussian of σ has MTF ``exp(-2 π² σ² ν²)``; the Nyquist frequency of a grid ``factor``
    times coarser is ``ν = 1 / (2 factor)`` cycles per fine pixel.
    """
    if not 0.0 < mtf < 1.0:
        raise ValueError("mtf must be in (0, 1)")
    return factor * math.sqrt(-2.0 * math.log(mtf)) / math.pi


@functools.lru_cache(maxsize=64)
def _degrade_operator(n: int, factor: int, sigma: float) -> sparse.csr_matrix:
    """``(n // factor) × n`` matrix: Gaussian weights centred on each coarse pixel, mirrored at edges."""
    from scipy import sparse

    m = n // factor
    radius = math.ceil(4 * sigma + factor)
    centres = np.arange(m) * factor + (factor - 1) / 2.0
    lo = np.floor(centres - radius).astype(np.int64)
    width = int(math.ceil(centres[0] + radius)) - int(lo[0]) + 1 if m else 0  # the same for every row
    x = lo[:, None] + np.arange(width)[None, :]
    w = np.exp(-0.5 * ((x - centres[:, None]) / sigma) ** 2)
    w /= w.sum(axis=1, keepdims=True)
    x = np.abs(x)  # mirror (half-sample symmetric) at the edges
    x = np.where(x >= n, 2 * n - 1 - x, x)
    x = np.where(x < 0, -x - 1, x)
    rows = np.repeat(np.arange(m), width)
    cols, vals = x.ravel(), w.ravel()
    return sparse.csr_matrix((vals, (rows, cols)), shape=(m, n), dtype=np.float64)


@functools.lru_cache(maxsize=64)
def _transposed(n: int, factor: int, sigma: float) -> sparse.csr_matrix:
    return _degrade_operator(n, factor, sigma).T.tocsr()


def degrade(array: np.ndarray, factor: int, mtf: float = DEFAULT_MTF, *, dtype: type = np.float64) -> np.ndarray:
    """Blur (Gaussian, MTF ``mtf`` at the coarse Nyquist) and decimate ``(bands, h, w)`` by ``factor``.

    ``h`` and ``w`` must be multiples of ``factor``.  NaN (nodata) pixels are filled as
    :func:`s2sr.inference.fill_nodata` fills them, and a coarse pixel is NaN where any of
    its fine pixels is.  ``dtype``: the arithmetic (float32 halves the cost of the in-run
    consistency check; the difference is below 0.01 in reflectance x 10000).
    """
    x = np.asarray(array, dtype=np.float32)
    b, h, w = x.shape
    if h % factor or w % factor:
        raise ValueError(f"shape {h}x{w} is not a multiple of {factor}")
    if factor == 1:
        return x.copy()
    isnan = np.isnan(x)
    any_nan = bool(isnan.any())
    filled = fill_nodata(x) if any_nan else x
    if filled is None:
        return np.full((b, h // factor, w // factor), np.nan, np.float32)
    sigma = gaussian_sigma(factor, mtf)
    # the operators are cached (a run degrades every tile with the same few shapes)
    dr, dct = _degrade_operator(h, factor, sigma), _transposed(w, factor, sigma)
    if dtype is not np.float64:
        dr, dct = dr.astype(dtype), dct.astype(dtype)
    out = np.empty((b, h // factor, w // factor), np.float32)
    for i in range(b):
        out[i] = (dr @ filled[i].astype(dtype, copy=False)) @ dct
    if any_nan:  # one axis at a time: much faster than any(axis=(2, 4)) on the strided view
        nan = isnan.reshape(b, h // factor, factor, w // factor, factor).any(axis=4).any(axis=2)
        out[nan] = np.nan
    return out


def block_mean(array: np.ndarray, k: int) -> np.ndarray:
    """Mean over k×k blocks of ``(bands, h, w)`` (NaN if any pixel of the block is)."""
    if k == 1:
        return array
    b, h, w = array.shape
    # one axis at a time, in float64 (much faster than mean(axis=(2, 4)) on the strided view)
    sums = array.reshape(b, h // k, k, w // k, k).sum(axis=4, dtype=np.float64).sum(axis=2)
    return (sums / (k * k)).astype(array.dtype, copy=False)


# --------------------------------------------------------------------------- metrics


def psnr(pred: np.ndarray, ref: np.ndarray) -> float:
    """PSNR (dB) of one band over pixels valid in both, peak = the reference's max − min."""
    ok = np.isfinite(pred) & np.isfinite(ref)
    if not ok.any():
        return float("nan")
    r, p = ref[ok].astype(np.float64), pred[ok].astype(np.float64)
    mse = float(np.mean((p - r) ** 2))
    peak = float(r.max() - r.min()) or 1.0
    return float("inf") if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def ssim(pred: np.ndarray, ref: np.ndarray, *, sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004, Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03) of one band.

    The data range is the reference's max − min; the mean runs over pixels whose whole window
    is valid and inside the image.
    """
    ok = np.isfinite(pred) & np.isfinite(ref)
    if not ok.any():
        return float("nan")
    r = np.where(ok, ref, 0).astype(np.float64)
    p = np.where(ok, pred, 0).astype(np.float64)
    peak = float(ref[ok].max() - ref[ok].min()) or 1.0
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    from scipy import ndimage

    def g(a: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(a, sigma, truncate=3.5, mode="reflect")

    mu_p, mu_r = g(p), g(r)
    var_p = g(p * p) - mu_p**2
    var_r = g(r * r) - mu_r**2
    cov = g(p * r) - mu_p * mu_r
    s = ((2 * mu_p * mu_r + c1) * (2 * cov + c2)) / ((mu_p**2 + mu_r**2 + c1) * (var_p + var_r + c2))
    rad = int(3.5 * sigma + 0.5)
    use = ndimage.binary_erosion(ok, iterations=rad, border_value=0) if rad else ok
    if not use.any():
        use = ok
    return float(s[use].mean())


def spectral_angle(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean spectral angle (degrees) between ``(bands, h, w)`` arrays over pixels valid in both."""
    ok = np.isfinite(pred).all(axis=0) & np.isfinite(ref).all(axis=0)
    if not ok.any():
        return float("nan")
    p = pred[:, ok].astype(np.float64)
    r = ref[:, ok].astype(np.float64)
    cos = (p * r).sum(axis=0) / np.maximum(np.linalg.norm(p, axis=0) * np.linalg.norm(r, axis=0), 1e-12)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean())


def l1_reflectance(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean absolute difference in reflectance (inputs are reflectance × 10000)."""
    ok = np.isfinite(pred) & np.isfinite(ref)
    if not ok.any():
        return float("nan")
    return float(np.mean(np.abs(pred[ok].astype(np.float64) - ref[ok])) / 10000.0)
