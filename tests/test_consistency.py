"""What a run measures while it writes: per-band statistics (CogWriter) and the consistency of the
output with its input (the degradation ``s2sr evaluate`` uses), tile by tile, no second read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2sr.consistency import ConsistencyAccumulator, aligned
from s2sr.errors import UserError
from s2sr.evaluate import evaluate
from s2sr.metrics import degrade, l1_reflectance, spectral_angle
from s2sr.outputs.bandstats import StatsAccumulator, stats_of
from s2sr.pipeline import write_cogs
from s2sr.plan import RunOptions


def test_statistics_accumulate_blocks_like_one_pass() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(-200, 9000, size=(3, 40, 50)).astype(np.int16)
    a[0, :, :7] = -10000
    a[2] = -10000  # a band without valid pixels
    blocks = [a[:, :, :20], a[:, :, 20:35], a[:, :, 35:]]
    acc = StatsAccumulator(3, -10000)
    for b in blocks[::-1]:  # any order
        acc.add(b)
    got = acc.result()
    assert got == stats_of([a], -10000)
    v = a[0][a[0] != -10000].astype(np.float64)
    s = got[0]
    assert s is not None and got[2] is None
    assert (s.minimum, s.maximum) == (v.min(), v.max())
    assert s.mean == pytest.approx(v.mean()) and s.stddev == pytest.approx(v.std())
    assert s.valid_percent == pytest.approx(100 * 43 / 50)


def test_aligned_sub_window() -> None:
    assert aligned(0, 100, 0, 4) == (0, 100)
    assert aligned(3, 100, 0, 4) == (4, 100)
    assert aligned(0, 99, 2, 4) == (2, 98)
    assert aligned(5, 7, 0, 4) == (8, 8)  # nothing aligned inside


def test_accumulator_matches_whole_array_metrics() -> None:
    rng = np.random.default_rng(2)
    pred = rng.uniform(100, 4000, size=(2, 32, 32)).astype(np.float32)
    ref10 = degrade(pred[:1], 2)[0] + 5.0  # a band at twice the output pixel size, off by 5 DN
    ref20 = degrade(pred[1:], 4)[0] - 20.0  # a band at four times, off by 20 DN
    acc = ConsistencyAccumulator(("B4", "B5"), 2, (1, 2))
    acc.add(pred, [ref10, ref20])
    res = acc.result()
    assert res.l1["B4"] == pytest.approx(5e-4, rel=1e-4)
    assert res.l1["B5"] == pytest.approx(2e-3, rel=1e-4)
    assert res.pixels == 32 * 32
    cp = np.stack([degrade(pred[:1], 2)[0].reshape(8, 2, 8, 2).mean(axis=(1, 3)), degrade(pred[1:], 4)[0]])
    ref = np.stack([ref10.reshape(8, 2, 8, 2).mean(axis=(1, 3)), ref20])
    assert res.sam == pytest.approx(spectral_angle(cp, ref), rel=1e-3)
    assert res.to_stac()["l1_mean"] == pytest.approx((5e-4 + 2e-3) / 2, rel=1e-3)


def test_in_run_consistency_equals_evaluate(theia_dir: Path, nearest_card: Path, tmp_path: Path) -> None:
    """One tile over the whole product (with its nodata strip): the numbers ``s2sr evaluate`` reports."""
    roi = (0, 0, 128, 96)
    run = write_cogs(theia_dir, tmp_path, nearest_card, RunOptions(roi_pixels=roi, tile_size=512))
    ev = evaluate(theia_dir, nearest_card, RunOptions(roi_pixels=roi, tile_size=512))
    assert ev.roi == roi
    assert run.consistency is not None
    for band in ev.bands:
        assert run.consistency.l1[band.band] == pytest.approx(band.consistency_l1, rel=1e-4, abs=1e-7)
    assert run.consistency.sam == pytest.approx(ev.consistency_sam, rel=1e-3, abs=1e-4)
    # tiles of 32 px give nearly the same numbers (the blur is mirrored at tile edges)
    tiled = write_cogs(theia_dir, tmp_path / "tiled", nearest_card, RunOptions(roi_pixels=roi, tile_size=32))
    assert tiled.consistency is not None
    for band in ev.bands:
        assert tiled.consistency.l1[band.band] == pytest.approx(band.consistency_l1, rel=0.1, abs=1e-5)


def test_statistics_of_the_run_match_the_cog(theia_dir: Path, nearest_card: Path, tmp_path: Path) -> None:
    run = write_cogs(theia_dir, tmp_path, nearest_card, RunOptions(roi_pixels=(0, 0, 64, 48), tile_size=40))
    (key, stats), = run.statistics.items()
    assert key == "sisr"
    with rasterio.open(run.sisr) as ds:
        data = ds.read()
    for i, s in enumerate(stats):
        v = data[i][data[i] != -10000].astype(np.float64)
        assert s is not None and (s.minimum, s.maximum) == (v.min(), v.max())
        assert s.mean == pytest.approx(v.mean(), abs=1e-6) and s.stddev == pytest.approx(v.std(), abs=1e-6)


def test_per_band_layout_writes_one_cog_per_band_same_pixels(theia_dir: Path, nearest_card: Path,
                                                             tmp_path: Path) -> None:
    opts = {"roi_pixels": (0, 0, 64, 48), "tile_size": 40, "bicubic": True}
    multi = write_cogs(theia_dir, tmp_path / "m", nearest_card, RunOptions(**opts))
    per = write_cogs(theia_dir, tmp_path / "p", nearest_card, RunOptions(asset_layout="per-band", **opts))
    keys = [f.key for f, _ in per.files]
    assert keys[:3] == ["blue", "green", "red"] and "rededge1" in keys and "red_bicubic" in keys
    assert per.sisr.name.endswith("_5m_B02.tif") and per.bicubic is not None
    assert per.bicubic.name.endswith("_5m_B02_bicubic.tif")
    with rasterio.open(multi.sisr) as ds:
        whole = ds.read()
        names = list(ds.descriptions)
    for f, path in per.files:
        if f.comparison:
            continue
        with rasterio.open(path) as ds:
            assert ds.count == 1 and ds.descriptions == f.bands
            np.testing.assert_array_equal(ds.read(1), whole[names.index(f.bands[0])])
    assert per.consistency == multi.consistency
    assert per.statistics["red"] == (multi.statistics["sisr"][names.index("B4")],)


def test_bad_asset_layout_is_a_user_error() -> None:
    with pytest.raises(UserError, match="asset layout 'x' is not one of multiband, per-band"):
        RunOptions(asset_layout="x")


def test_l1_reflectance_helper_agrees() -> None:
    a = np.full((4, 4), 1000.0)
    assert l1_reflectance(a + 10, a) == pytest.approx(0.001)
