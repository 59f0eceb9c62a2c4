"""Radiometric harmonisation (docs/radiometry.md): every source to reflectance × 10000, offset removed once.

Since processing baseline 04.00 (25 January 2022, and every Collection-1 reprocessing, 05.xx)
ESA products carry a radiometric offset: ``reflectance = (DN + OFFSET) / QUANTIFICATION``
with ``RADIO_ADD_OFFSET`` (L1C) / ``BOA_ADD_OFFSET`` (L2A) = −1000 and quantification 10000.
Catalogues disagree on whether they already applied it, so the decision is made from the
source's own metadata, in this order, and never guessed:

1. the SAFE's ``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml`` (offsets and quantification values);
2. ``earthsearch:boa_offset_applied`` (Earth Search; the maintainers call it "the truth" where
   ``raster:bands`` disagrees), together with the processing baseline;
3. ``raster:bands`` ``scale`` / ``offset`` of the band's asset (CDSE: ``offset −0.1``);
4. the processing baseline alone (``s2:processing_baseline``, ``processing:version``,
   ``sentinel:processing_baseline``, or the ``_Nxxyy_`` field of the ESA product name):
   ≥ 04.00 → remove 1000, below → nothing.

No baseline and no explicit statement: :class:`HarmonisationError` (refuse rather than guess).
The result is expressed as ``value × scale + offset`` (reflectance × 10000) plus the source
nodata, which is what :class:`~s2sr.products.base.BandSource` carries to the reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import HarmonisationError

#: The radiometric offset of baselines >= 04.00, in digital numbers.
ESA_OFFSET_DN = -1000.0
#: ESA's quantification value: DN / 10000 = reflectance (L1C and L2A BOA).
ESA_QUANTIFICATION = 10000.0
#: Nodata of ESA products (SAFE JP2, and the COGs made from them).
ESA_NODATA = 0.0
#: The first baseline whose products carry the offset.
OFFSET_BASELINE = (4, 0)

_BASELINE_RE = re.compile(r"^\s*0*(\d{1,2})\.(\d{1,2})\s*$")
_NAME_BASELINE_RE = re.compile(r"_N(\d{2})(\d{2})(?:_|\.|$)")


@dataclass(frozen=True)
class Harmonisation:
    """What brings one source's values to reflectance × 10000: ``value × scale + offset``.

    ``offset_removed`` is the offset removed in reflectance × 10000 units (1000.0 for baseline
    ≥ 04.00 products that still carry it, 0.0 otherwise); ``decided_from`` names the metadata
    the decision was read from.  This is what the outputs record in their STAC items.
    """

    scale: float
    offset: float
    nodata: float | None
    offset_removed: float
    baseline: str | None
    decided_from: str
    source_kind: str = ""  #: e.g. ``stac:earth-search``, ``safe:L2A``, ``theia``

    def __post_init__(self) -> None:
        for name in ("scale", "offset", "offset_removed"):  # no -0.0 in records
            object.__setattr__(self, name, _rounded(float(getattr(self, name))) + 0.0)

    def describe(self) -> str:
        what = (
            f"offset of {self.offset_removed:g} removed (value x {self.scale:g} {self.offset:+g})"
            if self.offset_removed
            else f"no offset to remove (value x {self.scale:g} {self.offset:+g})"
        )
        base = f", processing baseline {self.baseline}" if self.baseline else ""
        nod = f", source nodata {self.nodata:g}" if self.nodata is not None else ""
        return f"{what}{base}{nod}; decided from {self.decided_from}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record (for the ``processing`` fields of output STAC items)."""
        return asdict(self)


def parse_baseline(text: str | None) -> tuple[int, int] | None:
    """``"05.09"`` / ``"5.9"`` / ``"04.00"`` → ``(5, 9)``; anything else → None."""
    if text is None:
        return None
    m = _BASELINE_RE.match(str(text))
    return (int(m.group(1)), int(m.group(2))) if m else None


def baseline_from_name(name: str | None) -> str | None:
    """The baseline of an ESA product / granule / datatake name: ``…_N0509_…`` → ``"05.09"``."""
    if not name:
        return None
    m = _NAME_BASELINE_RE.search(name)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    m = re.search(r"_N(\d{2})\.(\d{2})(?:_|$)", name)  # datatake ids: GS2A_…_N02.14
    return f"{m.group(1)}.{m.group(2)}" if m else None


def baseline_from_properties(props: Mapping[str, Any]) -> tuple[str | None, str]:
    """The processing baseline stated by a STAC item, and which property stated it."""
    for key in ("s2:processing_baseline", "processing:version", "sentinel:processing_baseline"):
        val = props.get(key)
        if val is not None and parse_baseline(str(val)):
            return str(val), key
    for key in ("s2:product_uri", "sentinel:product_id", "s2:datatake_id", "s2:granule_id", "id"):
        b = baseline_from_name(props.get(key))
        if b:
            return b, key
    return None, ""


