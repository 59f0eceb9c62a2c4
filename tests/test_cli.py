"""Both command lines: `s2sr` and the seed-compatible `sentinel2_superesolution`."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from s2sr import __version__
from s2sr.cli import main as s2sr_main
from s2sr.cli.seed import main as seed_main
from s2sr.models.graphs import resize_model, write_model

from .conftest import ALL_BANDS, make_product


ITEM_ID = "SENTINEL2A_20170527_L2A_T33UUB_5m"


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    res = CliRunner().invoke(s2sr_main, [str(a) for a in args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_version() -> None:
    code, out, _ = run_cli("--version")
    assert code == 0 and __version__ in out


def test_run_writes_cog(theia_dir: Path, convnet_card: Path, tmp_path: Path) -> None:
    code, out, err = run_cli("run", theia_dir, "-o", tmp_path, "-m", convnet_card, "--tile-size", "64", "--threads", "1")
    assert code == 0, err
    item = tmp_path / "s2sr" / ITEM_ID  # s2sr run publishes DEST/COLLECTION/ITEM_ID/ (the seed CLI stays flat)
    tif = item / "SENTINEL2A_20170527_L2A_T33UUB_5m_sisr.tif"
    assert str(tif) in out and tif.is_file()
    assert sorted(files_under(tmp_path)) == sorted([
        tif, item / f"{ITEM_ID}.json", item / f"{ITEM_ID}_thumbnail.png", item / f"{ITEM_ID}_model.yaml",
        tmp_path / "s2sr" / "collection.json",
    ])


def test_run_default_model_and_bicubic(theia_zip: Path, tmp_path: Path) -> None:
    code, out, err = run_cli("run", theia_zip, "-o", tmp_path, "--bicubic", "--roi-pixels", "0", "0", "40", "30")
    assert code == 0, err
    names = sorted(p.name for p in files_under(tmp_path) if p.suffix == ".tif")
    assert names == ["SENTINEL2A_20170527_L2A_T33UUB_5m_bicubic.tif", "SENTINEL2A_20170527_L2A_T33UUB_5m_sisr.tif"]


@pytest.fixture()
def bad_models(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "bad_models"
    d.mkdir()
    (d / "missing_keys.yaml").write_text("bands: [B2, B3]\nfactor: 2\n")
    (d / "unknown_band.yaml").write_text("bands: [B2, B99]\nfactor: 2\nmargin: 0\nmodel: x.onnx\n")
    write_model(d, "wrong_channels", resize_model(4, 2, mode="nearest"), bands=ALL_BANDS, factor=2, margin=0)
    return {p.stem: p for p in d.glob("*.yaml")}


def bad_cases(theia_dir: Path, tmp_path: Path, bad_models: dict[str, Path], arrays: tuple) -> dict[str, tuple]:
    not_product = tmp_path / "not_a_product"
    not_product.mkdir()
    (not_product / "notes.txt").write_text("hello")
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("a.txt", "x")
    incomplete = make_product(tmp_path / "incomplete", arrays)
    next(incomplete.glob("*_FRE_B12.tif")).unlink()
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    return {
        "missing input": ((tmp_path / "nope",), "does not exist"),
        "not a product": ((not_product,), "is not a supported product; expected a Theia"),
        "zip without product": ((empty_zip,), "holds no supported product"),
        "missing band file": ((incomplete,), "lacks band(s) B12"),
        "roi outside": ((theia_dir, "--roi-pixels", "500", "500", "600", "600"), "outside the product"),
        "roi empty": ((theia_dir, "--roi-pixels", "10", "10", "5", "20"), "is empty"),
        "map roi outside": ((theia_dir, "--roi", "0", "0", "10", "10"), "outside the product"),
        "card missing keys": ((theia_dir, "-m", bad_models["missing_keys"]), "lacks key(s) margin, model"),
        "card unknown band": ((theia_dir, "-m", bad_models["unknown_band"]), "unknown band 'B99'"),
        "onnx mismatch": ((theia_dir, "-m", bad_models["wrong_channels"]), "does not match its card"),
        "unknown model": ((theia_dir, "-m", "carnx"), "neither a card file nor a built-in"),
        "output not writable": ((theia_dir, "-o", a_file / "sub"), "cannot be written"),
    }


CASES = [
    "missing input", "not a product", "zip without product", "missing band file", "roi outside", "roi empty",
    "map roi outside", "card missing keys", "card unknown band", "onnx mismatch", "unknown model",
    "output not writable",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_one_line_exit_2_no_output(
    case: str, theia_dir: Path, tmp_path: Path, bad_models: dict[str, Path], arrays: tuple
) -> None:
    args, message = bad_cases(theia_dir, tmp_path, bad_models, arrays)[case]
    out_dir = tmp_path / "out"
    extra = () if "-o" in args else ("-o", out_dir)
    code, _, err = run_cli("run", args[0], *extra, *args[1:])
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("s2sr: error: "), err
    assert message in lines[0]
    assert not out_dir.exists(), "nothing is created for bad input"


def test_seed_cli_matches_s2sr_run(theia_dir: Path, convnet_card: Path, tmp_path: Path) -> None:
    seed_main([
        "-i", str(theia_dir), "-o", str(tmp_path / "seed"), "-m", str(convnet_card.with_suffix(".onnx")),
        "-roip", "8", "4", "72", "60", "-ts", "48", "--number_of_threads", "1", "--bicubic",
    ])
    code, _, err = run_cli("run", theia_dir, "-o", tmp_path / "new", "-m", convnet_card, "--roi-pixels", "8", "4", "72", "60")
    assert code == 0, err
    name = "SENTINEL2A_20170527_L2A_T33UUB_5m_sisr.tif"
    with rasterio.open(tmp_path / "seed" / name) as a, rasterio.open(tmp_path / "new" / "s2sr" / ITEM_ID / name) as b:
        assert a.transform == b.transform
        assert np.abs(a.read().astype(int) - b.read()).max() <= 1
    assert (tmp_path / "seed" / "SENTINEL2A_20170527_L2A_T33UUB_5m_bicubic.tif").is_file()


def test_seed_cli_map_roi_and_l1c(theia_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_main(["-i", str(theia_dir), "-o", str(tmp_path), "-m", "bicubic", "-roi", "300100", "6199500", "300500", "6199900"])
    with rasterio.open(next(tmp_path.glob("*_sisr.tif"))) as ds:
        assert (ds.transform.c, ds.transform.f, ds.width, ds.height) == (300100, 6199900, 80, 80)
    with pytest.raises(SystemExit) as exc:
        seed_main(["-i", str(theia_dir), "-o", str(tmp_path / "l1c"), "--l1c"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--l1c given but" in err[0] and "L2A product" in err[0]
    assert not (tmp_path / "l1c").exists()


def test_demo_product_command(tmp_path: Path) -> None:
    code, out, err = run_cli("demo-product", tmp_path, "--size", "64", "--source", "synthetic")
    assert code == 0, err
    product = Path(out.strip())
    assert product.is_dir() and product.name.startswith("SENTINEL2A_")
    code, out, err = run_cli("run", product, "-o", tmp_path / "out")
    assert code == 0, err


def test_console_scripts_installed(theia_zip: Path, tmp_path: Path) -> None:
    """The real entry points, as a user runs them: exit codes and one-line errors."""
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    ok = subprocess.run(["s2sr", "run", str(theia_zip), "-o", str(tmp_path), "--roi-pixels", "0", "0", "32", "32"],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(["sentinel2_superesolution", "-i", str(tmp_path / "missing"), "-o", str(tmp_path / "x")],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"sentinel2_superesolution: error: input {tmp_path / 'missing'} does not exist; "
        "give the path of a product folder or zip"
    ]
