"""The public test builders (:mod:`s2sr.testing`): importable on their own, not by ``import s2sr``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import s2sr.testing
from s2sr.models import load_model
from s2sr.products import open_product
from s2sr.testing import sample_pixels, write_test_models, write_theia_product


def test_all_names_resolve() -> None:
    missing = [n for n in s2sr.testing.__all__ if not hasattr(s2sr.testing, n)]
    assert missing == []


def test_import_s2sr_does_not_import_testing() -> None:
    code = "import s2sr, sys; print('s2sr.testing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_test_models_load(tmp_path: Path) -> None:
    cards = write_test_models(tmp_path)
    assert sorted(cards) == ["convnet20_x4", "convnet_x2", "nearest_x2"]
    assert load_model(cards["convnet20_x4"]).card.factor == 4


def test_sample_product_opens(tmp_path: Path) -> None:
    product = write_theia_product(tmp_path, *sample_pixels(32, "synthetic"), as_zip=True)
    assert product.suffix == ".zip"
    assert open_product(str(product)).group_grid("10m").width == 32
