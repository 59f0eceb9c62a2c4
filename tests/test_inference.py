from __future__ import annotations

from pathlib import Path

import numpy as np

from s2sr.inference import fill_nodata, infer, restore_nodata
from s2sr.models import load_model


def test_fill_reflects_all_nan_border_and_fills_holes_nearest() -> None:
    x = np.arange(2 * 6 * 7, dtype=np.float32).reshape(2, 6, 7)
    x[:, :, :2] = np.nan  # two all-NaN columns at the left edge (past the product)
    x[0, 3, 5] = np.nan  # an inner hole in one band
    f = fill_nodata(x)
    assert f is not None and not np.isnan(f).any()
    np.testing.assert_array_equal(f[:, :, 1], x[:, :, 3])  # reflect: col 1 mirrors col 3 about col 2
    np.testing.assert_array_equal(f[:, :, 0], x[:, :, 4])
    assert f[0, 3, 5] in {x[0, 2, 5], x[0, 4, 5], x[0, 3, 4], x[0, 3, 6]}
    assert np.isnan(x[0, 3, 5]), "input is not modified"


def test_fill_all_nan_returns_none() -> None:
    assert fill_nodata(np.full((3, 4, 4), np.nan, np.float32)) is None


def test_restore_nodata_upsamples_mask_per_band() -> None:
    x = np.ones((2, 3, 3), np.float32)
    x[1, 0, 0] = np.nan
    y = restore_nodata(np.ones((2, 6, 6), np.float32), x, 2)
    assert np.isnan(y[1, :2, :2]).all() and np.isnan(y).sum() == 4


def test_infer_keeps_nodata_and_skips_empty_windows(nearest_card: Path) -> None:
    model = load_model(nearest_card)
    x = np.full((10, 8, 8), 500.0, np.float32)
    x[:, :, :3] = np.nan
    y = infer(model, x)
    assert y.shape == (10, 16, 16)
    assert np.isnan(y[:, :, :6]).all() and (y[:, :, 6:] == 500).all()
    batch = np.stack([x, np.full_like(x, np.nan)])
    yb = infer(model, batch)
    assert yb.shape == (2, 10, 16, 16) and np.isnan(yb[1]).all()
    np.testing.assert_array_equal(yb[0], y)
