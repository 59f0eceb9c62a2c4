"""s2sr.openeo: the process graph, validated offline, and run by a harness that plays the back-end.

The harness (tests/support/openeo_harness.py) takes the graph the builder produced, round-tripped
through JSON, and runs its apply_neighborhood as the geopyspark back-end does; the stitched
result must equal `s2sr run` on the same pixels.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import openeo
import pytest
import rasterio
import yaml
from click.testing import CliRunner
from openeo.rest._testing import DummyBackend

import s2sr
import s2sr.openeo as s2oe
from s2sr.bands import GROUP_10M, GROUP_20M
from s2sr.cli import main
from s2sr.demo import make_demo_product
from s2sr.errors import InputError
from s2sr.models import BUILTIN_DIR, ModelCard
from s2sr.models.graphs import convnet_model, write_model
from s2sr.outputs.cog import NODATA, to_int16
from s2sr.products import open_product
from s2sr.udf import udf_code, worker

from .conftest import SHARED
from .support.openeo_harness import (
    Neighborhood,
    RunStats,
    cube_from_product,
    load_process_specs,
    run_neighborhood,
    validate_process_graph,
)

REPO = Path(__file__).resolve().parents[1]
EXTENT = {"west": 13.0, "south": 55.55, "east": 13.1, "north": 55.6}
TIME = ["2023-06-01", "2023-06-10"]


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, object]]:
    return load_process_specs()


def graph_of(cube: object) -> dict[str, object]:
    return json.loads(cube.to_json())["process_graph"]  # type: ignore[attr-defined]


def unpack_model(card: Path, workdir: Path) -> None:
    """What the back-end does with 'URL#tmp/s2sr_model': the archive unpacked in the working directory."""
    archive = s2oe.package_model(card, workdir / "model.zip")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(workdir / "tmp" / "s2sr_model")


# --- the harness: the UDF on a back-end == the standalone processor ---------------------------


def harness_vs_standalone(
    product_path: Path, card_path: Path, window: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[RunStats, np.ndarray]:
    """The builder's graph run by the back-end stand-in vs `s2sr run`: |difference| in DN over the valid area."""
    card = ModelCard.from_file(card_path)
    graph = s2oe.super_resolve(None, card_path, spatial_extent=EXTENT, temporal_extent=TIME, window=window).to_json()
    nb = Neighborhood.from_graph(json.loads(json.dumps(json.loads(graph))))
    builtin = card_path.parent == BUILTIN_DIR
    assert nb.runtime == "Python-Jep"
    assert nb.context["model"] == (card_path.stem if builtin else f"tmp/s2sr_model/{card_path.stem}.yaml")
    assert nb.overlap == {"x": card.input_margin, "y": card.input_margin}

    work = tmp_path / "work"
    work.mkdir(parents=True)
    unpack_model(card_path, work)
    monkeypatch.chdir(work)
    worker.clear_cache()

    product = open_product(product_path)
    cube = cube_from_product(product, card.bands, product.group_grid(card.source_group))
    stats = RunStats()
    stitched = run_neighborhood(nb, cube, stats)
    assert stats.factor == card.factor
    assert worker.sessions_created() == 1  # one session for all windows

    run = s2sr.super_resolve(product_path, tmp_path / "standalone", card_path)
    with rasterio.open(run.sisr) as ds:
        standalone = ds.read()
    got = to_int16(stitched.values[0])
    assert got.shape == standalone.shape
    np.testing.assert_array_equal(got == NODATA, standalone == NODATA)  # same nodata
    valid = standalone != NODATA
    assert valid.mean() > 0.9
    return stats, np.abs(got.astype(np.int32) - standalone.astype(np.int32))[valid]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "window", "windows"),
    [("convnet_x2", 48, 12), ("convnet20_x4", 24, 12)],  # 10 m source grid ×2; 20 m source grid ×4
)
def test_harness_equals_standalone(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    theia_dir: Path,
    models_dir: Path,
    model: str,
    window: int,
    windows: int,
) -> None:
    stats, diff = harness_vs_standalone(theia_dir, models_dir / f"{model}.yaml", window, tmp_path, monkeypatch)
    assert stats.windows == windows
    assert diff.max() == 0, diff.max()


