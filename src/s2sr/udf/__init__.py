"""The openEO UDF: the file back-ends run (:data:`UDF_FILE`) and the worker it calls.

``udf_code()`` is the text the process-graph builder (:mod:`s2sr.openeo`) embeds in
``run_udf``; :mod:`s2sr.udf.worker` does the work on the back-end.
"""

from __future__ import annotations

from pathlib import Path

UDF_FILE = Path(__file__).with_name("s2sr_udf.py")
#: Folders (relative to the UDF's working directory) where the job options unpack the archives.
MODEL_FOLDER = "tmp/s2sr_model"
DEPS_FOLDER = "tmp/s2sr_deps"
#: The batch-job option naming the archives (``URL#folder``).
JOB_OPTION = "udf-dependency-archives"
#: The only runtime that may change the resolution in apply_neighborhood: the geopyspark back-end
#: calls ``apply_metadata`` and rescales the layout for it alone (Udf.scala ``callApplyMetadata``).
RUNTIME = "Python-Jep"
#: The UDF's Python version (``run_udf``'s ``version``): it picks the back-end's container image,
#: and the dependency archive's wheels are built for it (``cp311``).
PYTHON_VERSION = "3.11"
#: ONNX Runtime threads per UDF call unless the context says otherwise: Spark runs one task per
#: core of an executor (``task-cpus`` 1), several tasks in one executor process.
DEFAULT_THREADS = 1


def udf_code() -> str:
    """The UDF's source code, as sent to openEO back-ends."""
    return UDF_FILE.read_text(encoding="utf-8")


__all__ = [
    "DEFAULT_THREADS",
    "DEPS_FOLDER",
    "JOB_OPTION",
    "MODEL_FOLDER",
    "PYTHON_VERSION",
    "RUNTIME",
    "UDF_FILE",
    "udf_code",
]
