"""``s2sr demo-product``: a small Theia L2A sample product to try the main job on."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo-product")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--size", type=click.IntRange(min=2), default=600, show_default=True,
              help="Width and height in 10 m pixels (even).")
@click.option("--source", type=click.Choice(["auto", "real", "synthetic"]), default="auto", show_default=True,
              help="Real Sentinel-2 pixels (shared/data/real_pixels, mirrored past 600 px) or generated textures.")
@click.option("--zip", "as_zip", is_flag=True, help="Write the product as a zip.")
@click.option("--nodata-cols", type=click.IntRange(min=0), default=0, help="Leftmost columns set to nodata.")
def demo_product(directory: Path, size: int, source: str, as_zip: bool, nodata_cols: int) -> None:
    """Write a small Theia L2A sample product into DIRECTORY and print its path."""
    from ..demo import make_demo_product

    if size % 2:
        raise click.BadParameter("must be even", param_hint="--size")
    click.echo(str(make_demo_product(directory, size=size, source=source, as_zip=as_zip, nodata_cols=nodata_cols)))
