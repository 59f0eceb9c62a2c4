"""The super-resolution process graph: a model's bands loaded, merged and run through the s2sr UDF.

The graph (docs/architecture.md, "Entry points"): ``load_collection`` of the model's 10 m bands and of its 20 m bands,
``resample_cube_spatial`` of the 20 m cube onto the 10 m cube with ``cubic`` (the model's input
is GDAL-cubic upsampled, docs/radiometry.md "Resampling"), ``merge_cubes`` (``filter_bands`` into the card's order if
needed), ``apply_neighborhood`` running the s2sr UDF (:mod:`s2sr.udf`) on windows of
``window`` px with an overlap of ``ceil(margin / factor)`` px on the source grid, and
``save_result``.  A model reading only 20 m bands runs on the 20 m grid.

What the geopyspark back-end (openeo-geopyspark-driver, openeo-geotrellis-extensions) does with
it, and why the builder is strict about it:

* only the ``Python-Jep`` runtime calls the UDF's ``apply_metadata`` and rescales the layout
  after it (``Udf.scala`` ``callApplyMetadata``); with ``Python`` a resolution change is cropped
  wrongly, so no other runtime is accepted;
* ``run_udf``'s ``version`` picks the container image, and so the Python the dependency
  archive's wheels must match: pinned to :data:`s2sr.udf.PYTHON_VERSION`;
* the collection's values reach the UDF as float32 with nodata as NaN (``toArrayDouble``),
  so no value is turned into nodata unless ``nodata`` says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bands import GROUP_10M, GROUP_20M, esa_name
from ..errors import InputError, ModelError, UnsupportedError
from ..models import BUILTIN_DIR, ModelCard, builtin_names, resolve_card
from ..udf import MODEL_FOLDER, PYTHON_VERSION, RUNTIME, udf_code

DEFAULT_COLLECTION = "SENTINEL2_L2A"
DEFAULT_WINDOW = 256
DEFAULT_RUNTIME = RUNTIME


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
    # the back-end refuses UDF windows under 4 px (geopysparkdatacube.apply_neighborhood)
    if size < max(overlap, 4):
        raise InputError(
            f"window {window} px is too small for model {card.name}: its overlap is {overlap} px per side",
            hint=f"use a window of at least {2 * overlap + max(overlap, 4)} px",
        )
    return NeighborhoodPlan(size=size, overlap=overlap, resolution=10 if card.source_group == "10m" else 20)


def model_reference(card: ModelCard, model_spec: str | Path | ModelCard | None, model_folder: str = MODEL_FOLDER) -> str:
    """The model as the UDF's context names it: a built-in name, or the card in ``model_folder``."""
    spec = str(model_spec) if isinstance(model_spec, (str, Path)) else None
    if spec is not None and spec in builtin_names():
        return spec
    if card.card_path is not None and card.card_path.parent == BUILTIN_DIR.resolve():
        return card.card_path.stem  # a built-in model: shipped inside s2sr
    if card.card_path is not None:
        return f"{model_folder.rstrip('/')}/{card.card_path.name}"
    raise ModelError("the model card has no file name to name in the UDF's context", hint="pass a .yaml card")


def udf_context(
    card: ModelCard,
    model_spec: str | Path | ModelCard | None,
    *,
    model_folder: str = MODEL_FOLDER,
    threads: int | None = None,
    nodata: float | None = None,
) -> dict[str, Any]:
    """The UDF's context: the model (see :func:`model_reference`), and threads / nodata when set."""
    ctx: dict[str, Any] = {"model": model_reference(card, model_spec, model_folder)}
    if threads is not None:
        ctx["threads"] = _threads(threads)
    if nodata is not None:
        ctx["nodata"] = _nodata(nodata)
    return ctx