@pytest.mark.slow
def test_harness_equals_standalone_on_real_pixels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models_dir: Path
) -> None:
    """Real Sentinel-2 pixels (shared/data/real_pixels), a nodata swath edge, the built-in model too."""
    if not (SHARED / "data" / "real_pixels").is_dir():
        pytest.skip("../shared/data/real_pixels is absent")
    product = make_demo_product(tmp_path / "product", size=200, source="real", nodata_cols=7)
    for i, card in enumerate((models_dir / "convnet_x2.yaml", BUILTIN_DIR / "bicubic.yaml")):
        with monkeypatch.context() as mp:
            stats, diff = harness_vs_standalone(product, card, 64, tmp_path / str(i), mp)
        assert stats.windows == 16 and diff.max() == 0, (card.name, diff.max())
        print(f"real pixels, {card.stem}: max |UDF - s2sr run| = {diff.max()} DN")


# --- the graph -------------------------------------------------------------------------------


def test_graph_follows_the_design(convnet_card: Path) -> None:
    pg = graph_of(s2oe.super_resolve(None, convnet_card, spatial_extent=EXTENT, temporal_extent=TIME))
    ids = [n["process_id"] for n in pg.values()]
    assert ids == ["load_collection", "load_collection", "resample_cube_spatial", "merge_cubes",
                   "apply_neighborhood", "save_result"]
    l10, l20, res, _merge, an, save = pg.values()
    assert l10["arguments"]["bands"] == ["B02", "B03", "B04", "B08"]
    assert l20["arguments"]["bands"] == ["B05", "B06", "B07", "B8A", "B11", "B12"]
    assert l10["arguments"]["id"] == "SENTINEL2_L2A" and l10["arguments"]["spatial_extent"] == EXTENT
    assert res["arguments"]["method"] == "cubic"
    assert res["arguments"]["data"] == {"from_node": "loadcollection2"}
    assert res["arguments"]["target"] == {"from_node": "loadcollection1"}
    # margin 8 at ×2 → 4 px of overlap on the 10 m grid; windows of 256 px
    assert an["arguments"]["overlap"] == [{"dimension": d, "value": 4, "unit": "px"} for d in ("x", "y")]
    assert an["arguments"]["size"] == [{"dimension": d, "value": 248, "unit": "px"} for d in ("x", "y")]
    (udf,) = an["arguments"]["process"]["process_graph"].values()
    assert udf["process_id"] == "run_udf" and udf["arguments"]["udf"] == udf_code()
    # harmonised collection: no nodata replacement (0 and negative values are valid, nodata is NaN)
    assert udf["arguments"]["context"] == {"model": "tmp/s2sr_model/convnet_x2.yaml"}
    assert udf["arguments"]["runtime"] == "Python-Jep" and udf["arguments"]["version"] == "3.11"
    assert save["arguments"]["format"] == "GTiff" and save.get("result")


def test_graph_reorders_bands_and_runs_20m_models_on_20m(tmp_path: Path, models_dir: Path) -> None:
    mixed = write_model(tmp_path, "mixed", convnet_model(3, 2), bands=["B8A", "B4", "B11"], factor=2, margin=4)
    pg = graph_of(s2oe.super_resolve(None, mixed, format=None))
    assert [n["process_id"] for n in pg.values()][-2:] == ["filter_bands", "apply_neighborhood"]
    assert list(pg.values())[-2]["arguments"]["bands"] == ["B8A", "B04", "B11"]
    pg20 = graph_of(s2oe.super_resolve(None, models_dir / "convnet20_x4.yaml"))
    assert [n["process_id"] for n in pg20.values()] == ["load_collection", "resample_spatial",
                                                        "apply_neighborhood", "save_result"]
    assert list(pg20.values())[1]["arguments"]["resolution"] == 20


def test_built_in_model_is_named_not_shipped() -> None:
    pg = graph_of(s2oe.super_resolve(None, "bicubic", threads=2))
    an = next(n for n in pg.values() if n["process_id"] == "apply_neighborhood")
    (udf,) = an["arguments"]["process"]["process_graph"].values()
    assert udf["arguments"]["context"] == {"model": "bicubic", "threads": 2}


