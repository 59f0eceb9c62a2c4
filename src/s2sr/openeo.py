"""openEO process graphs that super-resolve Sentinel-2 with an s2sr model, for users of the openeo client.

Three statements for a user::

    import openeo, s2sr.openeo
    cube = s2sr.openeo.super_resolve(openeo.connect("openeo.dataspace.copernicus.eu").authenticate_oidc(),
                                     model="carn.yaml", spatial_extent={...}, temporal_extent=["2023-06-01", "2023-06-30"])
    job = cube.create_job(title="s2sr", job_options=s2sr.openeo.job_options("https://…/carn.zip", "https://…/s2sr-deps.zip"))

The graph (docs/architecture.md, "Entry points"): ``load_collection`` of the model's 10 m bands and of its 20 m bands,
``resample_cube_spatial`` of the 20 m cube onto the 10 m cube with ``cubic`` (the model's input
is GDAL-cubic upsampled, docs/radiometry.md "Resampling"), ``merge_cubes`` (``filter_bands`` into the card's order if
needed), ``apply_neighborhood`` running the s2sr UDF (:mod:`s2sr.udf`) on windows of
``window`` px with an overlap of ``ceil(margin / factor)`` px on the source grid, and
``save_result``.  A model reading only 20 m bands runs on the 20 m grid.

The model reaches the back-end as a zip (``s2sr openeo package-model``) named in the job
option ``udf-dependency-archives`` with the folder it is unpacked into (``URL#folder``);
s2sr itself and onnxruntime likewise (a zip of ``pip install --target`` output).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .bands import GROUP_10M, GROUP_20M, esa_name
from .errors import InputError, ModelError, UnsupportedError
from .models import BUILTIN_DIR, ModelCard, builtin_names, resolve_card
from .udf import DEPS_FOLDER, JOB_OPTION, MODEL_FOLDER, udf_code

DEFAULT_COLLECTION = "SENTINEL2_L2A"
DEFAULT_WINDOW = 256
DEFAULT_RUNTIME = "Python-Jep"

__all__ = [
    "DEFAULT_COLLECTION",
    "DEFAULT_RUNTIME",
    "DEFAULT_WINDOW",
    "NeighborhoodPlan",
    "job_options",
    "package_model",
    "plan_neighborhood",
    "super_resolve",
    "udf_context",
]


@dataclass(frozen=True)
class NeighborhoodPlan:
    """apply_neighborhood's geometry for a model, in source-grid pixels."""

    size: int  #: useful pixels per window side (the step between windows)
    overlap: int  #: pixels added on each side: ceil(margin / factor)
    resolution: int  #: source grid resolution in metres (10 or 20)

    @property
    def window(self) -> int:
        return self.size + 2 * self.overlap

    def size_arg(self) -> list[dict[str, Any]]:
        return [{"dimension": d, "value": self.size, "unit": "px"} for d in ("x", "y")]

    def overlap_arg(self) -> list[dict[str, Any]]:
        return [{"dimension": d, "value": self.overlap, "unit": "px"} for d in ("x", "y")]


def plan_neighborhood(card: ModelCard, window: int = DEFAULT_WINDOW) -> NeighborhoodPlan:
    """Windows of ``window`` px per side (overlap included) for ``card``'s margin."""
    overlap = math.ceil(card.margin / card.factor)
    size = window - 2 * overlap
    if size < max(overlap, 1):
        raise InputError(
            f"window {window} px is too small for model {card.name}: its overlap is {overlap} px per side",
            hint=f"use a window of at least {4 * overlap} px",
        )
    return NeighborhoodPlan(size=size, overlap=overlap, resolution=10 if card.source_group == "10m" else 20)


def udf_context(
    card: ModelCard,
    model_spec: str | Path | ModelCard | None,
    *,
    model_folder: str = MODEL_FOLDER,
    threads: int | None = None,
    nodata: float | None = None,
) -> dict[str, Any]:
    """The UDF's context: the model as the back-end sees it (built-in name, or card in ``model_folder``)."""
    spec = str(model_spec) if isinstance(model_spec, (str, Path)) else None
    if spec is not None and spec in builtin_names():
        model = spec
    elif card.card_path is not None and card.card_path.parent == BUILTIN_DIR.resolve():
        model = card.card_path.stem  # a built-in model: shipped inside s2sr
    elif card.card_path is not None:
        model = f"{model_folder.rstrip('/')}/{card.card_path.name}"
    else:
        raise ModelError("the model card has no file name to name in the UDF's context", hint="pass a .yaml card")
    ctx: dict[str, Any] = {"model": model}
    if threads is not None:
        ctx["threads"] = int(threads)
    if nodata is not None:
        ctx["nodata"] = nodata
    return ctx


