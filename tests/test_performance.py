"""Performance features (issue 10): even tiles and margin overhead, thread defaults, session options,
device/precision/batch with their CPU fallbacks, and the benchmark on a tiny input.

No GPU here or in CI: CUDA and TensorRT are asked for and must fall back to CPU with a warning
and the same pixels; the I/O-binding path that CUDA uses is run on CPU.  No timing is asserted.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from rasterio.crs import CRS

import s2sr
import s2sr.pipeline
from s2sr.cli import main as s2sr_main
from s2sr.cpus import available_cpus, quota_cpus
from s2sr.defaults import DEFAULT_TILE_SIZE
from s2sr.grid import Grid
from s2sr.models import load_model
from s2sr.models.runtime import session_options
from s2sr.tiling import even_split, full_roi, plan_tiles

from .conftest import COLS, ROWS

REPO = Path(__file__).resolve().parents[1]


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


def grid(size: int) -> Grid:
    return Grid(CRS.from_epsg(32633), Affine(10, 0, 300000, 0, -10, 6200040), size, size)


# ---------------------------------------------------------------- tiling


@pytest.mark.parametrize(
    ("length", "longest", "expected"), [(1098, 500, 366), (1000, 500, 500), (1001, 500, 334), (40, 500, 40), (7, 3, 3)]
)
def test_even_split(length: int, longest: int, expected: int) -> None:
    assert even_split(length, longest) == expected


def test_tiles_divide_the_roi_evenly() -> None:
    """The issue's product: 1098² at tile size 1000 → 3 × 3 tiles of 366 (read 398²), not 500 + 500 + 98."""
    plan = plan_tiles(grid(1098), full_roi(grid(1098)), factor=2, tile_size=1000, margin=32)
    assert (plan.tile_rows, plan.tile_cols, len(plan), plan.read_shape) == (366, 366, 9, (398, 398))
    assert plan.inferred_px == 9 * 398 * 398
    assert plan.margin_overhead == pytest.approx(9 * 398**2 / 1098**2)  # 1.183 (was 2.1 with 532² tiles)
    tiles = list(plan)
    assert sum(int(t.out.width * t.out.height) for t in tiles) == (2 * 1098) ** 2  # the ROI exactly, no overlap
    assert {(int(t.read.width), int(t.read.height)) for t in tiles} == {(398, 398)}  # one shape


def test_run_reports_margin_overhead(theia_dir: Path, convnet_card: Path, tmp_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="s2sr"):
        r = s2sr.write_cogs(theia_dir, tmp_path, convnet_card, s2sr.RunOptions(tile_size=100, threads=1))
    # 96 × 128 px, tiles of at most 50 → 2 × 3 tiles of 48 × 43, read with 4 px margins
    assert r.tiles == 6 and r.read_shape == (56, 51) and r.inferred_px == 6 * 56 * 51
    assert r.margin_overhead == pytest.approx(6 * 56 * 51 / (ROWS * COLS))
    assert r.threads == 1 and r.device == "cpu" and r.batch == 1
    assert f"margin overhead {r.margin_overhead:.3f}" in caplog.text


# ---------------------------------------------------------------- threads and session options


