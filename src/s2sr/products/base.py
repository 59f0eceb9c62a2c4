"""The one product interface every source implements (Theia, SAFE, STAC …).

A product says *what* it is (:class:`ProductInfo`) and *where each band's pixels are*
(:class:`BandSource`: a GDAL-readable href plus how to bring its values to reflectance
× 10000 and which value is nodata).  Reading pixels onto a grid is the same for every
source and lives in :mod:`s2sr.products.reader` (headers: :mod:`s2sr.products.raster`), so
the pipeline never knows where the pixels come from.
"""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass, field

from ..bands import GROUP_10M, GROUP_20M, canonical
from ..errors import ProductError
from ..grid import Grid
from .harmonise import Harmonisation
from .raster import grid_of


@dataclass(frozen=True)
class ProductInfo:
    """What a product is: the parts of the seed's output name, and where it came from."""

    satellite: str  #: e.g. ``SENTINEL2A`` (``SENTINEL2X`` for Theia L3A syntheses)
    acquired: dt.datetime  #: acquisition (or synthesis) date-time, UTC
    tile: str  #: MGRS tile without the leading ``T``, e.g. ``31TCJ``
    level: str  #: ``L1C``, ``L2A`` or ``L3A``
    product_id: str  #: the product's own identifier (folder, SAFE or item id)
    href: str  #: where the product was read from (path or URL)
    kind: str = ""  #: reader that opened it, e.g. ``theia``
    extra: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class BandSource:
    """Where one band's pixels are and how to read them as reflectance × 10000."""

    band: str  #: card name, e.g. ``B8A``
    href: str  #: a path GDAL opens: local file, ``/vsizip/…``, ``/vsicurl/…``, ``/vsis3/…``
    nodata: float | None = None  #: source nodata value (None: the file's own)
    scale: float = 1.0  #: value × scale + offset = reflectance × 10000
    offset: float = 0.0


class Product(abc.ABC):
    """A Sentinel-2 product whose bands can be read by band name."""

    info: ProductInfo

    @abc.abstractmethod
    def bands(self) -> tuple[str, ...]:
        """The card names of the bands this product holds."""

    @abc.abstractmethod
    def band_source(self, band: str) -> BandSource:
        """Where ``band`` is; raises :class:`ProductError` if the product lacks it."""

    def grid(self, band: str) -> Grid:
        """The native grid of ``band``, read from its file's header (once per band)."""
        b = canonical(band)
        cache: dict[str, Grid] = self.__dict__.setdefault("_grid_cache", {})
        if b not in cache:
            cache[b] = grid_of(self.band_source(b).href)
        return cache[b]

    def harmonisation(self) -> str:
        """Human-readable statement of what was done to reach reflectance × 10000."""
        return "none (values already reflectance x 10000)"

    def harmonisation_record(self, band: str | None = None) -> Harmonisation:
        """What was done to reach reflectance × 10000, as a value object (for output STAC items).

        ``band``: the record of one band; None: the record shared by the product's bands.
        """
        have = self.bands()
        src = self.band_source(band) if band else (self.band_source(have[0]) if have else None)
        return Harmonisation(
            scale=src.scale if src else 1.0,
            offset=src.offset if src else 0.0,
            nodata=src.nodata if src else None,
            offset_removed=-(src.offset if src else 0.0),
            baseline=None,
            decided_from=self.harmonisation(),
            source_kind=self.info.kind,
        )

    def group_grid(self, group: str) -> Grid:
        """The grid of a band group (``"10m"`` / ``"20m"``) as found in the product."""
        members = GROUP_10M if group == "10m" else GROUP_20M
        for b in members:
            if b in self.bands():
                return self.grid(b)
        raise ProductError(f"product {self.info.product_id} has no band of the {group} group")

    def check_bands(self, wanted: tuple[str, ...] | list[str]) -> None:
        """Raise one error listing every band of ``wanted`` the product lacks."""
        have = set(self.bands())
        missing = [b for b in (canonical(w) for w in wanted) if b not in have]
        if missing:
            raise ProductError(
                f"product {self.info.product_id} lacks band(s) {', '.join(missing)} needed by the model",
                hint=f"it has {', '.join(self.bands()) or 'no bands'}",
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.product_id}>"
