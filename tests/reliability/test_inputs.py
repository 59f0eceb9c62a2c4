"""Hostile and corrupt inputs: each refused with one line naming the cause (exit 2), nothing
published, and a good input processed afterwards into the same destination."""

from __future__ import annotations

import os
import shutil
import struct
import zipfile
from pathlib import Path

import pytest

from . import harness as h


def _damaged(product: Path, tmp_path: Path) -> Path:
    d = tmp_path / "bad" / product.name
    shutil.copytree(product, d)
    return d


def _mtd(product: Path) -> Path:
    return next(product.glob("*_MTD_ALL.xml"))


def _band(product: Path, band: str) -> Path:
    return next(product.glob(f"*_FRE_{band}.tif"))


def _zip(folder: Path, dest: Path, *, prefix: str = "", compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(dest, "w", compression=compression) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, prefix + f.relative_to(folder.parent).as_posix())
    return dest


def _then_good_run_succeeds(product: Path, model: Path, dest: Path) -> None:
    res = h.run("run", product, "-m", model, "-o", dest)
    assert res.rc == 0, res.describe()
    h.assert_published(dest)


# -- cases that already held: they must keep holding ----------------------------------------------
def test_zip_with_dotdot_entries_reads_nothing_outside(product: Path, model: Path, tmp_path: Path) -> None:
    z = _zip(product, tmp_path / "dotdot.zip", prefix="../../")
    # a real product where the ../ names would lead, if anything resolved them on disk
    shutil.copytree(product, tmp_path.parent / product.name, dirs_exist_ok=True)
    dest = tmp_path / "out"
    res = h.run("run", z, "-m", model, "-o", dest)
    h.assert_one_error(res, 2, "dotdot.zip")
    h.assert_nothing_published(dest)
    _then_good_run_succeeds(product, model, dest)


def test_billion_laughs_metadata(product: Path, model: Path, tmp_path: Path) -> None:
    bad = _damaged(product, tmp_path)
    ents = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    _mtd(bad).write_text(f'<?xml version="1.0"?><!DOCTYPE d [{ents}]><Muscate_Metadata_Document><X>&l9;'
                         "</X></Muscate_Metadata_Document>")
    dest = tmp_path / "out"
    res = h.run("run", bad, "-m", model, "-o", dest)
    h.assert_one_error(res, 2, "not valid XML")
    h.assert_nothing_published(dest)
    _then_good_run_succeeds(product, model, dest)


