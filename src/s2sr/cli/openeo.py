"""``s2sr openeo …``: thin click wrappers around :mod:`s2sr.openeo` (graph, archives, UDP, UDF)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import click

from ..udf import DEPS_FOLDER, MODEL_FOLDER, PYTHON_VERSION
from ._common import verbose_option


@click.group("openeo")
def openeo_group() -> None:
    """openEO: process graphs running the s2sr UDF on a back-end, and the archives it needs.

    The back-end gets the model and s2sr through the job option udf-dependency-archives:
    the model zip (`s2sr openeo package-model`) unpacked into tmp/s2sr_model, and s2sr with
    onnxruntime for the back-end's Python (`s2sr openeo package-deps`) into tmp/s2sr_deps.
    """


@openeo_group.command("graph")
@click.option("-m", "--model", default=None, help="Model: a card (.yaml) or a built-in name. Default: the built-in default.")
@click.option("--bbox", nargs=4, type=float, required=True, metavar="WEST SOUTH EAST NORTH",
              help="Spatial extent (degrees, EPSG:4326 unless --crs).")
@click.option("--crs", default=None, help="CRS of --bbox: EPSG code (32631 or EPSG:32631) or WKT. Default: 4326.")
@click.option("--time", "time_range", nargs=2, required=True, metavar="START END",
              help="Temporal extent, e.g. 2023-06-01 2023-07-01 (END exclusive).")
@click.option("--collection", default="SENTINEL2_L2A", show_default=True, help="openEO collection id.")
@click.option("--max-cloud-cover", type=float, default=None, help="load_collection max_cloud_cover.")
@click.option("--window", type=click.IntRange(min=8), default=256, show_default=True,
              help="apply_neighborhood window side in source-grid px, overlap included.")
@click.option("--format", "fmt", default="GTiff", show_default=True, help="save_result format.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="ONNX Runtime threads per UDF call (UDF default 1; at most the job option task-cpus).")
@click.option("--nodata", type=float, default=None,
              help="A value the UDF treats as nodata besides NaN. Default: none (the back-ends' "
                   "SENTINEL2_L2A arrives harmonised, nodata NaN; 0 is a valid value).")
@click.option("--model-archive", default=None, metavar="URL", help="URL of the model zip: adds job_options.")
@click.option("--deps-archive", default=None, metavar="URL", help="URL of the s2sr dependency zip: adds job_options.")
@verbose_option
def graph(
    model: str | None,
    bbox: tuple[float, float, float, float],
    crs: str | None,
    time_range: tuple[str, str],
    collection: str,
    max_cloud_cover: float | None,
    window: int,
    fmt: str,
    threads: int | None,
    nodata: float | None,
    model_archive: str | None,
    deps_archive: str | None,
) -> None:
    """Print the batch-job request (process graph and job options) as JSON."""
    from .. import openeo as s2oe

    west, south, east, north = bbox
    extent: dict[str, object] = {"west": west, "south": south, "east": east, "north": north}
    if crs:
        code = crs.upper().removeprefix("EPSG:")
        extent["crs"] = int(code) if code.isdigit() else crs  # the spec: an EPSG code (integer) or WKT

    cube = s2oe.super_resolution_cube(
        None, model, spatial_extent=extent, temporal_extent=list(time_range), collection=collection,
        max_cloud_cover=max_cloud_cover, window=window, threads=threads, nodata=nodata, format=fmt,
    )
    body: dict[str, object] = {"process": json.loads(cube.to_json())}
    opts = s2oe.job_options(model_archive, deps_archive)
    if opts:
        body["job_options"] = opts
    click.echo(json.dumps(body, indent=2))


@openeo_group.command("package-model")
@click.argument("card")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The zip to write (e.g. model.zip).")
@verbose_option
def package_model(card: str, output: Path) -> None:
    """Zip the model CARD and its ONNX file for the job option udf-dependency-archives."""
    from .. import openeo as s2oe

    out = s2oe.package_model(card, output)
    name = next(n for n in zipfile.ZipFile(out).namelist() if n.endswith(".yaml"))
    click.echo(str(out))
    click.echo(
        f"job option: \"udf-dependency-archives\": [\"<URL of {out.name}>#{MODEL_FOLDER}\", "
        f"\"<URL of s2sr-deps.zip>#{DEPS_FOLDER}\"]; UDF context model: {MODEL_FOLDER}/{name}",
        err=True,
    )


@openeo_group.command("package-deps")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The zip to write (e.g. s2sr-deps.zip).")
@click.option("--python", "python_version", default=PYTHON_VERSION, show_default=True,
              help="The back-end's Python (the UDF's run_udf version).")
@click.option("--platform", default=None, help="Wheel platform tag. Default: manylinux_2_28_x86_64.")
@click.option("--requirement", "requirements", multiple=True, metavar="SPEC",
              help="A pinned wheel to ship instead of the defaults (repeat). Default: "
                   "onnxruntime and PyYAML, pinned.")
@click.option("--find-links", default=None, metavar="DIR|URL", help="Where pip also looks for the wheels.")
@click.option("--no-index", is_flag=True, help="Use only --find-links, not the package index.")
@verbose_option
def package_deps(
    output: Path,
    python_version: str,
    platform: str | None,
    requirements: tuple[str, ...],
    find_links: str | None,
    no_index: bool,
) -> None:
    """Zip s2sr and what the UDF needs beyond the back-end's packages (onnxruntime, PyYAML)."""
    from .. import openeo as s2oe

    kw: dict[str, object] = {"python_version": python_version, "find_links": find_links, "no_index": no_index}
    if platform:
        kw["platform"] = platform
    if requirements:
        kw["requirements"] = requirements
    res = s2oe.package_deps(output, **kw)  # type: ignore[arg-type]
    click.echo(str(res.path))
    click.echo(
        f"sha256 {res.sha256}; wheels: {', '.join(res.wheels)}; job option: \"udf-dependency-archives\": "
        f"[\"<URL of {res.path.name}>#{DEPS_FOLDER}\"]",
        err=True,
    )


@openeo_group.command("udp")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The process definition to write (e.g. s2sr.json).")
@click.option("-m", "--model", default=None, help="Model: a card (.yaml) or a built-in name. Default: the built-in default.")
@click.option("--id", "process_id", default="s2sr", show_default=True, help="The process id.")
@click.option("--collection", default="SENTINEL2_L2A", show_default=True, help="openEO collection id.")
@click.option("--window", type=click.IntRange(min=8), default=256, show_default=True,
              help="apply_neighborhood window side in source-grid px, overlap included.")
@click.option("--model-archive", default=None, metavar="URL", help="URL of the model zip: default job options.")
@click.option("--deps-archive", default=None, metavar="URL", help="URL of the s2sr dependency zip: default job options.")
@verbose_option
def udp(
    output: Path,
    model: str | None,
    process_id: str,
    collection: str,
    window: int,
    model_archive: str | None,
    deps_archive: str | None,
) -> None:
    """Write the graph as a user-defined process (parameters: spatial_extent, temporal_extent, model, …)."""
    from .. import openeo as s2oe

    out = s2oe.write_udp(
        output, model, process_id=process_id, collection=collection, window=window,
        model_archive=model_archive, deps_archive=deps_archive,
    )
    click.echo(str(out))


@openeo_group.command("udf")
def udf() -> None:
    """Print the UDF's source code (what back-ends run)."""
    from ..udf import udf_code

    click.echo(udf_code(), nl=False)
