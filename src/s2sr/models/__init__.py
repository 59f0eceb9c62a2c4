"""Models: cards, ONNX Runtime sessions, and where models come from.

``-m`` / ``model=`` accepts a built-in name (``bicubic``, the learned ``s2sr_tiny``), a zoo
name (``carn``, ``s2v2x2`` … downloaded on first use, :mod:`s2sr.models.zoo`), a card path
(``.yaml``, or the seed's ``.onnx`` with its card beside it), or a STAC MLM item (``.json``,
:mod:`s2sr.models.mlm`); :mod:`.resolve` turns it into a card, :mod:`.runtime` into a session.

Names load on first use: resolving cards never loads ONNX Runtime; :func:`load_model`,
:class:`Model` and :class:`RuntimeOptions` do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .card import ModelCard
    from .resolve import default_model_name, resolve_card
    from .runtime import Model, RuntimeOptions, load_model, open_model
    from .shipped import BUILTIN_DIR, builtin_names

__all__ = [
    "BUILTIN_DIR",
    "Model",
    "ModelCard",
    "RuntimeOptions",
    "builtin_names",
    "default_model_name",
    "load_model",
    "open_model",
    "resolve_card",
]
__getattr__, __dir__ = lazy_exports(__name__, {
    "BUILTIN_DIR": "shipped",
    "Model": "runtime",
    "ModelCard": "card",
    "RuntimeOptions": "runtime",
    "builtin_names": "shipped",
    "default_model_name": "resolve",
    "load_model": "runtime",
    "open_model": "runtime",
    "resolve_card": "resolve",
})