def test_user_cube_is_used_as_given(convnet_card: Path) -> None:
    base = openeo.DataCube.load_collection("S2", connection=None, fetch_metadata=False, bands=list(GROUP_10M + GROUP_20M))
    pg = graph_of(s2oe.super_resolve(base, convnet_card, format="netCDF"))
    assert [n["process_id"] for n in pg.values()] == ["load_collection", "apply_neighborhood", "save_result"]
    an = list(pg.values())[1]
    (udf,) = an["arguments"]["process"]["process_graph"].values()
    assert "nodata" not in udf["arguments"]["context"]


@pytest.mark.parametrize("model", ["convnet_x2", "convnet20_x4", "mixed"])
def test_graph_valid_against_process_specs(
    tmp_path: Path, models_dir: Path, specs: dict[str, dict[str, object]], model: str
) -> None:
    card = models_dir / f"{model}.yaml"
    if model == "mixed":
        card = write_model(tmp_path, "mixed", convnet_model(3, 2), bands=["B8A", "B4", "B11"], factor=2, margin=4)
    cube = s2oe.super_resolve(None, card, spatial_extent=EXTENT, temporal_extent=TIME, max_cloud_cover=30)
    pg = json.loads(json.dumps(graph_of(cube)))
    assert validate_process_graph(pg, specs) == []


def test_validator_catches_mistakes(convnet_card: Path, specs: dict[str, dict[str, object]]) -> None:
    pg = graph_of(s2oe.super_resolve(None, convnet_card))
    pg["resamplecubespatial1"]["arguments"]["method"] = "bicubic"
    pg["mergecubes1"]["process_id"] = "merge_cube"
    pg["saveresult1"]["arguments"]["fromat"] = "GTiff"
    errors = validate_process_graph(pg, specs)
    assert any("resample_cube_spatial.method" in e for e in errors)
    assert any("unknown process 'merge_cube'" in e for e in errors)
    assert any("no parameter 'fromat'" in e for e in errors)


def test_too_small_window(convnet_card: Path) -> None:
    with pytest.raises(InputError, match="window 8 px is too small for model convnet_x2"):
        s2oe.super_resolve(None, convnet_card, window=8)
    # the back-end refuses UDF windows under 4 px of size (geopysparkdatacube.apply_neighborhood)
    with pytest.raises(InputError, match="window 11 px is too small"):
        s2oe.super_resolution_cube(None, convnet_card, window=11)
    assert s2oe.plan_neighborhood(ModelCard.from_file(convnet_card), 12).size == 4


def test_names_of_the_builder() -> None:
    assert s2oe.super_resolve is s2oe.super_resolution_cube is s2oe.build_graph


@pytest.mark.parametrize("runtime", ["Python", "python", "Python-Jep2"])
def test_only_the_jep_runtime(convnet_card: Path, runtime: str) -> None:
    """Only Python-Jep rescales the layout after apply_metadata (Udf.scala callApplyMetadata)."""
    with pytest.raises(InputError, match=f"cannot run with runtime '{runtime}'.*only for 'Python-Jep'"):
        s2oe.super_resolution_cube(None, convnet_card, runtime=runtime)


@pytest.mark.parametrize(("kw", "words"), [
    ({"nodata": "auto"}, "nodata must be a number or None"),
    ({"nodata": float("nan")}, "nodata must be a number or None"),
    ({"threads": 0}, "threads must be a positive integer"),
])
def test_bad_context_values(convnet_card: Path, kw: dict[str, object], words: str) -> None:
    with pytest.raises(InputError, match=words):
        s2oe.super_resolution_cube(None, convnet_card, **kw)  # type: ignore[arg-type]


def test_nodata_when_asked(convnet_card: Path) -> None:
    pg = graph_of(s2oe.super_resolution_cube(None, convnet_card, nodata=0))
    an = next(n for n in pg.values() if n["process_id"] == "apply_neighborhood")
    (udf,) = an["arguments"]["process"]["process_graph"].values()
    assert udf["arguments"]["context"] == {"model": "tmp/s2sr_model/convnet_x2.yaml", "nodata": 0}


