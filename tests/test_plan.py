"""Planning a run once (s2sr.plan_run) and the executors that take the plan."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import s2sr
from s2sr.errors import RoiError, UserError
from s2sr.plan import RunOptions, as_plan, plan_run

ITEM_ID = "SENTINEL2A_20170527_L2A_T33UUB_5m"


def test_plan_describes_the_run(theia_dir: Path, convnet_card: Path) -> None:
    plan = plan_run(theia_dir, convnet_card, RunOptions(roi_pixels=(10, 20, 70, 60), tile_size=32))
    assert plan.roi_pixels == (10, 20, 70, 60)
    assert (plan.output_grid.width, plan.output_grid.height) == (120, 80)
    assert plan.resolution == plan.source_grid.res / 2
    assert plan.sisr_name == f"{ITEM_ID}_sisr.tif" and plan.item_id == ITEM_ID
    assert len(plan.tiles) == 4 * 3  # 60 x 40 source px in tiles of 16 source px
    assert plan.product.info.product_id in plan.describe()


def test_options_are_validated_before_anything_runs() -> None:
    with pytest.raises(RoiError, match="either a pixel ROI or a map ROI"):
        RunOptions(roi_pixels=(0, 0, 1, 1), roi=(0, 0, 1, 1))
    with pytest.raises(UserError, match="tile size"):
        RunOptions(tile_size=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunOptions().tile_size = 3  # type: ignore[misc]


def test_bad_roi_fails_at_planning(theia_dir: Path, convnet_card: Path) -> None:
    with pytest.raises(RoiError, match="outside the product"):
        plan_run(theia_dir, convnet_card, RunOptions(roi_pixels=(5000, 5000, 5010, 5010)))


def test_executors_take_a_plan(theia_dir: Path, convnet_card: Path, tmp_path: Path) -> None:
    plan = plan_run(theia_dir, convnet_card, RunOptions(roi_pixels=(0, 0, 40, 30), tile_size=32))
    assert as_plan(plan) is plan
    with pytest.raises(TypeError):
        as_plan(plan, convnet_card)
    flat = s2sr.write_cogs(plan, tmp_path / "flat")
    pub = s2sr.publish(plan, tmp_path / "pub")
    assert flat.sisr.name == Path(pub.sisr).name == plan.sisr_name
    assert flat.output_grid == pub.result.output_grid == plan.output_grid
    # the former names still work, with the options as keyword arguments
    old = s2sr.super_resolve(theia_dir, tmp_path / "old", convnet_card, roi_pixels=(0, 0, 40, 30), tile_size=32)
    assert old.output_grid == plan.output_grid
    assert s2sr.super_resolve_to(theia_dir, tmp_path / "pub", convnet_card, roi_pixels=(0, 0, 40, 30),
                                 tile_size=32).skipped


def test_one_error_boundary(tmp_path: Path) -> None:
    """Every command fails the same way: one line, the exit code, a traceback only with -vv."""
    missing = tmp_path / "missing"
    for args in (["run", missing, "-o", tmp_path / "o"], ["evaluate", missing], ["models", "info", "nope"]):
        res = subprocess.run([sys.executable, "-m", "s2sr", *map(str, args)], capture_output=True, text=True)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("s2sr: error: "), res.stderr
    res = subprocess.run([sys.executable, "-m", "s2sr", "run", str(missing), "-o", str(tmp_path), "-vv"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" in res.stderr and "ProductError" in res.stderr
