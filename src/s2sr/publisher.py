"""Publishing a run to a destination (any fsspec URL) as COGs + a STAC item in a collection.

Layout: ``{destination}/{collection}/{item_id}/{files}``, ``{destination}/{collection}/
{item_id}/{item_id}.json`` and ``{destination}/{collection}/collection.json``.

Order (a consumer who can read an item can read every asset it names):

1. validate everything (product, model, ROI, destination: scheme, bucket, credentials, write access);
2. look for the item: same input, model digest and options → skip ("already done");
   produced otherwise → refuse unless ``overwrite``;
3. run the pipeline into a local staging folder (COGs via CogWriter), make the quicklook;
4. stage the files in the destination under temporary names (:mod:`s2sr.outputs.transaction`);
5. look again: an identical item published meanwhile by another run of the product → skip;
6. remove the old item (overwrite), move the files to their final names, write the item —
   any failure or interruption before the item is written removes what was placed;
7. remove files of earlier runs the item does not name, then update the collection
   (compare-and-swap, retried, so concurrent writers keep each other's items; a missing
   collection is rebuilt from the items beside it; a rerun adds an item a run interrupted
   before this step left out).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import interrupt
from .defaults import DEFAULT_COLLECTION
from .errors import Interrupted, OutputError, ProcessingError, S2SRError
from .models import Model, ModelCard
from .outputs.collection import merge_collection
from .outputs.naming import MULTIBAND
from .outputs.stac import DataAsset, ItemFacts, build_item, footprint, run_key
from .outputs.store import Store
from .outputs.thumbnail import read_quicklook, write_png
from .outputs.transaction import Placement
from .pipeline import ProgressFactory, RunResult, execute
from .plan import RunOptions, RunPlan, as_plan
from .products import Product

log = logging.getLogger(__name__)

_COLLECTION_RETRIES = 10


@dataclass(frozen=True)
class Published:
    """Where a run's outputs are (or already were)."""

    item_url: str
    collection_url: str
    assets: dict[str, str]  #: asset key → URL
    skipped: bool = False  #: True when an identical finished item was found ("already done")
    result: RunResult | None = None  #: what the run produced (None when skipped)
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def sisr(self) -> str:
        """The super-resolved COG (per-band layout: the first band's)."""
        if "sisr" in self.assets:
            return self.assets["sisr"]
        return next(url for url in self.assets.values() if url.endswith(".tif"))


