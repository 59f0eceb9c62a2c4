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


def udf_code() -> str:
    """The UDF's source code, as sent to openEO back-ends."""
    return UDF_FILE.read_text(encoding="utf-8")


__all__ = ["DEPS_FOLDER", "JOB_OPTION", "MODEL_FOLDER", "UDF_FILE", "udf_code"]
