"""The sample product of ``s2sr demo-product``: a Theia L2A product for demos and first runs.

:func:`make_demo_product` fills a product in the real MUSCATE layout (written by
:func:`s2sr.testing.write_theia_product`) with the real Sentinel-2 pixels
(``shared/data/real_pixels``: Malmö, T33UUB, 2017-05-27) when they can be found, else with
generated textures (:func:`s2sr.testing.synthetic_pixels`).  Contains modified Copernicus
Sentinel data (2017).  The writers live in :mod:`s2sr.testing`; the names below stay importable
from here for older code.
"""

from __future__ import annotations

from pathlib import Path

from .testing.pixels import REAL_PIXELS_FILE, find_real_pixels, sample_pixels, synthetic_pixels
from .testing.theia import theia_name, write_theia_product

__all__ = [
    "REAL_PIXELS_FILE", "find_real_pixels", "make_demo_product", "synthetic_pixels", "theia_name",
    "write_theia_product",
]


def make_demo_product(
    out_dir: str | Path,
    *,
    size: int = 600,
    source: str = "auto",
    as_zip: bool = False,
    nodata_cols: int = 0,
) -> Path:
    """Write a ``size``×``size`` (10 m pixels) Theia L2A sample product into ``out_dir``.

    ``source``: ``"real"`` (the Malmö real pixels, mirrored past 600 px; an error if absent),
    ``"synthetic"`` (generated textures) or ``"auto"`` (real when found).
    """
    b10, b20 = sample_pixels(size, source)
    return write_theia_product(out_dir, b10, b20, nodata_cols=nodata_cols, as_zip=as_zip)
