"""Products: where pixels come from.  :func:`open_product` detects the format.

Names load on first use (:mod:`.stac` needs pystac, :mod:`.reader` GDAL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .base import BandSource, Product, ProductInfo
    from .detect import detect_kind, open_product
    from .harmonise import Harmonisation
    from .reader import BandReader
    from .safe import SafeProduct
    from .stac import StacProduct
    from .theia import TheiaProduct

__all__ = [
    "BandReader", "BandSource", "Harmonisation", "Product", "ProductInfo", "SafeProduct", "StacProduct",
    "TheiaProduct", "detect_kind", "open_product",
]
__getattr__, __dir__ = lazy_exports(__name__, {
    "BandReader": "reader",
    "BandSource": "base",
    "Harmonisation": "harmonise",
    "Product": "base",
    "ProductInfo": "base",
    "SafeProduct": "safe",
    "StacProduct": "stac",
    "TheiaProduct": "theia",
    "detect_kind": "detect",
    "open_product": "detect",
})
