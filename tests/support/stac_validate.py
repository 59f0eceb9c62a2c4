"""Validate STAC items and collections offline against the schemas in tests/data/stac-schemas.

The core schemas are v1.1.0-beta.1 (the final 1.1.0 ones are not in the snapshot); the only
difference that matters for our documents is the ``stac_version`` constant, so the core check
runs on a copy with ``stac_version`` set to ``1.1.0-beta.1``.  Each extension the document
declares is checked against its own (final) schema, unchanged.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import rasterio
import shapely.geometry
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "stac-schemas"
CORE = "https://schemas.stacspec.org/v1.1.0-beta.1"
PROJJSON = "https://proj.org/schemas/v0.7/projjson.schema.json"
# MLM refers to processing v1.1.0, whose upstream tag still declares v1.0.0: use v1.2.0
ALIASES = {
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json":
        "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
}


def _retrieve(uri: str) -> Resource:
    uri = ALIASES.get(uri.split("#", 1)[0], uri)
    if uri.startswith("https://geojson.org/"):
        return Resource.from_contents({"type": "object"}, default_specification=DRAFT7)
    if uri == PROJJSON:
        path = Path(rasterio.__file__).parent / "proj_data" / "projjson.schema.json"
    else:
        path = SCHEMAS / uri.split("://", 1)[1].split("#", 1)[0]
    if not path.is_file():
        raise LookupError(f"schema {uri} is not vendored ({path})")
    return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7)


@cache
def _registry() -> Registry:
    return Registry(retrieve=_retrieve)  # type: ignore[call-arg]


def _validate(doc: dict[str, Any], schema_uri: str) -> None:
    schema = _retrieve(schema_uri).contents
    cls = jsonschema.validators.validator_for(schema)
    cls(schema, registry=_registry()).validate(doc)


def validate_stac(doc: dict[str, Any], *, skip: tuple[str, ...] = ()) -> list[str]:
    """Validate an item or collection: core + every declared extension except those in ``skip``
    (not vendored; the caller checks them by hand). Raises on the first error; returns the schemas used."""
    kind = {"Feature": "item", "Collection": "collection"}[doc["type"]]
    core = copy.deepcopy(doc)
    core["stac_version"] = "1.1.0-beta.1"
    used = [f"{CORE}/{kind}-spec/json-schema/{kind}.json"]
    _validate(core, used[0])
    for ext in doc.get("stac_extensions", []):
        if ext in skip:
            continue
        _validate(doc, ext)
        used.append(ext)
    if kind == "item" and doc.get("geometry") is not None:
        geom = shapely.geometry.shape(doc["geometry"])
        assert geom.is_valid and not geom.is_empty
        minx, miny, maxx, maxy = doc["bbox"]
        gx0, gy0, gx1, gy1 = geom.bounds
        assert minx <= gx0 + 1e-7 and miny <= gy0 + 1e-7 and maxx >= gx1 - 1e-7 and maxy >= gy1 - 1e-7
        assert -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    return used
