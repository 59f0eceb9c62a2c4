"""The openEO UDF (udf/ = s2sr.udf): run by openEO's own UDF runner, its session cache, its bad input."""

from __future__ import annotations

import ast
import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import openeo
import pytest
import xarray as xr
from openeo.metadata import CollectionMetadata, CubeMetadata, SpatialDimension, TemporalDimension
from openeo.udf import UdfData, XarrayDataCube, execute_local_udf
from openeo.udf.run_code import extract_udf_dependencies, run_udf_code

import s2sr
from s2sr.errors import CubeError, InputError, ModelError
from s2sr.models.graphs import convnet_model, write_model
from s2sr.openeo import package_model
from s2sr.products import open_product
from s2sr.udf import UDF_FILE, udf_code, worker

from .conftest import ALL_BANDS, NODATA_COLS
from .support.openeo_harness import DIMS, cube_from_product

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    worker.clear_cache()


@pytest.fixture(scope="module")
def cube(theia_dir: Path) -> xr.DataArray:
    p = open_product(theia_dir)
    return cube_from_product(p, tuple(ALL_BANDS), p.group_grid("10m"))


def expected(card: Path, cube: xr.DataArray) -> np.ndarray:
    return s2sr.infer(s2sr.load_model(card), cube.values)


def test_udf_file_is_the_packaged_one() -> None:
    """udf/ holds the UDF back-ends run: the very file shipped inside the package (one copy)."""
    link = REPO / "udf" / "s2sr_udf.py"
    assert link.is_symlink() and link.resolve() == (REPO / "src" / "s2sr" / "udf" / "s2sr_udf.py").resolve()
    assert link.read_text(encoding="utf-8") == udf_code()  # also from an installed wheel
    code = udf_code()
    tree = ast.parse(code)  # the runner needs real annotations, not strings
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    assert "def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:" in code
    assert "def apply_metadata(metadata: CollectionMetadata, context: dict) -> CollectionMetadata:" in code
    assert extract_udf_dependencies(code) is None  # dependencies come as archives, not inline


def test_run_udf_code(cube: xr.DataArray, convnet_card: Path) -> None:
    data = UdfData(datacube_list=[XarrayDataCube(cube)], user_context={"model": str(convnet_card)})
    out = run_udf_code(udf_code(), data).get_datacube_list()[0].get_array()
    assert tuple(out.dims) == DIMS and out.dtype == np.float32
    assert out.shape == (1, 10, 2 * cube.sizes["y"], 2 * cube.sizes["x"])
    np.testing.assert_array_equal(out.values, expected(convnet_card, cube))
    # nodata exactly where the input is nodata, at 5 m; everything else valid
    assert np.isnan(out.values[..., : 2 * NODATA_COLS]).all()
    assert not np.isnan(out.values[..., 2 * NODATA_COLS :]).any()
    # coordinates: pixel centres of the finer grid over the same extent
    x, y = cube["x"].values, cube["y"].values
    np.testing.assert_allclose(out["x"].values[:2], [x[0] - 2.5, x[0] + 2.5])
    np.testing.assert_allclose(out["y"].values[:2], [y[0] + 2.5, y[0] - 2.5])
    assert list(out["bands"].values) == list(cube["bands"].values)


def test_execute_local_udf(cube: xr.DataArray, convnet_card: Path) -> None:
    """execute_local_udf casts to float64 and reorders dims: the UDF still answers float32."""
    shuffled = cube.transpose("bands", "y", "x", "t")
    res = execute_local_udf(openeo.UDF(udf_code(), context={"model": str(convnet_card)}), shuffled)
    out = res.get_datacube_list()[0].get_array()
    assert out.dtype == np.float32 and tuple(out.dims) == DIMS
    np.testing.assert_allclose(out.values, expected(convnet_card, cube), rtol=0, atol=1e-2, equal_nan=True)