def super_resolve(
    source: Any = None,
    model: str | Path | ModelCard | None = None,
    *,
    spatial_extent: Mapping[str, Any] | None = None,
    temporal_extent: Sequence[str | None] | None = None,
    collection: str = DEFAULT_COLLECTION,
    max_cloud_cover: float | None = None,
    window: int = DEFAULT_WINDOW,
    model_folder: str = MODEL_FOLDER,
    runtime: str = DEFAULT_RUNTIME,
    threads: int | None = None,
    nodata: float | str | None = "auto",
    format: str | None = "GTiff",
    fetch_metadata: bool = True,
) -> Any:
    """The super-resolution process graph, as an openeo ``DataCube``.

    ``source``: an ``openeo.Connection`` (the model's bands are loaded from ``collection``),
    ``None`` (the same graph built offline, without a connection), or a ``DataCube`` that
    already holds the model's bands, in the card's order, on the source grid.
    ``model``: a card path or a built-in name (read here for its bands, factor and margin;
    the back-end gets the card from the model archive, see :func:`job_options`).
    ``nodata``: a value the UDF treats as nodata besides NaN; ``"auto"``: 0 (Sen2Cor's
    NODATA) when the bands are loaded here, none for a given cube.
    ``format``: ``save_result`` format, or ``None`` to return the cube without saving.
    """
    openeo = _client()
    UDF, DataCube = openeo.UDF, openeo.DataCube

    card = resolve_card(model)
    plan = plan_neighborhood(card, window)
    if nodata == "auto":
        nodata = None if isinstance(source, DataCube) else 0
    elif isinstance(nodata, str):
        raise InputError(f"nodata must be a number, None or 'auto', got {nodata!r}")
    if isinstance(source, DataCube):
        cube = source
    else:
        cube = _load(source, card, plan, collection, spatial_extent, temporal_extent, max_cloud_cover, fetch_metadata)
    context = udf_context(card, model, model_folder=model_folder, threads=threads, nodata=nodata)
    udf = UDF(udf_code(), runtime=runtime, context=context)
    cube = cube.apply_neighborhood(udf, size=plan.size_arg(), overlap=plan.overlap_arg())
    if format is not None:
        cube = cube.save_result(format=format)
    return cube


def _client() -> Any:
    try:
        import openeo
    except ImportError:
        raise UnsupportedError(
            "the openeo client is not installed", hint='pip install "s2sr[openeo]"'
        ) from None
    return openeo


def _load(
    connection: Any,
    card: ModelCard,
    plan: NeighborhoodPlan,
    collection: str,
    spatial_extent: Mapping[str, Any] | None,
    temporal_extent: Sequence[str | None] | None,
    max_cloud_cover: float | None,
    fetch_metadata: bool,
) -> Any:
    DataCube = _client().DataCube

    def load(bands: list[str]) -> Any:
        kw: dict[str, Any] = {
            "spatial_extent": dict(spatial_extent) if spatial_extent is not None else None,
            "temporal_extent": list(temporal_extent) if temporal_extent is not None else None,
            "bands": [esa_name(b) for b in bands],
        }
        if max_cloud_cover is not None:
            kw["max_cloud_cover"] = max_cloud_cover
        if connection is None:
            return DataCube.load_collection(collection, connection=None, fetch_metadata=False, **kw)
        return connection.load_collection(collection, fetch_metadata=fetch_metadata, **kw)

    b10 = [b for b in card.bands if b in GROUP_10M]
    b20 = [b for b in card.bands if b in GROUP_20M]
    other = [b for b in card.bands if b not in GROUP_10M + GROUP_20M]
    if other:
        raise ModelError(
            f"model {card.name} reads band(s) {', '.join(other)} of the 60 m group, which s2sr.openeo does not load",
            hint="use a model of 10 m and 20 m bands",
        )
    if not b10:
        # a 20 m model runs on the 20 m grid; "near" keeps native 20 m pixels.  Built with
        # process() so that only the spec's long-standing parameters appear (no "align").
        from openeo.rest.datacube import THIS

        return load(b20).process("resample_spatial", data=THIS, resolution=plan.resolution, method="near")
    cube = load(b10)
    if b20:
        cube = cube.merge_cubes(load(b20).resample_cube_spatial(target=cube, method="cubic"))
    if list(card.bands) != b10 + b20:
        cube = cube.filter_bands([esa_name(b) for b in card.bands])
    return cube


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
    from .models import load_model

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
    tmp = out.with_name(f".{out.name}.part")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{stem}.yaml", yaml.safe_dump(data, sort_keys=False))
            zf.write(c.onnx_path, c.onnx_path.name)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
