"""``s2sr models …`` (the zoo, built-ins, STAC MLM items) and ``s2sr evaluate``: thin CLI layers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ._cli_common import guarded, setup_logging

PROG = "s2sr"


@click.group("models")
def models() -> None:
    """List, inspect, download and verify models (built-ins and the zoo)."""


@models.command("list")
def list_models() -> None:
    """Built-in and zoo models, where they are, and which one is the default."""
    from .models import BUILTIN_DIR, ModelCard, builtin_names, default_model_name, zoo

    def run() -> None:
        default = default_model_name()
        click.echo(f"{'name':<10} {'kind':<8} {'bands':<6} {'factor':>6} {'margin':>6}  status")
        for name in builtin_names():
            card = ModelCard.from_file(BUILTIN_DIR / f"{name}.yaml")
            mark = "  (default)" if name == default else ""
            click.echo(f"{name:<10} {'built-in':<8} {len(card.bands):<6} {card.factor:>6} {card.margin:>6}  "
                       f"in the package{mark}")
        for e in zoo.registry().values():
            path = zoo.onnx_path(e)
            status = f"downloaded ({path})" if path.is_file() else "not downloaded: s2sr models pull " + e.name
            mark = "  (default)" if e.name == default else ""
            click.echo(f"{e.name:<10} {'zoo':<8} {len(e.bands):<6} {e.factor:>6} {e.margin:>6}  {status}{mark}")
        click.echo(f"cache: {zoo.cache_dir()}  (set {zoo.ENV_DIR}); source: {zoo.base_url()}  (set {zoo.ENV_URL})")

    guarded(PROG, 0, run)


@models.command("info")
@click.argument("name")
@click.option("--stac", "stac", is_flag=True, help="Print the model's STAC MLM item (JSON) instead.")
def info(name: str, stac: bool) -> None:
    """Card values, source and cache state of NAME (a zoo or built-in name, a card or an MLM item)."""
    from .models import mlm, resolve_card, zoo

    def run() -> None:
        reg = zoo.registry()
        if name in reg:
            e = reg[name]
            path = zoo.onnx_path(e)
            if stac:
                card = zoo.cached_card(name, download_missing=False) if path.is_file() else None
                if card is None:
                    from .models import ModelCard

                    card = ModelCard.from_dict(e.card_dict(), base_dir=path.parent, origin=name)
                item = mlm.card_to_item(card, asset_href=path.as_uri() if path.is_file() else zoo.url_of(e),
                                        blob_sha1=e.blob_sha1)
                click.echo(json.dumps(item, indent=2))
                return
            state = "missing"
            if path.is_file():
                state = "ok" if zoo.git_blob_sha1(path) == e.blob_sha1 else "CORRUPT (run s2sr models pull " + name + ")"
            for key, value in (
                ("name", e.name), ("kind", "zoo"), ("description", e.description),
                ("bands", " ".join(e.bands)), ("factor", e.factor), ("margin", e.margin),
                ("architecture", e.architecture), ("license", e.license), ("url", zoo.url_of(e)),
                ("blob sha1", e.blob_sha1), ("cache", path), ("state", state),
            ):
                click.echo(f"{key + ':':<14}{value}")
            return
        card = resolve_card(name)
        if stac:
            click.echo(json.dumps(mlm.card_to_item(card, asset_href=card.onnx_path.as_uri()), indent=2))
            return
        for key, value in (
            ("name", card.name), ("description", card.description), ("bands", " ".join(card.bands)),
            ("factor", card.factor), ("margin", card.margin), ("source grid", card.source_group),
            ("card", card.card_path or ""), ("onnx", card.onnx_path),
        ):
            click.echo(f"{key + ':':<14}{value}")

    guarded(PROG, 0, run)


@models.command("pull")
@click.argument("names", nargs=-1)
@click.option("--all", "pull_all", is_flag=True, help="Download every zoo model.")
@click.option("-v", "--verbose", count=True, help="-v: log the downloads; -vv: debug and tracebacks.")
def pull(names: tuple[str, ...], pull_all: bool, verbose: int) -> None:
    """Download zoo model(s) NAMES into the cache (resumable, verified); a cached one is reused."""
    from .models import zoo

    setup_logging(verbose)
    wanted = list(zoo.registry()) if pull_all else list(names)
    if not wanted:
        raise click.UsageError("name a zoo model (see `s2sr models list`) or pass --all")

    def run() -> None:
        for name in wanted:
            card = zoo.pull(name)
            click.echo(f"{name}: {card.card_path}")

    guarded(PROG, verbose, run)


@models.command("verify")
def verify() -> None:
    """Check every cached zoo model against its expected git blob SHA-1 (exit 1 if one is corrupt)."""
    from .models import zoo

    def run() -> bool:
        bad = False
        for state in zoo.verify():
            detail = f"  blob sha1 {state.sha1}" if state.state == "corrupt" else ""
            click.echo(f"{state.name:<10} {state.state:<8} {state.path}{detail}")
            bad = bad or state.state == "corrupt"
        return bad

    if guarded(PROG, 0, run):
        click.echo(f"{PROG}: error: corrupt model file(s); run `s2sr models pull NAME` to download them again",
                   err=True)
        sys.exit(1)


@models.command("stac")
@click.argument("model")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the item to this file (its model href relative to it); default: stdout.")
def stac(model: str, output: Path | None) -> None:
    """Write the STAC MLM item of MODEL (a name, card or item); `-m ITEM.json` reads it back."""
    from .models import mlm, resolve_card

    def run() -> None:
        card = resolve_card(model)
        if output is None:
            click.echo(json.dumps(mlm.card_to_item(card, asset_href=card.onnx_path.as_uri()), indent=2))
        else:
            click.echo(str(mlm.write_item(card, output)))

    guarded(PROG, 0, run)


@click.command("evaluate")
@click.argument("input_path", metavar="PRODUCT")
@click.option("-m", "--model", default=None,
              help="Model: a built-in or zoo name, a card or an MLM item. Default: the default model.")
@click.option("--roi-pixels", nargs=4, type=float, default=None, metavar="COL0 ROW0 COL1 ROW1",
              help="Region in source-grid pixels (default: the central --max-size pixels).")
@click.option("--roi", nargs=4, type=float, default=None, metavar="LEFT BOTTOM RIGHT TOP",
              help="Region in the product's CRS.")
@click.option("--max-size", type=click.IntRange(min=8), default=1024, show_default=True,
              help="Side of the default (central) region, in source pixels.")
@click.option("--mtf", type=click.FloatRange(0.01, 0.99), default=0.3, show_default=True,
              help="Modulation of the degradation blur at the coarse grid's Nyquist frequency.")
@click.option("--figure", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a PNG: input | bicubic | model, side by side, same stretch.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON instead of a table.")
@click.option("--tile-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Tile size in output pixels, margins excluded (as for run).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="ONNX Runtime intra-op threads.")
@click.option("--sre", is_flag=True, help="Theia: read SRE instead of FRE reflectances.")
@click.option("-v", "--verbose", count=True, help="-v: progress details; -vv: debug and tracebacks.")
def evaluate(
    input_path: str,
    model: str | None,
    roi_pixels: tuple[float, float, float, float] | None,
    roi: tuple[float, float, float, float] | None,
    max_size: int,
    mtf: float,
    figure: Path | None,
    as_json: bool,
    tile_size: int,
    threads: int | None,
    sre: bool,
    verbose: int,
) -> None:
    """Quality of a model on PRODUCT without a high-resolution truth, against bicubic.

    Wald protocol (degrade by the factor, super-resolve, compare with the original: PSNR,
    SSIM per band, SAM) and consistency (output degraded back vs the input: L1, SAM).
    """
    from .evaluate import evaluate as run_evaluation

    setup_logging(verbose)
    result = guarded(
        PROG,
        verbose,
        lambda: run_evaluation(
            input_path, model, roi_pixels=roi_pixels or None, roi=roi or None, mtf=mtf, max_size=max_size,
            tile_size=tile_size, threads=threads, figure=figure, sre=sre,
        ),
    )
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.table())
