"""The model card: the seed tool's YAML contract (docs/model-contract.md).

.. code-block:: yaml

    bands: [B2, B3, B4, B8, B5, B6, B7, B8A, B11, B12]  # input and output order
    factor: 2.0          # output pixel = input pixel / factor
    margin: 32           # pixels cropped from each side of the OUTPUT of a tile
    model: carn_3x3x64g4sw_bootstrap.onnx   # path relative to the card

Cards of the seed tool load unchanged; extra keys (``name``, ``description``) are optional.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..bands import canonical, source_group
from ..errors import ModelError

REQUIRED_KEYS = ("bands", "factor", "margin", "model")


@dataclass(frozen=True)
class ModelCard:
    """A parsed, validated model card."""

    bands: tuple[str, ...]  #: card band names, input and output order
    factor: int  #: output pixel = input pixel / factor
    margin: int  #: output pixels cropped on each side of a tile's output
    onnx_path: Path  #: absolute path of the ONNX file
    card_path: Path | None = None  #: where the card was read from, if from a file
    name: str = ""  #: short name (defaults to the card's file stem)
    description: str = ""

    @property
    def source_group(self) -> str:
        """``"10m"`` if the model reads any 10 m band (its source grid), else ``"20m"``."""
        return source_group(self.bands)

    @property
    def input_margin(self) -> int:
        """Margin in input (source-grid) pixels: enough to crop at least ``margin`` output pixels."""
        return math.ceil(self.margin / self.factor)

    @classmethod
    def from_dict(cls, data: Any, *, base_dir: Path, origin: str) -> ModelCard:
        """Validate a card's mapping; ``origin`` names the card in error messages."""
        if not isinstance(data, dict):
            raise ModelError(f"model card {origin} is not a YAML mapping")
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise ModelError(
                f"model card {origin} lacks key(s) {', '.join(missing)}",
                hint="a card needs bands, factor, margin and model (see docs/model-contract.md)",
            )
        raw_bands = data["bands"]
        if not isinstance(raw_bands, list) or not raw_bands:
            raise ModelError(f"model card {origin}: 'bands' must be a non-empty list")
        try:
            bands = tuple(canonical(str(b)) for b in raw_bands)
        except ModelError as exc:
            raise ModelError(f"model card {origin}: {exc.message}", hint=exc.hint) from None
        if len(set(bands)) != len(bands):
            raise ModelError(f"model card {origin}: 'bands' lists a band twice")
        try:
            factor_f = float(data["factor"])
            margin_f = float(data["margin"])
        except (TypeError, ValueError):
            raise ModelError(f"model card {origin}: 'factor' and 'margin' must be numbers") from None
        if factor_f < 1 or not factor_f.is_integer():
            raise ModelError(
                f"model card {origin}: factor {data['factor']} is not supported",
                hint="s2sr supports integer factors >= 1 (2 and 4 for the seed's models)",
            )
        if margin_f < 0 or not margin_f.is_integer():
            raise ModelError(f"model card {origin}: margin must be a non-negative integer")
        onnx_rel = data["model"]
        if not isinstance(onnx_rel, str) or not onnx_rel:
            raise ModelError(f"model card {origin}: 'model' must name the ONNX file")
        onnx_path = (base_dir / onnx_rel).resolve()
        return cls(
            bands=bands,
            factor=int(factor_f),
            margin=int(margin_f),
            onnx_path=onnx_path,
            name=str(data.get("name") or ""),
            description=str(data.get("description") or ""),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> ModelCard:
        """Read and validate a card from a YAML file."""
        p = Path(path)
        if not p.is_file():
            raise ModelError(
                f"model card {p} not found",
                hint="pass -m with a .yaml card (the ONNX file beside it) or a built-in name",
            )
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(f"model card {p} cannot be read as YAML: {first}") from None
        card = cls.from_dict(data, base_dir=p.parent, origin=str(p))
        return ModelCard(
            bands=card.bands,
            factor=card.factor,
            margin=card.margin,
            onnx_path=card.onnx_path,
            card_path=p.resolve(),
            name=card.name or p.stem,
            description=card.description,
        )

    def to_dict(self) -> dict[str, Any]:
        """The card as the seed writes it (``model`` relative to the card when possible)."""
        model = self.onnx_path.name if self.card_path is None else str(
            _relative(self.onnx_path, self.card_path.parent)
        )
        out: dict[str, Any] = {
            "bands": list(self.bands),
            "factor": float(self.factor),
            "margin": self.margin,
            "model": model,
        }
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        return out


def _relative(path: Path, base: Path) -> Path:
    try:
        return path.relative_to(base)
    except ValueError:
        return path
