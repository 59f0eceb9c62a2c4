"""Outputs: where pixels go (COG files; STAC items and object storage build on these)."""

from __future__ import annotations

from .cog import NODATA, SCALE, CogWriter, check_writable_dir
from .naming import output_name, resolution_label

__all__ = ["NODATA", "SCALE", "CogWriter", "check_writable_dir", "output_name", "resolution_label"]
