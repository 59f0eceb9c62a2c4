"""A stand-in openEO back-end for the s2sr UDF: apply_neighborhood as the geopyspark back-end runs it.

``Neighborhood.from_graph`` reads size, overlap, UDF code, runtime and context from the
``apply_neighborhood`` node of a flat process graph (as JSON).  ``run_neighborhood`` plays the
back-end: it executes the UDF code (plain ``exec``, as Jep does), asks ``apply_metadata`` for the
output resolution, cuts the cube into windows of ``size + 2·overlap`` (NaN beyond the cube's
edges), calls ``apply_datacube(XarrayDataCube, context)`` positionally, checks the result is a
4-D float32 ``(t, bands, y, x)`` cube ``factor`` times finer, crops the scaled overlap and
stitches the windows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from openeo.metadata import Band, BandDimension, CubeMetadata, SpatialDimension, TemporalDimension
from openeo.udf import XarrayDataCube
from rasterio.windows import Window

from s2sr.bands import esa_name
from s2sr.grid import Grid
from s2sr.products import BandReader, Product

DIMS = ("t", "bands", "y", "x")


@dataclass(frozen=True)
class Neighborhood:
    """What a back-end reads from an apply_neighborhood node running a UDF."""

    size: dict[str, int]
    overlap: dict[str, int]
    udf: str
    runtime: str
    context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_graph(cls, graph: dict[str, Any] | str) -> Neighborhood:
        pg = json.loads(graph) if isinstance(graph, str) else graph
        pg = pg.get("process", pg).get("process_graph", pg)
        (node,) = [n for n in pg.values() if n["process_id"] == "apply_neighborhood"]
        args = node["arguments"]

        def px(items: list[dict[str, Any]] | None) -> dict[str, int]:
            out = {}
            for it in items or []:
                assert it.get("unit", "px") == "px", it
                out[it["dimension"]] = int(it["value"])
            return out

        (udf_node,) = [n for n in args["process"]["process_graph"].values() if n["process_id"] == "run_udf"]
        ua = udf_node["arguments"]
        assert ua["data"] == {"from_parameter": "data"}
        context = ua.get("context") or {}
        if context == {"from_parameter": "context"}:
            # the callback's "context" parameter is apply_neighborhood's context (geopysparkdatacube.py
            # _extract_udf_code_and_context pushes it as a parameter before resolving the UDF's context)
            context = args.get("context") or {}
        assert "from_parameter" not in json.dumps(context), context
        return cls(
            size=px(args["size"]), overlap=px(args.get("overlap")), udf=ua["udf"], runtime=ua["runtime"],
            context=dict(context),
        )


def cube_from_product(product: Product, bands: tuple[str, ...], grid: Grid) -> xr.DataArray:
    """The merged (t, bands, y, x) cube the graph builds: bands read on ``grid`` (cubic for 20 m)."""
    with BandReader(product, bands, grid) as reader:
        data = reader.read(Window(0, 0, grid.width, grid.height))
    t = grid.transform
    return xr.DataArray(
        data[None],
        dims=DIMS,
        coords={
            "t": [np.datetime64("2017-05-27")],
            "bands": [esa_name(b) for b in bands],
            "y": t.f + t.e * (np.arange(grid.height) + 0.5),
            "x": t.c + t.a * (np.arange(grid.width) + 0.5),
        },
    )


def _metadata(cube: xr.DataArray) -> CubeMetadata:
    step = lambda d: abs(float(cube[d].values[1] - cube[d].values[0]))
    ext = lambda d: [float(cube[d].min()), float(cube[d].max())]
    return CubeMetadata(
        dimensions=[
            TemporalDimension("t", ["2017-05-27", "2017-05-28"]),
            BandDimension("bands", [Band(str(b)) for b in cube["bands"].values]),
            SpatialDimension("x", ext("x"), crs=32633, step=step("x")),
            SpatialDimension("y", ext("y"), crs=32633, step=step("y")),
        ]
    )


def _extend(coord: np.ndarray, start: int, n: int) -> np.ndarray:
    step = coord[1] - coord[0]
    return coord[0] + step * (start + np.arange(n))


@dataclass
class RunStats:
    windows: int = 0
    factor: int = 0


def run_neighborhood(nb: Neighborhood, cube: xr.DataArray, stats: RunStats | None = None) -> xr.DataArray:
    """Run the UDF over ``cube`` (t, bands, y, x) as the back-end would; the stitched result."""
    namespace: dict[str, Any] = {}
    exec(compile(nb.udf, "<udf>", "exec"), namespace)  # noqa: S102 - as Jep: no annotation-based lookup
    apply_datacube, apply_metadata = namespace["apply_datacube"], namespace["apply_metadata"]
    meta_in = _metadata(cube)
    meta_out = apply_metadata(meta_in, nb.context)
    steps_in = [d.step for d in meta_in.spatial_dimensions]
    steps_out = [d.step for d in meta_out.spatial_dimensions]
    ratios = {round(a / b, 6) for a, b in zip(steps_in, steps_out, strict=True)}
    assert len(ratios) == 1 and float(next(iter(ratios))).is_integer(), ratios
    f = int(next(iter(ratios)))
    sy, sx = nb.size["y"], nb.size["x"]
    oy, ox = nb.overlap.get("y", 0), nb.overlap.get("x", 0)
    t, nb_, h, w = (cube.sizes[d] for d in DIMS)
    values = cube.transpose(*DIMS).values
    out = np.full((t, nb_, h * f, w * f), np.nan, dtype=np.float32)
    n = 0
    for r0 in range(0, h, sy):
        for c0 in range(0, w, sx):
            wy, wx = sy + 2 * oy, sx + 2 * ox
            win = np.full((t, nb_, wy, wx), np.nan, dtype=np.float32)
            ry0, ry1 = max(r0 - oy, 0), min(r0 + sy + oy, h)
            rx0, rx1 = max(c0 - ox, 0), min(c0 + sx + ox, w)
            win[:, :, ry0 - (r0 - oy) : ry1 - (r0 - oy), rx0 - (c0 - ox) : rx1 - (c0 - ox)] = values[:, :, ry0:ry1, rx0:rx1]
            da = xr.DataArray(
                win, dims=DIMS,
                coords={
                    "t": cube["t"].values, "bands": cube["bands"].values,
                    "y": _extend(cube["y"].values, r0 - oy, wy), "x": _extend(cube["x"].values, c0 - ox, wx),
                },
            )
            res = apply_datacube(XarrayDataCube(da), nb.context)  # positional, as Jep calls it
            assert isinstance(res, XarrayDataCube), type(res)
            arr = res.get_array()
            assert arr.ndim == 4 and tuple(arr.dims) == DIMS, arr.dims
            assert arr.dtype == np.float32, arr.dtype
            assert arr.shape == (t, nb_, wy * f, wx * f), (arr.shape, (t, nb_, wy * f, wx * f))
            core = arr.values[:, :, oy * f : (oy + sy) * f, ox * f : (ox + sx) * f]
            hh, ww = min(sy, h - r0) * f, min(sx, w - c0) * f
            out[:, :, r0 * f : r0 * f + hh, c0 * f : c0 * f + ww] = core[:, :, :hh, :ww]
            n += 1
    if stats is not None:
        stats.windows, stats.factor = n, f
    return xr.DataArray(out, dims=DIMS, coords={"t": cube["t"].values, "bands": cube["bands"].values})


# --- the process specs (openeo-processes-dask ships a copy of openeo-processes) ---------------


def load_process_specs() -> dict[str, dict[str, Any]]:
    """Process id → spec, from the openEO process specs inside openeo-processes-dask.

    The top level holds the stable processes; ``apply_neighborhood`` and ``run_udf`` sit in
    that copy's ``missing-processes`` folder, newer ones in ``proposals``.
    """
    from pathlib import Path

    import openeo_processes_dask.specs as specs_module

    root = Path(specs_module.__file__).parent / "openeo-processes"
    out: dict[str, dict[str, Any]] = {}
    for sub in ("proposals", "missing-processes", "."):  # the stable ones win
        for f in sorted((root / sub).glob("*.json")):
            text = f.read_text(encoding="utf-8")
            if not text.strip():  # that copy holds a few empty placeholder files
                continue
            spec = json.loads(text)
            if isinstance(spec, dict) and "id" in spec and "parameters" in spec:
                out[spec["id"]] = spec
    return out


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and ("from_node" in value or "from_parameter" in value)


def validate_process_graph(pg: dict[str, Any], specs: dict[str, dict[str, Any]], where: str = "") -> list[str]:
    """Every problem of a flat process graph against the specs: ids, arguments, values, references."""
    import jsonschema

    errors: list[str] = []
    results = [k for k, n in pg.items() if n.get("result")]
    if len(results) != 1:
        errors.append(f"{where}: {len(results)} result nodes, expected 1")
    for node_id, node in pg.items():
        pid = node["process_id"]
        spec = specs.get(pid)
        if spec is None:
            errors.append(f"{where}{node_id}: unknown process {pid!r}")
            continue
        params = {p["name"]: p for p in spec["parameters"]}
        args = node.get("arguments", {})
        errors += [f"{where}{node_id}: {pid} has no parameter {a!r}" for a in args if a not in params]
        errors += [
            f"{where}{node_id}: {pid} lacks required argument {n!r}"
            for n, p in params.items() if not p.get("optional") and n not in args
        ]
        for name, value in args.items():
            if name not in params:
                continue
            if isinstance(value, dict) and "process_graph" in value:
                errors += validate_process_graph(value["process_graph"], specs, f"{where}{node_id}.{name}/")
                continue
            if _is_ref(value):
                if "from_node" in value and value["from_node"] not in pg:
                    errors.append(f"{where}{node_id}.{name}: dangling reference {value['from_node']!r}")
                continue
            schema = params[name]["schema"]
            schemas = schema if isinstance(schema, list) else [schema]
            if not any(jsonschema.Draft7Validator(s).is_valid(value) for s in schemas):
                errors.append(f"{where}{node_id}: {pid}.{name} = {json.dumps(value)[:80]} does not match the spec")
    return errors
