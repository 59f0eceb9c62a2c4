# s2sr super-resolution UDF for openEO: apply_neighborhood with the "Python-Jep" runtime, Python 3.11.
#
# The geopyspark back-end (openeo-geotrellis-extensions Udf.scala) executes this file in a Jep
# interpreter inside the executor JVM: once with apply_metadata, to learn the output resolution
# (the spatial step divided by the model's factor), then for each window (overlap included) with
# apply_datacube on a float32 (t, bands, y, x) cube, nodata as NaN.  The result is the whole
# window, upsampled, float32 (t, bands, y, x); the back-end crops the overlap.  The work is done by
# s2sr (s2sr.udf.worker -> s2sr.inference.infer), shipped with the job option
# "udf-dependency-archives" (`s2sr openeo package-deps`, `s2sr openeo --help`).
#
# Context: {"model": "tmp/s2sr_model/<card>.yaml" | "<built-in name>",
#           "threads": N (default 1), "nodata": V, "python_path": ["tmp/s2sr_deps"]}   (all but model optional)
#
# No `from __future__ import annotations` here: openEO's UDF runner recognises the functions
# by their (real, not string) annotations.
import json
import os
import sys

from openeo.metadata import CollectionMetadata
from openeo.udf import XarrayDataCube

DEFAULT_PYTHON_PATH = ("tmp/s2sr_deps",)
DEPS_MANIFEST = "s2sr-deps.json"


def _python_path(context):
    """The folders to import s2sr from: any sequence (under Jep a list arrives as a Java ArrayList)."""
    value = context.get("python_path") if hasattr(context, "get") else None
    if value is None:
        return DEFAULT_PYTHON_PATH
    if isinstance(value, (str, bytes)):
        return (os.fsdecode(value),)
    return tuple(str(folder) for folder in value)


def _check_python(folder):
    manifest = os.path.join(folder, DEPS_MANIFEST)
    if not os.path.isfile(manifest):
        return
    with open(manifest, encoding="utf-8") as f:
        built_for = json.load(f).get("python")
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if built_for and built_for != running:
        raise RuntimeError(
            f"the s2sr dependency archive in {folder} is built for Python {built_for}, but the UDF runs "
            f"Python {running}; rebuild it with `s2sr openeo package-deps --python {running}`, or run the UDF "
            f"with version {built_for!r}"
        )


def _worker(context):
    """s2sr.udf.worker, from a dependency-archive folder appended to sys.path if s2sr is not installed."""
    for folder in _python_path(context):
        path = os.path.abspath(folder)
        if os.path.isdir(path):
            _check_python(path)
            if path not in sys.path:
                sys.path.append(path)  # after the back-end's own packages: never shadow them
    try:
        from s2sr.udf import worker
    except ImportError as exc:
        raise RuntimeError(
            f"the s2sr UDF cannot import s2sr ({exc}); set the job option 'udf-dependency-archives' "
            "to ['<URL of s2sr-deps.zip from `s2sr openeo package-deps`>#tmp/s2sr_deps']"
        ) from None
    return worker


def apply_metadata(metadata: CollectionMetadata, context: dict) -> CollectionMetadata:
    return _worker(context).apply_metadata(metadata, context)


def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:
    return _worker(context).apply_datacube(cube, context)