def test_job_options() -> None:
    assert s2oe.job_options("https://h/m.zip", "https://h/d.zip") == {
        "udf-dependency-archives": ["https://h/m.zip#tmp/s2sr_model", "https://h/d.zip#tmp/s2sr_deps"]
    }
    assert s2oe.job_options() == {}
    with pytest.raises(InputError, match="already names a folder"):
        s2oe.job_options("https://h/m.zip#x")


# --- the client's dummy back-end: the create_job request, no network -------------------------

COLLECTION = {
    "id": "SENTINEL2_L2A",
    "cube:dimensions": {
        "x": {"type": "spatial", "axis": "x", "step": 10, "reference_system": 32633},
        "y": {"type": "spatial", "axis": "y", "step": 10, "reference_system": 32633},
        "t": {"type": "temporal", "extent": ["2015-07-01", None]},
        "bands": {"type": "bands", "values": ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A",
                                              "B09", "B11", "B12", "SCL"]},
    },
}


@pytest.fixture
def backend(requests_mock: object) -> DummyBackend:
    dummy = DummyBackend.at_url("https://openeo.test/openeo/1.2", requests_mock=requests_mock)
    requests_mock.get("https://openeo.test/openeo/1.2/collections/SENTINEL2_L2A", json=COLLECTION)  # type: ignore[attr-defined]
    formats = {"input": {}, "output": {f: {"gis_data_types": ["raster"], "parameters": {}} for f in ("GTiff", "netCDF")}}
    requests_mock.get("https://openeo.test/openeo/1.2/file_formats", json=formats)  # type: ignore[attr-defined]
    return dummy


def test_create_job_request(backend: DummyBackend, convnet_card: Path, specs: dict[str, dict[str, object]]) -> None:
    cube = s2oe.super_resolve(backend.connection, convnet_card, spatial_extent=EXTENT, temporal_extent=TIME)
    opts = s2oe.job_options("https://h/convnet_x2.zip", "https://h/s2sr-deps.zip")
    job = cube.create_job(title="s2sr", job_options=opts, validate=False)
    assert job.job_id == "job-000"
    post = backend.batch_jobs_full["job-000"]
    assert post["job_options"] == opts and post["title"] == "s2sr"
    offline = graph_of(s2oe.super_resolve(None, convnet_card, spatial_extent=EXTENT, temporal_extent=TIME))
    assert post["process"]["process_graph"] == offline
    assert validate_process_graph(post["process"]["process_graph"], specs) == []


