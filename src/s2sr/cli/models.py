"""``s2sr models …``: the zoo, the built-in models and STAC MLM items."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import ProcessingError
from ._common import verbose_option


@click.group("models")
def models() -> None:
    """List, inspect, download and verify models (built-ins and the zoo)."""


@models.command("list")
def list_models() -> None:
    """Built-in and zoo models, where they are, and which one is the default."""
    from ..models import BUILTIN_DIR, ModelCard, builtin_names, default_model_name, zoo

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


@models.command("info")
@click.argument("name")
@click.option("--stac", "stac", is_flag=True, help="Print the model's STAC MLM item (JSON) instead.")
def info(name: str, stac: bool) -> None:
    """Card values, source and cache state of NAME (a zoo or built-in name, a card or an MLM item)."""
    from ..models import mlm, resolve_card, zoo

    reg = zoo.registry()
    if name in reg:
        e = reg[name]
        path = zoo.onnx_path(e)
        if stac:
            card = zoo.cached_card(name, download_missing=False) if path.is_file() else None
            if card is None:
                from ..models import ModelCard

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


@models.command("pull")
@click.argument("names", nargs=-1)
@click.option("--all", "pull_all", is_flag=True, help="Download every zoo model.")
@verbose_option
def pull(names: tuple[str, ...], pull_all: bool) -> None:
    """Download zoo model(s) NAMES into the cache (resumable, verified); a cached one is reused."""
    from ..models import zoo

    wanted = list(zoo.registry()) if pull_all else list(names)
    if not wanted:
        raise click.UsageError("name a zoo model (see `s2sr models list`) or pass --all")

    for name in wanted:
        card = zoo.pull(name)
        click.echo(f"{name}: {card.card_path}")


@models.command("verify")
def verify() -> None:
    """Check every cached zoo model against its expected git blob SHA-1 (exit 1 if one is corrupt)."""
    from ..models import zoo

    bad = False
    for state in zoo.verify():
        detail = f"  blob sha1 {state.sha1}" if state.state == "corrupt" else ""
        click.echo(f"{state.name:<10} {state.state:<8} {state.path}{detail}")
        bad = bad or state.state == "corrupt"
    if bad:
        raise ProcessingError("corrupt model file(s)", hint="run `s2sr models pull NAME` to download them again")


@models.command("stac")
@click.argument("model")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the item to this file (its model href relative to it); default: stdout.")
def stac(model: str, output: Path | None) -> None:
    """Write the STAC MLM item of MODEL (a name, card or item); `-m ITEM.json` reads it back."""
    from ..models import mlm, resolve_card

    card = resolve_card(model)
    if output is None:
        click.echo(json.dumps(mlm.card_to_item(card, asset_href=card.onnx_path.as_uri()), indent=2))
    else:
        click.echo(str(mlm.write_item(card, output)))
