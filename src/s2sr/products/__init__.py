"""Products: where pixels come from.  :func:`open_product` detects the format."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ProductError
from .base import BandSource, Product, ProductInfo
from .detect import detect_kind
from .harmonise import Harmonisation
from .reader import BandReader
from .safe import EXPECTED as SAFE_EXPECTED
from .safe import SafeProduct
from .stac import StacProduct
from .theia import EXPECTED as THEIA_EXPECTED
from .theia import TheiaProduct

__all__ = [
    "BandReader", "BandSource", "Harmonisation", "Product", "ProductInfo", "SafeProduct", "StacProduct",
    "TheiaProduct", "detect_kind", "open_product",
]
_EXPECTED = f"expected {THEIA_EXPECTED}; or {SAFE_EXPECTED}; or a STAC item (JSON file or URL)"


def open_product(source: str | Path | Product, *, sre: bool = False) -> Product:
    """Open a product from a path, detecting its format from its content.

    Supported: Theia L2A/L3A (directory or zip), ESA SAFE L1C / Sen2Cor L2A (directory or zip),
    STAC items (local JSON or URL).  ``sre`` selects Theia SRE bands over FRE.
    """
    if isinstance(source, Product):
        return source
    if detect_kind(str(source)) == "stac" and not Path(str(source)).is_dir():
        return StacProduct(str(source))
    path = Path(source)
    if not path.exists():
        raise ProductError(f"input {path} does not exist", hint="give the path of a product folder or zip")
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        raise ProductError(f"input {path} is not readable (permission denied)")
    kind = detect_kind(path)
    if kind == "stac":
        return StacProduct(path)
    if kind == "safe":
        return SafeProduct(path)
    if kind == "theia":
        return TheiaProduct(path, reflectance="SRE" if sre else "FRE")
    if path.suffix.lower() == ".zip":
        raise ProductError(f"zip {path} holds no supported product", hint=_EXPECTED)
    raise ProductError(f"{path} is not a supported product", hint=_EXPECTED)
