"""Model cards ⇄ STAC MLM items: round trip, `-m ITEM.json`, and validation against vendored schemas.

The schemas in tests/data/stac-schemas are unchanged copies (licences beside them) of the
STAC core item schema v1.1.0-beta.1 (the newest core in the project's snapshot; items are
written as STAC 1.1.0: validated with ``stac_version`` set to the beta's, the one difference) and
the MLM v1.5.2, EO v1.1.0, raster v1.1.0, classification v1.1.0
and processing v1.2.0 extension schemas, laid out as ``<host>/<path>`` of their URLs.  MLM
refers to processing v1.1.0, which is mapped to v1.2.0; the GeoJSON schemas the core refers
to are not vendored and map to a permissive schema (geometry is null here).  The file
extension (``file:checksum``) schema is not vendored: the checksum is checked by hand.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from s2sr.cli import main
from s2sr.errors import ModelError
from s2sr.models import BUILTIN_DIR, ModelCard, builtin_names, load_model, resolve_card
from s2sr.models.graphs import convnet_model, write_model
from s2sr.models.mlm import FILE_EXT, card_from_item, card_to_item, write_item

from .support.stac_validate import validate_stac

def validate_item(item: dict[str, Any]) -> None:
    """Core item schema and every vendored extension schema the item names (file: by hand)."""
    assert item["stac_version"] == "1.1.0"
    validate_stac(item, skip=(FILE_EXT,))


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory) -> ModelCard:
    d = tmp_path_factory.mktemp("mlm")
    path = write_model(d, "conv4", convnet_model(4, 2, hidden=8), bands=["B2", "B3", "B4", "B8"], factor=2, margin=6,
                       description="a test model")
    return ModelCard.from_file(path)


@pytest.mark.parametrize("name", ["bicubic", "conv4"])
def test_item_validates_against_mlm_schema(name: str, card: ModelCard) -> None:
    c = resolve_card(name) if name in builtin_names() else card
    item = card_to_item(c)
    validate_item(item)
    props = item["properties"]
    assert props["mlm:framework"] == "ONNX" and props["mlm:tasks"] == ["super-resolution"]
    inp = props["mlm:input"][0]
    assert inp["bands"][:3] == ["B02", "B03", "B04"]
    assert inp["input"]["shape"] == [-1, len(c.bands), -1, -1]
    assert inp["value_scaling"] == [{"type": "scale", "value": 0.0001}]
    asset = item["assets"]["model"]
    assert asset["roles"] == ["mlm:model"] and asset["mlm:artifact_type"] == "onnx"
    data = c.onnx_path.read_bytes()
    assert asset["file:checksum"] == "1220" + hashlib.sha256(data).hexdigest()
    assert asset["file:size"] == len(data)
    assert [b["name"] for b in asset["eo:bands"]] == inp["bands"]


def test_schema_validation_catches_a_broken_item(card: ModelCard) -> None:
    item = card_to_item(card)
    del item["properties"]["mlm:input"]
    with pytest.raises(jsonschema.ValidationError):
        validate_item(item)


def test_round_trip(card: ModelCard, tmp_path: Path) -> None:
    path = write_item(card, card.onnx_path.parent / "conv4.item.json")
    back = card_from_item(path)
    assert (back.bands, back.factor, back.margin, back.onnx_path, back.name) == (
        card.bands, card.factor, card.margin, card.onnx_path, card.name)
    assert back.description == card.description
    # -m accepts the item, and a model loads from it
    assert resolve_card(str(path)) == back
    assert load_model(path).card.margin == 6
    # an item elsewhere points at the ONNX file by URI
    other = write_item(card, tmp_path / "elsewhere.json")
    assert card_from_item(other).onnx_path == card.onnx_path


def test_item_checksum_mismatch_is_refused(card: ModelCard, tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(card.onnx_path.read_bytes())
    local = ModelCard.from_dict(card.to_dict() | {"model": "m.onnx"}, base_dir=tmp_path, origin="t")
    item = write_item(local, tmp_path / "m.json")
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="does not match its file:checksum"):
        resolve_card(item)
    result = CliRunner().invoke(main, ["models", "info", str(item)])
    assert result.exit_code == 2 and "file:checksum" in result.output


def test_cli_stac_writes_an_item_run_accepts(theia_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    item = tmp_path / "bicubic.json"
    result = runner.invoke(main, ["models", "stac", str(BUILTIN_DIR / "bicubic.yaml"), "-o", str(item)])
    assert result.exit_code == 0, result.output
    validate_item(json.loads(item.read_text()))
    result = runner.invoke(main, ["run", str(theia_dir), "-o", str(tmp_path / "out"), "-m", str(item)])
    assert result.exit_code == 0, result.output
    assert "model bicubic" in result.output
    result = runner.invoke(main, ["models", "info", "bicubic", "--stac"])
    assert result.exit_code == 0 and json.loads(result.output)["properties"]["mlm:name"] == "bicubic"
