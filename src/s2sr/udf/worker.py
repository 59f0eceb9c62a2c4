"""What the openEO UDF does, on a back-end worker: context → model → :func:`s2sr.infer` per window.

The UDF file (:mod:`s2sr.udf.s2sr_udf`) is a thin shim the back-end executes; everything
lives here, in an importable module, so that

* the ONNX Runtime session outlives one call: sessions are cached in this module, once per
  worker process, keyed by the ONNX file's **content** (SHA-256) and the run options — a
  back-end that re-executes the UDF code for every window still reuses them;
* the standalone processor and the UDF share one tile-inference implementation
  (:func:`s2sr.inference.infer`: fill nodata → model → restore nodata).

Context contract (a JSON object in the process graph)::

    {"model": "tmp/s2sr_model/carn.yaml",   # card path (absolute, or relative to the working
                                              # directory where udf-dependency-archives are
                                              # unpacked) or a built-in model name; required
     "threads": 2,                            # ONNX Runtime intra-op threads (optional, default 1:
                                              # one per Spark task, several tasks per executor)
     "nodata": 0,                             # a value meaning nodata besides NaN (optional)
     "python_path": ["tmp/s2sr_deps"]}        # folders appended to sys.path by the UDF (optional;
                                              # any sequence: under Jep a Java ArrayList)

The cube: dimensions ``t, bands, y, x`` (any order), bands in the card's order (``B02`` and
``B2`` are the same band), values reflectance × 10000, NaN nodata.  The result is the whole
window (overlap included) ``factor`` times finer, float32, dimensions ``(t, bands, y, x)``.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..bands import canonical
from ..errors import CubeError, InputError, ModelError
from ..hashing import file_sha256
from ..inference import infer
from ..models import BUILTIN_DIR, ModelCard, builtin_names
from ..models.runtime import Model, RuntimeOptions, open_model
from . import DEFAULT_THREADS, JOB_OPTION, MODEL_FOLDER

log = logging.getLogger(__name__)

DIMS = ("t", "bands", "y", "x")
CONTEXT_KEYS = ("model", "threads", "nodata", "python_path")


@dataclass(frozen=True)
class UdfContext:
    """The UDF's context, validated."""

    model: str
    threads: int = DEFAULT_THREADS
    nodata: float | None = None

    @classmethod
    def parse(cls, context: Any) -> UdfContext:
        if not isinstance(context, Mapping):
            raise InputError(
                f"the s2sr UDF needs a context object, got {type(context).__name__}",
                hint='pass context={"model": "<card path or built-in name>"} to run_udf',
            )
        unknown = sorted(set(context) - set(CONTEXT_KEYS))
        if unknown:
            raise InputError(
                f"the s2sr UDF context has unknown key(s) {', '.join(map(repr, unknown))}",
                hint=f"known keys: {', '.join(CONTEXT_KEYS)}",
            )
        model = context.get("model")
        if not isinstance(model, str) or not model:
            raise InputError(
                "the s2sr UDF context does not name a model",
                hint='add "model": "<card path relative to the working directory, or a built-in name>"',
            )
        threads = context.get("threads")
        if threads is None:
            threads = DEFAULT_THREADS
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise InputError(f"the s2sr UDF context: threads must be a positive integer, got {threads!r}")
        nodata = context.get("nodata")
        if nodata is not None and (not isinstance(nodata, (int, float)) or isinstance(nodata, bool)):
            raise InputError(f"the s2sr UDF context: nodata must be a number, got {nodata!r}")
        python_path = context.get("python_path")
        if isinstance(python_path, (int, float, bool, Mapping)):
            raise InputError(
                f"the s2sr UDF context: python_path must be a list of folders, got {python_path!r}",
                hint='e.g. "python_path": ["tmp/s2sr_deps"]',
            )
        return cls(model=model, threads=threads, nodata=None if nodata is None else float(nodata))


# --- models: cards and sessions, cached per worker process ----------------------------------