def test_readme_script_of_three_statements(
    backend: DummyBackend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, specs: dict[str, dict[str, object]]
) -> None:
    """The README's openEO script, as written, against the dummy back-end."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## openEO", 1)[1]
    script = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]
    statements = [line for line in script.splitlines() if line.strip()]
    assert len(statements) == 3
    write_model(tmp_path / "models", "carn", convnet_model(10, 2), bands=GROUP_10M + GROUP_20M, factor=2, margin=32)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(openeo, "connect", lambda url, **kw: backend.connection)
    monkeypatch.setattr(type(backend.connection), "authenticate_oidc", lambda self, *a, **kw: self)
    monkeypatch.setattr(type(backend.connection), "auto_validate", False, raising=False)
    ns: dict[str, object] = {}
    exec(script, ns)  # noqa: S102
    post = backend.batch_jobs_full["job-000"]
    assert post["job_options"]["udf-dependency-archives"] == [
        "https://example.org/carn.zip#tmp/s2sr_model", "https://example.org/s2sr-deps.zip#tmp/s2sr_deps"
    ]
    pg = post["process"]["process_graph"]
    assert validate_process_graph(pg, specs) == []
    an = pg["applyneighborhood1"]["arguments"]
    assert an["overlap"][0]["value"] == 16 and an["size"][0]["value"] == 224  # CARN: margin 32, ×2
    assert an["process"]["process_graph"]["runudf1"]["arguments"]["context"]["model"] == "tmp/s2sr_model/carn.yaml"


# --- CLI -------------------------------------------------------------------------------------


def test_cli_graph(convnet_card: Path, specs: dict[str, dict[str, object]]) -> None:
    res = CliRunner().invoke(main, [
        "openeo", "graph", "-m", str(convnet_card), "--bbox", "360000", "6150000", "361000", "6151000",
        "--crs", "EPSG:32633", "--time", *TIME, "--model-archive", "https://h/m.zip", "--window", "128",
    ])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert validate_process_graph(body["process"]["process_graph"], specs) == []
    assert body["process"]["process_graph"]["loadcollection1"]["arguments"]["spatial_extent"]["crs"] == 32633
    assert body["job_options"] == {"udf-dependency-archives": ["https://h/m.zip#tmp/s2sr_model"]}
    nb = Neighborhood.from_graph(body)
    assert nb.size == {"x": 120, "y": 120} and nb.overlap == {"x": 4, "y": 4}
    assert nb.context == {"model": "tmp/s2sr_model/convnet_x2.yaml"}  # SENTINEL2_L2A: no nodata replacement
    res = CliRunner().invoke(main, [
        "openeo", "graph", "-m", "bicubic", "--bbox", "0", "0", "1", "1", "--time", *TIME, "--nodata", "0",
        "--threads", "2",
    ])
    assert res.exit_code == 0, res.output
    assert Neighborhood.from_graph(json.loads(res.output)).context == {"model": "bicubic", "threads": 2, "nodata": 0}


def test_cli_graph_bad_model() -> None:
    res = CliRunner().invoke(main, ["openeo", "graph", "-m", "nope", "--bbox", "0", "0", "1", "1", "--time", *TIME])
    assert res.exit_code == 2
    assert "model 'nope' is neither a card file nor a built-in" in res.output


def test_cli_package_model(tmp_path: Path, convnet_card: Path) -> None:
    out = tmp_path / "m.zip"
    res = CliRunner().invoke(main, ["openeo", "package-model", str(convnet_card), "-o", str(out)])
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(out) as zf:
        zf.extractall(tmp_path / "x")
    card = yaml.safe_load((tmp_path / "x" / "convnet_x2.yaml").read_text())
    assert card["model"] == "convnet_x2.onnx" and card["margin"] == 8
    assert s2sr.load_model(tmp_path / "x" / "convnet_x2.yaml").card.bands == tuple(GROUP_10M + GROUP_20M)


def test_cli_package_model_bad_card(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("bands: [B2]\n")
    res = CliRunner().invoke(main, ["openeo", "package-model", str(tmp_path / "bad.yaml"), "-o", str(tmp_path / "m.zip")])
    assert res.exit_code == 2 and "lacks key(s) factor, margin, model" in res.output
    assert not (tmp_path / "m.zip").exists()


def test_cli_udf() -> None:
    res = CliRunner().invoke(main, ["openeo", "udf"])
    assert res.exit_code == 0 and res.output == udf_code()


def test_zeros_stay_valid_by_default(theia_dir: Path) -> None:
    """The back-ends' SENTINEL2_L2A arrives harmonised with NaN nodata: 0 DN is a valid value.

    With the old default (``nodata: 0`` in the context) each zero input pixel became factor² NaN
    output pixels; now only a ``nodata`` asked for turns zeros into nodata.
    """
    product = open_product(theia_dir)
    card = ModelCard.from_file(BUILTIN_DIR / "bicubic.yaml")
    cube = cube_from_product(product, card.bands, product.group_grid(card.source_group))
    cube.values[:, :, 40:47, 60:68] = 0.0  # 56 zero pixels (dark water)
    nan_in = np.isnan(cube.values[0, 0])
    for nodata, extra in ((None, 0), (0, 56 * card.factor**2)):
        pg = s2oe.super_resolution_cube(None, "bicubic", window=40, nodata=nodata).to_json()
        out = run_neighborhood(Neighborhood.from_graph(json.loads(pg)), cube).values[0, 0]
        assert np.isnan(out).sum() - nan_in.sum() * card.factor**2 == extra, nodata


def test_model_archive_is_reproducible(tmp_path: Path, convnet_card: Path) -> None:
    a = s2oe.package_model(convnet_card, tmp_path / "a.zip")
    b = s2oe.package_model(convnet_card, tmp_path / "b.zip")
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
