"""s2sr: super-resolve Sentinel-2 products to 5 m with ONNX models, tile by tile, into COGs.

The library API the CLI, the openEO UDF and the container all call::

    import s2sr
    result = s2sr.super_resolve("SENTINEL2A_…_L2A_T31TCJ_C_V3-1.zip", "out/", model="bicubic")
    result.sisr   # Path of the Cloud-Optimized GeoTIFF

    # COGs + a STAC item in a collection, on any fsspec destination (idempotent reruns)
    pub = s2sr.super_resolve_to("SENTINEL2A_….zip", "s3://bucket/prefix", model="bicubic")
    pub.item_url  # s3://bucket/prefix/s2sr/SENTINEL2A_…_5m/SENTINEL2A_…_5m.json
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("s2sr")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from typing import TYPE_CHECKING, Any

from .errors import InputError, ModelError, OutputError, ProcessingError, ProductError, RoiError, S2SRError
from .inference import infer
from .models import Model, ModelCard, load_model

if TYPE_CHECKING:
    from .pipeline import RunResult, super_resolve
    from .products import Product, ProductInfo, open_product
    from .publisher import Published, publish, super_resolve_to

# The GDAL side (products, pipeline: rasterio) loads on first use, so that the openEO UDF's
# worker (s2sr.udf.worker: models + inference) imports without rasterio on a back-end.
_LAZY = {
    "RunOptions": "plan",
    "RunPlan": "plan",
    "plan_run": "plan",
    "RunResult": "pipeline",
    "write_cogs": "pipeline",
    "super_resolve": "pipeline",
    "Published": "publisher",
    "publish": "publisher",
    "super_resolve_to": "publisher",
    "Product": "products",
    "ProductInfo": "products",
    "open_product": "products",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "InputError",
    "Model",
    "ModelCard",
    "ModelError",
    "OutputError",
    "ProcessingError",
    "Product",
    "ProductError",
    "ProductInfo",
    "Published",
    "RoiError",
    "RunResult",
    "S2SRError",
    "__version__",
    "infer",
    "load_model",
    "open_product",
    "super_resolve",
    "super_resolve_to",
]
