"""Which reader opens an input (:func:`open_product`): decided from its content, never from a flag.

- an ``http(s)://`` / ``file://`` URL, or a local JSON file: a STAC item;
- a folder named ``*.SAFE`` or holding ``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml`` (or one such
  folder), or a zip holding one: an ESA SAFE product;
- a Theia L2A/L3A folder or zip (``*_MTD_ALL.xml``, ``*_FRE_B2.tif`` …).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ProductError
from ..remote.gdal import is_url
from .base import Product
from .safe import EXPECTED as SAFE_EXPECTED
from .safe import SafeProduct, looks_like_safe
from .stac import StacProduct
from .theia import EXPECTED as THEIA_EXPECTED
from .theia import TheiaProduct, looks_like_theia

KINDS = ("stac", "safe", "theia")
_EXPECTED = f"expected {THEIA_EXPECTED}; or {SAFE_EXPECTED}; or a STAC item (JSON file or URL)"


def _is_json_file(path: Path) -> bool:
    if path.suffix.lower() in {".json", ".geojson"}:
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(64).lstrip().startswith(b"{")
    except OSError:
        return False


def detect_kind(source: str | Path) -> str | None:
    """``"stac"``, ``"safe"``, ``"theia"``, or None when nothing fits."""
    text = str(source)
    if is_url(text):
        return "stac"
    path = Path(text)
    if path.is_file() and _is_json_file(path):
        return "stac"
    if looks_like_safe(path):
        return "safe"
    if looks_like_theia(path):
        return "theia"
    return None


def open_product(source: str | Path | Product, *, sre: bool = False, allow_local_assets: bool = False) -> Product:
    """Open a product from a path, detecting its format from its content.

    Supported: Theia L2A/L3A (directory or zip), ESA SAFE L1C / Sen2Cor L2A (directory or zip),
    STAC items (local JSON or URL).  ``sre`` selects Theia SRE bands over FRE.
    ``allow_local_assets``: let a remote STAC item name local files (never by default).
    """
    if isinstance(source, Product):
        return source
    if detect_kind(str(source)) == "stac" and not Path(str(source)).is_dir():
        return StacProduct(str(source), allow_local_assets=allow_local_assets)
    path = Path(source)
    if not path.exists():
        raise ProductError(f"input {path} does not exist", hint="give the path of a product folder or zip")
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        raise ProductError(f"input {path} is not readable (permission denied)")
    kind = detect_kind(path)
    if kind == "stac":
        return StacProduct(path, allow_local_assets=allow_local_assets)
    if kind == "safe":
        return SafeProduct(path)
    if kind == "theia":
        return TheiaProduct(path, reflectance="SRE" if sre else "FRE")
    if path.suffix.lower() == ".zip":
        raise ProductError(f"zip {path} holds no supported product", hint=_EXPECTED)
    raise ProductError(f"{path} is not a supported product", hint=_EXPECTED)
