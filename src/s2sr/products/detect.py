"""Which reader opens an input: decided from its content, never from a flag.

- an ``http(s)://`` / ``file://`` URL, or a local JSON file: a STAC item;
- a folder named ``*.SAFE`` or holding ``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml`` (or one such
  folder), or a zip holding one: an ESA SAFE product;
- a Theia L2A/L3A folder or zip (``*_MTD_ALL.xml``, ``*_FRE_B2.tif`` …).
"""

from __future__ import annotations

from pathlib import Path

from ..remote import is_url
from .safe import looks_like_safe
from .theia import looks_like_theia

KINDS = ("stac", "safe", "theia")


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