def test_accepts_data_array_and_returns_one(cube: xr.DataArray, convnet_card: Path) -> None:
    """The plain Python runtime may pass an xarray.DataArray: the UDF answers in kind."""
    ns: dict[str, object] = {}
    exec(udf_code(), ns)  # noqa: S102
    out = ns["apply_datacube"](cube, {"model": str(convnet_card)})  # type: ignore[operator]
    assert isinstance(out, xr.DataArray) and out.dtype == np.float32
    np.testing.assert_array_equal(out.values, expected(convnet_card, cube))


def test_apply_metadata_divides_the_spatial_step(convnet_card: Path) -> None:
    ns: dict[str, object] = {}
    exec(udf_code(), ns)  # noqa: S102
    meta = CubeMetadata(
        [TemporalDimension("t", ["2020-01-01", "2020-02-01"]),
         SpatialDimension("x", [0, 100], crs=32631, step=10), SpatialDimension("y", [0, 100], crs=32631, step=10)]
    )
    out = ns["apply_metadata"](meta, {"model": str(convnet_card)})  # type: ignore[operator]
    assert [d.step for d in out.spatial_dimensions] == [5.0, 5.0]
    assert [d.crs for d in out.spatial_dimensions] == [32631, 32631]
    assert out.dimension_names() == ["t", "x", "y"]
    # the back-ends hand over collection metadata (bands and all): only the steps change
    coll = CollectionMetadata({"id": "S2", "cube:dimensions": {
        "x": {"type": "spatial", "axis": "x", "step": 10, "reference_system": 32631, "extent": [0, 100]},
        "y": {"type": "spatial", "axis": "y", "step": 10, "reference_system": 32631, "extent": [0, 100]},
        "t": {"type": "temporal", "extent": ["2020-01-01", None]},
        "bands": {"type": "bands", "values": ["B02", "B03"]},
    }})
    out = ns["apply_metadata"](coll, {"model": str(convnet_card)})  # type: ignore[operator]
    assert isinstance(out, CollectionMetadata) and out.get("id") == "S2"
    assert [d.step for d in out.spatial_dimensions] == [5.0, 5.0] and out.band_names == ["B02", "B03"]
    assert [d.step for d in coll.spatial_dimensions] == [10, 10]  # the input is left alone


def test_nan_window_border_is_filled_then_restored(cube: xr.DataArray, convnet_card: Path) -> None:
    """A window hanging over the cube's edge (NaN rows/cols): one NaN must not spoil the window."""
    win = cube.isel(y=slice(0, 40), x=slice(20, 60)).copy()
    win.values[:, :, :5, :] = np.nan  # beyond the top edge
    win.values[:, :, :, -3:] = np.nan  # beyond the right edge
    out = worker.apply_datacube(XarrayDataCube(win), {"model": str(convnet_card)}).get_array().values
    assert np.isnan(out[:, :, :10, :]).all() and np.isnan(out[:, :, :, -6:]).all()
    assert not np.isnan(out[:, :, 10:, :-6]).any()


def test_session_created_once_per_content(tmp_path: Path, cube: xr.DataArray, convnet_card: Path) -> None:
    """One ONNX session per worker, keyed by the model file's content: not per call, not per path."""
    win = XarrayDataCube(cube.isel(y=slice(0, 24), x=slice(0, 24)))
    for _ in range(3):  # the back-end may re-execute the UDF code for every window
        ns: dict[str, object] = {}
        exec(udf_code(), ns)  # noqa: S102
        ns["apply_datacube"](win, {"model": str(convnet_card)})  # type: ignore[operator]
    assert worker.sessions_created() == 1
    # the same model under another path: same content, same session
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in convnet_card.parent.glob("convnet_x2.*"):
        shutil.copy(f, copy / f.name)
    worker.apply_datacube(win, {"model": str(copy / "convnet_x2.yaml")})
    assert worker.sessions_created() == 1
    # other content at that path: a new session, and its results
    write_model(copy, "convnet_x2", convnet_model(10, 2, seed=7), bands=ALL_BANDS, factor=2, margin=8)
    a = worker.apply_datacube(win, {"model": str(copy / "convnet_x2.yaml")}).get_array().values
    b = worker.apply_datacube(win, {"model": str(convnet_card)}).get_array().values
    assert worker.sessions_created() == 2
    assert not np.allclose(a, b, equal_nan=True)
    # options are part of the key; threads default to 1 (one per Spark task)
    worker.apply_datacube(win, {"model": str(convnet_card), "threads": 1})
    assert worker.sessions_created() == 2
    worker.apply_datacube(win, {"model": str(convnet_card), "threads": 2})
    assert worker.sessions_created() == 3
    assert worker.UdfContext.parse({"model": "bicubic"}).threads == 1


