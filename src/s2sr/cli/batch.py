"""``s2sr batch``: many products in one command — here, on a local pool, or on a Dask cluster;
or, with ``--plan``, the work list as JSON for an external engine (Argo, Kubernetes …)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..defaults import DEFAULT_COLLECTION
from ._common import EXIT_INTERRUPTED, PROG, verbose_option
from .run import run_options
from .search import search_options


@click.command()
@click.option("--from-file", "list_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="LIST", help="A file of products: one path (relative to the file) or URL per line; # comments.")
@click.option("--from-folder", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="Every product directly inside DIR (Theia/SAFE folders and zips, STAC item files).")
@click.option("--from-plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="PLAN", help="Run a plan written by --plan (its products and options; -o and run options "
              "not allowed).")
@click.option("-o", "--output", "output_dir", default=None, metavar="DEST",
              help="Destination for every product (as s2sr run -o): a folder or s3://bucket/prefix.")
@run_options
@click.option("--bicubic", is_flag=True, help="Also write the bicubic comparison product.")
@click.option("--gpu", is_flag=True, help="Run on CUDA when available (falls back to CPU with a warning).")
@click.option("--output-collection", "collection", default=DEFAULT_COLLECTION, show_default=True,
              help="STAC collection id (and folder) to publish into.")
@click.option("--overwrite", is_flag=True, help="Redo items that already exist.")
@click.option("--s3-endpoint", default=None, metavar="URL", help="S3-compatible endpoint (as s2sr run).")
@click.option("--create-bucket", is_flag=True, help="Create the s3:// bucket if it does not exist.")
@click.option("--asset-layout", type=click.Choice(["multiband", "per-band"]), default="multiband", show_default=True,
              help="As s2sr run: one multi-band COG, or one COG per band.")
@click.option("--stac-catalog", is_flag=True,
              help="Also link every item from DEST/catalog.json (a self-contained STAC catalog, relative hrefs).")
@search_options
@click.option("--plan", "print_plan", is_flag=True,
              help="Print the work list as JSON (one entry per product, with its exact `s2sr run` arguments); "
              "run nothing.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Products processed at once: local processes, or the LocalCluster's size with --dask local.")
@click.option("--dask", "dask_local", type=click.Choice(["local"]), default=None,
              help="Run on a distributed.LocalCluster of --workers processes started for this batch.")
@click.option("--dask-scheduler", default=None, metavar="ADDRESS",
              help="Submit one task per product to this Dask scheduler (tcp://HOST:8786).")
@click.option("--summary-json", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Also write the summary (every product's outcome, throughput) as JSON.")
@verbose_option
@click.pass_context
def batch(ctx: click.Context, list_file: Path | None, folder: Path | None, plan_file: Path | None,
          output_dir: str | None, model: str | None, bicubic: bool, gpu: bool, collection: str, overwrite: bool,
          s3_endpoint: str | None, create_bucket: bool, asset_layout: str, stac_catalog: bool, print_plan: bool,
          workers: int, dask_local: str | None, dask_scheduler: str | None, summary_json: Path | None,
          **params: Any) -> None:
    """Super-resolve many products: from a STAC API search (same flags as s2sr run), a list file,
    a folder, or a plan.

    One product's failure does not stop the others; a summary ends the run (done, skipped as
    already done, failed with reasons, throughput); exit code 1 if any product failed. Reruns
    skip finished products.
    """
    from ..batch import (
        RunSettings,
        plan_entries,
        plan_json,
        read_plan,
        run_batch,
        work_from_file,
        work_from_folder,
        work_from_search,
    )
    from ..errors import NothingFoundError, UserError

    search = {k: params.pop(k) for k in ("stac_api", "collections", "ids", "bbox", "datetime_", "max_cloud",
                                        "max_items", "require")}
    sources = [n for n, v in (("--from-file", list_file), ("--from-folder", folder), ("--from-plan", plan_file),
                              ("--stac-api", search["stac_api"])) if v is not None]
    if len(sources) != 1:
        raise UserError("give exactly one of --from-file LIST, --from-folder DIR, --from-plan PLAN, --stac-api URL"
                        + (f" (got {', '.join(sources)})" if sources else ""))
    if dask_local and dask_scheduler:
        raise UserError("give either --dask local or --dask-scheduler ADDRESS, not both")
    dask = "local" if dask_local else dask_scheduler

    if plan_file is not None:
        given = ctx.get_parameter_source
        changed = [p.opts[0] for p in ctx.command.params
                   if p.name not in {"plan_file", "print_plan", "workers", "dask_local", "dask_scheduler",
                                     "summary_json", "verbose"}
                   and given(p.name) == click.core.ParameterSource.COMMANDLINE]  # type: ignore[arg-type]
        if changed:
            raise UserError(f"--from-plan runs the plan's own options; drop {', '.join(changed)}")
        entries = read_plan(plan_file)
    else:
        if output_dir is None:
            raise UserError("give the destination: -o DEST (a folder or s3://bucket/prefix)")
        settings = RunSettings(
            destination=output_dir, model=model, collection=collection, roi_pixels=params["roi_pixels"] or None,
            roi=params["roi"] or None, tile_size=params["tile_size"], bicubic=bicubic, sre=params["sre"],
            threads=params["threads"], gpu=gpu, overwrite=overwrite, s3_endpoint=s3_endpoint,
            create_bucket=create_bucket, stac_catalog=stac_catalog, asset_layout=asset_layout)
        settings.run_options()  # a bad ROI or tile size: one error before anything
        if list_file is not None:
            work = work_from_file(list_file)
        elif folder is not None:
            work = work_from_folder(folder)
        else:
            from .search import _split

            work = work_from_search(
                search["stac_api"], collections=_split(search["collections"]), ids=_split(search["ids"]),
                bbox=search["bbox"] or None, datetime=search["datetime_"], max_cloud=search["max_cloud"],
                max_items=search["max_items"])
        entries = plan_entries(work, settings)

    if not entries:
        where = plan_file or list_file or folder or search["stac_api"]
        msg = f"no product to process in {where}"
        if search["require"]:
            raise NothingFoundError(msg, hint="widen the search, or drop --require to accept an empty result")
        if print_plan:
            click.echo("[]")
        click.echo(msg + "; nothing to do", err=print_plan)
        return
    if print_plan:
        click.echo(plan_json(entries))
        return

    def show(o: Any) -> None:
        if o.status == "failed":
            click.echo(f"failed   {o.source}: {o.reason}")
        elif o.status == "skipped":
            click.echo(f"skipped  {o.source}  (already done: {o.item_url})")
        else:
            click.echo(f"done     {o.source}  → {o.item_url}  ({o.seconds:.1f} s)")

    try:
        summary = run_batch(entries, workers=workers, dask=dask, on_outcome=show)
    except KeyboardInterrupt:
        click.echo(f"{PROG}: interrupted; finished products stay published, a rerun continues with the others",
                   err=True)
        ctx.exit(EXIT_INTERRUPTED)
    for line in summary.lines():
        click.echo(line)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary.to_dict(), indent=1) + "\n", encoding="utf-8")
    ctx.exit(summary.exit_code)
