"""Products: where pixels come from.  :func:`open_product` detects the format."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ProductError
from .base import BandSource, Product, ProductInfo
from .reader import BandReader
from .theia import EXPECTED as THEIA_EXPECTED
from .theia import TheiaProduct, looks_like_theia

__all__ = ["BandReader", "BandSource", "Product", "ProductInfo", "TheiaProduct", "open_product"]


def open_product(source: str | Path | Product, *, sre: bool = False) -> Product:
    """Open a product from a path, detecting its format from its content.

    Supported: Theia L2A/L3A (directory or zip).  ``sre`` selects Theia SRE bands over FRE.
    """
    if isinstance(source, Product):
        return source
    path = Path(source)
    if not path.exists():
        raise ProductError(f"input {path} does not exist", hint="give the path of a product folder or zip")
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        raise ProductError(f"input {path} is not readable (permission denied)")
    if looks_like_theia(path):
        return TheiaProduct(path, reflectance="SRE" if sre else "FRE")
    if path.suffix.lower() == ".zip":
        raise ProductError(f"zip {path} holds no supported product", hint=f"expected {THEIA_EXPECTED}")
    raise ProductError(f"{path} is not a supported product", hint=f"expected {THEIA_EXPECTED}")
