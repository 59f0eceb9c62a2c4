"""Model cards ⇄ STAC items with the Machine Learning Model extension (MLM v1.5.2).

An item describes one model: ``mlm:input`` (the bands in card order, ``[batch, bands,
height, width]`` float32, value scaling reflectance → reflectance × 10000, 20 m-group bands
brought to the source grid with cubic), ``mlm:output`` (same bands, ``factor`` times larger),
``mlm:framework`` ONNX, the band descriptions (``eo:bands`` of EO v1.1.0 on the model asset,
where MLM v1.5.2 looks for them; EO and STAC 1.1 allow bands in properties only beside asset bands), the
card's tiling values as ``s2sr:factor`` / ``s2sr:margin``, and the ONNX file as the
``model`` asset with ``file:size`` and ``file:checksum`` (SHA-256 multihash).

:func:`card_from_item` reads such an item back into a :class:`~s2sr.models.ModelCard`,
verifying the ONNX file against its checksum; ``-m ITEM.json`` uses it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ..bands import BANDS, GROUP_10M, canonical, esa_name
from ..errors import ModelError
from ..hashing import file_sha1, file_sha256
from . import zoo
from .card import ModelCard
from .download import DownloadError, download

log = logging.getLogger(__name__)

MLM_EXT = "https://stac-extensions.github.io/mlm/v1.5.2/schema.json"
EO_EXT = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
FILE_EXT = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
ONNX_MEDIA_TYPE = "application/octet-stream; application=onnx"
#: The earliest Sentinel-2 data a model applies to (Sentinel-2A launch): the item's datetime.
S2_LAUNCH = dt.datetime(2015, 6, 23, tzinfo=dt.UTC)
_DIMS = ["batch", "bands", "height", "width"]
_SHA256_MULTIHASH = "1220"
_SHA1_MULTIHASH = "1114"


def multihash_sha256(path: str | Path) -> str:
    """``file:checksum`` of a file: the SHA-256 multihash, hex encoded."""
    return _SHA256_MULTIHASH + file_sha256(Path(path))


def _band_object(band: str) -> dict[str, Any]:
    info = BANDS[band]
    out: dict[str, Any] = {"name": esa_name(band)}
    if info.common_name:
        out["common_name"] = info.common_name
    out["center_wavelength"] = info.center_wavelength
    out["full_width_half_max"] = info.full_width_half_max
    return out


def card_to_item(
    card: ModelCard,
    *,
    asset_href: str | None = None,
    architecture: str | None = None,
    item_id: str | None = None,
    checksum: bool = True,
    blob_sha1: str | None = None,
) -> dict[str, Any]:
    """The STAC MLM item (a JSON-ready dict) describing ``card`` and its ONNX file.

    ``asset_href``: the model asset's href (default: the ONNX file name, i.e. the item is meant
    to sit beside it).  ``checksum``: add ``file:size``/``file:checksum`` when the file exists.
    ``blob_sha1``: the file's git blob SHA-1 (``s2sr:git_blob_sha1``), for a zoo model not yet
    downloaded (its href a URL): :func:`card_from_item` downloads and checks it.
    """
    import pystac

    name = card.name or card.onnx_path.stem
    bands = [esa_name(b) for b in card.bands]
    n, f = len(bands), card.factor
    resize = "interpolation-cubic" if card.source_group == "10m" and any(
        b not in GROUP_10M for b in card.bands
    ) else None
    model_input = {
        "name": "input",
        "bands": bands,
        "input": {"shape": [-1, n, -1, -1], "dim_order": _DIMS, "data_type": "float32"},
        "description": (
            f"surface reflectance x 10000 on the {card.source_group} grid"
            + ("; 20 m-group bands resampled to it with cubic (GDAL)" if resize else "")
            + "; nodata filled before inference"
        ),
        "value_scaling": [{"type": "scale", "value": 0.0001}],
        "resize_type": resize,
    }
    model_output = {
        "name": "output",
        "tasks": ["super-resolution"],
        "bands": bands,
        "result": {"shape": [-1, n, -1, -1], "dim_order": _DIMS, "data_type": "float32"},
        "description": f"surface reflectance x 10000, {f} times finer than the input",
    }
    props: dict[str, Any] = {
        "title": name,
        "description": card.description or f"Sentinel-2 super-resolution model {name} (x{f})",
        "mlm:name": name,
        "mlm:architecture": architecture or _architecture(card),
        "mlm:tasks": ["super-resolution"],
        "mlm:framework": "ONNX",
        "mlm:input": [model_input],
        "mlm:output": [model_output],
        "s2sr:factor": f,
        "s2sr:margin": card.margin,
    }
    asset_extra: dict[str, Any] = {"mlm:artifact_type": "onnx", "eo:bands": [_band_object(b) for b in card.bands]}
    path = card.onnx_path
    if path.is_file():
        props["mlm:memory_size"] = path.stat().st_size
        params = _total_parameters(path)
        if params is not None:
            props["mlm:total_parameters"] = params
        if checksum:
            asset_extra["file:size"] = path.stat().st_size
            asset_extra["file:checksum"] = multihash_sha256(path)
    if blob_sha1:
        asset_extra["s2sr:git_blob_sha1"] = blob_sha1
    extensions = [MLM_EXT, EO_EXT] + ([FILE_EXT] if "file:checksum" in asset_extra else [])
    item = pystac.Item(
        item_id or name,
        geometry=None,
        bbox=None,
        datetime=S2_LAUNCH,
        properties=props,
        stac_extensions=extensions,
    )
    item.add_asset(
        "model",
        pystac.Asset(
            asset_href or path.name,
            title=f"{name} ONNX model",
            media_type=ONNX_MEDIA_TYPE,
            roles=["mlm:model"],
            extra_fields=asset_extra,
        ),
    )
    return item.to_dict(include_self_link=False, transform_hrefs=False)


def _architecture(card: ModelCard) -> str:
    for e in zoo.registry().values():
        if e.stem == card.onnx_path.stem or e.name == card.name:
            return e.architecture or "CNN"
    return "bicubic resize" if card.name == "bicubic" else "CNN"


def _total_parameters(path: Path) -> int | None:
    try:
        import numpy as np
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        return int(sum(int(np.prod(t.dims)) for t in model.graph.initializer))
    except Exception:  # noqa: BLE001  # pragma: no cover - best effort metadata
        return None


def write_item(card: ModelCard, path: str | Path, **kw: Any) -> Path:
    """Write the MLM item of ``card`` to ``path`` (its asset href relative to the item if possible)."""
    p = Path(path)
    if "asset_href" not in kw:
        try:
            kw["asset_href"] = card.onnx_path.resolve().relative_to(p.parent.resolve()).as_posix()
        except ValueError:
            kw["asset_href"] = card.onnx_path.resolve().as_uri()
    item = card_to_item(card, **kw)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(item, indent=2) + "\n", encoding="utf-8")
    tmp.replace(p)
    return p


def is_mlm_item(path: str | Path) -> bool:
    """True if ``path`` is a JSON file holding a STAC item that uses the MLM extension."""
    p = Path(path)
    if p.suffix.lower() not in {".json", ".geojson"} or not p.is_file():
        return False
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and any("/mlm/" in str(e) for e in data.get("stac_extensions", []))


def _fail(origin: str, what: str, hint: str | None = None) -> ModelError:
    return ModelError(f"STAC MLM item {origin}: {what}", hint=hint)


def _band_name(value: Any, origin: str) -> str:
    raw = value.get("name") if isinstance(value, dict) else value
    try:
        return canonical(str(raw))
    except ModelError as exc:
        raise _fail(origin, exc.message, exc.hint) from None


def card_from_item(item: dict[str, Any] | str | Path, *, base: str | Path | None = None) -> ModelCard:
    """The :class:`ModelCard` an MLM item describes; its ONNX file verified against ``file:checksum``.

    ``item``: the item dict, or a path to its JSON file (then ``base`` defaults to its folder).
    A remote model asset (http/https) is downloaded into the zoo cache, checked, and reused.
    """
    origin = "<dict>"
    if not isinstance(item, dict):
        p = Path(item)
        origin = str(p)
        try:
            item = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _fail(origin, f"cannot be read as JSON ({exc})") from None
        base = base or p.resolve().parent
    if not isinstance(item, dict) or item.get("type") != "Feature":
        raise _fail(origin, "is not a STAC item (GeoJSON Feature)")
    props = item.get("properties") or {}
    inputs = props.get("mlm:input") or []
    if not inputs or not isinstance(inputs, list) or not isinstance(inputs[0], dict):
        raise _fail(origin, "has no mlm:input", "write items with `s2sr models info NAME --stac`")
    bands = [_band_name(b, origin) for b in inputs[0].get("bands") or []]
    if not bands:
        raise _fail(origin, "mlm:input lists no bands")
    factor = props.get("s2sr:factor")
    if factor is None:
        raise _fail(origin, "lacks s2sr:factor (the super-resolution factor)")
    margin = props.get("s2sr:margin")
    if margin is None:
        log.warning("STAC MLM item %s has no s2sr:margin; using 0 (tiles may show seams)", origin)
        margin = 0
    assets = item.get("assets") or {}
    model_assets = [a for a in assets.values() if "mlm:model" in (a.get("roles") or [])]
    if not model_assets:
        raise _fail(origin, "has no asset with role mlm:model")
    asset = model_assets[0]
    href = str(asset.get("href") or "")
    onnx = _local_model(href, asset, base, origin)
    name = str(props.get("mlm:name") or item.get("id") or onnx.stem)
    card = ModelCard.from_dict(
        {"bands": bands, "factor": factor, "margin": margin, "model": str(onnx), "name": name,
         "description": props.get("description") or ""},
        base_dir=onnx.parent,
        origin=origin,
    )
    return card


def _local_model(href: str, asset: dict[str, Any], base: str | Path | None, origin: str) -> Path:
    checksum = str(asset.get("file:checksum") or "").lower()
    scheme = urllib.parse.urlparse(href).scheme
    if scheme in ("http", "https"):
        blob = str(asset.get("s2sr:git_blob_sha1") or "").lower()
        if not checksum and not blob:
            raise _fail(origin, f"remote model {href} has no file:checksum", "add file:checksum to the asset")
        key = (checksum or blob)[:16]
        dest = zoo.cache_dir() / "mlm" / key / Path(urllib.parse.urlparse(href).path).name
        if dest.is_file() and blob and zoo.git_blob_sha1(dest) != blob:
            dest.unlink()  # corrupt: fetch again
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            expected = checksum[4:] if checksum.startswith(_SHA256_MULTIHASH) else None
            try:
                download(href, dest, expected_sha256=expected, expected_blob_sha1=blob or None)
            except DownloadError as exc:
                raise _fail(origin, f"model {href} cannot be downloaded ({exc.reason})") from None
    elif scheme == "file":
        dest = Path(urllib.request.url2pathname(urllib.parse.urlparse(href).path))
    else:
        dest = Path(href) if Path(href).is_absolute() else Path(base or ".") / href
    dest = dest.resolve()
    if not dest.is_file():
        raise _fail(origin, f"model asset {dest} not found", "keep the ONNX file where the item's href points")
    if checksum:
        _check(dest, checksum, origin)
    return dest


def _check(path: Path, checksum: str, origin: str) -> None:
    if checksum.startswith(_SHA256_MULTIHASH):
        got = multihash_sha256(path)
    elif checksum.startswith(_SHA1_MULTIHASH):
        got = _SHA1_MULTIHASH + file_sha1(path)
    else:
        log.warning("STAC MLM item %s: file:checksum %s uses an unsupported hash; not checked", origin, checksum)
        return
    if got != checksum:
        raise _fail(
            origin, f"model file {path} does not match its file:checksum ({got} != {checksum})",
            "the ONNX file changed or is corrupt: restore it or rewrite the item",
        )

