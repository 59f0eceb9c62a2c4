"""`s2sr openeo udp`: the graph as a user-defined process, loaded as openEO users load shared algorithms.

* validated against the openEO process specs (openeo-processes-dask's copy): the graph, the
  parameters' schemas and subtypes, every parameter reference;
* loaded with the client's ``datacube_from_json`` (the parameters' defaults filled in by the
  client) and ``datacube_from_process`` (a namespace URL, served here on 127.0.0.1), sent to the
  client's dummy back-end with ``create_job``;
* the back-end's side replayed from openeo-python-driver ``processgraph/definitions.py``
  (``get_process_definition_from_url``: fetch, ``id`` check, ``default_job_options``) and
  ``processgraph/evaluator.py`` (``_evaluate_process_graph_process``: defaults, then parameter
  references resolved; ``convert_node`` leaves callbacks alone), and the resulting
  ``apply_neighborhood`` run by the harness: equal to ``s2sr run``.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
import rasterio
import requests
from click.testing import CliRunner
from openeo.rest._testing import DummyBackend

import s2sr
import s2sr.openeo as s2oe
from s2sr.cli import main
from s2sr.errors import InputError
from s2sr.models import ModelCard
from s2sr.outputs.cog import NODATA, to_int16
from s2sr.products import open_product
from s2sr.udf import worker

from .support.openeo_harness import (
    Neighborhood,
    cube_from_product,
    load_process_specs,
    run_neighborhood,
    validate_process_graph,
)

EXTENT = {"west": 13.0, "south": 55.55, "east": 13.1, "north": 55.6}
TIME = ["2023-06-01", "2023-06-10"]
ARCHIVES = {"udf-dependency-archives": ["https://h/convnet_x2.zip#tmp/s2sr_model", "https://h/s2sr-deps.zip#tmp/s2sr_deps"]}


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    return load_process_specs()


@pytest.fixture
def udp_file(tmp_path: Path, convnet_card: Path) -> Path:
    out = tmp_path / "s2sr.json"
    res = CliRunner().invoke(main, [
        "openeo", "udp", "-o", str(out), "-m", str(convnet_card), "--window", "48",
        "--model-archive", "https://h/convnet_x2.zip", "--deps-archive", "https://h/s2sr-deps.zip",
    ])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(out)
    return out


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving tmp_path: where a UDP is published."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def backend(requests_mock: Any) -> DummyBackend:
    requests_mock.real_http = True  # the UDP server above is real
    dummy = DummyBackend.at_url("https://openeo.test/openeo/1.2", requests_mock=requests_mock)
    formats = {"input": {}, "output": {"GTiff": {"gis_data_types": ["raster"], "parameters": {}}}}
    requests_mock.get("https://openeo.test/openeo/1.2/file_formats", json=formats)
    return dummy


def references(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "from_parameter" in value:
            return {value["from_parameter"]}
        return set().union(*(references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references(v) for v in value)) if value else set()
    return set()


def test_udp_against_the_specs(udp_file: Path, specs: dict[str, dict[str, Any]]) -> None:
    udp = json.loads(udp_file.read_text())
    assert udp["id"] == "s2sr" and udp["summary"] and "udf-dependency-archives" in udp["description"]
    assert [p["name"] for p in udp["parameters"]] == ["spatial_extent", "temporal_extent", "model", "threads", "nodata"]
    assert udp["default_job_options"] == ARCHIVES
    pg = udp["process_graph"]
    assert validate_process_graph(pg, specs) == []
    assert [n["process_id"] for n in pg.values()] == ["load_collection", "load_collection", "resample_cube_spatial",
                                                      "merge_cubes", "apply_neighborhood"]
    # every reference names a declared parameter (or the callback's own data/context)
    declared = {p["name"] for p in udp["parameters"]}
    top = references({k: {a: v for a, v in n["arguments"].items() if a != "process"} for k, n in pg.items()})
    assert top == declared
    (run_udf,) = pg["applyneighborhood1"]["arguments"]["process"]["process_graph"].values()
    assert references(run_udf["arguments"]) == {"data", "context"}
    assert run_udf["arguments"]["runtime"] == "Python-Jep" and run_udf["arguments"]["version"] == "3.11"
    # parameter schemas: valid JSON schemas, known subtypes, defaults that match them
    subtypes = _subtype_schemas()
    for p in udp["parameters"]:
        jsonschema.Draft7Validator.check_schema(p["schema"])
        if "subtype" in p["schema"]:
            assert p["schema"]["subtype"] in subtypes, p["schema"]["subtype"]
        if "default" in p:
            assert p.get("optional") and jsonschema.Draft7Validator(p["schema"]).is_valid(p["default"]), p
        else:
            assert not p.get("optional")
    by_name = {p["name"]: p["schema"] for p in udp["parameters"]}
    for name, value in (("spatial_extent", EXTENT), ("temporal_extent", TIME)):
        assert jsonschema.Draft7Validator(by_name[name]).is_valid(value)
        subtype = {"$ref": f"#/definitions/{by_name[name]['subtype']}", "definitions": subtypes}
        assert jsonschema.Draft7Validator(subtype).is_valid(value)
    assert not jsonschema.Draft7Validator(by_name["spatial_extent"]).is_valid({"west": 1})
    assert by_name["model"] and udp["parameters"][2]["default"] == "tmp/s2sr_model/convnet_x2.yaml"


def _subtype_schemas() -> dict[str, Any]:
    import openeo_processes_dask.specs as specs_module

    path = Path(specs_module.__file__).parent / "openeo-processes" / "meta" / "subtype-schemas.json"
    return json.loads(path.read_text(encoding="utf-8"))["definitions"]


# --- the back-end's side, replayed ------------------------------------------------------------


def definition_from_url(process_id: str, url: str) -> dict[str, Any]:
    """openeo-python-driver get_process_definition_from_url: a JSON object, id == process id, a graph."""
    doc = requests.get(url, timeout=10).json()
    assert isinstance(doc, dict) and "id" in doc and "process_graph" in doc
    assert doc["id"] == process_id
    return doc


def evaluate_udp(definition: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """_evaluate_process_graph_process: parameter defaults, then references resolved (callbacks kept)."""
    params = dict(args)
    for p in definition.get("parameters", []):
        if p["name"] not in params:
            assert "default" in p, f"required parameter {p['name']!r} missing"
            params[p["name"]] = p["default"]

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            if "from_parameter" in value:
                return params[value["from_parameter"]]
            if "process_graph" in value:
                return value  # convert_node leaves callbacks as they are
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    pg = copy.deepcopy(definition["process_graph"])
    for node in pg.values():
        node["arguments"] = resolve(node["arguments"])
    return pg


def harness_vs_standalone(
    pg: dict[str, Any], product: Path, card_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> np.ndarray:
    nb = Neighborhood.from_graph({"process_graph": pg})
    work = tmp_path / "work"
    work.mkdir()
    import zipfile

    with zipfile.ZipFile(s2oe.package_model(card_path, work / "model.zip")) as zf:
        zf.extractall(work / "tmp" / "s2sr_model")
    monkeypatch.chdir(work)
    worker.clear_cache()
    card = ModelCard.from_file(card_path)
    prod = open_product(product)
    stitched = run_neighborhood(nb, cube_from_product(prod, card.bands, prod.group_grid(card.source_group)))
    run = s2sr.super_resolve(product, tmp_path / "standalone", card_path)
    with rasterio.open(run.sisr) as ds:
        standalone = ds.read()
    got = to_int16(stitched.values[0])
    np.testing.assert_array_equal(got == NODATA, standalone == NODATA)
    return np.abs(got.astype(np.int32) - standalone.astype(np.int32))[standalone != NODATA]


@pytest.mark.slow
def test_datacube_from_json(
    udp_file: Path, backend: DummyBackend, specs: dict[str, dict[str, Any]], theia_dir: Path, convnet_card: Path,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The client fills in the parameters (the defaults of those not given) in the parent graph."""
    cube = backend.connection.datacube_from_json(
        str(udp_file), parameters={"spatial_extent": EXTENT, "temporal_extent": TIME, "threads": 2}
    )
    job = cube.save_result(format="GTiff").create_job(title="s2sr", job_options=ARCHIVES, validate=False)
    post = backend.batch_jobs_full[job.job_id]
    pg = post["process"]["process_graph"]
    assert validate_process_graph(pg, specs) == []
    assert pg["loadcollection1"]["arguments"]["spatial_extent"] == EXTENT
    assert pg["applyneighborhood1"]["arguments"]["context"] == {
        "model": "tmp/s2sr_model/convnet_x2.yaml", "threads": 2, "nodata": None}
    diff = harness_vs_standalone(pg, theia_dir, convnet_card, tmp_path, monkeypatch)
    assert diff.max() == 0, diff.max()


