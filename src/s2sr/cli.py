"""``s2sr`` command line: a thin layer over the library (:func:`s2sr.super_resolve`)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from . import __version__
from ._cli_common import TqdmProgress, guarded, setup_logging
from .cli_inputs import search_options

PROG = "s2sr"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name=PROG)
def main() -> None:
    """Super-resolve Sentinel-2 products to 5 m with ONNX models, tile by tile, into COGs."""


@main.command()
@click.argument("input_path", metavar="[INPUT]", required=False)
@click.option(
    "-o", "--output", "output_dir", required=True, metavar="DEST",
    help="Destination: a local folder or an fsspec URL (s3://bucket/prefix, …). Writes "
    "DEST/COLLECTION/ITEM_ID/ (COGs, quicklook, model card, STAC item) and DEST/COLLECTION/collection.json.",
)
@click.option(
    "-m", "--model", default=None,
    help="Model: a card (.yaml, its ONNX beside it), a STAC MLM item (.json), a built-in or zoo name "
    "(s2sr models list). Default: carn if downloaded, else the built-in s2sr_tiny.",
)
@click.option(
    "--roi-pixels", nargs=4, type=float, default=None, metavar="COL0 ROW0 COL1 ROW1",
    help="Region in source-grid pixels from the upper-left corner (COL1/ROW1 exclusive).",
)
@click.option(
    "--roi", nargs=4, type=float, default=None, metavar="LEFT BOTTOM RIGHT TOP",
    help="Region in the product's CRS, snapped outward to the source grid.",
)
@click.option("--bicubic", is_flag=True, help="Also write the bicubic comparison product.")
@click.option("--gpu", is_flag=True, help="Run on CUDA when available (falls back to CPU with a warning).")
@click.option("--tile-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Tile size in output pixels, margins excluded.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="ONNX Runtime intra-op threads.")
@click.option("--sre", is_flag=True, help="Theia: read SRE instead of FRE reflectances.")
@click.option("--output-collection", "collection", default="s2sr", show_default=True,
              help="STAC collection id (and folder) to publish into.")
@click.option("--overwrite", is_flag=True, help="Redo an item that already exists (same or different model).")
@click.option("--s3-endpoint", default=None, metavar="URL",
              help="S3-compatible endpoint (default: AWS_ENDPOINT_URL or AWS). Credentials: standard AWS variables.")
@click.option("--create-bucket", is_flag=True, help="Create the s3:// bucket if it does not exist.")
@search_options
@click.option("-v", "--verbose", count=True, help="-v: progress details; -vv: debug and tracebacks.")
def run(
    input_path: str,
    output_dir: str,
    model: str | None,
    roi_pixels: tuple[float, float, float, float] | None,
    roi: tuple[float, float, float, float] | None,
    bicubic: bool,
    gpu: bool,
    tile_size: int,
    threads: int | None,
    sre: bool,
    collection: str,
    overwrite: bool,
    s3_endpoint: str | None,
    create_bucket: bool,
    verbose: int,
    stac_api: str | None,
    collections: tuple[str, ...],
    ids: tuple[str, ...],
    bbox: tuple[float, float, float, float] | None,
    datetime_: str | None,
    max_cloud: float | None,
    max_items: int | None,
    require: bool,
) -> None:
    """Super-resolve INPUT, or every item of a STAC API search, and publish COGs and STAC items under DEST.

    INPUT: a Theia L2A/L3A folder or zip, an ESA SAFE (L1C, Sen2Cor L2A) folder or zip, or a
    STAC item (JSON file or URL); the kind is detected from the content.  DEST: a folder or
    s3://bucket/prefix.  Reruns skip finished items.
    """
    from .cli_inputs import resolve_inputs
    from .models import load_model
    from .products import Product
    from .publish import Published, super_resolve_to

    setup_logging(verbose)
    inputs = guarded(PROG, verbose, lambda: resolve_inputs(
        input_path, stac_api=stac_api, collections=collections, ids=ids, bbox=bbox or None,
        datetime_=datetime_, max_cloud=max_cloud, max_items=max_items, require=require, sre=sre,
    ))
    if not inputs.products:
        click.echo(inputs.message)
        return
    mdl = guarded(PROG, verbose, lambda: load_model(model, threads=threads, gpu=gpu))

    def check(product: Product) -> None:
        product.check_bands(mdl.card.bands)
        product.group_grid(mdl.card.source_group)

    def publish(product: Product) -> Published:
        return super_resolve_to(
            product, output_dir, mdl, collection=collection, overwrite=overwrite, s3_endpoint=s3_endpoint,
            create_bucket=create_bucket, roi_pixels=roi_pixels or None, roi=roi or None, tile_size=tile_size,
            bicubic=bicubic, sre=sre, threads=threads, gpu=gpu, progress=TqdmProgress,
        )

    for product in inputs.products:  # every item usable (bands, grid readable) before the first output
        guarded(PROG, verbose, partial(check, product))
    for product in inputs.products:
        pub = guarded(PROG, verbose, partial(publish, product))
        if pub.skipped:
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


@main.command("demo-product")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--size", type=click.IntRange(min=2), default=600, show_default=True,
              help="Width and height in 10 m pixels (even).")
@click.option("--source", type=click.Choice(["auto", "real", "synthetic"]), default="auto", show_default=True,
              help="Real Sentinel-2 pixels (shared/data/real_pixels, mirrored past 600 px) or generated textures.")
@click.option("--zip", "as_zip", is_flag=True, help="Write the product as a zip.")
@click.option("--nodata-cols", type=click.IntRange(min=0), default=0, help="Leftmost columns set to nodata.")
def demo_product(directory: Path, size: int, source: str, as_zip: bool, nodata_cols: int) -> None:
    """Write a small Theia L2A sample product into DIRECTORY and print its path."""
    from .demo import make_demo_product

    if size % 2:
        raise click.BadParameter("must be even", param_hint="--size")
    path = guarded(
        PROG, 0, lambda: make_demo_product(directory, size=size, source=source, as_zip=as_zip, nodata_cols=nodata_cols)
    )
    click.echo(str(path))


# Subcommand groups live in their own modules.
from . import cli_models  # noqa: E402  (models: zoo, MLM; evaluate)
from .openeo_cli import openeo_group  # noqa: E402

main.add_command(cli_models.models)
main.add_command(cli_models.evaluate)
main.add_command(openeo_group)

if __name__ == "__main__":  # pragma: no cover
    main()
