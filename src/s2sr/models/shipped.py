"""The models shipped inside the package: their cards and ONNX files in ``models/builtin/``."""

from __future__ import annotations

from pathlib import Path

BUILTIN_DIR = Path(__file__).parent / "builtin"


def builtin_names() -> list[str]:
    """Names of the models shipped inside the package (their cards in ``models/builtin``)."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))
