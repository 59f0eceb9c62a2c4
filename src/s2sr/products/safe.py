"""ESA SAFE products: Sentinel-2 L1C and Sen2Cor L2A, as a ``.SAFE`` folder or a zip (``/vsizip/``).

Layout (PSD 14.x, single-tile products since 2016)::

    S2A_MSIL2A_20230415T105031_N0509_R051_T31TCJ_20230415T170325.SAFE/
        MTD_MSIL2A.xml            (L1C: MTD_MSIL1C.xml)
        GRANULE/L2A_T31TCJ_A040817_20230415T105405/IMG_DATA/
            R10m/T31TCJ_20230415T105031_B02_10m.jp2 …   (L1C: IMG_DATA/T31TCJ_…_B02.jp2)
            R20m/…_B05_20m.jp2 …   R60m/…_B01_60m.jp2 …

Bands are read from their native-resolution JP2 (R10m for B2 B3 B4 B8, R20m for B5 B6 B7
B8A B11 B12, R60m for B1 B9).  The product metadata gives the baseline, the quantification
value and ``RADIO_ADD_OFFSET`` / ``BOA_ADD_OFFSET``, from which :mod:`.harmonise` decides
``value × scale + offset``; nodata 0 becomes our nodata.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..bands import BANDS, canonical
from ..errors import ProductError
from .archive import open_zip, read_text_file, read_zip_text
from .base import BandSource, Product, ProductInfo
from .harmonise import Harmonisation, baseline_from_name, from_safe

SAFE_NAME_RE = re.compile(
    r"^(?P<sat>S2[A-D])_MSI(?P<level>L1C|L2A)_(?P<sensing>\d{8}T\d{6})_N(?P<baseline>\d{4})_"
    r"R(?P<orbit>\d{3})_T(?P<tile>\d{2}[A-Z]{3})_(?P<gen>\d{8}T\d{6})(?:\.SAFE)?$"
)
_L2A_FILE_RE = re.compile(
    r"IMG_DATA/R(?P<res>10|20|60)m/(?:L2A_)?T(?P<tile>\d{2}[A-Z]{3})_(?P<date>\d{8}T\d{6})_"
    r"(?P<band>B\d{2}|B8A)_(?P=res)m\.jp2$"
)
_L1C_FILE_RE = re.compile(r"IMG_DATA/T(?P<tile>\d{2}[A-Z]{3})_(?P<date>\d{8}T\d{6})_(?P<band>B\d{2}|B8A)\.jp2$")
_MTD_RE = re.compile(r"(?:^|/)MTD_MSI(L1C|L2A)\.xml$")
#: ESA band_id order in the metadata (band_id="0" is B1 … "12" is B12).
ESA_BAND_ORDER = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
EXPECTED = (
    "an ESA SAFE product (L1C or Sen2Cor L2A): a folder or zip named like "
    "S2A_MSIL2A_20230415T105031_N0509_R051_T31TCJ_20230415T170325.SAFE holding MTD_MSIL2A.xml / "
    "MTD_MSIL1C.xml and GRANULE/*/IMG_DATA/*.jp2"
)


def safe_metadata_member(names: list[str]) -> str | None:
    """The MTD_MSIL1C/2A.xml among ``names`` (relative paths), shallowest first."""
    cands = sorted((n for n in names if _MTD_RE.search(n)), key=lambda n: n.count("/"))
    return cands[0] if cands else None


def looks_like_safe(path: Path) -> bool:
    """A SAFE folder, a folder holding one, or a zip holding one."""
    if path.is_file() and path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                return safe_metadata_member(zf.namelist()) is not None
        except zipfile.BadZipFile:
            return False
    if path.is_dir():
        if path.name.upper().endswith(".SAFE") or any((path / f"MTD_MSI{lv}.xml").is_file() for lv in ("L1C", "L2A")):
            return True
        return len([p for p in path.iterdir() if p.is_dir() and p.name.upper().endswith(".SAFE")]) == 1
    return False


@dataclass(frozen=True)
class SafeMetadata:
    """What s2sr reads from MTD_MSIL1C.xml / MTD_MSIL2A.xml."""

    level: str
    baseline: str | None
    spacecraft: str | None
    start: dt.datetime | None
    product_uri: str | None
    quantification: float | None
    offsets: dict[str, float]  #: band → RADIO_ADD_OFFSET / BOA_ADD_OFFSET (DN)
    image_files: tuple[str, ...]  #: IMAGE_FILE entries (relative, no extension)


def parse_metadata(text: str, level: str, where: str) -> SafeMetadata:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ProductError(f"{where} is not valid XML: {exc}") from None

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    first: dict[str, str] = {}
    physical: dict[str, str] = {}
    offsets_raw: dict[str, float] = {}
    images: list[str] = []
    off_tag = "RADIO_ADD_OFFSET" if level == "L1C" else "BOA_ADD_OFFSET"
    q_tag = "QUANTIFICATION_VALUE" if level == "L1C" else "BOA_QUANTIFICATION_VALUE"
    for el in root.iter():
        name = local(el.tag)
        text_ = (el.text or "").strip()
        if name == "Spectral_Information" and el.get("bandId") is not None and el.get("physicalBand"):
            physical[el.get("bandId", "")] = el.get("physicalBand", "")
        elif name == off_tag and el.get("band_id") is not None:
            try:
                offsets_raw[el.get("band_id", "")] = float(text_)
            except ValueError:
                raise ProductError(f"{where}: {off_tag} {text_!r} is not a number") from None
        elif name == "IMAGE_FILE" and text_:
            images.append(text_)
        elif text_ and name not in first:
            first[name] = text_
    offsets: dict[str, float] = {}
    for bid, val in offsets_raw.items():
        band = physical.get(bid) or (ESA_BAND_ORDER[int(bid)] if bid.isdigit() and int(bid) < 13 else None)
        if band:
            offsets[canonical(band)] = val
    start = None
    for key in ("PRODUCT_START_TIME", "DATATAKE_SENSING_START"):
        if key in first:
            try:
                start = dt.datetime.fromisoformat(first[key].replace("Z", "+00:00"))
                break
            except ValueError:
                pass
    q = None
    if q_tag in first:
        try:
            q = float(first[q_tag])
        except ValueError:
            raise ProductError(f"{where}: {q_tag} {first[q_tag]!r} is not a number") from None
    return SafeMetadata(
        level=level, baseline=first.get("PROCESSING_BASELINE"), spacecraft=first.get("SPACECRAFT_NAME"),
        start=start, product_uri=first.get("PRODUCT_URI"), quantification=q, offsets=offsets,
        image_files=tuple(images),
    )


class SafeProduct(Product):
    """An ESA SAFE L1C or Sen2Cor L2A product (folder or zip)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise ProductError(f"input {self.path} does not exist")
        if self.path.is_file():
            root_href, names, mtd_name, mtd_text = self._scan_zip(self.path)
        else:
            root_href, names, mtd_name, mtd_text = self._scan_dir(self.path)
        self._root = root_href
        level = "L1C" if mtd_name.endswith("L1C.xml") else "L2A"
        self.product_id = root_href.rstrip("/").rsplit("/", 1)[-1].removesuffix(".SAFE")
        self.meta = parse_metadata(mtd_text, level, f"{self.product_id}/{mtd_name}")
        self.metadata_file = mtd_name
        self.info = self._info()
        self._files = self._band_files(names)
        self._records: dict[str, Harmonisation] = {}
        for band in self._files:
            self._records[band] = from_safe(
                self.meta.baseline or baseline_from_name(self.product_id),
                self.meta.offsets.get(band),
                self.meta.quantification,
                product=self.product_id,
                metadata_file=mtd_name,
                level=level,
            )

    # -- discovery -------------------------------------------------------------------
    @staticmethod
    def _scan_dir(path: Path) -> tuple[str, list[str], str, str]:
        root = path
        if not any((path / f"MTD_MSI{lv}.xml").is_file() for lv in ("L1C", "L2A")):
            subs = [p for p in path.iterdir() if p.is_dir() and p.name.upper().endswith(".SAFE")]
            if len(subs) == 1:
                root = subs[0]
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        mtd = next((n for n in ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml") if n in names), None)
        if mtd is None:
            raise ProductError(f"{path} holds no MTD_MSIL1C.xml / MTD_MSIL2A.xml", hint=f"expected {EXPECTED}")
        return str(root.resolve()), names, mtd, read_text_file(root / mtd)

    @staticmethod
    def _scan_zip(path: Path) -> tuple[str, list[str], str, str]:
        with open_zip(path, EXPECTED) as zf:
            all_names = zf.namelist()
            mtd = safe_metadata_member(all_names)
            if mtd is None:
                raise ProductError(f"zip {path} holds no SAFE product", hint=f"expected {EXPECTED}")
            prefix = mtd.rsplit("/", 1)[0] + "/" if "/" in mtd else ""
            names = [n[len(prefix):] for n in all_names if n.startswith(prefix) and not n.endswith("/")]
            text = read_zip_text(zf, mtd, path)
        root = f"/vsizip/{path.resolve()}" + (f"/{prefix.rstrip('/')}" if prefix else "")
        return root, names, mtd[len(prefix):], text

    def _band_files(self, names: list[str]) -> dict[str, str]:
        files: dict[str, str] = {}
        rx = _L1C_FILE_RE if self.meta.level == "L1C" else _L2A_FILE_RE
        for n in names:
            m = rx.search(n)
            if not m:
                continue
            band = canonical(m.group("band"))
            if band not in BANDS:
                continue
            if self.meta.level == "L2A" and int(m.group("res")) != BANDS[band].resolution:
                continue  # Sen2Cor also writes resampled copies; read each band at its native resolution
            files[band] = f"{self._root}/{n}"
        return dict(sorted(files.items(), key=lambda kv: list(BANDS).index(kv[0])))

    def _expected_file(self, band: str) -> str | None:
        """The IMAGE_FILE that MTD lists for ``band`` at its native resolution, if any."""
        esa = band if band.endswith("A") or len(band) == 3 else f"B0{band[1:]}"
        suffix = f"_{esa}_{BANDS[band].resolution}m" if self.meta.level == "L2A" else f"_{esa}"
        for f in self.meta.image_files:
            if f.endswith(suffix):
                return f + ".jp2"
        return None

    def _info(self) -> ProductInfo:
        m = SAFE_NAME_RE.match(self.product_id) or SAFE_NAME_RE.match(
            (self.meta.product_uri or "").removesuffix(".SAFE"))
        sat = None
        if self.meta.spacecraft:
            sm = re.match(r"(?i)sentinel-?2([a-d])$", self.meta.spacecraft.strip())
            sat = f"SENTINEL2{sm.group(1).upper()}" if sm else None
        if sat is None and m:
            sat = f"SENTINEL2{m.group('sat')[-1]}"
        when = self.meta.start
        if when is None and m:
            when = dt.datetime.strptime(m.group("sensing"), "%Y%m%dT%H%M%S")
        tile = m.group("tile") if m else None
        missing = [k for k, v in (("satellite", sat), ("date", when), ("tile", tile)) if not v]
        if missing:
            raise ProductError(f"{self.product_id}: cannot tell the product's {', '.join(missing)}",
                               hint=f"expected {EXPECTED}")
        assert sat and when and tile
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return ProductInfo(
            satellite=sat, acquired=when.astimezone(dt.UTC), tile=tile, level=self.meta.level,
            product_id=self.product_id, href=str(self.path.resolve()), kind=f"safe:{self.meta.level}",
            extra={"processing_baseline": self.meta.baseline or ""},
        )

    # -- Product API ----------------------------------------------------------------
    def bands(self) -> tuple[str, ...]:
        return tuple(self._files)

    def band_source(self, band: str) -> BandSource:
        b = canonical(band)
        if b not in self._files:
            exp = self._expected_file(b)
            raise ProductError(
                f"SAFE {self.product_id} lacks the JP2 of band {b}" + (f" ({exp})" if exp else ""),
                hint="the product is incomplete: re-download or re-extract it",
            )
        rec = self._records[b]
        return BandSource(band=b, href=self._files[b], nodata=rec.nodata, scale=rec.scale, offset=rec.offset)

    def check_bands(self, wanted: tuple[str, ...] | list[str]) -> None:
        missing = [b for b in (canonical(w) for w in wanted) if b not in self._files]
        if missing:
            files = [f"{b} ({self._expected_file(b) or 'not listed in ' + self.metadata_file})" for b in missing]
            raise ProductError(
                f"SAFE {self.product_id} lacks the JP2 file(s) of {', '.join(files)} needed by the model",
                hint="the product is incomplete: re-download or re-extract it",
            )

    def harmonisation_record(self, band: str | None = None) -> Harmonisation:
        if band is not None:
            self.band_source(band)
            return self._records[canonical(band)]
        if not self._records:
            raise ProductError(f"SAFE {self.product_id} holds no band JP2 files", hint=f"expected {EXPECTED}")
        return next(iter(self._records.values()))

    def harmonisation(self) -> str:
        recs = set(self._records.values())
        if len(recs) <= 1:
            return next(iter(recs)).describe() if recs else "no bands"
        return "; ".join(f"{b}: {r.describe()}" for b, r in self._records.items())
