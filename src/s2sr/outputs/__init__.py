"""Outputs: where pixels go (COG files; STAC items and object storage build on these).

Names load on first use (:mod:`.cog` needs GDAL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .cog import NODATA, SCALE, CogWriter, check_writable_dir
    from .naming import output_name, resolution_label

__all__ = ["NODATA", "SCALE", "CogWriter", "check_writable_dir", "output_name", "resolution_label"]
__getattr__, __dir__ = lazy_exports(__name__, {
    "NODATA": "cog",
    "SCALE": "cog",
    "CogWriter": "cog",
    "check_writable_dir": "cog",
    "output_name": "naming",
    "resolution_label": "naming",
})
