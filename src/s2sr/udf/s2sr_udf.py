# s2sr super-resolution UDF for openEO: apply_neighborhood with the "Python-Jep" runtime.
#
# The back-end runs apply_datacube on each window (overlap included) and apply_metadata once
# to learn the output resolution (the spatial step divided by the model's factor).  The
# result is the whole window, upsampled, float32 (t, bands, y, x); the back-end crops the
# overlap.  The work is done by s2sr (s2sr.udf.worker → s2sr.inference.infer), shipped to the
# back-end with the job option "udf-dependency-archives" (see `s2sr openeo --help`).
#
# Context: {"model": "tmp/s2sr_model/<card>.yaml" | "<built-in name>",
#           "threads": N, "nodata": V, "python_path": ["tmp/s2sr_deps"]}   (all but model optional)
#
# No `from __future__ import annotations` here: openEO's UDF runner recognises the functions
# by their (real, not string) annotations.
import os
import sys

from openeo.metadata import CollectionMetadata
from openeo.udf import XarrayDataCube

DEFAULT_PYTHON_PATH = ["tmp/s2sr_deps"]


def _worker(context):
    """s2sr.udf.worker, imported from a dependency-archive folder if s2sr is not installed."""
    folders = DEFAULT_PYTHON_PATH
    if isinstance(context, dict) and isinstance(context.get("python_path"), list):
        folders = context["python_path"]
    for folder in folders:
        path = os.path.abspath(str(folder))
        if os.path.isdir(path) and path not in sys.path:
            sys.path.insert(0, path)
    try:
        from s2sr.udf import worker
    except ImportError as exc:
        raise RuntimeError(
            f"the s2sr UDF cannot import s2sr ({exc}); set the job option 'udf-dependency-archives' "
            "to ['<URL of a zip of s2sr and its dependencies>#tmp/s2sr_deps']"
        ) from None
    return worker


def apply_metadata(metadata: CollectionMetadata, context: dict) -> CollectionMetadata:
    return _worker(context).apply_metadata(metadata, context)


def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:
    return _worker(context).apply_datacube(cube, context)
