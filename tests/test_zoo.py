"""The model zoo against a real HTTP mirror on 127.0.0.1 serving tiny ONNX files built here."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from s2sr.cli import main
from s2sr.errors import ModelError
from s2sr.models import default_model_name, load_model, resolve_card, zoo
from s2sr.models.graphs import convnet_model, resize_model

from .conftest import ALL_BANDS
from .support.zoo_mirror import Mirror, blob_sha1, serve, write_registry

# Tiny stand-ins for zoo models; "carn" overrides the seed's entry so the default-model rule is testable.
CARN = convnet_model(10, 2, hidden=8, seed=1)
TINY4 = resize_model(4, 4, mode="nearest")


@pytest.fixture()
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    m = Mirror(files={"carn_test.onnx": CARN, "tiny4.onnx": TINY4})
    registry = write_registry(tmp_path / "registry.yaml", {
        "carn": {"stem": "carn_test", "bands": ALL_BANDS, "factor": 2, "margin": 8, "blob_sha1": blob_sha1(CARN),
                 "description": "test stand-in for carn"},
        "tiny4": {"bands": ["B2", "B3", "B4", "B8"], "factor": 4, "margin": 0, "blob_sha1": blob_sha1(TINY4)},
    })
    monkeypatch.setenv(zoo.ENV_DIR, str(tmp_path / "cache"))
    monkeypatch.setenv(zoo.ENV_REGISTRY, str(registry))
    with serve(m):
        monkeypatch.setenv(zoo.ENV_URL, m.url)
        yield m


def test_seed_registry_values() -> None:
    """The seed's five models with the card values of docs/model-contract.md, pinned to one upstream commit."""
    reg = zoo.SEED_MODELS
    assert list(reg) == ["carn", "s2v2x2", "s2v2x4", "wsx2", "wsx4"]
    got = {n: (e.stem, len(e.bands), e.factor, e.margin) for n, e in reg.items()}
    assert got == {
        "carn": ("carn_3x3x64g4sw_bootstrap", 10, 2, 32),
        "s2v2x2": ("s2v2x2_spatrad", 4, 2, 66),
        "s2v2x4": ("s2v2x4_spatrad", 4, 4, 110),
        "wsx2": ("wsx2_spatrad", 4, 2, 66),
        "wsx4": ("wsx4_spatrad", 4, 4, 130),
    }
    assert reg["carn"].bands == ("B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12")
    assert reg["s2v2x4"].bands == ("B5", "B6", "B7", "B8A")
    assert reg["carn"].blob_sha1 == "f552f673884cc6ed5392f078906a278b85e67f5b"
    assert zoo.DEFAULT_BASE_URL.startswith("https://raw.githubusercontent.com/Evoland-Land-Monitoring-Evolution/")
    assert zoo.UPSTREAM_COMMIT in zoo.DEFAULT_BASE_URL and len(zoo.UPSTREAM_COMMIT) == 40


def test_git_blob_sha1(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"hello\n")
    assert zoo.git_blob_sha1(tmp_path / "f") == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object


def test_pull_then_cache_hit(mirror: Mirror) -> None:
    card = zoo.pull("tiny4", progress=False)
    assert card.onnx_path.read_bytes() == TINY4
    assert (card.bands, card.factor, card.margin, card.name) == (("B2", "B3", "B4", "B8"), 4, 0, "tiny4")
    assert not list(card.onnx_path.parent.glob("*.part"))
    n = len(mirror.requests)
    assert zoo.pull("tiny4", progress=False) == card  # cache hit: no request
    assert resolve_card("tiny4").onnx_path == card.onnx_path
    assert len(mirror.requests) == n == 1
    assert load_model("tiny4").card.factor == 4


def test_corrupt_download_rejected_and_deleted(mirror: Mirror) -> None:
    mirror.corrupt = True
    with pytest.raises(ModelError, match="download of model tiny4 .* is corrupt .*git blob SHA-1.*deleted"):
        zoo.pull("tiny4", progress=False)
    cache = zoo.cache_dir()
    assert not (cache / "tiny4.onnx").exists() and not (cache / "tiny4.onnx.part").exists()


def test_interrupted_download_resumes_with_range(mirror: Mirror) -> None:
    half = len(CARN) // 2
    mirror.drop_after, mirror.drops_left = half, 1
    card = zoo.pull("carn", progress=False)
    assert card.onnx_path.read_bytes() == CARN
    assert mirror.requests == [("/models/carn_test.onnx", None), ("/models/carn_test.onnx", f"bytes={half}-")]


