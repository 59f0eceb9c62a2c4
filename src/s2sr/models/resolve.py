"""From what the user gives (``-m``/``model=``) to a model card: a built-in name, a zoo name,
a card path (``.yaml``, or the seed's ``.onnx`` with its card beside it), a STAC MLM item
(``.json``), or nothing (the default model).  Never loads ONNX Runtime.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ModelError
from . import mlm, zoo
from .card import ModelCard
from .shipped import BUILTIN_DIR, builtin_names

log = logging.getLogger(__name__)


def default_model_name() -> str:
    """The model used when none is given: the zoo's ``carn`` when cached (and intact), else
    the learned built-in if shipped, else bicubic.  Never touches the network."""
    if zoo.is_cached(zoo.ZOO_DEFAULT):
        return zoo.ZOO_DEFAULT
    if zoo.ZOO_DEFAULT in zoo.registry() and zoo.onnx_path(zoo.entry(zoo.ZOO_DEFAULT)).is_file():
        log.warning(
            "cached model %s is corrupt and is not used as the default; run `s2sr models pull %s`",
            zoo.ZOO_DEFAULT, zoo.ZOO_DEFAULT,
        )
    names = builtin_names()
    return "s2sr_tiny" if "s2sr_tiny" in names else "bicubic"


def resolve_card(spec: str | Path | ModelCard | None = None) -> ModelCard:
    """A card from a built-in or zoo name, a card path, a STAC MLM item, or ``None`` (the default).

    A zoo model not in the cache is downloaded (and verified) first; one in the cache is
    verified against its git blob SHA-1 before use.
    """
    if isinstance(spec, ModelCard):
        return spec
    if spec is None:
        name = default_model_name()
        if name in builtin_names():
            log.info("no model given: using built-in model %r", name)
            return ModelCard.from_file(BUILTIN_DIR / f"{name}.yaml")
        log.info("no model given: using zoo model %r (cached in %s)", name, zoo.cache_dir())
        return zoo.cached_card(name, download_missing=False)
    text = str(spec)
    if text in builtin_names():
        return ModelCard.from_file(BUILTIN_DIR / f"{text}.yaml")
    if text in zoo.registry():
        return zoo.cached_card(text)
    path = Path(text)
    if mlm.is_mlm_item(path):
        return mlm.card_from_item(path)
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
        f"model {text!r} is neither a card file nor a built-in or zoo model (nor a STAC MLM item)",
        hint=f"built-in models: {', '.join(builtin_names())}; zoo models: {', '.join(zoo.registry())}",
    )
