"""`s2sr evaluate`: Wald protocol and consistency, on a product built from real pixels when available."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from s2sr.cli import main
from s2sr.demo import find_real_pixels, make_demo_product
from s2sr.evaluate import bicubic_model, evaluate, infer_array
from s2sr.metrics import degrade, gaussian_sigma, psnr, spectral_angle, ssim
from s2sr.models import load_model
from s2sr.plan import RunOptions

from .conftest import SHARED

SIZE = 192  # 10 m pixels per side: small enough to be quick, large enough for every metric


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    real = (SHARED / "data" / "real_pixels").is_dir() and find_real_pixels() is not None
    return make_demo_product(tmp_path_factory.mktemp("eval"), size=SIZE, source="real" if real else "synthetic")


def test_gaussian_mtf_at_nyquist() -> None:
    for f, mtf in ((2, 0.3), (4, 0.2)):
        sigma = gaussian_sigma(f, mtf)
        nyquist = 1 / (2 * f)
        assert math.isclose(math.exp(-2 * math.pi**2 * sigma**2 * nyquist**2), mtf)


def test_degrade_keeps_constants_and_marks_nodata() -> None:
    x = np.full((2, 16, 24), 1234.0, np.float32)
    x[1, 0, 0] = np.nan
    y = degrade(x, 4)
    assert y.shape == (2, 4, 6)
    assert np.allclose(y[0], 1234.0) and np.isnan(y[1, 0, 0]) and np.allclose(y[1][~np.isnan(y[1])], 1234.0)
    with pytest.raises(ValueError):
        degrade(np.zeros((1, 10, 10), np.float32), 4)


def test_metrics_on_known_cases() -> None:
    rng = np.random.default_rng(0)
    ref = rng.uniform(0, 1000, (64, 64)).astype(np.float32)
    assert psnr(ref, ref) == math.inf and math.isclose(ssim(ref, ref), 1.0)
    noisy = ref + 10.0
    assert math.isclose(psnr(noisy, ref), 10 * math.log10((ref.max() - ref.min()) ** 2 / 100.0), rel_tol=1e-6)
    cube = np.stack([ref, 2 * ref])
    assert spectral_angle(3 * cube, cube) < 1e-4  # a scaled spectrum has no angle
    assert spectral_angle(cube[::-1], cube) > 1.0


def test_bicubic_baseline_is_the_builtin_bicubic_model(product: Path) -> None:
    """By construction: evaluate's bicubic and the built-in `bicubic` model give identical pixels."""
    builtin = load_model("bicubic")
    x = np.random.default_rng(1).uniform(100, 3000, (10, 40, 52)).astype(np.float32)
    x[:, :3, :5] = np.nan
    a = infer_array(builtin, x, tile_size=32)
    b = infer_array(bicubic_model(builtin.card), x, tile_size=32)
    assert np.array_equal(a, b, equal_nan=True)


def test_bicubic_model_scores_equal_bicubic(product: Path) -> None:
    ev = evaluate(product, "bicubic")
    assert ev.model == "bicubic" and ev.factor == 2 and ev.roi == (0, 0, SIZE, SIZE)
    assert len(ev.bands) == 10
    for s in ev.bands:
        assert s.psnr == s.psnr_bicubic and s.ssim == s.ssim_bicubic
        assert s.consistency_l1 == s.consistency_l1_bicubic
        assert 15 < s.psnr < 60 and 0.3 < s.ssim <= 1
    assert ev.sam == ev.sam_bicubic and ev.consistency_sam == ev.consistency_sam_bicubic
    assert {s.band: s.resolution for s in ev.bands}["B11"] == 20


def test_numbers_are_reproducible(product: Path, convnet_card: Path) -> None:
    a = evaluate(product, convnet_card, RunOptions(roi_pixels=(11, 6, 150, 131))).to_dict()
    b = evaluate(product, convnet_card, RunOptions(roi_pixels=(11, 6, 150, 131))).to_dict()
    assert a == b
    assert a["roi"] == [12, 6, 148, 130]  # snapped: origin on the 20 m grid, size a multiple of 2 x factor
    # a random network is not bicubic: the scores differ (and say so)
    assert any(s["psnr"] != s["psnr_bicubic"] for s in a["bands"])
    assert all(s["psnr_gain"] == pytest.approx(s["psnr"] - s["psnr_bicubic"], abs=1e-5) for s in a["bands"])


def test_20m_source_model(product: Path, models_dir: Path) -> None:
    ev = evaluate(product, models_dir / "convnet20_x4.yaml")
    assert ev.factor == 4 and all(s.resolution == 20 for s in ev.bands)
    assert ev.roi == (0, 0, SIZE // 2, SIZE // 2)  # the 20 m grid is the source grid
    assert all(math.isfinite(s.psnr_bicubic) for s in ev.bands)


def test_cli_json_table_and_figure(product: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    fig = tmp_path / "fig" / "eval.png"
    result = runner.invoke(main, ["evaluate", str(product), "-m", "bicubic", "--json", "--figure", str(fig)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"] == "bicubic" and data["figure"] == str(fig)
    assert [b["band"] for b in data["bands"]][:4] == ["B2", "B3", "B4", "B8"]
    with rasterio.open(fig) as ds:
        assert (ds.count, ds.height, ds.width) == (3, 256, 3 * 256 + 2 * 4)
        img = ds.read()
    assert img[:, :, :256].std() > 5  # not blank
    assert not list(fig.parent.glob("*.aux.xml")) and not list(fig.parent.glob("*.tmp*"))
    result = runner.invoke(main, ["evaluate", str(product), "-m", "bicubic", "--roi-pixels", "0", "0", "64", "64"])
    assert result.exit_code == 0, result.output
    assert "Wald protocol (x2" in result.output and "B12" in result.output and "SAM (deg)" in result.output
    bad = runner.invoke(main, ["evaluate", str(product), "-m", "bicubic", "--roi-pixels", "0", "0", "2", "2"])
    assert bad.exit_code == 2 and "too small to evaluate" in bad.output


def test_nodata_edge_and_non_square_product(theia_dir: Path, convnet_card: Path) -> None:
    """The conftest product: 96 x 128 px with nodata columns at its left edge."""
    ev = evaluate(theia_dir, convnet_card)
    assert ev.roi == (0, 0, 128, 96)
    for s in ev.bands:
        assert all(math.isfinite(v) for v in (s.psnr, s.psnr_bicubic, s.ssim, s.consistency_l1))
    assert math.isfinite(ev.sam) and math.isfinite(ev.consistency_sam)
