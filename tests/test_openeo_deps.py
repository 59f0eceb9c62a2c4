"""`s2sr openeo package-deps`: the dependency archive, reproducible, and working on a back-end's Python.

The wheels come from PyPI once per session (a registry download, as for installs); the archives
are then built offline from that folder.  The back-end is played by a fresh interpreter
(``python -I -S``) whose only site folder is this venv's site-packages minus what the archive
must bring (s2sr, onnxruntime, PyYAML) and minus protobuf/flatbuffers: NumPy ≥ 2.3, xarray,
scipy and the openeo client are there, as on CDSE's Python 3.11 image
(openeo-geopyspark-driver ``setup.py``).  The archive is unpacked into an empty folder, as Spark
unpacks ``spark.archives``, and the UDF appends it to ``sys.path`` and runs an ONNX session.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import s2sr.openeo as s2oe
from s2sr.cli import main
from s2sr.errors import InputError, RemoteError
from s2sr.openeo.deps import DEFAULT_REQUIREMENTS, MANIFEST, download_wheels
from s2sr.udf import UDF_FILE

pytestmark = pytest.mark.slow

#: what the archive must not hold: the back-end's own packages, and what onnxruntime does not import
NOT_SHIPPED = ("numpy", "scipy", "xarray", "pandas", "openeo", "google", "protobuf", "flatbuffers", "sympy",
               "coloredlogs", "packaging")


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pinned wheels for cp311 manylinux_2_28_x86_64, downloaded once."""
    d = tmp_path_factory.mktemp("wheels")
    download_wheels(DEFAULT_REQUIREMENTS, d)
    return d


