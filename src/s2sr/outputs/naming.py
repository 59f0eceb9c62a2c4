"""Output file names, as the seed tool names them (docs/architecture.md, "Outputs"), and asset keys
per layout.

Layouts of the data files:

* ``multiband`` (default): one COG with every band, ``…_sisr.tif`` (and ``…_bicubic.tif``);
* ``per-band``: one single-band COG per band, ``…_B02.tif`` (and ``…_B02_bicubic.tif``), its
  STAC asset keyed as Earth Search keys it (``blue``, ``rededge1`` …), so that per-band readers
  such as stackstac work.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bands import esa_name
from ..products.base import ProductInfo

MULTIBAND = "multiband"
PER_BAND = "per-band"
LAYOUTS = (MULTIBAND, PER_BAND)

#: Asset keys of the per-band layout, as Earth Search names them.
BAND_KEYS = {
    "B1": "coastal", "B2": "blue", "B3": "green", "B4": "red", "B5": "rededge1", "B6": "rededge2",
    "B7": "rededge3", "B8": "nir", "B8A": "nir08", "B9": "nir09", "B10": "cirrus", "B11": "swir16", "B12": "swir22",
}


def resolution_label(res: float) -> str:
    """``5.0`` → ``5m``, ``2.5`` → ``2m5``, ``50.0`` → ``50m``."""
    text = f"{res:.4f}".rstrip("0").rstrip(".")
    return text.replace(".", "m") if "." in text else f"{text}m"


def output_name(info: ProductInfo, res: float, kind: str = "sisr") -> str:
    """``{SATELLITE}_{YYYYMMDD}_{LEVEL}_T{tile}_{res}_{kind}.tif``, kind ``sisr``, ``bicubic``, ``B02`` …"""
    date = info.acquired.strftime("%Y%m%d")
    return f"{info.satellite}_{date}_{info.level}_T{info.tile}_{resolution_label(res)}_{kind}.tif"


@dataclass(frozen=True)
class DataFile:
    """One data file of an output: its STAC asset key, file name and bands (card names, file order)."""

    key: str
    name: str
    bands: tuple[str, ...]
    comparison: bool = False  #: the bicubic comparison


def band_key(band: str, comparison: bool = False) -> str:
    """The per-band layout's asset key of ``band`` (``B4`` → ``red``; ``red_bicubic``)."""
    return BAND_KEYS[band] + ("_bicubic" if comparison else "")


def data_files(info: ProductInfo, res: float, bands: tuple[str, ...], layout: str = MULTIBAND,
               comparison: bool = False) -> tuple[DataFile, ...]:
    """The data files of an output (or of its bicubic comparison) in ``layout``."""
    if layout == MULTIBAND:
        kind = "bicubic" if comparison else "sisr"
        return (DataFile(kind, output_name(info, res, kind), tuple(bands), comparison),)
    suffix = "_bicubic" if comparison else ""
    return tuple(
        DataFile(band_key(b, comparison), output_name(info, res, esa_name(b) + suffix), (b,), comparison)
        for b in bands
    )
