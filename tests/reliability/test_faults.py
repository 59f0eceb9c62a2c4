"""Faults while running: out of space, out of inodes, read-only outputs, models that emit
non-finite values or fail at run time.  One line, documented exit code, nothing partial visible,
and a clean rerun once the fault is gone."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio

from . import harness as h
from .conftest import ITEM_ID

needs_mount = pytest.mark.skipif(h.can_mount() is not None, reason=h.can_mount() or "")


# -- 6: disk full ---------------------------------------------------------------------------------------
@needs_mount
@pytest.mark.parametrize("size", ["16k", "48k"])
def test_disk_full_says_no_space_left(product: Path, model: Path, tmp_path: Path, size: str) -> None:
    with h.tmpfs(tmp_path / "small", size=size) as mnt:
        dest = mnt / "out"
        res = h.run("run", product, "-m", model, "-o", dest)
        h.assert_one_error(res, 1, "no space left")
        h.assert_nothing_published(dest)
        h.assert_no_staging_left(dest / ".s2sr-staging")
        subprocess.run(["mount", "-o", "remount,size=16m", str(mnt)], check=True)
        res = h.run("run", product, "-m", model, "-o", dest)
        assert res.rc == 0, res.describe()
        h.assert_published(dest)


# -- 5 (local): out of inodes midway through publishing leaves nothing visible ----------------------------
@needs_mount
def test_out_of_inodes_at_every_step_leaves_nothing_half_published(product: Path, model: Path, tmp_path: Path) -> None:
    """Each inode budget stops the run at another step (staging, COG, quicklook, card, item,
    collection): every run either publishes all or shows nothing."""
    failed = []
    for inodes in range(5, 16):  # more inodes each time, until the run succeeds
        with h.tmpfs(tmp_path / f"ino{inodes}", size="4m", inodes=inodes) as mnt:
            dest = mnt / "out"
            res = h.run("run", product, "-m", model, "-o", dest)
            if res.rc == 0:
                h.assert_published(dest)
                break
            failed.append(inodes)
            h.assert_one_error(res, 1, "no space left")
            h.assert_nothing_published(dest)
            h.assert_no_staging_left(dest / ".s2sr-staging")
    assert len(failed) >= 3, f"the inode budgets {failed} no longer reach the publishing steps; lower them"
    with h.tmpfs(tmp_path / "rerun", size="4m", inodes=failed[-1]) as mnt:  # the last failure, then the fault gone
        dest = mnt / "out"
        assert h.run("run", product, "-m", model, "-o", dest).rc == 1
        subprocess.run(["mount", "-o", "remount,nr_inodes=64", str(mnt)], check=True)
        res = h.run("run", product, "-m", model, "-o", dest)
        assert res.rc == 0, res.describe()
        h.assert_published(dest)


def test_read_only_destination(product: Path, model: Path, tmp_path: Path) -> None:
    dest = tmp_path / "ro"
    dest.mkdir()
    if os.geteuid() == 0:
        # root ignores permission bits: a read-only bind mount is the real thing
        proc = subprocess.run(["mount", "--bind", "-o", "ro", str(dest), str(dest)], capture_output=True, check=False)
        if proc.returncode:
            pytest.skip("cannot make a read-only bind mount here")
        try:
            res = h.run("run", product, "-m", model, "-o", dest)
        finally:
            subprocess.run(["umount", str(dest)], check=True)
    else:
        dest.chmod(0o555)
        res = h.run("run", product, "-m", model, "-o", dest)
        dest.chmod(0o755)
    h.assert_one_error(res, 2, "cannot be written")
    h.assert_nothing_published(dest)
    res = h.run("run", product, "-m", model, "-o", dest)
    assert res.rc == 0, res.describe()
    h.assert_published(dest)


# -- 3: non-finite model output -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["emits_inf", "emits_nan"])
def test_non_finite_model_output_fails_naming_the_count(
    product: Path, models: Path, model: Path, tmp_path: Path, name: str
) -> None:
    dest = tmp_path / "out"
    res = h.run("run", product, "-m", models / f"{name}.yaml", "-o", dest)
    line = h.assert_one_error(res, 1, "non-finite", name)
    assert any(ch.isdigit() for ch in line), line  # names how many values
    h.assert_nothing_published(dest)
    h.assert_no_staging_left(dest / ".s2sr-staging")
    res = h.run("run", product, "-m", model, "-o", dest)
    assert res.rc == 0, res.describe()
    coll = h.assert_published(dest)
    item_path = dest / "s2sr" / ITEM_ID / f"{ITEM_ID}.json"
    item = json.loads(item_path.read_text())
    with rasterio.open(item_path.parent / item["assets"]["sisr"]["href"]) as ds:
        data = ds.read()
    assert np.all(data != ds.nodata) and data.max() < 32767  # finite, valid reflectance everywhere
    assert coll["id"] == "s2sr"


# -- 10: a model failing at run time: s2sr's line only, not ONNX Runtime's own log --------------------------
def test_model_failing_at_run_time_one_line(product: Path, models: Path, model: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    # a 24-pixel region: not the 32-pixel probe the model passes at load time
    res = h.run("run", product, "-m", models / "fails_at_run_time.yaml", "-o", dest, "--roi-pixels", "0", "0", "24", "24")
    h.assert_one_error(res, 1, "fails_at_run_time")  # one line: not ONNX Runtime's own log line beside it
    assert "\x1b[" not in res.err  # no coloured log line
    h.assert_nothing_published(dest)
    res = h.run("run", product, "-m", model, "-o", dest)
    assert res.rc == 0, res.describe()
    h.assert_published(dest)
