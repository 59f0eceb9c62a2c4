"""Sentinel-2 MSI band names, groups and properties.

Model cards name bands as the seed tool does (``B2``, ``B8A``); ESA and STAC name them
``B02``.  :func:`canonical` maps both spellings to the card's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ModelError


@dataclass(frozen=True)
class BandInfo:
    """Static properties of one Sentinel-2 MSI band."""

    name: str  #: card spelling, e.g. ``B8A``
    resolution: int  #: native ground sampling distance in metres
    common_name: str | None  #: STAC ``eo`` common name
    center_wavelength: float  #: micrometres
    full_width_half_max: float  #: micrometres


BANDS: dict[str, BandInfo] = {
    b.name: b
    for b in (
        BandInfo("B1", 60, "coastal", 0.443, 0.027),
        BandInfo("B2", 10, "blue", 0.490, 0.098),
        BandInfo("B3", 10, "green", 0.560, 0.045),
        BandInfo("B4", 10, "red", 0.665, 0.038),
        BandInfo("B5", 20, "rededge", 0.704, 0.019),
        BandInfo("B6", 20, "rededge", 0.740, 0.018),
        BandInfo("B7", 20, "rededge", 0.783, 0.028),
        BandInfo("B8", 10, "nir", 0.842, 0.145),
        BandInfo("B8A", 20, "nir08", 0.865, 0.033),
        BandInfo("B9", 60, "nir09", 0.945, 0.026),
        BandInfo("B10", 60, "cirrus", 1.375, 0.075),
        BandInfo("B11", 20, "swir16", 1.610, 0.143),
        BandInfo("B12", 20, "swir22", 2.190, 0.242),
    )
}

#: The bands of the 10 m group; a model using any of them works on the 10 m grid.
GROUP_10M: tuple[str, ...] = ("B2", "B3", "B4", "B8")
#: The bands of the 20 m group.
GROUP_20M: tuple[str, ...] = ("B5", "B6", "B7", "B8A", "B11", "B12")

_BAND_RE = re.compile(r"^B0*(\d{1,2})(A?)$", re.IGNORECASE)


def canonical(name: str) -> str:
    """Return the card spelling of a band name: ``B02`` → ``B2``, ``b8a`` → ``B8A``.

    Raises :class:`ModelError` for a name that is not a Sentinel-2 band.
    """
    m = _BAND_RE.match(name.strip())
    if m:
        cand = f"B{int(m.group(1))}{m.group(2).upper()}"
        if cand in BANDS:
            return cand
    raise ModelError(
        f"unknown band {name!r}",
        hint=f"use Sentinel-2 band names such as {', '.join(BANDS)}",
    )


def esa_name(band: str) -> str:
    """Return the ESA/STAC spelling of a band: ``B2`` → ``B02``, ``B8A`` → ``B8A``."""
    b = canonical(band)
    return b if b.endswith("A") or len(b) == 3 else f"B0{b[1:]}"


def source_group(bands: tuple[str, ...] | list[str]) -> str:
    """The band group whose grid is a model's source grid (docs/model-contract.md): ``"10m"`` or ``"20m"``."""
    return "10m" if any(canonical(b) in GROUP_10M for b in bands) else "20m"
