"""The archives a job ships to the back-end: the model zip, and the job option that names them.

The geopyspark back-end passes the job option ``udf-dependency-archives`` to Spark as
``spark.archives`` (openeo-geopyspark-driver ``backend.py``, ``deploy/submit_batch_job_spark3.sh``,
``deploy/sparkapplication_template.yaml.j2``): each ``URL#folder`` is downloaded and unpacked into
``folder`` of the executors' working directory, the UDF's working directory.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from ..models import ModelCard
from ..udf import DEPS_FOLDER, JOB_OPTION, MODEL_FOLDER


def job_options(
    model_archive: str | None = None,
    deps_archive: str | None = None,
    *,
    model_folder: str = MODEL_FOLDER,
    deps_folder: str = DEPS_FOLDER,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Batch-job options shipping the model zip and the s2sr dependency zip to the back-end.

    Each archive is a URL the back-end can download; it is unpacked into its folder of the
    UDF's working directory (``URL#folder``), where the UDF's context looks for it.
    """
    archives = []
    for url, folder in ((model_archive, model_folder), (deps_archive, deps_folder)):
        if url:
            if "#" in url:
                raise InputError(
                    f"archive URL {url!r} already names a folder after '#'",
                    hint="pass the bare URL; the folder is the model_folder / deps_folder argument",
                )
            archives.append(f"{url}#{folder}")
    opts: dict[str, Any] = dict(extra or {})
    if archives:
        opts[JOB_OPTION] = archives
    return opts


def package_model(card: str | Path | ModelCard, output: str | Path) -> Path:
    """Zip ``card`` and its ONNX file at the archive's root (the card's ``model`` rewritten to match).

    The model is opened and validated first, so a card that does not match its ONNX file
    gives one error and no archive.
    """
    from ..models import load_model

    mdl = load_model(card)
    c = mdl.card
    out = Path(output)
    if out.suffix.lower() != ".zip":
        raise InputError(f"output {out} is not a .zip file", hint="name the archive model.zip")
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} of the output archive does not exist")
    stem = c.card_path.stem if c.card_path is not None else (c.name or c.onnx_path.stem)
    data = c.to_dict()
    data["model"] = c.onnx_path.name
    data.setdefault("name", c.name or stem)
    write_zip(out, {
        f"{stem}.yaml": (yaml.safe_dump(data, sort_keys=False).encode("utf-8"), 0o644),
        c.onnx_path.name: (c.onnx_path.read_bytes(), 0o644),
    })
    return out


_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_zip(out: Path, entries: Mapping[str, tuple[bytes, int]]) -> None:
    """A reproducible zip at ``out``: entries (name → (bytes, mode)) sorted, all dated 1980-01-01.

    Written beside ``out`` and renamed into place: no partial archive is ever visible.
    """
    tmp = out.with_name(f".{out.name}.part")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name in sorted(entries):
                data, mode = entries[name]
                info = zipfile.ZipInfo(name, date_time=_EPOCH)
                info.create_system = 3  # unix: the permissions below are honoured
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data, compresslevel=6)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


__all__ = ["job_options", "package_model", "write_zip"]