@pytest.fixture(scope="session")
def archive(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return s2oe.package_deps(tmp_path_factory.mktemp("deps") / "s2sr-deps.zip", find_links=wheels, no_index=True).path


def test_archive_contents(archive: Path, wheels: Path) -> None:
    names = sorted(w.name for w in wheels.glob("*.whl"))
    ort = next(n for n in names if n.startswith("onnxruntime-"))
    version = tuple(int(v) for v in ort.split("-")[1].split(".")[:2])
    assert version >= (1, 18), ort  # built against NumPy 2 (1.16.3, the last manylinux2014 one, is not)
    assert "-cp311-cp311-" in ort and "manylinux_2_28_x86_64" in ort
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        top = {i.filename.split("/", 1)[0] for i in infos}
        manifest = json.loads(zf.read(MANIFEST))
    packages = {t for t in top if not t.endswith(".dist-info") and t != MANIFEST}
    assert packages == {"s2sr", "onnxruntime", "yaml", "_yaml"}, packages
    assert not [t for t in top if t.split("-")[0].lower() in NOT_SHIPPED]
    assert manifest["python"] == "3.11" and manifest["platform"] == "manylinux_2_28_x86_64"
    assert manifest["wheels"] == names
    # reproducible: every entry dated 1980-01-01, sorted, unix permissions
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {(i.external_attr >> 16) & 0o777 for i in infos} <= {0o644, 0o755}
    with zipfile.ZipFile(archive) as zf:
        names_in = set(zf.namelist())
    assert "s2sr/udf/s2sr_udf.py" in names_in and "s2sr/models/builtin/bicubic.onnx" in names_in
    assert not [n for n in names_in if "__pycache__" in n or n.endswith(".pyc")]


def test_archive_is_reproducible(archive: Path, wheels: Path, tmp_path: Path) -> None:
    again = s2oe.package_deps(tmp_path / "again.zip", find_links=wheels, no_index=True)
    assert again.path.read_bytes() == archive.read_bytes()
    assert again.wheels == tuple(sorted(w.name for w in wheels.glob("*.whl")))


def backend_site(tmp_path: Path) -> Path:
    """This venv's packages minus what the archive brings (and minus protobuf/flatbuffers)."""
    site = Path(sysconfig.get_paths()["purelib"])
    out = tmp_path / "backend_site"
    out.mkdir()
    skip = ("s2sr", "_s2sr", "__editable__", "onnxruntime", "yaml", "_yaml", "pyyaml", "google", "protobuf",
            "flatbuffers")
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(skip) or name.endswith(".pth") or name == "__pycache__":
            continue
        (out / entry.name).symlink_to(entry)
    return out


SCRIPT = """
import json, os, sys
sys.path.insert(0, {site!r})  # the back-end's site-packages
import numpy as np, xarray as xr
assert tuple(int(v) for v in np.__version__.split(".")[:2]) >= (2, 3), np.__version__
for name in ("s2sr", "onnxruntime", "yaml"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(name + " is importable before the archive")
from openeo.metadata import CollectionMetadata
from openeo.udf import XarrayDataCube
ns = {{}}
exec(open({udf!r}).read(), ns)
context = {{"model": "bicubic"}}
meta = CollectionMetadata({{"cube:dimensions": {{
    "x": {{"type": "spatial", "axis": "x", "step": 10.0, "reference_system": 32633}},
    "y": {{"type": "spatial", "axis": "y", "step": 10.0, "reference_system": 32633}},
    "t": {{"type": "temporal"}}, "band": {{"type": "bands", "values": ["B02"]}}}}}})
steps = [d.step for d in ns["apply_metadata"](meta, context).spatial_dimensions]
rng = np.random.default_rng(0)
data = rng.uniform(-200, 4000, (1, 10, 24, 24)).astype(np.float32)
data[..., :3] = np.nan
cube = xr.DataArray(data, dims=("t", "bands", "y", "x"))
out = ns["apply_datacube"](XarrayDataCube(cube), context).get_array()
import onnxruntime, yaml, s2sr
np.save("out.npy", out.values)
print(json.dumps({{
    "steps": steps, "shape": list(out.shape), "dtype": str(out.dtype),
    "onnxruntime": onnxruntime.__file__, "onnxruntime_version": onnxruntime.__version__,
    "yaml": yaml.__file__, "s2sr": s2sr.__file__, "numpy": np.__file__, "sys_path_last": sys.path[-1],
    "protobuf_imported": "google.protobuf" in sys.modules, "flatbuffers_imported": "flatbuffers" in sys.modules,
}}))
"""


def test_archive_runs_on_a_fresh_backend_interpreter(archive: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    deps = work / "tmp" / "s2sr_deps"
    deps.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:  # Spark unpacks URL#tmp/s2sr_deps into the working directory
        zf.extractall(deps)
    site = backend_site(tmp_path)
    script = SCRIPT.format(site=str(site), udf=str(UDF_FILE))
    res = subprocess.run([sys.executable, "-I", "-S", "-c", script], cwd=work, capture_output=True, text=True,
                         timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    seen = json.loads(res.stdout.strip().splitlines()[-1])
    assert seen["steps"] == [5.0, 5.0]
    assert seen["shape"] == [1, 10, 48, 48] and seen["dtype"] == "float32"
    for name in ("onnxruntime", "yaml", "s2sr"):
        assert Path(seen[name]).is_relative_to(deps), (name, seen[name])
    assert Path(seen["numpy"]).is_relative_to(site)
    assert seen["sys_path_last"] == str(deps)  # appended: the back-end's packages win
    assert not seen["protobuf_imported"] and not seen["flatbuffers_imported"]
    out = np.load(work / "out.npy")
    assert np.isnan(out[..., :6]).all() and not np.isnan(out[..., 6:]).any()


# --- bad input: one clear error each ------------------------------------------------------------


def test_bad_output_name(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a .zip file"):
        s2oe.package_deps(tmp_path / "deps.tar")
    with pytest.raises(InputError, match="does not exist"):
        s2oe.package_deps(tmp_path / "nope" / "deps.zip")


def test_requirement_that_shadows_the_backend(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"protobuf==5.29.0 would shadow the back-end's own packages"):
        s2oe.package_deps(tmp_path / "d.zip", requirements=["onnxruntime==1.32.0", "protobuf==5.29.0"])


def test_download_failure_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RemoteError, match=r"pip could not download onnxruntime==1.32.0, PyYAML==6.0.4 for Python 3.11 on manylinux_2_28_x86_64: .*No matching distribution"):
        s2oe.package_deps(tmp_path / "d.zip", find_links=tmp_path / "empty", no_index=True)
    assert not list(tmp_path.glob("*.zip")) and not list(tmp_path.glob(".*part"))


def test_cli_package_deps(tmp_path: Path, wheels: Path, archive: Path) -> None:
    out = tmp_path / "s2sr-deps.zip"
    res = CliRunner().invoke(main, ["openeo", "package-deps", "-o", str(out), "--find-links", str(wheels), "--no-index"])
    assert res.exit_code == 0, res.output
    assert str(out) in res.output and "#tmp/s2sr_deps" in res.output
    assert out.read_bytes() == archive.read_bytes()
    bad = CliRunner().invoke(main, ["openeo", "package-deps", "-o", str(tmp_path / "x.zip"), "--python", "three"])
    assert bad.exit_code == 2 and "python version 'three' is not of the form 3.N" in bad.output
