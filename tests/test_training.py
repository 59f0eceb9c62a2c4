"""Smoke test of training/train.py: a few steps on a small crop, then the exported model obeys the
model contract (input `input`, [b, 10, h, w] -> [b, 10, 2h, 2w], card with the four keys).

Dev-only: needs PyTorch (the README's install installs its CPU build as a separate step; the
`train` extra pins the same version) and the real pixels in ../shared/data/real_pixels. Without
either it skips, saying which is missing; CI installs both, so there it runs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch",
    reason='PyTorch is not installed: pip install "torch==2.13.0" (the CPU build is enough; see the README)',
)
ort = pytest.importorskip("onnxruntime")
yaml = pytest.importorskip("yaml")

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_pixels"
SCENES = ["S2A_MSIL1C_20170527_T33UUB.npz", "S2B_MSIL1C_20171022_T49JGM.npz"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all((DATA_DIR / s).is_file() for s in SCENES),
        reason=f"real pixels not found in {DATA_DIR}",
    ),
]


def _load_train_module():
    spec = importlib.util.spec_from_file_location("s2sr_training_train", REPO_ROOT / "training" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_training_exports_contract_model(tmp_path):
    train = _load_train_module()
    metrics = train.main(
        ["--steps", "5", "--crop", "64", "--out-dir", str(tmp_path), "--data-dir", str(DATA_DIR),
         "--threads", "1", "--no-bench"]
    )

    card_path = tmp_path / "s2sr_tiny.yaml"
    card = yaml.safe_load(card_path.read_text())
    assert {"bands", "factor", "margin", "model"} <= set(card)
    assert card["bands"] == ["B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12"]
    assert card["factor"] == 2.0
    assert isinstance(card["margin"], int)
    assert card["margin"] >= metrics["receptive_field_radius_output_pixels"]
    onnx_path = card_path.parent / card["model"]
    assert onnx_path.is_file()

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input"]
    for b, h, w in [(1, 24, 40), (2, 17, 9)]:  # dynamic batch, height, width
        x = np.random.default_rng(0).uniform(0, 4000, (b, 10, h, w)).astype(np.float32)
        (y,) = sess.run(None, {"input": x})
        assert y.shape == (b, 10, 2 * h, 2 * w)
        assert y.dtype == np.float32
        assert np.isfinite(y).all()

    # a constant scene stays (almost) constant: the scaling lives inside the graph
    x = np.full((1, 10, 32, 32), 1500.0, dtype=np.float32)
    (y,) = sess.run(None, {"input": x})
    assert abs(float(np.median(y)) - 1500.0) < 300.0

    assert set(metrics["heldout_per_band"]) == set(card["bands"])
    assert (tmp_path / "s2sr_tiny_metrics.json").is_file()