def publish(
    product: str | Path | Product | RunPlan,
    destination: str | Path,
    model: str | Path | ModelCard | Model | None = None,
    options: RunOptions | None = None,
    *,
    collection: str = DEFAULT_COLLECTION,
    overwrite: bool = False,
    s3_endpoint: str | None = None,
    create_bucket: bool = False,
    progress: ProgressFactory | None = None,
) -> Published:
    """Super-resolve ``product`` and publish the COGs and a STAC item under ``destination``.

    ``destination``: a local folder or an fsspec URL (``s3://bucket/prefix`` …).  ``product`` may
    be a :class:`~s2sr.plan.RunPlan` from :func:`s2sr.plan_run`; else ``product``, ``model`` and
    ``options`` (:class:`s2sr.RunOptions`) are planned first.  A rerun with the same input, model and options
    returns the existing item (``skipped=True``); ``overwrite`` redoes it.
    """
    t_start = time.perf_counter()
    _check_collection_id(collection)
    plan = as_plan(product, model, options)
    prod, mdl, card, opts = plan.product, plan.model, plan.card, plan.options
    item_id = plan.item_id
    run_options: dict[str, Any] = {
        "roi_pixels": list(plan.roi_pixels),
        "tile_size": opts.tile_size,
        "bicubic": opts.bicubic,
        "reflectance": "SRE" if opts.sre else "FRE",
    }
    if opts.asset_layout != MULTIBAND:  # the default stays out: items published before keep their run key
        run_options["asset_layout"] = opts.asset_layout
    key = run_key(prod.info.product_id, mdl.sha256, run_options)

    store = Store(str(destination), s3_endpoint=s3_endpoint, create_bucket=create_bucket)
    store.check()
    item_dir = f"{collection}/{item_id}"
    item_key = f"{item_dir}/{item_id}.json"
    coll_key = f"{collection}/collection.json"
    item_url, coll_url = store.url(item_key), store.url(coll_key)

    existing = _read_json(store, item_key)
    if existing is not None:
        why = _why_different(existing, mdl, key, prod.info.product_id)
        if why is None and not overwrite:
            return _already_done(store, existing, coll_key, item_url, coll_url, collection, t_start)
        if why is not None and not overwrite:
            raise OutputError(
                f"item {item_url} already exists and was {why}",
                hint="pass --overwrite to replace it, or publish into another --output-collection",
            )
        log.info("overwriting %s", item_url)

    timings: dict[str, float] = {}
    with store.staging() as staging:
        result = execute(plan, staging, progress=progress)
        timings.update(result.timings)
        t0 = time.perf_counter()
        quick = read_quicklook(_quicklook_source(result))
        files = {f.key: (path, path.name) for f, path in result.files}
        thumb = write_png(quick, staging / f"{item_id}_thumbnail.png")
        files["thumbnail"] = (thumb, thumb.name)
        card_file = staging / f"{item_id}_model.yaml"
        card_file.write_text(_card_yaml(card, mdl.sha256), encoding="utf-8")
        files["model"] = (card_file, card_file.name)
        assets = {k: store.url(f"{item_dir}/{name}") for k, (_, name) in files.items()}
        data = [DataAsset(f.key, assets[f.key], f.bands, f.comparison, result.statistics.get(f.key, ()))
                for f, _ in result.files]
        facts = ItemFacts(
            item_id=item_id, collection_id=collection, product=prod.info, grid=result.output_grid,
            bands=card.bands, model_name=mdl.name, model_sha256=mdl.sha256, factor=card.factor,
            margin=card.margin, tile_size=opts.tile_size, harmonisation=prod.harmonisation(), options=run_options,
            run_key=key, layout=opts.asset_layout, consistency=result.consistency,
        )
        item = build_item(facts, geometry=footprint(quick, result.output_grid), item_url=item_url,
                          collection_url=coll_url, assets=assets, data=data, relative=store.is_local)
        timings["stac"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        placement = Placement(store, item_dir, staging)
        try:
            try:
                nbytes = placement.stage({name: path for path, name in files.values()})
            except S2SRError:
                if _finished_meanwhile(store, item_key, mdl, key, prod.info.product_id, overwrite):
                    placement.abort()
                    return _already_done(store, None, coll_key, item_url, coll_url, collection, t_start)
                raise
            # another run of the same product may have finished while this one worked
            now = _read_json(store, item_key)
            if now is not None and existing is None:
                why = _why_different(now, mdl, key, prod.info.product_id)
                if why is None and not overwrite:
                    placement.abort()
                    log.info("another run published %s meanwhile", item_url)
                    return _already_done(store, now, coll_key, item_url, coll_url, collection, t_start)
                if why is not None and not overwrite:
                    raise OutputError(f"item {item_url} was published meanwhile by another run and was {why}",
                                      hint="pass --overwrite to replace it")
            if now is not None:
                store.remove(item_key)  # no consumer may see the old item while its assets change
            interrupt.check()
            placement.commit(f"{item_id}.json", _json_bytes(item))
        except BaseException:
            placement.abort()
            raise
        for k in files:
            log.info("published %s", assets[k])
        # files of earlier or interrupted runs that this item does not name
        store.remove_stray(item_dir, keep=[f"{item_dir}/{name}" for _, name in files.values()] + [item_key])
        timings["upload"] = time.perf_counter() - t0
        timings["upload_bytes"] = float(nbytes)
    t0 = time.perf_counter()
    try:
        update_collection(store, coll_key, item, collection_id=collection, collection_url=coll_url, item_url=item_url)
    except KeyboardInterrupt as exc:
        _note_state(exc, f"item {item_url} is published but not yet listed in {coll_url}; rerun to add it")
        raise
    except Exception:
        placement.rollback()  # no item outside its collection: a failed run shows nothing
        raise
    timings["collection"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    log.info("published item %s in collection %s", item_url, coll_url)
    return Published(item_url, coll_url, assets, result=result, timings=timings)


def _already_done(
    store: Store, item: dict[str, Any] | None, coll_key: str, item_url: str, coll_url: str, collection: str,
    t_start: float,
) -> Published:
    """The "already done" answer, after making sure the collection lists the item (a run
    interrupted between the item and the collection left it out)."""
    item = item if item is not None else _read_json(store, f"{collection}/{_item_key_of(item_url)}")
    if item is not None:
        coll = _read_collection(store, coll_key, coll_url)
        listed = coll is not None and any(
            lk.get("rel") == "item" and _absolute(str(lk.get("href", "")), coll_url) == item_url
            for lk in coll.get("links", []))
        if not listed:
            log.warning("%s did not list %s (an interrupted run); adding it", coll_url, item_url)
            try:
                update_collection(store, coll_key, item, collection_id=collection, collection_url=coll_url,
                                  item_url=item_url)
            except KeyboardInterrupt as exc:
                _note_state(exc, f"item {item_url} is published but not yet listed in {coll_url}; rerun to add it")
                raise
    log.warning("already done: %s (same input, model and options); use --overwrite to redo it", item_url)
    assets = {k: _absolute(a["href"], item_url) for k, a in (item or {}).get("assets", {}).items()}
    return Published(item_url, coll_url, assets, skipped=True, timings={"total": time.perf_counter() - t_start})


def _item_key_of(item_url: str) -> str:
    """``ITEM_ID/ITEM_ID.json`` from an item URL."""
    return "/".join(item_url.rstrip("/").rsplit("/", 2)[-2:])


def _finished_meanwhile(store: Store, item_key: str, mdl: Model, key: str, source_id: str, overwrite: bool) -> bool:
    """True if an identical item appeared while this run worked (another run of the same product)."""
    if overwrite:
        return False
    try:
        now = _read_json(store, item_key)
    except S2SRError:
        return False
    return now is not None and _why_different(now, mdl, key, source_id) is None


def _note_state(exc: BaseException, state: str) -> None:
    """Say what an interruption left behind (printed by the CLI instead of "no output was published")."""
    if isinstance(exc, Interrupted):
        exc.state = state
    else:
        exc.s2sr_state = state  # type: ignore[attr-defined]


def super_resolve_to(
    product: str | Path | Product,
    destination: str | Path,
    model: str | Path | ModelCard | Model | None = None,
    *,
    collection: str = DEFAULT_COLLECTION,
    overwrite: bool = False,
    s3_endpoint: str | None = None,
    create_bucket: bool = False,
    progress: ProgressFactory | None = None,
    **options: Any,
) -> Published:
    """Former name of :func:`publish`, taking the :class:`~s2sr.plan.RunOptions` fields as keyword arguments."""
    return publish(product, destination, model, RunOptions(**options), collection=collection, overwrite=overwrite,
                   s3_endpoint=s3_endpoint, create_bucket=create_bucket, progress=progress)


def update_collection(
    store: Store, coll_key: str, item: dict[str, Any], *, collection_id: str, collection_url: str, item_url: str,
    relative: bool | None = None,
) -> dict[str, Any]:
    """Add ``item`` to the collection at ``coll_key``: read, merge, conditional write; retried
    with backoff when another writer changed it meanwhile.  A missing collection is rebuilt
    from every item under its folder (not just this one); a damaged one is an error.
    ``relative`` (default: for a local store): relative links, no ``self`` (a self-contained catalogue)."""
    if relative is None:
        relative = store.is_local
    for attempt in range(_COLLECTION_RETRIES):
        data, token = store.read_versioned(coll_key)
        current = _parse_collection(data, collection_url) if data else None
        if current is None:
            current = _rebuild_collection(store, coll_key, collection_id=collection_id, collection_url=collection_url,
                                          skip=item_url, relative=relative)
        merged = merge_collection(current, item, collection_id=collection_id, collection_url=collection_url,
                                  item_url=item_url, relative=relative)
        if store.write_if_unchanged(coll_key, _json_bytes(merged), token):
            return merged
        delay = random.uniform(0.02, 0.1) * (2 ** min(attempt, 5))
        log.debug("collection %s changed meanwhile; retrying in %.2f s", collection_url, delay)
        time.sleep(delay)
    raise ProcessingError(
        f"could not update {collection_url}: other writers kept changing it ({_COLLECTION_RETRIES} attempts)",
        hint="rerun: the item is published and the next run adds it to the collection",
    )


def _parse_collection(data: bytes, collection_url: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("type") != "Collection":
        raise OutputError(
            f"{collection_url} is not valid JSON of a STAC collection (damaged or cut short)",
            hint="move it away and rerun: s2sr rebuilds it from the items beside it",
        )
    return doc


def _read_collection(store: Store, coll_key: str, collection_url: str) -> dict[str, Any] | None:
    data = store.read_bytes(coll_key)
    return _parse_collection(data, collection_url) if data else None


def _rebuild_collection(
    store: Store, coll_key: str, *, collection_id: str, collection_url: str, skip: str, relative: bool
) -> dict[str, Any] | None:
    """The collection of every item found under its folder (``ID/ID.json``), or None if none."""
    folder = coll_key.rsplit("/", 1)[0]
    coll: dict[str, Any] | None = None
    for key in store.item_keys(folder):
        url = store.url(key)
        if url == skip:
            continue
        doc = _read_json(store, key)
        if doc is None or doc.get("type") != "Feature" or doc.get("collection") != collection_id:
            continue
        coll = merge_collection(coll, doc, collection_id=collection_id, collection_url=collection_url, item_url=url,
                                relative=relative)
    if coll is not None:
        n = sum(1 for lk in coll["links"] if lk.get("rel") == "item")
        log.warning("%s was missing: rebuilt from %d item(s) found beside it", collection_url, n)
    return coll


def _why_different(existing: dict[str, Any], mdl: Model, key: str, source_id: str) -> str | None:
    """None if ``existing`` is the item this run would write; else why it is not."""
    props = existing.get("properties", {})
    other_source = props.get("s2sr:source_id")
    if other_source and other_source != source_id:
        # e.g. two products of one tile and day (a reprocessing, another datastrip): same seed name
        return f"produced from another product ({other_source}; this run reads {source_id})"
    if props.get("s2sr:model_sha256") != mdl.sha256:
        other = props.get("s2sr:model", "an unknown model")
        digest = str(props.get("s2sr:model_sha256", ""))[:12] or "unknown"
        return (f"produced by a different model ({other}, sha256 {digest}…; this run uses {mdl.name}, "
                f"sha256 {mdl.sha256[:12]}…)")
    if props.get("s2sr:run_key") != key:
        return f"produced with different options ({json.dumps(props.get('s2sr:options', {}), sort_keys=True)})"
    return None


def _quicklook_source(result: RunResult) -> Path | list[Path]:
    """The multi-band COG, or the per-band layout's red, green and blue COGs (first band if absent)."""
    main = [(f, p) for f, p in result.files if not f.comparison]
    if len(main) == 1:
        return main[0][1]
    by_band = {f.bands[0]: p for f, p in main}
    rgb = [by_band[b] for b in ("B4", "B3", "B2") if b in by_band]
    return rgb if len(rgb) == 3 else [main[0][1]]


def _absolute(href: str, item_url: str) -> str:
    """An asset href of a published item as a URL (local catalogues hold relative hrefs)."""
    import posixpath

    if "://" in href or href.startswith("/"):
        return href
    return posixpath.normpath(posixpath.join(posixpath.dirname(item_url), href))


def _read_json(store: Store, key: str) -> dict[str, Any] | None:
    data = store.read_bytes(key)
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        log.warning("%s is not valid JSON; treating it as absent", store.url(key))
        return None
    return doc if isinstance(doc, dict) else None


def _json_bytes(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _card_yaml(card: ModelCard, sha256: str) -> str:
    """The model card as published beside the output (the original text when it came from a file)."""
    if card.card_path is not None and Path(card.card_path).is_file():
        text = Path(card.card_path).read_text(encoding="utf-8")
        return text if text.endswith("\n") else text + "\n"
    return yaml.safe_dump(
        {"bands": list(card.bands), "factor": card.factor, "margin": card.margin, "model": card.onnx_path.name,
         "name": card.name, "description": card.description, "sha256": sha256},
        sort_keys=False,
    )


def _check_collection_id(collection: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", collection):
        raise OutputError(f"collection id {collection!r} is not valid", hint="use letters, digits, '.', '_' or '-'")