@pytest.mark.slow
def test_datacube_from_process_by_url(
    udp_file: Path, server: str, backend: DummyBackend, theia_dir: Path, convnet_card: Path,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As APEx shares algorithms: the definition stays at its URL; the back-end fetches and evaluates it."""
    url = f"{server}/{udp_file.name}"
    cube = backend.connection.datacube_from_process("s2sr", namespace=url, spatial_extent=EXTENT, temporal_extent=TIME)
    job = cube.create_job(title="s2sr", validate=False)
    pg = backend.batch_jobs_full[job.job_id]["process"]["process_graph"]
    assert [n["process_id"] for n in pg.values()] == ["s2sr", "save_result"]  # create_job adds save_result
    node = pg["s2sr1"]
    assert node["process_id"] == "s2sr" and node["namespace"] == url
    assert node["arguments"] == {"spatial_extent": EXTENT, "temporal_extent": TIME}
    # the back-end: fetch, default job options (extract_default_job_options_from_process_graph), evaluate
    definition = definition_from_url(node["process_id"], node["namespace"])
    assert definition["default_job_options"] == ARCHIVES
    evaluated = evaluate_udp(definition, node["arguments"])
    assert evaluated["applyneighborhood1"]["arguments"]["context"] == {
        "model": "tmp/s2sr_model/convnet_x2.yaml", "threads": 1, "nodata": None}
    diff = harness_vs_standalone(evaluated, theia_dir, convnet_card, tmp_path, monkeypatch)
    assert diff.max() == 0, diff.max()
    with pytest.raises(AssertionError, match="required parameter 'temporal_extent' missing"):
        evaluate_udp(definition, {"spatial_extent": EXTENT})


def test_library_call(convnet_card: Path) -> None:
    udp = s2oe.build_udp(convnet_card, process_id="s2sr_convnet")
    assert udp["id"] == "s2sr_convnet" and "default_job_options" not in udp
    assert "save_result" not in [n["process_id"] for n in udp["process_graph"].values()]


@pytest.mark.parametrize(("args", "words"), [
    (["-o", "s2sr.txt"], "is not a .json file"),
    (["-o", "nope/s2sr.json"], "does not exist"),
    (["-o", "s2sr.json", "--id", "1bad-id"], "process id '1bad-id' is not valid"),
    (["-o", "s2sr.json", "-m", "nope"], "model 'nope' is neither a card file nor a built-in"),
])
def test_cli_udp_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], words: str) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["openeo", "udp", *args])
    assert res.exit_code == 2, res.output
    assert words in res.output
    assert not list(tmp_path.glob("*.json")) and not list(tmp_path.glob(".*part"))


def test_write_udp_refuses_other_names(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        s2oe.write_udp(tmp_path / "x.yaml")