def test_xxe_metadata_never_reads_the_entity(product: Path, model: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SENTINEL2B-from-a-file-it-must-not-read")
    bad = _damaged(product, tmp_path)
    _mtd(bad).write_text(f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
                         "<Muscate_Metadata_Document><PLATFORM>&x;</PLATFORM></Muscate_Metadata_Document>")
    dest = tmp_path / "out"
    res = h.run("run", bad, "-m", model, "-o", dest)
    h.assert_one_error(res, 2, "not valid XML")
    assert "must-not-read" not in res.err
    h.assert_nothing_published(dest)
    _then_good_run_succeeds(product, model, dest)


def test_symlinked_band_to_a_system_file(product: Path, model: Path, tmp_path: Path) -> None:
    bad = _damaged(product, tmp_path)
    band = _band(bad, "B2")
    band.unlink()
    os.symlink("/etc/passwd", band)
    dest = tmp_path / "out"
    res = h.run("run", bad, "-m", model, "-o", dest)
    line = h.assert_one_error(res, 2, "B2")
    assert "root:" not in line
    h.assert_nothing_published(dest)
    _then_good_run_succeeds(product, model, dest)


def test_html_instead_of_tiff(product: Path, model: Path, tmp_path: Path) -> None:
    bad = _damaged(product, tmp_path)
    _band(bad, "B4").write_text("<html><body>Please log in</body></html>")
    dest = tmp_path / "out"
    res = h.run("run", bad, "-m", model, "-o", dest)
    h.assert_one_error(res, 2, "B4")
    h.assert_nothing_published(dest)
    _then_good_run_succeeds(product, model, dest)


def test_truncated_onnx_file(product: Path, models: Path, tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(models, d)
    onnx = d / "nearest.onnx"
    onnx.write_bytes(onnx.read_bytes()[: onnx.stat().st_size // 2])
    dest = tmp_path / "out"
    res = h.run("run", product, "-m", d / "nearest.yaml", "-o", dest)
    h.assert_one_error(res, 2, "nearest.onnx")
    h.assert_nothing_published(dest)
    _then_good_run_succeeds(product, models / "nearest.yaml", dest)


# -- 4: zip bombs ----------------------------------------------------------------------------------
def test_zip_bomb_metadata_is_read_bounded(product: Path, model: Path, tmp_path: Path) -> None:
    """A zip holding a huge (highly compressible) metadata file: refused after a bounded read."""
    z = tmp_path / "bomb.zip"
    mtd = _mtd(product)
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(product.rglob("*")):
            if f.is_file() and f != mtd:
                zf.write(f, f.relative_to(product.parent).as_posix())
        # 64 MiB of blanks after a valid start, about 64 kB compressed (the bomb: 4 GiB in 10 MB)
        with zf.open(f"{product.name}/{mtd.name}", "w") as fh:
            fh.write(b'<?xml version="1.0"?><Muscate_Metadata_Document><X>')
            block = b" " * (1 << 20)
            for _ in range(64):
                fh.write(block)
    assert z.stat().st_size < 1 << 20
    dest = tmp_path / "out"
    res = h.run("run", z, "-m", model, "-o", dest)
    h.assert_one_error(res, 2, "metadata", "too large")
    h.assert_nothing_published(dest)
    _then_good_run_succeeds(product, model, dest)


# -- 7: corrupt inputs ---------------------------------------------------------------------------------
def test_zip_central_directory_with_a_bad_offset(product_zip: Path, product: Path, model: Path, tmp_path: Path) -> None:
    data = bytearray(product_zip.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    (cd_offset,) = struct.unpack("<I", data[eocd + 16 : eocd + 20])
    data[eocd + 16 : eocd + 20] = struct.pack("<I", cd_offset + 7)
    bad = tmp_path / "badoffset.zip"
    bad.write_bytes(bytes(data))
    dest = tmp_path / "out"
    res = h.run("run", bad, "-m", model, "-o", dest)
    h.assert_one_error(res, 2, "badoffset.zip", "zip")
    h.assert_nothing_published(dest)
    _then_good_run_succeeds(product_zip, model, dest)


def test_zip_with_a_corrupt_compressed_metadata_member(product: Path, model: Path, tmp_path: Path) -> None:
    z = _zip(product, tmp_path / "corrupt.zip", compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(z) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("_MTD_ALL.xml"))
    data = bytearray(z.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 5, start + 40):
        data[k] ^= 0x5A
    z.write_bytes(bytes(data))
    dest = tmp_path / "out"
    res = h.run("run", z, "-m", model, "-o", dest)
    h.assert_one_error(res, 2, "corrupt.zip", "corrupt")
    h.assert_nothing_published(dest)
    _then_good_run_succeeds(product, model, dest)


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "vv"])
def test_band_truncated_to_half(product: Path, model: Path, tmp_path: Path, verbose: bool) -> None:
    bad = _damaged(product, tmp_path)
    band = _band(bad, "B8")
    with open(band, "r+b") as fh:
        fh.truncate(band.stat().st_size // 2)
    dest = tmp_path / "out"
    res = h.run("run", bad, "-m", model, "-o", dest, *(["-vv"] if verbose else []))
    if verbose:  # the cause is shown with -vv too (and the traceback)
        assert res.rc == 2, res.describe()
        last = res.err_lines[-1]
        assert last.startswith("s2sr: error:") and "B8" in last and "See previous exception" not in last
    else:
        line = h.assert_one_error(res, 2, "B8")
        assert "See previous exception" not in line
        assert any(w in line.lower() for w in ("truncated", "damaged", "corrupt")), line
    h.assert_nothing_published(dest)
    _then_good_run_succeeds(product, model, dest)
