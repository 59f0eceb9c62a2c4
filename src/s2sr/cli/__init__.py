"""The ``s2sr`` command line: thin commands over the library (the library never imports this package).

``main`` (:mod:`s2sr.cli.main`) is the ``s2sr`` program; :mod:`s2sr.cli.seed` is the seed tool's
``sentinel2_superesolution`` command line.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
