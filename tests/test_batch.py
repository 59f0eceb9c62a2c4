"""``s2sr batch``: work lists, plans, the local pool and Dask (a real distributed.LocalCluster)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from s2sr.batch import (
    RunSettings,
    plan_entries,
    plan_json,
    read_plan,
    run_batch,
    work_from_file,
    work_from_folder,
)
from s2sr.errors import UserError

from .conftest import make_product


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory, arrays: tuple[np.ndarray, np.ndarray]) -> dict[str, Path]:
    """Three products in one folder: two good (other dates), one broken (its B4 file lost)."""
    d = tmp_path_factory.mktemp("batch_products")
    good1 = make_product(d, arrays, acquired=dt.datetime(2020, 1, 1, 10, 0, 0))
    good2 = make_product(d, arrays, acquired=dt.datetime(2020, 1, 11, 10, 0, 0), as_zip=True)
    broken = make_product(d, arrays, acquired=dt.datetime(2020, 1, 21, 10, 0, 0))
    for band in broken.glob("*_B4.tif"):
        band.unlink()
    return {"good1": good1, "good2": good2, "broken": broken, "folder": d}


def test_folder_work_list(products: dict[str, Path]) -> None:
    work = work_from_folder(products["folder"])
    assert sorted(w.source for w in work) == sorted(str(products[k]) for k in ("good1", "good2", "broken"))
    assert all(w.name.startswith("SENTINEL2A_2020") for w in work)


def test_list_file_relative_paths_comments_and_bad_lines(products: dict[str, Path], tmp_path: Path) -> None:
    lst = tmp_path / "list.txt"
    sub = tmp_path / "sub"
    sub.mkdir()
    lst = sub / "list.txt"
    lst.write_text(f"# products\n\n{products['folder'] / products['good1'].name}\n"
                   f"https://example.org/stac/items/S2A_X.json\n")
    work = work_from_file(lst)
    assert [w.name for w in work] == [products["good1"].name, "S2A_X"]
    assert work[0].origin.endswith("list.txt:3")

    lst.write_bytes(b"/data/a.zip\n\xff\xfe\x00bad\n")
    with pytest.raises(UserError, match=r"list.txt:2: the line is not UTF-8"):
        work_from_file(lst)
    lst.write_text(f"{products['good1']}\n{products['good2']}\n{products['good1']}\n")
    with pytest.raises(UserError, match=r"duplicate product .*list.txt:1 and .*list.txt:3"):
        work_from_file(lst)
    lst.write_text("/no/such/product.zip\n")
    with pytest.raises(UserError, match=r"list.txt:1: /no/such/product.zip does not exist"):
        work_from_file(lst)
    with pytest.raises(UserError, match="cannot read the product list"):
        work_from_file(tmp_path / "missing.txt")


def test_plan_round_trip_and_bad_plans(products: dict[str, Path], tmp_path: Path) -> None:
    settings = RunSettings(destination=str(tmp_path / "out"), model="bicubic", roi_pixels=(0, 0, 64, 48),
                           bicubic=True, stac_catalog=True)
    entries = plan_entries(work_from_folder(products["folder"]), settings)
    text = plan_json(entries)
    data = json.loads(text)
    assert len(data) == 3
    first = data[0]
    assert first["args"][:4] == ["run", first["product"], "-o", str(tmp_path / "out")]
    assert "--roi-pixels" in first["args"] and "--stac-catalog" in first["args"]
    (tmp_path / "plan.json").write_text(text)
    back = read_plan(tmp_path / "plan.json")
    assert [e.item.source for e in back] == [e.item.source for e in entries]
    assert back[0].settings == settings

    (tmp_path / "bad.json").write_text("run this: {")
    with pytest.raises(UserError, match=r"bad.json is not JSON"):
        read_plan(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text('{"product": "x"}')
    with pytest.raises(UserError, match="not a JSON list"):
        read_plan(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text(json.dumps([{"product": first["product"], "settings": {"destination": "x",
                                                                                              "colour": 1}}]))
    with pytest.raises(UserError, match="unknown option.*colour"):
        read_plan(tmp_path / "bad.json")


@pytest.mark.slow
def test_dask_local_cluster_isolates_failures_and_reruns_skip(products: dict[str, Path], tmp_path: Path) -> None:
    """3 products, one broken, on a real 2-process LocalCluster: 2 done, 1 failed with its reason;
    the rerun skips the 2; the broken product left nothing behind."""
    out = tmp_path / "out"
    settings = RunSettings(destination=str(out), model="bicubic", stac_catalog=True)
    entries = plan_entries(work_from_folder(products["folder"]), settings)
    summary = run_batch(entries, workers=2, dask="local")
    assert (len(summary.done), len(summary.skipped), len(summary.failed)) == (2, 0, 1), summary.lines()
    failed = summary.failed[0]
    assert failed.source == str(products["broken"]) and failed.exit_code == 2
    assert "B4" in failed.reason, failed.reason
    assert summary.exit_code == 1 and "dask local (2 worker processes)" in summary.engine
    items = sorted(p.name for p in (out / "s2sr").iterdir() if p.is_dir())
    assert len(items) == 2 and not any("20200121" in n for n in items)
    cat = json.loads((out / "catalog.json").read_text())
    assert sorted(lk["href"] for lk in cat["links"] if lk["rel"] == "item") == sorted(
        f"./s2sr/{n}/{n}.json" for n in items)

    # the rerun, as `s2sr batch --dask local`: the 2 finished products are skipped, exit code 1
    code, stdout, _ = _cli("batch", "--from-folder", str(products["folder"]), "-o", str(out), "-m", "bicubic",
                           "--dask", "local", "--workers", "2", "--stac-catalog")
    assert code == 1, stdout
    assert "on dask local (2 worker processes)" in stdout and "0 done, 2 skipped (already done), 1 failed" in stdout
    assert f"failed: {products['broken']}:" in stdout


@pytest.mark.slow
def test_local_pool_runs_the_same(products: dict[str, Path], tmp_path: Path) -> None:
    settings = RunSettings(destination=str(tmp_path / "out"), model="bicubic")
    entries = plan_entries(work_from_folder(products["folder"]), settings)
    seen = []
    summary = run_batch(entries, workers=2, on_outcome=seen.append)
    assert sorted(o.status for o in summary.outcomes) == ["done", "done", "failed"]
    assert len(seen) == 3 and "local pool of 2" in summary.engine


def test_unreachable_dask_scheduler_is_one_clear_error(products: dict[str, Path], tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    entries = plan_entries(work_from_folder(products["folder"]), RunSettings(destination=str(tmp_path / "o")))
    with pytest.raises(UserError, match=rf"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        run_batch(entries, dask=f"tcp://127.0.0.1:{port}")
    assert not (tmp_path / "o").exists()


# -- the command line ----------------------------------------------------------------------
def _cli(*args: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from s2sr.cli import main

    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def parse_run_args(args: list[str]) -> dict[str, object]:
    """``args`` (after ``s2sr``) parsed by the CLI's own ``run`` command parser (nothing runs)."""
    from s2sr.cli import main

    assert args[0] == "run", args
    ctx = main.commands["run"].make_context("run", list(args[1:]))
    return dict(ctx.params)