_lock = threading.Lock()
_cards: dict[tuple[str, int, int], ModelCard] = {}
_digests: dict[tuple[str, int, int], str] = {}
_sessions: dict[tuple[str, tuple[str, ...], int, int | None], Model] = {}
_stats = {"sessions_created": 0}


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def resolve_model_card(spec: str, cwd: str | Path | None = None) -> ModelCard:
    """The card named by the context: a built-in name, or a path (relative to ``cwd``)."""
    base = Path(cwd) if cwd is not None else Path(os.getcwd())
    if spec in builtin_names():
        path = BUILTIN_DIR / f"{spec}.yaml"
    else:
        path = Path(spec) if os.path.isabs(spec) else base / spec
    if not path.is_file():
        raise ModelError(
            f"model card {spec!r} not found in the UDF's working directory {base}",
            hint=(
                f"set the job option {JOB_OPTION!r} to ['<URL of the zip made by `s2sr openeo package-model`>"
                f"#{MODEL_FOLDER}'] and name '{MODEL_FOLDER}/<card>.yaml' in the context "
                f"(built-in models: {', '.join(builtin_names())})"
            ),
        )
    key = _stat_key(path.resolve())
    with _lock:
        card = _cards.get(key)
    if card is None:
        card = ModelCard.from_file(path)
        with _lock:
            _cards[key] = card
    return card


def content_digest(path: Path) -> str:
    """SHA-256 of a file's content, re-hashed only when its size or mtime changes."""
    key = _stat_key(path)
    with _lock:
        digest = _digests.get(key)
    if digest is None:
        digest = file_sha256(path)
        with _lock:
            _digests[key] = digest
    return digest


def get_model(card: ModelCard, threads: int | None = DEFAULT_THREADS) -> Model:
    """The worker's ONNX Runtime session for ``card``: created once per model content and options."""
    if not card.onnx_path.is_file():
        raise ModelError(
            f"ONNX file {card.onnx_path} named by the model card not found",
            hint=f"the archive given in the job option {JOB_OPTION!r} must hold the card and its ONNX file",
        )
    key = (content_digest(card.onnx_path), card.bands, card.factor, threads)
    with _lock:
        model = _sessions.get(key)
        if model is None:
            model = open_model(card, RuntimeOptions(threads=threads))
            _sessions[key] = model
            _stats["sessions_created"] += 1
            log.info("s2sr UDF: ONNX session for %s (sha256 %s…)", card.onnx_path, key[0][:12])
    return model


def sessions_created() -> int:
    """How many ONNX Runtime sessions this worker process created (for tests and logs)."""
    return _stats["sessions_created"]


def clear_cache() -> None:
    """Forget every cached card, digest and session (tests)."""
    with _lock:
        _cards.clear()
        _digests.clear()
        _sessions.clear()
        _stats["sessions_created"] = 0


def model_for_context(context: Any, cwd: str | Path | None = None) -> tuple[UdfContext, Model]:
    ctx = UdfContext.parse(context)
    return ctx, get_model(resolve_model_card(ctx.model, cwd), ctx.threads)


# --- the cube ---------------------------------------------------------------------------------


def unwrap(cube: Any) -> tuple[xr.DataArray, Callable[[xr.DataArray], Any]]:
    """The DataArray inside ``cube`` and a function wrapping a result the same way."""
    if isinstance(cube, xr.DataArray):
        return cube, lambda a: a
    get_array = getattr(cube, "get_array", None)
    if callable(get_array):
        array = get_array()
        if isinstance(array, xr.DataArray):
            return array, lambda a: type(cube)(a)
    raise CubeError(
        f"the s2sr UDF expects an openEO XarrayDataCube or an xarray.DataArray, got {type(cube).__name__}"
    )