def super_resolution_cube(
    source: Any = None,
    model: str | Path | ModelCard | None = None,
    *,
    spatial_extent: Any = None,
    temporal_extent: Any = None,
    collection: str = DEFAULT_COLLECTION,
    max_cloud_cover: Any = None,
    window: int = DEFAULT_WINDOW,
    model_folder: str = MODEL_FOLDER,
    runtime: str = DEFAULT_RUNTIME,
    python_version: str = PYTHON_VERSION,
    threads: int | None = None,
    nodata: float | None = None,
    format: str | None = "GTiff",
    fetch_metadata: bool = True,
    context: Mapping[str, Any] | None = None,
) -> Any:
    """The super-resolution process graph, as an openeo ``DataCube``.

    ``source``: an ``openeo.Connection`` (the model's bands are loaded from ``collection``),
    ``None`` (the same graph built offline, without a connection), or a ``DataCube`` that
    already holds the model's bands, in the card's order, on the source grid.
    ``model``: a card path or a built-in name (read here for its bands, factor and margin;
    the back-end gets the card from the model archive, see :func:`s2sr.openeo.job_options`).
    ``threads``: ONNX Runtime threads per UDF call (the UDF's default: 1, one per Spark task;
    raise it together with the job option ``task-cpus``).
    ``nodata``: a value the UDF treats as nodata besides NaN.  None (the default) for the
    back-ends' Sentinel-2 collections: their values arrive harmonised (reflectance × 10000,
    offset removed) with nodata as NaN, so 0 and negative values are valid pixels.  Set it for a
    cube whose nodata is a number, e.g. raw L2A digital numbers loaded with ``load_stac``
    (Sen2Cor's NODATA: 0).
    ``format``: ``save_result`` format, or ``None`` to return the cube without saving.
    ``context``: the UDF's context as given, instead of the one made from ``model``, ``threads``
    and ``nodata``; it becomes ``apply_neighborhood``'s ``context`` and the UDF's context refers to
    it (``{"from_parameter": "context"}``), so that its values may be references to the parameters
    of a user-defined process (:mod:`s2sr.openeo.udp`): references in the parent graph are
    resolved by clients and back-ends alike, those inside the callback only by some back-ends.
    """
    openeo = _client()
    if runtime != RUNTIME:
        raise InputError(
            f"the s2sr UDF cannot run with runtime {runtime!r}: it changes the resolution, which the "
            f"geopyspark back-end supports only for {RUNTIME!r} (it calls apply_metadata for that runtime alone)",
            hint=f"use runtime={RUNTIME!r} (the default)",
        )
    card = resolve_card(model)
    plan = plan_neighborhood(card, window)
    neighborhood_context = None
    if context is None:
        context = udf_context(card, model, model_folder=model_folder, threads=threads, nodata=nodata)
    else:
        neighborhood_context, context = dict(context), {"from_parameter": "context"}
    if isinstance(source, openeo.DataCube):
        cube = source
    else:
        cube = _load(source, card, plan, collection, spatial_extent, temporal_extent, max_cloud_cover, fetch_metadata)
    udf = openeo.UDF(udf_code(), runtime=runtime, version=python_version, context=dict(context))
    cube = cube.apply_neighborhood(udf, size=plan.size_arg(), overlap=plan.overlap_arg(), context=neighborhood_context)
    if format is not None:
        cube = cube.save_result(format=format)
    return cube


#: The graph builder under the names the issue tracker and older code use.
build_graph = super_resolution_cube
super_resolve = super_resolution_cube


def _threads(threads: Any) -> int:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads must be a positive integer, got {threads!r}")
    return threads


def _nodata(nodata: Any) -> float:
    if isinstance(nodata, bool) or not isinstance(nodata, (int, float)) or math.isnan(nodata):
        raise InputError(
            f"nodata must be a number or None, got {nodata!r}",
            hint="leave it unset for collections whose nodata is NaN (the back-ends' SENTINEL2_L2A)",
        )
    return nodata


def _client() -> Any:
    try:
        import openeo
    except ImportError:
        raise UnsupportedError("the openeo client is not installed", hint='pip install "s2sr[openeo]"') from None
    return openeo


def _load(
    connection: Any,
    card: ModelCard,
    plan: NeighborhoodPlan,
    collection: str,
    spatial_extent: Any,
    temporal_extent: Any,
    max_cloud_cover: Any,
    fetch_metadata: bool,
) -> Any:
    openeo = _client()

    def extent(value: Any, kind: type) -> Any:
        if value is None or isinstance(value, openeo.api.process.Parameter):
            return value
        return kind(value)

    def load(bands: list[str]) -> Any:
        kw: dict[str, Any] = {
            "spatial_extent": extent(spatial_extent, dict),
            "temporal_extent": extent(temporal_extent, list),
            "bands": [esa_name(b) for b in bands],
        }
        if max_cloud_cover is not None:
            kw["max_cloud_cover"] = max_cloud_cover
        if connection is None:
            return openeo.DataCube.load_collection(collection, connection=None, fetch_metadata=False, **kw)
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


__all__ = [
    "DEFAULT_COLLECTION",
    "DEFAULT_RUNTIME",
    "DEFAULT_WINDOW",
    "NeighborhoodPlan",
    "build_graph",
    "model_reference",
    "plan_neighborhood",
    "super_resolution_cube",
    "super_resolve",
    "udf_context",
]
