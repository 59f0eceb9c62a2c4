"""The UDF called from Java through a real Jep interpreter, the way the geopyspark back-end calls it.

tests/data/openeo_jep/UdfDriver.java replays openeo-geotrellis-extensions ``Udf.scala``
(``callApplyMetadata``, then ``runUserCodeSpatioTemporalWithBands`` per window) for
``apply_neighborhood`` with ``Python-Jep``; this module plays openeo-geopyspark-driver
``geopysparkdatacube.py`` ``apply_neighborhood`` around it: windows of ``size + 2·overlap`` px
cut from the cube (NaN beyond its edges: retile), ``size`` and ``overlap`` scaled by the tile-size
ratio after ``apply_metadata``, the overlap removed, the windows stitched.  Stitched, the result
must equal ``s2sr run`` on the same pixels to the DN, nodata included — on a cube holding zeros
and negative values (valid after harmonisation) and NaN edges.

The JDK is Debian's openjdk-17 (installed with apt if javac is missing); jep comes from PyPI
(the test extra; installed here if missing), built against it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

import s2sr
import s2sr.openeo as s2oe
from s2sr.demo import synthetic_pixels, write_theia_product
from s2sr.models import ModelCard
from s2sr.outputs.cog import NODATA, to_int16
from s2sr.products import open_product

from .support.openeo_harness import Neighborhood, cube_from_product

pytestmark = pytest.mark.slow

DRIVER = Path(__file__).parent / "data" / "openeo_jep" / "UdfDriver.java"
JDK = Path("/usr/lib/jvm/java-17-openjdk-amd64")
DATE = dt.datetime(2017, 5, 27)
ROWS, COLS, NODATA_COLS = 80, 112, 6


def _javac() -> Path:
    javac = JDK / "bin" / "javac"
    if not javac.is_file() and shutil.which("apt-get") and os.geteuid() == 0:
        # as the pgstac fixture installs PostGIS: the real JDK the back-end's Jep is built against
        subprocess.run(["apt-get", "install", "-y", "-q", "openjdk-17-jdk-headless"], check=True, capture_output=True)
    if not javac.is_file():
        pytest.fail(f"no JDK at {JDK}: apt-get install openjdk-17-jdk-headless")
    return javac


@pytest.fixture(scope="session")
def jep_dir() -> Path:
    """The jep package folder (jep-*.jar, libjep.so), pip-installed with JAVA_HOME if missing."""
    _javac()
    if importlib.util.find_spec("jep") is None:
        env = {**os.environ, "JAVA_HOME": str(JDK)}
        res = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "jep>=4.2"],
            env=env, capture_output=True, text=True, check=False,
        )
        assert res.returncode == 0, res.stderr[-2000:]
        importlib.invalidate_caches()
    spec = importlib.util.find_spec("jep")
    assert spec is not None and spec.origin is not None
    folder = Path(spec.origin).parent
    assert list(folder.glob("jep-*.jar")) and (folder / "libjep.so").is_file(), sorted(os.listdir(folder))
    return folder


@pytest.fixture(scope="session")
def driver(jep_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """UdfDriver.class, compiled against jep's jar."""
    out = tmp_path_factory.mktemp("jep_driver")
    jar = next(jep_dir.glob("jep-*.jar"))
    res = subprocess.run([str(_javac()), "-cp", str(jar), "-d", str(out), str(DRIVER)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The back-end's packages without s2sr: this venv's site-packages minus s2sr and .pth files.

    The embedded interpreter must import s2sr from the dependency folder the UDF appends to
    sys.path (tmp/s2sr_deps), as on the back-end, not from an installed copy.
    """
    site = Path(sysconfig.get_paths()["purelib"])
    out = tmp_path_factory.mktemp("backend_site")
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(("s2sr", "__editable__", "_s2sr")) or name.endswith(".pth") or name == "__pycache__":
            continue
        (out / entry.name).symlink_to(entry)
    return out


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Harmonised values with zeros and negative values (valid: dark water, SWIR) and a nodata edge."""
    b10, b20 = synthetic_pixels(128, seed=11)
    b10, b20 = b10[:, :ROWS, :COLS].copy(), b20[:, : ROWS // 2, : COLS // 2].copy()
    rng = np.random.default_rng(5)
    for arr in (b10, b20):
        h, w = arr.shape[1:]
        arr[:, h // 3 : h // 3 + 6, w // 2 : w // 2 + 9] = 0  # a block of zeros
        idx = rng.integers(0, [h, w], size=(40, 2))
        arr[:, idx[:, 0], np.maximum(idx[:, 1], NODATA_COLS)] = -rng.integers(1, 400, size=40)  # negative values
        arr[:, -4:, -5:] = 0
    return write_theia_product(tmp_path_factory.mktemp("jep_product"), b10, b20, nodata_cols=NODATA_COLS)


def retile(cube: xr.DataArray, size: int, overlap: int) -> list[tuple[int, int, np.ndarray]]:
    """The back-end's retile: tiles of ``size`` px with ``overlap`` px of their neighbours, NaN outside."""
    values = cube.values.astype(np.float32)
    t, nb, h, w = values.shape
    padded = np.full((t, nb, h + size + 2 * overlap, w + size + 2 * overlap), np.nan, np.float32)
    padded[:, :, overlap : overlap + h, overlap : overlap + w] = values
    return [
        (r0, c0, np.ascontiguousarray(padded[:, :, r0 : r0 + size + 2 * overlap, c0 : c0 + size + 2 * overlap]))
        for r0 in range(0, h, size)
        for c0 in range(0, w, size)
    ]


def run_jep(
    nb: Neighborhood, cube: xr.DataArray, work: Path, driver: Path, jep_dir: Path, site: Path, tasks: int = 2
) -> tuple[np.ndarray, dict[str, str], list[int]]:
    """Run the UDF in ``nb`` on ``cube`` through UdfDriver (Jep); the stitched result and what the JVM saw."""
    size, overlap = nb.size["x"], nb.overlap.get("x", 0)
    assert nb.size["y"] == size and nb.overlap.get("y", 0) == overlap
    io = work / "io"
    io.mkdir()
    (io / "udf.py").write_text(nb.udf, encoding="utf-8")
    x, y = cube["x"].values, cube["y"].values
    res = float(x[1] - x[0])
    left, top = float(x[0]) - res / 2, float(y[0]) + res / 2
    epoch_ms = int(DATE.replace(tzinfo=dt.UTC).timestamp() * 1000)
    lines = [
        ["code", str(io / "udf.py")], ["model", nb.context["model"]],
        ["python_path", *nb.context.get("python_path", ["tmp/s2sr_deps"])],
        ["bands", *[str(b) for b in cube["bands"].values]], ["dates", str(epoch_ms)],
        ["crs", "32633"], ["cell", repr(res)], ["tasks", str(tasks)],
    ]
    for key in ("threads", "nodata"):
        if nb.context.get(key) is not None:
            lines.append([key, str(nb.context[key])])
    windows = retile(cube, size, overlap)
    for i, (r0, c0, win) in enumerate(windows):
        path = io / f"window_{i}.f32"
        win.astype("<f4").tofile(path)
        xmin, ymax = left + c0 * res, top - r0 * res
        lines.append(["window", str(i), *map(str, win.shape), repr(xmin), repr(ymax - size * res),
                      repr(xmin + size * res), repr(ymax), str(size), str(size), str(overlap), str(overlap), str(path)])
    (io / "job.txt").write_text("".join("\t".join(line) + "\n" for line in lines), encoding="utf-8")

    jar = next(jep_dir.glob("jep-*.jar"))
    # the embedded Python finds its prefix through PYTHONHOME; the venv (found through PATH and its
    # pyvenv.cfg) stays out, so that only the packages in ``site`` are importable, s2sr not among them
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not p.startswith(sys.prefix)]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"},
        "PATH": os.pathsep.join(path),
        "PYTHONHOME": sys.base_prefix,
        "PYTHONPATH": str(site),
        "PYTHONNOUSERSITE": "1",
        "JAVA_HOME": str(JDK),
    }
    proc = subprocess.run(
        [str(JDK / "bin" / "java"), "-cp", f"{jar}{os.pathsep}{driver}", f"-Djava.library.path={jep_dir}",
         "UdfDriver", str(io / "job.txt"), str(io)],
        cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    meta = dict(line.split("\t", 1) for line in (io / "metadata.txt").read_text().splitlines())
    fx, fy = (int(v) for v in meta["ratio"].split("\t"))
    assert fx == fy and meta["bands"].split("\t") == [str(b) for b in cube["bands"].values]
    f = fx
    # geopysparkdatacube.apply_neighborhood: size and overlap scaled by the tile-size ratio, overlap removed
    t, nbands, h, w = cube.shape
    out = np.full((t, nbands, h * f, w * f), np.nan, np.float32)
    dates = []
    for i, (r0, c0, win) in enumerate(windows):
        info = dict(line.split("\t", 1) for line in (io / f"result_{i}.txt").read_text().splitlines())
        shape = tuple(int(v) for v in info["shape"].split("\t"))
        assert shape == (t, nbands, win.shape[2] * f, win.shape[3] * f), shape
        dates += [int(v) for v in info["dates"].split("\t")]
        result = np.fromfile(io / f"result_{i}.f32", dtype="<f4").reshape(shape)
        core = result[:, :, overlap * f : (overlap + size) * f, overlap * f : (overlap + size) * f]
        hh, ww = min(size, h - r0) * f, min(size, w - c0) * f
        out[:, :, r0 * f : r0 * f + hh, c0 * f : c0 * f + ww] = core[:, :, :hh, :ww]
    seen = dict(line.split("\t", 1) for line in (io / "interpreter.txt").read_text().splitlines())
    assert set(dates) == {epoch_ms}
    return out, seen, [len(windows)]


def unpack(card_path: Path, work: Path) -> None:
    """What the back-end does with the job option's archives: unpacked in the working directory."""
    with zipfile.ZipFile(s2oe.package_model(card_path, work / "model.zip")) as zf:
        zf.extractall(work / "tmp" / "s2sr_model")
    deps = work / "tmp" / "s2sr_deps"
    deps.mkdir(parents=True)
    (deps / "s2sr").symlink_to(Path(s2sr.__file__).parent)  # the s2sr under test, as the archive ships it


@pytest.mark.parametrize(("model", "window"), [("convnet_x2", 40), ("convnet20_x4", 20)])
def test_jep_windows_equal_standalone(
    tmp_path: Path, product: Path, models_dir: Path, driver: Path, jep_dir: Path, site_dir: Path,
    model: str, window: int,
) -> None:
    card_path = models_dir / f"{model}.yaml"
    card = ModelCard.from_file(card_path)
    graph = s2oe.super_resolution_cube(None, card_path, spatial_extent={"west": 0, "south": 0, "east": 1, "north": 1},
                                       temporal_extent=["2017-05-27", "2017-05-28"], window=window).to_json()
    nb = Neighborhood.from_graph(json.loads(graph))
    assert nb.runtime == "Python-Jep" and "nodata" not in nb.context
    run_udf = next(n for n in json.loads(graph)["process_graph"]["applyneighborhood1"]["arguments"]["process"]
                   ["process_graph"].values())
    assert run_udf["arguments"]["version"] == "3.11"

    work = tmp_path / "work"
    work.mkdir()
    unpack(card_path, work)
    prod = open_product(product)
    cube = cube_from_product(prod, card.bands, prod.group_grid(card.source_group))
    values = cube.values
    assert (values == 0).sum() > 100 and (values < 0).sum() > 100 and np.isnan(values).any()

    stitched, seen, (windows,) = run_jep(nb, cube, work, driver, jep_dir, site_dir)
    assert windows > 4
    # s2sr came from the folder the UDF appended to sys.path (the context's python_path, a Java
    # ArrayList under Jep), after the back-end's own packages; one ONNX session for all windows and tasks
    assert Path(seen["s2sr"]).parent == work / "tmp" / "s2sr_deps" / "s2sr"
    assert seen["sys.path[-1]"] == str(work / "tmp" / "s2sr_deps")
    assert seen["sys.path[0]"] != str(work / "tmp" / "s2sr_deps")
    assert seen["sessions"] == "1"

    run = s2sr.super_resolve(product, tmp_path / "standalone", card_path)
    with rasterio.open(run.sisr) as ds:
        standalone = ds.read()
    got = to_int16(stitched[0])
    assert got.shape == standalone.shape
    np.testing.assert_array_equal(got == NODATA, standalone == NODATA)  # identical nodata
    valid = standalone != NODATA
    assert valid.mean() > 0.85
    diff = np.abs(got.astype(np.int32) - standalone.astype(np.int32))[valid]
    print(f"Jep, {model}: {windows} windows, max |UDF - s2sr run| = {diff.max()} DN")
    assert diff.max() == 0
    # the zeros stayed valid: no output pixel of an input zero is nodata
    f = card.factor
    zeros = np.repeat(np.repeat((values[0] == 0).any(axis=0), f, axis=0), f, axis=1)
    assert zeros.sum() > 0 and valid[0][zeros].all()