def test_cli_plan_args_are_accepted_by_the_run_parser(products: dict[str, Path], tmp_path: Path) -> None:
    code, out, _ = _cli("batch", "--from-folder", str(products["folder"]), "-o", "s3://bucket/runs", "-m", "bicubic",
                        "--roi", "300000", "6199000", "300500", "6199500", "--stac-catalog", "--s3-endpoint",
                        "http://127.0.0.1:9", "--asset-layout", "per-band", "--plan")
    assert code == 0, out
    plan = json.loads(out)
    assert len(plan) == 3
    for entry in plan:
        params = parse_run_args(entry["args"])
        assert params["input_path"] == entry["product"] and params["output_dir"] == "s3://bucket/runs"
        assert params["roi"] == (300000.0, 6199000.0, 300500.0, 6199500.0) and params["stac_catalog"] is True
        assert params["asset_layout"] == "per-band"


@pytest.mark.slow
def test_cli_from_file_summary_exit_code_and_rerun(products: dict[str, Path], tmp_path: Path) -> None:
    lst = tmp_path / "products.txt"
    lst.write_text("\n".join(str(products[k]) for k in ("good1", "broken")) + "\n")
    out_dir = tmp_path / "out"
    args = ("batch", "--from-file", str(lst), "-o", str(out_dir), "-m", "bicubic", "--summary-json",
            str(tmp_path / "s.json"))
    code, out, _ = _cli(*args)
    assert code == 1, out
    assert "1 done, 0 skipped (already done), 1 failed" in out
    assert f"failed   {products['broken']}:" in out and "B4" in out
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["done"] == 1 and summary["failed"] == 1
    code, out, _ = _cli(*args)
    assert code == 1 and "0 done, 1 skipped (already done), 1 failed" in out


@pytest.mark.parametrize("case", ["no source", "two sources", "bad plan", "plan plus options", "duplicate",
                                  "unreadable line", "empty folder require", "both dask", "unreachable dask"])
def test_cli_bad_input_is_one_line_exit_2(case: str, products: dict[str, Path], tmp_path: Path) -> None:
    lst = tmp_path / "l.txt"
    plan = tmp_path / "plan.json"
    empty = tmp_path / "empty"
    empty.mkdir()
    out = ["-o", str(tmp_path / "out")]
    args: list[str] = {
        "no source": ["batch", *out],
        "two sources": ["batch", "--from-file", str(lst), "--from-folder", str(empty), *out],
        "bad plan": ["batch", "--from-plan", str(plan)],
        "plan plus options": ["batch", "--from-plan", str(plan), "--bicubic"],
        "duplicate": ["batch", "--from-file", str(lst), *out],
        "unreadable line": ["batch", "--from-file", str(lst), *out],
        "empty folder require": ["batch", "--from-folder", str(empty), "--require", *out],
        "both dask": ["batch", "--from-folder", str(empty), "--dask", "local", "--dask-scheduler", "tcp://x:1", *out],
        "unreachable dask": ["batch", "--from-folder", str(products["folder"]), "--dask-scheduler",
                             "tcp://127.0.0.1:9", *out],
    }[case]
    plan.write_text("not json" if case == "bad plan" else "[]")
    lst.write_bytes(f"{products['good1']}\n{products['good1']}\n".encode() if case == "duplicate"
                    else b"\x00\x01garbage\xff\n")
    code, stdout, stderr = _cli(*args)
    assert code == 2, (stdout, stderr)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("s2sr: error: "), stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_dask_scheduler_address(products: dict[str, Path], tmp_path: Path) -> None:
    """--dask-scheduler ADDRESS: tasks go to an existing cluster (here a LocalCluster started apart)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        lst = tmp_path / "one.txt"
        lst.write_text(f"{products['good1']}\n")
        code, stdout, _ = _cli("batch", "--from-file", str(lst), "-o", str(tmp_path / "out"), "-m", "bicubic",
                               "--dask-scheduler", cluster.scheduler_address)
    assert code == 0, stdout
    assert f"on dask {cluster.scheduler_address}" in stdout and "1 done, 0 skipped" in stdout
