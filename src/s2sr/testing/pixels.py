"""Reflectance arrays for sample products: generated textures, or the real Sentinel-2 pixels.

:func:`synthetic_pixels` makes field/road/noise textures of any even size; :func:`sample_pixels`
uses the real-pixel sample (``shared/data/real_pixels``: Malmö, T33UUB, 2017-05-27; contains
modified Copernicus Sentinel data 2017) when it can be found, mirrored past its 600 px.
All arrays are reflectance × 10000 as int16: ``bands10`` (B2 B3 B4 B8, h×w) and ``bands20``
(B5 B6 B7 B8A B11 B12, h/2×w/2).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["REAL_PIXELS_FILE", "find_real_pixels", "sample_pixels", "synthetic_pixels", "tile_to"]

REAL_PIXELS_FILE = "S2A_MSIL1C_20170527_T33UUB.npz"


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


def tile_to(arr: np.ndarray, h: int, w: int) -> np.ndarray:
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


def sample_pixels(size: int = 600, source: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """``size``×``size`` (10 m pixels) sample arrays: (bands10, bands20).

    ``source``: ``"real"`` (the Malmö real pixels, mirrored past 600 px; an :class:`InputError`
    if absent), ``"synthetic"`` (generated textures) or ``"auto"`` (real when found).
    """
    if size < 2 or size % 2:
        raise ValueError("size must be an even number of 10 m pixels >= 2")
    real = find_real_pixels() if source in {"auto", "real"} else None
    if source == "real" and real is None:
        raise InputError(
            "the real-pixel sample (shared/data/real_pixels) was not found",
            hint="set S2SR_SAMPLE_DATA to its folder, or use --source synthetic",
        )
    if real is None:
        return synthetic_pixels(size)
    data = np.load(real / REAL_PIXELS_FILE)
    b10 = tile_to(data["bands10"].astype(np.int16), size, size)
    b20 = tile_to(data["bands20"].astype(np.int16), size // 2, size // 2)
    return b10, b20
