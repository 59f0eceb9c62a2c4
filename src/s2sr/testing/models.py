"""Tiny ONNX models with cards, for tests, benchmarks and examples (built with ``onnx.helper``).

The graph builders are :mod:`s2sr.models.graphs`' (:func:`resize_model`, :func:`convnet_model`,
:func:`write_model`); this module names the three models the test suite runs:

- ``nearest_x2``: nearest-neighbour ×2 of all ten bands, margin 0 (each output pixel is its
  input pixel, so results are exact);
- ``convnet_x2``: a small residual conv net ×2 of all ten bands; receptive-field radius
  2 convs × factor 2 + 2 convs = 6 output pixels, margin 8 covers it (tiling must be seamless);
- ``convnet20_x4``: a 20 m-group conv net ×4 (B5 B6 B7 B8A B11 B12, like the seed tool's
  ``s2v2x4``): source grid 20 m, receptive-field radius 1 × 4 + 1 = 5, margin 6.

>>> from s2sr.testing import write_test_models
>>> cards = write_test_models(tmp_dir)  # doctest: +SKIP
>>> cards["convnet_x2"]                 # doctest: +SKIP
PosixPath('.../convnet_x2.yaml')
"""

from __future__ import annotations

from pathlib import Path

from ..bands import GROUP_10M, GROUP_20M
from ..models.graphs import carn_like_model, convnet_model, resize_model, write_model

__all__ = [
    "ALL_BANDS", "carn_like_model", "carn_like_x2", "convnet20_x4", "convnet_model", "convnet_x2", "nearest_x2", "resize_model", "write_model",
    "write_test_models",
]

#: The ten bands the 10-band models take, in their input order (10 m group, then 20 m group).
ALL_BANDS: list[str] = list(GROUP_10M + GROUP_20M)


def nearest_x2(directory: str | Path) -> Path:
    """Write ``nearest_x2.onnx`` + ``.yaml`` into ``directory``; return the card path."""
    return write_model(directory, "nearest_x2", resize_model(10, 2, mode="nearest"), bands=ALL_BANDS, factor=2,
                       margin=0)


def convnet_x2(directory: str | Path, *, seed: int = 0) -> Path:
    """Write ``convnet_x2.onnx`` + ``.yaml`` (receptive-field radius 6, margin 8); return the card path."""
    return write_model(directory, "convnet_x2", convnet_model(10, 2, seed=seed), bands=ALL_BANDS, factor=2,
                       margin=8)


def convnet20_x4(directory: str | Path) -> Path:
    """Write ``convnet20_x4.onnx`` + ``.yaml`` (20 m group, ×4, margin 6); return the card path."""
    return write_model(directory, "convnet20_x4", convnet_model(6, 4, layers_in=1, layers_out=1),
                       bands=list(GROUP_20M), factor=4, margin=6)


def carn_like_x2(directory: str | Path, *, seed: int = 0) -> Path:
    """Write ``carn_like_x2.onnx`` + ``.yaml``: the benchmark's CARN-sized model (381 k parameters,
    10 bands, ×2, margin 32 like the seed tool's default card; seeded weights, not trained)."""
    return write_model(directory, "carn_like_x2", carn_like_model(10, 2, seed=seed), bands=ALL_BANDS, factor=2,
                       margin=32, description="CARN-sized benchmark model (seeded weights, not trained)")


def write_test_models(directory: str | Path) -> dict[str, Path]:
    """Write the three test models into ``directory``; return {name: card path}."""
    return {"nearest_x2": nearest_x2(directory), "convnet_x2": convnet_x2(directory),
            "convnet20_x4": convnet20_x4(directory)}
