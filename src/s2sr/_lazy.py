"""Lazy package exports (PEP 562): a package names its public objects without importing the
modules that define them until one is used, so ``import s2sr`` stays light (no ONNX Runtime,
SciPy or GDAL until needed)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, exporting each of ``names`` from its
    submodule (``{"open_product": "detect"}``: ``package.detect.open_product``).

    A name is imported on first access and then cached in the package's namespace; one whose
    module does not exist (yet) is an :class:`AttributeError`, like any missing name.
    """
    table = dict(names)

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            source = importlib.import_module(f"{package}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{module}":
                raise  # a dependency is missing: say which
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(source, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
