"""Output file names, as the seed tool names them (docs/architecture.md, "Outputs")."""

from __future__ import annotations

from ..products.base import ProductInfo


def resolution_label(res: float) -> str:
    """``5.0`` → ``5m``, ``2.5`` → ``2m5``, ``50.0`` → ``50m``."""
    text = f"{res:.4f}".rstrip("0").rstrip(".")
    return text.replace(".", "m") if "." in text else f"{text}m"


def output_name(info: ProductInfo, res: float, kind: str = "sisr") -> str:
    """``{SATELLITE}_{YYYYMMDD}_{LEVEL}_T{tile}_{res}_{kind}.tif``, kind ``sisr`` or ``bicubic``."""
    date = info.acquired.strftime("%Y%m%d")
    return f"{info.satellite}_{date}_{info.level}_T{info.tile}_{resolution_label(res)}_{kind}.tif"