def test_interrupted_pull_resumes_on_next_call(mirror: Mirror) -> None:
    half = len(CARN) // 3
    mirror.drop_after, mirror.drops_left = half, 10
    with pytest.raises(ModelError, match="cannot be downloaded"):
        zoo.pull("carn", progress=False, retries=0)
    part = zoo.cache_dir() / "carn_test.onnx.part"
    assert part.stat().st_size == half  # kept for the next attempt
    mirror.drops_left = 0
    assert zoo.pull("carn", progress=False).onnx_path.read_bytes() == CARN
    assert mirror.requests[-1] == ("/models/carn_test.onnx", f"bytes={half}-")
    assert not part.exists()


def test_server_ignoring_range_restarts(mirror: Mirror) -> None:
    mirror.drop_after, mirror.drops_left, mirror.ignore_range = 100, 1, True
    assert zoo.pull("carn", progress=False).onnx_path.read_bytes() == CARN


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_and_not_cached_is_one_clear_error(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(zoo.ENV_URL, f"http://127.0.0.1:{_closed_port()}/models")
    with pytest.raises(ModelError) as err:
        resolve_card("tiny4")
    text = str(err.value)
    assert "not cached" in text and "s2sr models pull tiny4" in text and "-m bicubic" in text
    result = CliRunner().invoke(main, ["models", "pull", "tiny4"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "s2sr: error: model 'tiny4' is not cached" in result.output


def test_corrupt_cache_detected_before_load(mirror: Mirror) -> None:
    card = zoo.pull("tiny4", progress=False)
    card.onnx_path.write_bytes(TINY4[:-1] + b"\0")
    with pytest.raises(ModelError, match="cached model tiny4 .* is corrupt.*s2sr models pull tiny4"):
        resolve_card("tiny4")
    assert {s.name: s.state for s in zoo.verify()}["tiny4"] == "corrupt"
    assert zoo.pull("tiny4", progress=False).onnx_path.read_bytes() == TINY4  # pull repairs it


def test_cached_carn_becomes_the_default(mirror: Mirror, caplog: pytest.LogCaptureFixture) -> None:
    assert default_model_name() != "carn"
    zoo.pull("carn", progress=False)
    assert default_model_name() == "carn"
    with caplog.at_level("INFO", logger="s2sr.models"):
        assert resolve_card(None).name == "carn"
    assert "using zoo model 'carn'" in caplog.text


def test_cli_list_info_pull_verify(mirror: Mirror) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["models", "list"])
    assert out.exit_code == 0, out.output
    assert "tiny4" in out.output and "not downloaded" in out.output and "bicubic" in out.output
    out = runner.invoke(main, ["models", "pull", "tiny4", "carn"])
    assert out.exit_code == 0, out.output
    assert "carn_test.yaml" in out.output
    out = runner.invoke(main, ["models", "info", "carn"])
    assert out.exit_code == 0 and "state:        ok" in out.output and blob_sha1(CARN) in out.output
    out = runner.invoke(main, ["models", "verify"])
    assert out.exit_code == 0 and "tiny4      ok" in out.output and "missing" in out.output  # seed models
    (zoo.cache_dir() / "tiny4.onnx").write_bytes(b"junk")
    out = runner.invoke(main, ["models", "verify"])
    assert out.exit_code == 1 and "corrupt" in out.output
    assert runner.invoke(main, ["models", "info", "nope"]).exit_code == 2


def test_run_with_a_zoo_name(mirror: Mirror, theia_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(theia_dir), "-o", str(tmp_path / "out"), "-m", "carn",
                                       "--tile-size", "64"])
    assert result.exit_code == 0, result.output
    assert "model carn" in result.output


def test_mlm_item_of_a_zoo_model_downloads_and_checks_it(mirror: Mirror, tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["models", "info", "tiny4", "--stac"])
    assert out.exit_code == 0, out.output
    item = json.loads(out.output)
    assert item["assets"]["model"]["href"] == f"{mirror.url}/tiny4.onnx"
    path = tmp_path / "tiny4.json"
    path.write_text(json.dumps(item))
    mirror.corrupt = True
    with pytest.raises(ModelError, match="cannot be downloaded .*git blob SHA-1"):
        resolve_card(path)
    mirror.corrupt = False
    card = resolve_card(path)
    assert card.onnx_path.read_bytes() == TINY4 and (card.factor, card.margin) == (4, 0)
