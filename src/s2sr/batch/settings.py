"""What every product of a batch is run with: the options of ``s2sr run``, as a value."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from ..defaults import DEFAULT_COLLECTION, DEFAULT_TILE_SIZE
from ..errors import UserError

if TYPE_CHECKING:
    from ..plan import RunOptions


@dataclass(frozen=True)
class RunSettings:
    """The ``s2sr run`` options a batch applies to each product (everything but the product)."""

    destination: str
    model: str | None = None
    collection: str = DEFAULT_COLLECTION
    roi_pixels: tuple[float, float, float, float] | None = None
    roi: tuple[float, float, float, float] | None = None
    tile_size: int = DEFAULT_TILE_SIZE
    bicubic: bool = False
    sre: bool = False
    threads: int | None = None
    gpu: bool = False
    overwrite: bool = False
    s3_endpoint: str | None = None
    create_bucket: bool = False
    stac_catalog: bool = False
    asset_layout: str = "multiband"  #: ``multiband`` (one COG) or ``per-band`` (one COG per band)

    def run_args(self, product: str) -> list[str]:
        """The exact ``s2sr run`` arguments (after ``s2sr``) that process ``product`` with these settings."""
        args = ["run", product, "-o", self.destination]
        if self.model is not None:
            args += ["-m", self.model]
        if self.collection != DEFAULT_COLLECTION:
            args += ["--output-collection", self.collection]
        if self.roi_pixels is not None:
            args += ["--roi-pixels", *(_num(v) for v in self.roi_pixels)]
        if self.roi is not None:
            args += ["--roi", *(_num(v) for v in self.roi)]
        if self.tile_size != DEFAULT_TILE_SIZE:
            args += ["--tile-size", str(self.tile_size)]
        if self.threads is not None:
            args += ["--threads", str(self.threads)]
        if self.s3_endpoint is not None:
            args += ["--s3-endpoint", self.s3_endpoint]
        if self.asset_layout != "multiband":
            args += ["--asset-layout", self.asset_layout]
        for flag, on in (("--bicubic", self.bicubic), ("--sre", self.sre), ("--gpu", self.gpu),
                         ("--overwrite", self.overwrite), ("--create-bucket", self.create_bucket),
                         ("--stac-catalog", self.stac_catalog)):
            if on:
                args.append(flag)
        return args

    def run_options(self) -> RunOptions:
        """The :class:`s2sr.RunOptions` of these settings (validated: a bad ROI is a UserError)."""
        from ..plan import RunOptions

        return RunOptions(roi_pixels=self.roi_pixels, roi=self.roi, tile_size=self.tile_size, bicubic=self.bicubic,
                          sre=self.sre, threads=self.threads, gpu=self.gpu, asset_layout=self.asset_layout)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("roi_pixels", "roi"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "settings") -> RunSettings:
        """Settings from :meth:`to_dict`'s output; unknown or mistyped fields are a clear error."""
        if not isinstance(data, dict):
            raise UserError(f"{where}: expected an object with the run options, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"{where}: unknown option(s) {', '.join(unknown)}",
                            hint=f"known: {', '.join(sorted(known))}")
        if not isinstance(data.get("destination"), str) or not data["destination"]:
            raise UserError(f"{where}: 'destination' (the -o DEST of s2sr run) is missing")
        kw = dict(data)
        for k in ("roi_pixels", "roi"):
            if kw.get(k) is not None:
                v = kw[k]
                if not (isinstance(v, list) and len(v) == 4 and all(isinstance(x, int | float) for x in v)):
                    raise UserError(f"{where}: '{k}' must be a list of 4 numbers")
                kw[k] = tuple(float(x) for x in v)
        return cls(**kw)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))
