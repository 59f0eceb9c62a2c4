"""Models: cards, ONNX Runtime sessions, and where models come from (built-ins, paths)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ModelError
from .card import ModelCard
from .runtime import Model, RuntimeOptions, open_model

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).parent / "builtin"

__all__ = [
    "BUILTIN_DIR",
    "Model",
    "ModelCard",
    "RuntimeOptions",
    "builtin_names",
    "default_model_name",
    "load_model",
    "resolve_card",
]


def builtin_names() -> list[str]:
    """Names of the models shipped inside the package (their cards in ``models/builtin``)."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def default_model_name() -> str:
    """The model used when none is given: the learned built-in if shipped, else bicubic."""
    names = builtin_names()
    return "s2sr_tiny" if "s2sr_tiny" in names else "bicubic"


def resolve_card(spec: str | Path | ModelCard | None = None) -> ModelCard:
    """A card from a card path, a built-in name, or ``None`` for the default model."""
    if isinstance(spec, ModelCard):
        return spec
    if spec is None:
        name = default_model_name()
        log.info("no model given: using built-in model %r", name)
        return ModelCard.from_file(BUILTIN_DIR / f"{name}.yaml")
    text = str(spec)
    if text in builtin_names():
        return ModelCard.from_file(BUILTIN_DIR / f"{text}.yaml")
    path = Path(text)
    if path.suffix.lower() == ".onnx":
        card = path.with_suffix(".yaml")
        if card.is_file():
            return ModelCard.from_file(card)
        raise ModelError(
            f"{path} is an ONNX file without a card beside it ({card.name})",
            hint="write a .yaml card (bands, factor, margin, model) and pass that",
        )
    if path.exists() or path.suffix.lower() in {".yaml", ".yml"}:
        return ModelCard.from_file(path)
    raise ModelError(
        f"model {text!r} is neither a card file nor a built-in model",
        hint=f"built-in models: {', '.join(builtin_names())}",
    )


def load_model(
    spec: str | Path | ModelCard | None = None,
    *,
    threads: int | None = None,
    gpu: bool = False,
) -> Model:
    """Resolve ``spec`` to a card and open its validated ONNX Runtime session."""
    return open_model(resolve_card(spec), RuntimeOptions(threads=threads, gpu=gpu))
