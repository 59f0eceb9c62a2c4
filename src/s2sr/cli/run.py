"""``s2sr run``: plan every product, then publish each (COGs + STAC item) under DEST."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..defaults import DEFAULT_COLLECTION, DEFAULT_TILE_SIZE, DEVICES, PRECISIONS
from ._common import TqdmProgress, verbose_option
from .search import select_products, search_options

F = TypeVar("F", bound=Callable[..., Any])


def run_options(f: F) -> F:
    """The options that make a :class:`s2sr.RunOptions` (shared by ``run`` and ``evaluate``)."""
    opts = [
        click.option("-m", "--model", default=None,
                     help="Model: a card (.yaml, its ONNX beside it), a STAC MLM item (.json), a built-in or zoo "
                     "name (s2sr models list). Default: carn if downloaded, else the built-in s2sr_tiny."),
        click.option("--roi-pixels", nargs=4, type=float, default=None, metavar="COL0 ROW0 COL1 ROW1",
                     help="Region in source-grid pixels from the upper-left corner (COL1/ROW1 exclusive)."),
        click.option("--roi", nargs=4, type=float, default=None, metavar="LEFT BOTTOM RIGHT TOP",
                     help="Region in the product's CRS, snapped outward to the source grid."),
        click.option("--tile-size", type=click.IntRange(min=1), default=DEFAULT_TILE_SIZE, show_default=True,
                     help="Tile size in output pixels, margins excluded."),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="ONNX Runtime intra-op threads. Default: the cores this process may use (CPU affinity, "
                     "container CPU quota)."),
        click.option("--sre", is_flag=True, help="Theia: read SRE instead of FRE reflectances."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def options_from(params: dict[str, Any], **extra: Any) -> Any:
    """A :class:`s2sr.RunOptions` from the parsed :func:`run_options` (``model`` excluded)."""
    from ..plan import RunOptions

    return RunOptions(
        roi_pixels=params["roi_pixels"] or None, roi=params["roi"] or None, tile_size=params["tile_size"],
        threads=params["threads"], sre=params["sre"], **extra,
    )


@click.command()
@click.argument("input_path", metavar="[INPUT]", required=False)
@click.option(
    "-o", "--output", "output_dir", required=True, metavar="DEST",
    help="Destination: a local folder or an fsspec URL (s3://bucket/prefix, …). Writes "
    "DEST/COLLECTION/ITEM_ID/ (COGs, quicklook, model card, STAC item) and DEST/COLLECTION/collection.json.",
)
@run_options
@click.option("--bicubic", is_flag=True, help="Also write the bicubic comparison product.")
@click.option("--asset-layout", type=click.Choice(["multiband", "per-band"]), default="multiband", show_default=True,
              help="multiband: one COG with every band (odc-stac, rio-tiler/titiler, GDAL, QGIS); per-band: one COG "
              "per band, assets keyed as Earth Search keys them (stackstac and other per-band readers).")
@click.option("--gpu", is_flag=True, help="Run on CUDA when available (falls back to CPU with a warning); "
              "same as --device cuda.")
@click.option("--device", type=click.Choice(DEVICES), default=None,
              help="Where the model runs; tensorrt caches its engines (S2SR_TRT_CACHE). Unavailable → next one, "
              "down to cpu, with a warning. Default: cpu (cuda with --gpu).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
              help="fp16: the model is converted at load (inputs and outputs stay float32); needs onnxconverter-common.")
@click.option("--batch", type=click.IntRange(min=1), default=None,
              help="Tiles per model call. Default: 1 on CPU, 4 on a GPU.")
@click.option("--model-workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Tiles through the model at once, each on --threads (default: the usable cores / N); "
              "2 keeps a small CPU busier, for twice the model's memory.")
@click.option("--output-collection", "collection", default=DEFAULT_COLLECTION, show_default=True,
              help="STAC collection id (and folder) to publish into.")
@click.option("--overwrite", is_flag=True, help="Redo an item that already exists (same or different model).")
@click.option("--s3-endpoint", default=None, metavar="URL",
              help="S3-compatible endpoint (default: AWS_ENDPOINT_URL or AWS). Credentials: standard AWS variables.")
@click.option("--create-bucket", is_flag=True, help="Create the s3:// bucket if it does not exist.")
@click.option("--allow-local-assets", is_flag=True,
              help="Let a remote STAC item name local files or GDAL /vsi paths (refused by default).")
@click.option("--stac-catalog", is_flag=True,
              help="Also link the item(s) from DEST/catalog.json: a self-contained STAC catalog with relative "
              "hrefs (what an EO Application Package's output directory holds).")
@search_options
@verbose_option
def run(
    input_path: str | None,
    output_dir: str,
    model: str | None,
    bicubic: bool,
    asset_layout: str,
    gpu: bool,
    device: str | None,
    precision: str,
    batch: int | None,
    model_workers: int,
    collection: str,
    overwrite: bool,
    s3_endpoint: str | None,
    create_bucket: bool,
    stac_catalog: bool,
    **params: Any,
) -> None:
    """Super-resolve INPUT, or every item of a STAC API search, and publish COGs and STAC items under DEST.

    INPUT: a Theia L2A/L3A folder or zip, an ESA SAFE (L1C, Sen2Cor L2A) folder or zip, or a
    STAC item (JSON file or URL); the kind is detected from the content.  DEST: a folder or
    s3://bucket/prefix.  Reruns skip finished items.
    """
    from ..plan import open_run_model, plan_run
    from ..publisher import publish

    options = options_from(params, bicubic=bicubic, gpu=gpu, device=device, precision=precision, batch=batch,
                           model_workers=model_workers, asset_layout=asset_layout)
    selection = select_products(input_path, sre=options.sre, **{k: params[k] for k in _SEARCH_KEYS})
    if not selection.products:
        click.echo(selection.message)
        return
    mdl = open_run_model(model, options)
    plans = [plan_run(product, mdl, options) for product in selection.products]  # all valid before any output
    for plan in plans:
        pub = publish(plan, output_dir, collection=collection, overwrite=overwrite,
                      s3_endpoint=s3_endpoint, create_bucket=create_bucket, progress=TqdmProgress)
        if stac_catalog:
            from ..outputs.catalog import add_to_catalog
            from ..outputs.store import Store

            catalog = add_to_catalog(Store(output_dir, s3_endpoint=s3_endpoint), [pub.item_url])
            click.echo(f"{catalog}  (STAC catalog)")
        if pub.skipped or pub.result is None:
            click.echo(f"{pub.sisr}  (already done: {pub.item_url}; --overwrite redoes it)")
            continue
        result = pub.result
        g = result.output_grid
        click.echo(
            f"{pub.sisr}  ({g.width}x{g.height} px at {g.res:g} m, model {result.model_name}, "
            f"{result.tiles} tile(s), {pub.timings['total']:.1f} s)"
        )
        if "bicubic" in pub.assets:
            click.echo(f"{pub.assets['bicubic']}  (bicubic comparison)")
        click.echo(f"{pub.item_url}  (STAC item, in {pub.collection_url})")


_SEARCH_KEYS = ("stac_api", "collections", "ids", "bbox", "datetime_", "max_cloud", "max_items", "require",
                "allow_local_assets")
