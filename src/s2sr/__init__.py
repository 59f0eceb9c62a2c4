"""s2sr: super-resolve Sentinel-2 products to 5 m with ONNX models, tile by tile, into COGs.

The library API the CLI, the openEO UDF and the container all call::

    import s2sr
    result = s2sr.write_cogs("SENTINEL2A_…_L2A_T31TCJ_C_V3-1.zip", "out/", model="bicubic")
    result.sisr   # Path of the Cloud-Optimized GeoTIFF

    # COGs + a STAC item in a collection, on any fsspec destination (idempotent reruns)
    pub = s2sr.publish("SENTINEL2A_….zip", "s3://bucket/prefix", model="bicubic")
    pub.item_url  # s3://bucket/prefix/s2sr/SENTINEL2A_…_5m/SENTINEL2A_…_5m.json

``super_resolve`` and ``super_resolve_to`` are the old names of ``write_cogs`` and ``publish``.

Every name below loads on first use: ``import s2sr`` loads neither ONNX Runtime nor SciPy
nor GDAL (rasterio), so the CLI starts fast and the openEO UDF's worker imports only what it
runs.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ._lazy import lazy_exports

try:
    __version__ = version("s2sr")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from .errors import (
        InputError,
        ModelError,
        OutputError,
        ProcessingError,
        ProductError,
        RoiError,
        S2SRError,
        UserError,
    )
    from .inference import infer
    from .models import Model, ModelCard, load_model
    from .pipeline import RunResult, super_resolve, write_cogs
    from .plan import RunOptions, RunPlan, plan_run
    from .products import Product, ProductInfo, open_product
    from .publisher import Published, publish, super_resolve_to

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
    "RunOptions",
    "RunPlan",
    "RunResult",
    "S2SRError",
    "UserError",
    "__version__",
    "infer",
    "load_model",
    "open_product",
    "plan_run",
    "publish",
    "super_resolve",
    "super_resolve_to",
    "write_cogs",
]
__getattr__, __dir__ = lazy_exports(__name__, {
    # errors
    "InputError": "errors",
    "ModelError": "errors",
    "OutputError": "errors",
    "ProcessingError": "errors",
    "ProductError": "errors",
    "RoiError": "errors",
    "S2SRError": "errors",
    "UserError": "errors",
    # models and inference
    "Model": "models",
    "ModelCard": "models",
    "load_model": "models",
    "infer": "inference",
    # products
    "Product": "products",
    "ProductInfo": "products",
    "open_product": "products",
    # planning and running
    "RunOptions": "plan",
    "RunPlan": "plan",
    "plan_run": "plan",
    "RunResult": "pipeline",
    "super_resolve": "pipeline",
    "write_cogs": "pipeline",
    "Published": "publisher",
    "publish": "publisher",
    "super_resolve_to": "publisher",
})
