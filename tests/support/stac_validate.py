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
    # with format checking: "iri" / "iri-reference" (rfc3987) and "date-time" (rfc3339-validator) are
    # checked, as STAC Browser's validator and rustac do
    cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER).validate(doc)


def format_checks() -> set[str]:
    """The formats the checker really checks (a format whose package is missing passes silently)."""
    return set(jsonschema.Draft7Validator.FORMAT_CHECKER.checkers)


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


def stac_validator_config(folder: Path) -> Path:
    """A schema config for ``stac-validator -sc`` that maps every schema our documents use to the
    offline copies: the STAC 1.1.0 core item/collection to the 1.1.0-beta.1 schemas with only their
    ``stac_version`` constant changed to ``1.1.0`` (the final 1.1.0 schemas are not in the snapshot),
    the GeoJSON and draft-07 meta schemas to a permissive schema (geometries are checked with shapely)."""
    folder.mkdir(parents=True, exist_ok=True)
    permissive = folder / "permissive.json"
    permissive.write_text('{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}')
    mapping: dict[str, str] = {
        "https://geojson.org/schema/Feature.json": str(permissive),
        "https://geojson.org/schema/Geometry.json": str(permissive),
        "http://json-schema.org/draft-07/schema": str(permissive),
    }
    for path in SCHEMAS.rglob("*.json"):
        url = "https://" + str(path.relative_to(SCHEMAS))
        mapping[url] = str(path)
    for kind in ("item", "collection", "catalog"):
        src = SCHEMAS / "schemas.stacspec.org" / "v1.1.0-beta.1" / f"{kind}-spec" / "json-schema" / f"{kind}.json"
        patched = folder / f"{kind}-1.1.0.json"
        patched.write_text(src.read_text().replace('"const": "1.1.0-beta.1"', '"const": "1.1.0"'))
        mapping[f"https://schemas.stacspec.org/v1.1.0/{kind}-spec/json-schema/{kind}.json"] = str(patched)
    for alias, target in ALIASES.items():
        mapping[alias] = mapping[target]
    config = folder / "schemas.json"
    config.write_text(json.dumps({"schemas": mapping}, indent=1))
    return config