def test_cgroup_quota(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert quota_cpus(v2) == 1.5 and available_cpus(v2) == min(2, available_cpus())
    (v2 / "cpu.max").write_text("max 100000\n")
    assert quota_cpus(v2) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert quota_cpus(v1) == 0.5 and available_cpus(v1) == 1
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert quota_cpus(v1) is None
    assert quota_cpus(tmp_path / "absent") is None


def test_default_threads_are_the_usable_cores(convnet_card: Path) -> None:
    model = load_model(convnet_card)
    assert model.threads == available_cpus()
    entries = session_options(None)
    assert entries.intra_op_num_threads == available_cpus() and not entries.enable_mem_pattern
    assert entries.enable_cpu_mem_arena


# ---------------------------------------------------------------- device, I/O binding, batch, fp16


def test_gpu_devices_fall_back_to_cpu(theia_dir: Path, convnet_card: Path, tmp_path: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:
    """This onnxruntime has no CUDA/TensorRT (as in CI): asking for them runs on CPU, says so, same pixels."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a CUDA build of onnxruntime: the fallback is not exercised")
    ref = s2sr.write_cogs(theia_dir, tmp_path / "cpu", convnet_card, s2sr.RunOptions(tile_size=64, threads=1))
    for device in ("cuda", "tensorrt"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="s2sr"):
            r = s2sr.write_cogs(theia_dir, tmp_path / device, convnet_card,
                                s2sr.RunOptions(tile_size=64, threads=1, device=device))
        assert r.device == "cpu" and r.batch == 1
        assert "running on CPU" in caplog.text
        np.testing.assert_array_equal(read(r.sisr), read(ref.sisr))


def test_io_binding_and_batches_give_the_same_pixels(theia_dir: Path, convnet_card: Path, tmp_path: Path) -> None:
    """The CUDA path (I/O binding, several tiles per call), run on CPU, changes no pixel."""
    model = load_model(convnet_card, threads=1)
    x = np.random.default_rng(0).uniform(100, 5000, (3, 10, 40, 36)).astype(np.float32)
    plain = model.predict(x)
    model.io_binding = True
    np.testing.assert_array_equal(model.predict(x), plain)
    ref = s2sr.write_cogs(theia_dir, tmp_path / "one", model, s2sr.RunOptions(tile_size=40))
    batched = s2sr.write_cogs(theia_dir, tmp_path / "three", model, s2sr.RunOptions(tile_size=40, batch=3))
    assert batched.batch == 3 and batched.tiles > 3
    np.testing.assert_array_equal(read(batched.sisr), read(ref.sisr))


def test_fp16_converts_at_load(theia_dir: Path, convnet_card: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxconverter_common")
    fp32 = s2sr.write_cogs(theia_dir, tmp_path / "fp32", convnet_card, s2sr.RunOptions(threads=1))
    fp16 = s2sr.write_cogs(theia_dir, tmp_path / "fp16", convnet_card, s2sr.RunOptions(threads=1, precision="fp16"))
    a, b = read(fp32.sisr).astype(int), read(fp16.sisr).astype(int)
    assert np.array_equal(a == -10000, b == -10000)  # nodata unchanged
    diff = np.abs(a - b)
    assert 0 < diff.max() <= 16  # fp16 arithmetic: a few DN of 10000, not more


def test_cli_device_precision_batch(theia_dir: Path, convnet_card: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(s2sr_main, [
        "run", str(theia_dir), "-o", str(tmp_path), "-m", str(convnet_card), "--threads", "1",
        "--device", "cpu", "--batch", "2", "-v",
    ])
    assert res.exit_code == 0, res.output
    assert "margin overhead" in res.stderr
    bad = CliRunner().invoke(s2sr_main, ["run", str(theia_dir), "-o", str(tmp_path), "--precision", "fp8"])
    assert bad.exit_code == 2 and "fp8" in bad.stderr
    with pytest.raises(s2sr.UserError, match="unknown device"):
        s2sr.RunOptions(device="tpu")


# ---------------------------------------------------------------- the benchmark


@pytest.mark.slow
def test_benchmark_runs_on_a_tiny_input(tmp_path: Path) -> None:
    """`python benchmarks/run.py` end to end on a 64² product (figures only; no timing asserted)."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--size", "64", "--rss-sizes", "64",
         "--tile-sizes", "64", "--ort-rounds", "1", "--no-io-nice-ab", "--no-model-workers-ab", "--source", "synthetic", "--threads", "1", "--repeat", "1",
         "--seed-python", sys.executable, "--workdir", str(tmp_path), "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["model"]["parameters"] == 380874 and result["threads"] == 1
    run = result["s2sr"]
    assert run["tiles"] == 1 and run["read_shape"] == [96, 96] and run["margin_overhead"] == pytest.approx(2.25)
    assert run["peak_rss_mb"] > 0 and run["output_mpx"] == pytest.approx(128 * 128 / 1e6, abs=1e-3)
    assert result["pure_onnxruntime"]["pipeline_ratio_process"] > 0
    cli = result["s2sr_run_cli"]  # `s2sr run` itself, the headline figures
    assert cli["process_wall_s"] > 0 and cli["pipeline_ratio"] > 0 and cli["peak_rss_mb"] > 0
    assert result["full_product_extrapolated"]["tiles"] == math.ceil(10980 / (DEFAULT_TILE_SIZE // 2)) ** 2
    assert [r["product_px"] for r in result["rss_by_product_size"]] == [64]
    assert [r["tile_size"] for r in result["tile_size_sweep"]] == [64]
    assert set(result["onnxruntime_options"]) >= {"s2sr", "onnxruntime_defaults"}
    assert result["fp16"]["nodata_identical"] and result["fp16"]["max_abs_dn"] >= 0
    assert isinstance(result["seed_tool"], str | list)  # its figures, or why there are none


def test_parallel_readers_give_the_same_pixels(theia_dir: Path, convnet_card: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """On a GPU several threads read (each with its own reader); forced here on CPU."""
    ref = s2sr.write_cogs(theia_dir, tmp_path / "one", convnet_card, s2sr.RunOptions(tile_size=40, threads=1))
    monkeypatch.setattr(s2sr.pipeline, "read_workers", lambda device: 3)
    par = s2sr.write_cogs(theia_dir, tmp_path / "three", convnet_card, s2sr.RunOptions(tile_size=40, threads=1))
    np.testing.assert_array_equal(read(par.sisr), read(ref.sisr))


def test_model_workers_give_the_same_pixels(theia_dir: Path, convnet_card: Path, tmp_path: Path) -> None:
    """Two tiles through the model at once (each on half the cores) changes no pixel."""
    ref = s2sr.write_cogs(theia_dir, tmp_path / "one", convnet_card, s2sr.RunOptions(tile_size=40))
    two = s2sr.write_cogs(theia_dir, tmp_path / "two", convnet_card, s2sr.RunOptions(tile_size=40, model_workers=2))
    assert two.threads == max(1, available_cpus() // 2)
    np.testing.assert_array_equal(read(two.sisr), read(ref.sisr))
    with pytest.raises(s2sr.UserError, match="model workers"):
        s2sr.RunOptions(model_workers=0)
