"""Which products ``s2sr run`` processes: one INPUT (path or URL) or the items of a STAC API search.

Kept out of :mod:`s2sr.cli.run` so the command stays a thin layer: :func:`search_options` adds the
search flags to a click command and :func:`select_products` turns the arguments into the
products to process (all opened, and so validated, before anything is written).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import NothingFoundError, UserError

if TYPE_CHECKING:
    from ..products import Product

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def search_options(f: F) -> F:
    """The STAC API search options of ``s2sr run``."""
    opts = [
        click.option("--stac-api", default=None, metavar="URL",
                     help="Search this STAC API instead of giving INPUT; every item found is processed."),
        click.option("--collection", "collections", multiple=True, metavar="C",
                     help="Collection(s) to search (repeat or comma-separate)."),
        click.option("--ids", "ids", multiple=True, metavar="ID",
                     help="Item id(s) to fetch (repeat or comma-separate)."),
        click.option("--bbox", nargs=4, type=float, default=None, metavar="W S E N",
                     help="Search bounding box, WGS84 degrees."),
        click.option("--datetime", "datetime_", default=None, metavar="RANGE",
                     help="Search date or range, e.g. 2020-02-01/2020-02-29."),
        click.option("--max-cloud", type=click.FloatRange(0, 100), default=None, metavar="N",
                     help="Only items with eo:cloud_cover <= N."),
        click.option("--max-items", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Process at most N items."),
        click.option("--require", is_flag=True, help="Exit with code 2 when the search finds nothing."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v.strip() for val in values for v in val.split(",") if v.strip())


@dataclass(frozen=True)
class Selection:
    products: tuple[Product, ...]
    message: str = ""  #: said when there is nothing to do


def select_products(
    input_path: str | None,
    *,
    stac_api: str | None,
    collections: Sequence[str] = (),
    ids: Sequence[str] = (),
    bbox: tuple[float, float, float, float] | None = None,
    datetime_: str | None = None,
    max_cloud: float | None = None,
    max_items: int | None = None,
    require: bool = False,
    sre: bool = False,
    allow_local_assets: bool = False,
) -> Selection:
    """The opened products to process: INPUT's, or those of the STAC API search."""
    from ..products import open_product
    from ..products.stac import Search, StacProduct, search_items

    searching = any([collections, ids, bbox, datetime_, max_cloud is not None])
    if stac_api is None:
        if searching:
            raise UserError("--collection/--ids/--bbox/--datetime/--max-cloud need --stac-api URL")
        if input_path is None:
            raise UserError("give an INPUT product (path, zip, STAC item file or URL) or --stac-api URL")
        return Selection((open_product(input_path, sre=sre, allow_local_assets=allow_local_assets),))
    if input_path is not None:
        raise UserError("give either INPUT or --stac-api, not both")

    search = Search(api=stac_api, collections=_split(collections), ids=_split(ids),
                    bbox=(bbox[0], bbox[1], bbox[2], bbox[3]) if bbox else None, datetime=datetime_, max_cloud=max_cloud, limit=max_items)
    items = search_items(search)
    if not items:
        what = ", ".join(f"{k}={v}" for k, v in (
            ("collections", ",".join(search.collections)), ("ids", ",".join(search.ids)), ("bbox", search.bbox),
            ("datetime", search.datetime), ("max-cloud", search.max_cloud)) if v not in (None, "", ()))
        msg = f"no STAC item matched the search on {stac_api} ({what or 'no filter'})"
        if require:
            raise NothingFoundError(msg, hint="widen the search, or drop --require to accept an empty result")
        return Selection((), message=msg + "; nothing to do")
    log.info("%d item(s) found on %s", len(items), stac_api)
    return Selection(tuple(StacProduct(it, allow_local_assets=allow_local_assets) for it in items))
