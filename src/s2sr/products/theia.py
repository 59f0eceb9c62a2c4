"""Theia (MUSCATE) L2A and L3A products, as a directory or a ``.zip`` (read through /vsizip/).

Layout (CNES THEIA "MUSCATE" format)::

    SENTINEL2A_20230415-105856-123_L2A_T31TCJ_C_V3-1/
        SENTINEL2A_…_V3-1_FRE_B2.tif   (also SRE_*; L3A syntheses: FRC_*)
        SENTINEL2A_…_V3-1_MTD_ALL.xml
        MASKS/SENTINEL2A_…_CLM_R1.tif …

Bands are int16 reflectance × 10000 with nodata −10000.  FRE (flat reflectance, slope
corrected) is read by default, SRE (surface reflectance) on request; L3A holds FRC only.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from ..bands import BANDS, canonical
from ..errors import ProductError
from .archive import open_zip, read_text_file, read_zip_text
from .base import BandSource, Product, ProductInfo

log = logging.getLogger(__name__)

NAME_RE = re.compile(
    r"^(?P<sat>SENTINEL2[A-Z])_(?P<date>\d{8})-(?P<time>\d{6})-(?P<ms>\d{3})_"
    r"(?P<level>L2A|L3A)_T(?P<tile>\d{2}[A-Z]{3})_(?P<kind>[A-Z])_V(?P<version>\d+-\d+)$"
)
_BAND_FILE_RE = re.compile(r"_(FRE|SRE|FRC)_(B\d{1,2}A?)\.tif$", re.IGNORECASE)
EXPECTED = (
    "a Theia L2A/L3A product: a folder or zip named like "
    "SENTINEL2A_20230415-105856-123_L2A_T31TCJ_C_V3-1 holding *_FRE_B2.tif … and *_MTD_ALL.xml"
)


def _local_files(root: Path) -> list[str]:
    return [p.name for p in root.iterdir() if p.is_file()]


def looks_like_theia(path: Path) -> bool:
    """Cheap test used by format detection: a Theia product dir, a folder holding one, or a zip."""
    if path.suffix.lower() == ".zip" and path.is_file():
        try:
            with zipfile.ZipFile(path) as zf:
                return any(n.endswith("_MTD_ALL.xml") or _BAND_FILE_RE.search(n) for n in zf.namelist())
        except zipfile.BadZipFile:
            return False
    if path.is_dir():
        if NAME_RE.match(path.name) or any(p.name.endswith("_MTD_ALL.xml") for p in path.iterdir()):
            return True
        subs = [p for p in path.iterdir() if p.is_dir() and NAME_RE.match(p.name)]
        return len(subs) == 1
    return False


class TheiaProduct(Product):
    """A Theia L2A/L3A product (directory or zip)."""

    def __init__(self, path: str | Path, *, reflectance: str = "FRE") -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise ProductError(f"input {self.path} does not exist")
        self.reflectance = reflectance.upper()
        if self.path.is_file():
            self._root_href, names, mtd_text = self._scan_zip(self.path)
        elif self.path.is_dir():
            self._root_href, names, mtd_text = self._scan_dir(self.path)
        else:
            raise ProductError(f"input {self.path} is neither a folder nor a zip file", hint=f"expected {EXPECTED}")
        self.product_id = self._root_href.rstrip("/").rsplit("/", 1)[-1]
        self.info = self._info(mtd_text)
        self._files = self._band_files(names)
        if not self._files:
            raise ProductError(
                f"{self.path} holds no {self.reflectance} band files",
                hint=f"expected {EXPECTED}" + ("; SRE products need --sre" if self.reflectance == "FRE" else ""),
            )

    # -- discovery -------------------------------------------------------------------
    @staticmethod
    def _scan_dir(path: Path) -> tuple[str, list[str], str | None]:
        root = path
        if not NAME_RE.match(path.name) and not any(p.name.endswith("_MTD_ALL.xml") for p in path.iterdir()):
            subs = [p for p in path.iterdir() if p.is_dir() and NAME_RE.match(p.name)]
            if len(subs) != 1:
                raise ProductError(f"{path} is not a Theia product", hint=f"expected {EXPECTED}")
            root = subs[0]
        try:
            names = _local_files(root)
        except OSError as exc:
            raise ProductError(f"{root} cannot be read: {exc.strerror}") from None
        mtd = [n for n in names if n.endswith("_MTD_ALL.xml")]
        if not mtd and not any(_BAND_FILE_RE.search(n) for n in names):
            raise ProductError(f"{path} is not a Theia product", hint=f"expected {EXPECTED}")
        text = read_text_file(root / mtd[0]) if mtd else None
        return str(root.resolve()), names, text

    @staticmethod
    def _scan_zip(path: Path) -> tuple[str, list[str], str | None]:
        with open_zip(path, EXPECTED) as zf:
            all_names = zf.namelist()
            anchors = [n for n in all_names if n.endswith("_MTD_ALL.xml")] or [
                n for n in all_names if _BAND_FILE_RE.search(n)
            ]
            if not anchors:
                raise ProductError(f"zip {path} holds no Theia product", hint=f"expected {EXPECTED}")
            prefix = anchors[0].rsplit("/", 1)[0] if "/" in anchors[0] else ""
            names = [
                n[len(prefix) + 1 :] if prefix else n
                for n in all_names
                if (n.rsplit("/", 1)[0] if "/" in n else "") == prefix and not n.endswith("/")
            ]
            mtd = [n for n in anchors if n.endswith("_MTD_ALL.xml")]
            text = read_zip_text(zf, mtd[0], path) if mtd else None
        root = f"/vsizip/{path.resolve()}" + (f"/{prefix}" if prefix else "")
        return root, names, text

    def _band_files(self, names: list[str]) -> dict[str, str]:
        kinds = ("FRC",) if self.info.level == "L3A" else (self.reflectance,)
        if self.info.level == "L3A" and self.reflectance == "SRE":
            raise ProductError("Theia L3A syntheses hold FRC bands only", hint="drop --sre for L3A products")
        files: dict[str, str] = {}
        for n in names:
            m = _BAND_FILE_RE.search(n)
            if m and m.group(1).upper() in kinds:
                band = canonical(m.group(2))
                if band in BANDS:
                    files[band] = f"{self._root_href}/{n}"
        return files

    def _info(self, mtd_text: str | None) -> ProductInfo:
        m = NAME_RE.match(self.product_id)
        sat = m.group("sat") if m else None
        level = m.group("level") if m else None
        tile = m.group("tile") if m else None
        when: dt.datetime | None = None
        if m:
            when = dt.datetime.strptime(m.group("date") + m.group("time"), "%Y%m%d%H%M%S").replace(
                tzinfo=dt.UTC, microsecond=int(m.group("ms")) * 1000
            )
        extra: dict[str, str] = {}
        if mtd_text:
            try:
                root = ET.fromstring(mtd_text)
            except ET.ParseError as exc:
                raise ProductError(f"metadata of {self.product_id} is not valid XML: {exc}") from None

            def text(tag: str) -> str | None:
                el = root.find(f".//{tag}")
                return el.text.strip() if el is not None and el.text else None

            sat = text("PLATFORM") or sat
            level = (text("PRODUCT_LEVEL") or level or "").replace("L2VALD", "L2A") or level
            zone = text("GEOGRAPHICAL_ZONE")
            if zone:
                tile = zone.lstrip("T")
            acq = text("ACQUISITION_DATE")
            if acq:
                try:
                    when = dt.datetime.fromisoformat(acq.replace("Z", "+00:00"))
                except ValueError:
                    pass
            for tag in ("PRODUCT_VERSION", "PRODUCT_ID", "PRODUCER_NAME"):
                val = text(tag)
                if val:
                    extra[tag.lower()] = val
        missing = [k for k, v in (("satellite", sat), ("level", level), ("tile", tile), ("date", when)) if not v]
        if missing:
            raise ProductError(
                f"{self.product_id}: cannot tell the product's {', '.join(missing)} from its name or *_MTD_ALL.xml",
                hint=f"expected {EXPECTED}",
            )
        assert sat and level and tile and when
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return ProductInfo(
            satellite=sat.upper().replace("-", ""),
            acquired=when.astimezone(dt.UTC),
            tile=tile,
            level=level.upper(),
            product_id=self.product_id,
            href=str(self.path.resolve()),
            kind="theia",
            extra=extra,
        )

    # -- Product API ----------------------------------------------------------------
    def bands(self) -> tuple[str, ...]:
        return tuple(b for b in BANDS if b in self._files)

    def band_source(self, band: str) -> BandSource:
        b = canonical(band)
        if b not in self._files:
            raise ProductError(
                f"product {self.product_id} lacks band {b} ({self.reflectance} file missing)",
                hint="check the product is complete (re-download or re-extract it)",
            )
        return BandSource(band=b, href=self._files[b], nodata=-10000.0)

    def harmonisation(self) -> str:
        kind = "FRC" if self.info.level == "L3A" else self.reflectance
        return f"none: Theia {self.info.level} {kind} bands are reflectance x 10000 (nodata -10000)"