def test_model_archive_in_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cube: xr.DataArray, convnet_card: Path
) -> None:
    """The back-end unpacks udf-dependency-archives (URL#folder) in the working directory."""
    archive = package_model(convnet_card, tmp_path / "model.zip")
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["convnet_x2.onnx", "convnet_x2.yaml"]
        zf.extractall(tmp_path / "work" / "tmp" / "s2sr_model")
    monkeypatch.chdir(tmp_path / "work")
    out = worker.apply_datacube(cube, {"model": "tmp/s2sr_model/convnet_x2.yaml"})
    np.testing.assert_array_equal(out.values, expected(convnet_card, cube))


def test_nodata_value_from_context(cube: xr.DataArray, convnet_card: Path) -> None:
    zeroed = cube.fillna(0.0)
    out = worker.apply_datacube(zeroed, {"model": str(convnet_card), "nodata": 0})
    np.testing.assert_array_equal(out.values, expected(convnet_card, cube))


# --- bad input: one clear error each ---------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "error", "words"),
    [
        ({}, InputError, "does not name a model"),
        (None, InputError, "needs a context object"),
        ({"model": "bicubic", "treads": 2}, InputError, "unknown key(s) 'treads'"),
        ({"model": "bicubic", "threads": 0}, InputError, "threads must be a positive integer"),
        ({"model": "bicubic", "python_path": 3}, InputError, "python_path must be a list of folders"),
        ({"model": "tmp/s2sr_model/carn.yaml"}, ModelError, "udf-dependency-archives"),
    ],
)
def test_bad_context(cube: xr.DataArray, context: object, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as exc:
        worker.apply_datacube(cube, context)
    assert words in str(exc.value)


def test_model_not_in_working_directory_names_the_job_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cube: xr.DataArray
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError) as exc:
        worker.apply_datacube(cube, {"model": "tmp/s2sr_model/carn.yaml"})
    msg = str(exc.value)
    assert str(tmp_path) in msg and "'udf-dependency-archives'" in msg and "#tmp/s2sr_model" in msg


def test_cube_without_the_model_bands_lists_its_bands(cube: xr.DataArray, convnet_card: Path) -> None:
    with pytest.raises(CubeError) as exc:
        worker.apply_datacube(cube.isel(bands=slice(0, 4)), {"model": str(convnet_card)})
    msg = str(exc.value)
    assert "lacks band(s) B5, B6, B7, B8A, B11, B12" in msg and "it has B02, B03, B04, B08" in msg


def test_cube_bands_in_wrong_order(cube: xr.DataArray, convnet_card: Path) -> None:
    with pytest.raises(CubeError, match="other bands or another order"):
        worker.apply_datacube(cube.isel(bands=[1, 0, *range(2, 10)]), {"model": str(convnet_card)})


def test_cube_wrong_band_count_without_labels(cube: xr.DataArray, convnet_card: Path) -> None:
    bare = xr.DataArray(cube.values[:, :9], dims=DIMS)
    with pytest.raises(CubeError, match="the cube has 9 bands; model convnet_x2 needs 10"):
        worker.apply_datacube(bare, {"model": str(convnet_card)})