def offset_expected(baseline: str) -> bool:
    """True when products of ``baseline`` carry the −1000 offset (>= 04.00)."""
    parsed = parse_baseline(baseline)
    if parsed is None:
        raise HarmonisationError(f"processing baseline {baseline!r} is not a baseline number like 05.09")
    return parsed >= OFFSET_BASELINE


def _check_known(baseline: str, product: str) -> None:
    parsed = parse_baseline(baseline)
    if parsed is None or not (2, 0) <= parsed < (6, 0):
        raise HarmonisationError(
            f"{product}: unknown processing baseline {baseline!r}",
            hint="s2sr knows baselines 02.00 to 05.99; it refuses to guess the radiometric offset of others",
        )


def from_stac(
    props: Mapping[str, Any],
    raster_band: Mapping[str, Any] | None,
    *,
    product: str,
    source_kind: str = "stac",
) -> Harmonisation:
    """Decide the harmonisation of one band asset of a STAC item (see the module's order)."""
    baseline, baseline_key = baseline_from_properties(props)
    rb = dict(raster_band or {})
    nodata = float(rb["nodata"]) if rb.get("nodata") is not None else ESA_NODATA
    # scale of the asset's values to reflectance (raster:bands), brought to reflectance x 10000
    scale = _rounded(float(rb["scale"]) * ESA_QUANTIFICATION) if rb.get("scale") is not None else 1.0

    for flag in ("earthsearch:boa_offset_applied", "sentinel:boa_offset_applied"):
        if flag in props:
            applied = bool(props[flag])
            if applied:
                return Harmonisation(scale, 0.0, nodata, 0.0, baseline, f"{flag}=true", source_kind)
            if baseline is None:
                raise HarmonisationError(
                    f"{product}: {flag}=false but no processing baseline is given",
                    hint="cannot tell whether the pixels carry the -1000 offset; refusing to guess",
                )
            _check_known(baseline, product)
            off = ESA_OFFSET_DN if offset_expected(baseline) else 0.0
            return Harmonisation(
                scale, off * scale, nodata, -off * scale, baseline,
                f"{flag}=false and {baseline_key}={baseline}", source_kind,
            )
    if rb.get("offset") is not None and rb.get("scale") is not None:
        off = _rounded(float(rb["offset"]) * ESA_QUANTIFICATION)
        return Harmonisation(scale, off, nodata, -off, baseline, "raster:bands scale/offset", source_kind)
    if baseline is None:
        raise HarmonisationError(
            f"{product}: no processing baseline and no offset statement in the item",
            hint="need s2:processing_baseline, processing:version, earthsearch:boa_offset_applied or "
            "raster:bands offset; refusing to guess the -1000 offset of baselines >= 04.00",
        )
    _check_known(baseline, product)
    off = ESA_OFFSET_DN if offset_expected(baseline) else 0.0
    return Harmonisation(scale, off * scale, nodata, -off * scale, baseline, f"{baseline_key}={baseline}", source_kind)


def from_safe(
    baseline: str | None,
    offset_dn: float | None,
    quantification: float | None,
    *,
    product: str,
    metadata_file: str,
    level: str,
) -> Harmonisation:
    """Decide the harmonisation of a SAFE band from its metadata XML values."""
    if baseline is None:
        raise HarmonisationError(f"{product}: {metadata_file} states no PROCESSING_BASELINE",
                                 hint="refusing to guess the radiometric offset")
    _check_known(baseline, product)
    q = quantification or ESA_QUANTIFICATION
    scale = _rounded(ESA_QUANTIFICATION / q)
    tag = "RADIO_ADD_OFFSET" if level == "L1C" else "BOA_ADD_OFFSET"
    if offset_dn is None:
        if offset_expected(baseline):
            raise HarmonisationError(
                f"{product}: baseline {baseline} but {metadata_file} lists no {tag}",
                hint="the product metadata looks incomplete; refusing to guess the offset",
            )
        offset_dn = 0.0
        src = f"{metadata_file} PROCESSING_BASELINE={baseline} (no {tag} before 04.00)"
    else:
        src = f"{metadata_file} {tag}={offset_dn:g}, PROCESSING_BASELINE={baseline}"
    off = _rounded(offset_dn * scale)
    return Harmonisation(scale, off, ESA_NODATA, -off, baseline, src, f"safe:{level}")


def _rounded(x: float) -> float:
    """Remove float noise such as 0.0001 × 10000 = 1.0000000000000002."""
    return float(f"{x:.10g}")