def check_cube(array: xr.DataArray, card: ModelCard) -> xr.DataArray:
    """``array`` as (t, bands, y, x) with the card's bands, or one :class:`CubeError`."""
    if array.ndim != 4:
        raise CubeError(
            f"the s2sr UDF needs a 4-D cube (t, bands, y, x), got {array.ndim}-D with dimensions "
            f"{', '.join(map(str, array.dims)) or 'none'}",
            hint="run it in apply_neighborhood on a cube with t, bands, y and x (add_dimension adds a missing t)",
        )
    if set(array.dims) != set(DIMS):
        raise CubeError(
            f"the s2sr UDF needs dimensions t, bands, y, x, got {', '.join(map(str, array.dims))}",
            hint="rename_dimension the cube's dimensions to t, bands, y, x",
        )
    array = array.transpose(*DIMS)
    want = list(card.bands)
    n = array.sizes["bands"]
    labels = array.coords["bands"].values.tolist() if "bands" in array.coords else None
    if labels and all(isinstance(b, str) for b in labels):
        got = [_band_or_none(b) for b in labels]
        if got != want:
            missing = [b for b in want if b not in got]
            what = f"lacks band(s) {', '.join(missing)}" if missing else "has other bands or another order"
            raise CubeError(
                f"the cube {what}: it has {', '.join(labels)}; model {card.name} needs {', '.join(want)} in this order",
                hint="load exactly the model's bands in the card's order (filter_bands)",
            )
    elif n != len(want):
        raise CubeError(
            f"the cube has {n} bands; model {card.name} needs {len(want)}: {', '.join(want)}",
            hint="load exactly the model's bands in the card's order (filter_bands)",
        )
    for dim in ("y", "x"):
        if array.sizes[dim] < 1:
            raise CubeError(f"the cube's {dim} dimension is empty")
    return array


def _band_or_none(label: str) -> str | None:
    try:
        return canonical(label)
    except ModelError:
        return None


def _upsampled_coord(values: np.ndarray, factor: int) -> np.ndarray | None:
    """Pixel-centre coordinates of a ``factor`` times finer grid over the same extent."""
    if values.size < 2 or not np.issubdtype(values.dtype, np.number):
        return None
    step = float(values[1] - values[0])
    fine = step / factor
    start = float(values[0]) - step / 2 + fine / 2
    return start + fine * np.arange(values.size * factor)


def apply_datacube(cube: Any, context: Any) -> Any:
    """Super-resolve one window; returns the same kind of object it was given."""
    array, wrap = unwrap(cube)
    ctx, model = model_for_context(context)
    card = model.card
    array = check_cube(array, card)
    data = np.array(array.values, dtype=np.float32, copy=True)
    if ctx.nodata is not None:
        data[data == np.float32(ctx.nodata)] = np.nan
    # (t, bands, y·f, x·f) float32, NaN where the input is nodata; C order, as the back-end reads it raw
    out = np.ascontiguousarray(infer(model, data), dtype=np.float32)
    f = card.factor
    coords: dict[str, Any] = {d: array.coords[d].values for d in ("t", "bands") if d in array.coords}
    for d in ("y", "x"):
        if d in array.coords:
            fine = _upsampled_coord(np.asarray(array.coords[d].values), f)
            if fine is not None:
                coords[d] = fine
    result = xr.DataArray(out, dims=DIMS, coords=coords, attrs=dict(array.attrs), name=array.name)
    return wrap(result)


def apply_metadata(metadata: Any, context: Any) -> Any:
    """The cube's metadata with the spatial step divided by the model's factor.

    Done as the geopyspark back-end's own resolution-changing UDF examples do it: the spatial
    dimensions copied with the new step, the rest of the metadata kept (``_clone_and_update``).
    """
    ctx = UdfContext.parse(context)
    f = resolve_model_card(ctx.model).factor
    dims = []
    for dim in metadata._dimensions or []:
        if getattr(dim, "type", None) == "spatial":
            dim = copy.copy(dim)
            if dim.step is not None:
                dim.step = dim.step / f
        dims.append(dim)
    if sum(getattr(d, "type", None) == "spatial" for d in dims) != 2:
        raise CubeError(f"the cube's metadata has dimensions {metadata.dimension_names()}, expected two spatial ones")
    return metadata._clone_and_update(dimensions=dims)