def test_cube_wrong_dimension_names(cube: xr.DataArray, convnet_card: Path) -> None:
    with pytest.raises(CubeError, match="needs dimensions t, bands, y, x, got time, bands, y, x"):
        worker.apply_datacube(cube.rename(t="time"), {"model": str(convnet_card)})


def test_cube_not_4d(cube: xr.DataArray, convnet_card: Path) -> None:
    with pytest.raises(CubeError, match="needs a 4-D cube .* got 3-D with dimensions bands, y, x"):
        worker.apply_datacube(cube.isel(t=0), {"model": str(convnet_card)})


def test_not_a_cube(convnet_card: Path) -> None:
    with pytest.raises(CubeError, match="expects an openEO XarrayDataCube or an xarray.DataArray, got ndarray"):
        worker.apply_datacube(np.zeros((1, 10, 4, 4)), {"model": str(convnet_card)})


class JavaArrayList(Sequence[str]):
    """What a JSON list in the context is under Jep: a java.util.ArrayList (jep.PyJList), not a list."""

    def __init__(self, *items: str) -> None:
        self._items = list(items)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)


@pytest.mark.parametrize("python_path", [None, ["tmp/s2sr_deps"], ("tmp/s2sr_deps",), "tmp/s2sr_deps",
                                         JavaArrayList("tmp/s2sr_deps")])
def test_dependency_folder_is_appended_to_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cube: xr.DataArray, convnet_card: Path, python_path: object
) -> None:
    """s2sr shipped as a dependency archive: its folder goes at the END of sys.path (never shadowing the
    back-end's packages), whatever sequence type the context's python_path arrives as."""
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "tmp" / "s2sr_deps").mkdir(parents=True)
    first = sys.path[0]
    ns: dict[str, object] = {}
    exec(udf_code(), ns)  # noqa: S102
    context = {"model": str(convnet_card)} | ({} if python_path is None else {"python_path": python_path})
    ns["apply_datacube"](XarrayDataCube(cube), context)  # type: ignore[operator]
    assert sys.path[-1] == str(tmp_path / "tmp" / "s2sr_deps") and sys.path[0] == first
    assert sys.path.count(str(tmp_path / "tmp" / "s2sr_deps")) == 1


def test_archive_for_another_python_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    deps = tmp_path / "tmp" / "s2sr_deps"
    deps.mkdir(parents=True)
    (deps / "s2sr-deps.json").write_text(json.dumps({"python": "3.9"}))
    ns: dict[str, object] = {}
    exec(udf_code(), ns)  # noqa: S102
    with pytest.raises(RuntimeError, match=r"built for Python 3\.9, but the UDF runs Python 3\.\d+; rebuild"):
        ns["apply_datacube"](None, {"model": "bicubic"})  # type: ignore[operator]
    assert str(deps) not in sys.path


def test_without_s2sr_the_error_names_the_job_option(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['s2sr'] = None\n"
        f"ns = {{}}; exec(open({str(UDF_FILE)!r}).read(), ns)\n"
        "ns['apply_datacube'](None, {'model': 'bicubic'})\n"
    )
    res = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: the s2sr UDF cannot import s2sr")
    assert "'udf-dependency-archives'" in last and "#tmp/s2sr_deps" in last


def test_udf_needs_no_gdal(tmp_path: Path, convnet_card: Path) -> None:
    """On a back-end the UDF imports s2sr's model side only: no rasterio in the dependency archive."""
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['rasterio'] = None\n"
        "import numpy as np, xarray as xr\n"
        f"ns = {{}}; exec(open({str(UDF_FILE)!r}).read(), ns)\n"
        "cube = xr.DataArray(np.full((1, 10, 8, 8), 1000, np.float32), dims=('t', 'bands', 'y', 'x'))\n"
        f"out = ns['apply_datacube'](cube, {{'model': {str(convnet_card)!r}}})\n"
        "assert out.shape == (1, 10, 16, 16) and out.dtype == np.float32\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(s2sr.__file__).parents[1])}  # this checkout's s2sr
    res = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
