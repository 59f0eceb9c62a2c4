from __future__ import annotations

import logging
from pathlib import Path

import pytest

from s2sr.errors import ModelError
from s2sr.models import BUILTIN_DIR, ModelCard, builtin_names, load_model, resolve_card
from s2sr.models.graphs import convnet_model, resize_model, write_model

from .conftest import ALL_BANDS

# The seed tool's five cards, verbatim (sentinel2_superresolution, src/…/models/*.yaml).
SEED_CARDS = {
    "carn_3x3x64g4sw_bootstrap": (
        "bands: [B2, B3, B4, B8, B5, B6, B7, B8A, B11, B12]\nfactor: 2.0\nmargin: 32\n"
        "model: carn_3x3x64g4sw_bootstrap.onnx\n",
        10, 2, 32,
    ),
    "s2v2x2_spatrad": ("bands:\n- B2\n- B3\n- B4\n- B8\nfactor: 2.0\nmargin: 66\nmodel: s2v2x2_spatrad.onnx\n", 4, 2, 66),
    "s2v2x4_spatrad": ("bands:\n- B5\n- B6\n- B7\n- B8A\nfactor: 4.0\nmargin: 110\nmodel: s2v2x4_spatrad.onnx\n", 4, 4, 110),
    "wsx2_spatrad": ("bands:\n- B2\n- B3\n- B4\n- B8\nfactor: 2.0\nmargin: 66\nmodel: wsx2_spatrad.onnx\n", 4, 2, 66),
    "wsx4_spatrad": ("bands:\n- B2\n- B3\n- B4\n- B8\nfactor: 4.0\nmargin: 130\nmodel: wsx4_spatrad.onnx\n", 4, 4, 130),
}


@pytest.mark.parametrize("name", sorted(SEED_CARDS))
def test_seed_cards_load_unchanged(tmp_path: Path, name: str) -> None:
    text, n, factor, margin = SEED_CARDS[name]
    (tmp_path / f"{name}.yaml").write_text(text)
    card = ModelCard.from_file(tmp_path / f"{name}.yaml")
    assert (len(card.bands), card.factor, card.margin) == (n, factor, margin)
    assert card.onnx_path == tmp_path / f"{name}.onnx"
    assert card.source_group == ("20m" if name.startswith("s2v2x4") else "10m")


def test_esa_band_names_map_to_card_names(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("bands: [B02, B8A, b11]\nfactor: 2\nmargin: 4\nmodel: m.onnx\n")
    assert ModelCard.from_file(tmp_path / "c.yaml").bands == ("B2", "B8A", "B11")


@pytest.mark.parametrize(
    "text,match",
    [
        ("bands: [B2]\nfactor: 2\nmodel: m.onnx\n", "lacks key.*margin"),
        ("factor: 2\nmargin: 2\n", "lacks key.*bands, model"),
        ("bands: [B2, B13]\nfactor: 2\nmargin: 4\nmodel: m.onnx\n", "unknown band 'B13'"),
        ("bands: [B2, B2]\nfactor: 2\nmargin: 4\nmodel: m.onnx\n", "twice"),
        ("bands: [B2]\nfactor: 1.5\nmargin: 4\nmodel: m.onnx\n", "factor 1.5"),
        ("bands: [B2]\nfactor: 2\nmargin: -1\nmodel: m.onnx\n", "margin"),
        ("- just\n- a list\n", "not a YAML mapping"),
        ("bands: [B2\n", "cannot be read as YAML"),
    ],
)
def test_bad_cards(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ModelError, match=match):
        ModelCard.from_file(tmp_path / "c.yaml")


def test_card_without_onnx_file(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("bands: [B2]\nfactor: 2\nmargin: 4\nmodel: missing.onnx\n")
    with pytest.raises(ModelError, match="missing.onnx.*not found"):
        load_model(tmp_path / "c.yaml")


@pytest.mark.parametrize(
    "onnx_bytes,bands,factor,match",
    [
        (resize_model(4, 2, mode="nearest"), ALL_BANDS, 2, "takes 4 channels, the card lists 10 bands"),
        (resize_model(10, 4, mode="nearest"), ALL_BANDS, 2, "upsamples by 4, the card says factor 2"),
        (convnet_model(10, 2), ALL_BANDS[:4], 2, "does not match its card"),
    ],
)
def test_onnx_not_matching_card(tmp_path: Path, onnx_bytes: bytes, bands: list[str], factor: int, match: str) -> None:
    card = write_model(tmp_path, "m", onnx_bytes, bands=bands, factor=factor, margin=0)
    with pytest.raises(ModelError, match=match):
        load_model(card)


def test_onnx_with_wrong_input_name(tmp_path: Path) -> None:
    import onnx

    m = onnx.load_from_string(resize_model(10, 2, mode="nearest"))
    m.graph.input[0].name = "x"
    m.graph.node[0].input[0] = "x"
    card = write_model(tmp_path, "m", m.SerializeToString(), bands=ALL_BANDS, factor=2, margin=0)
    with pytest.raises(ModelError, match="input is named x, expected 'input'"):
        load_model(card)


def test_not_an_onnx_file(tmp_path: Path) -> None:
    card = write_model(tmp_path, "m", b"not onnx", bands=ALL_BANDS, factor=2, margin=0)
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_model(card)


def test_builtin_bicubic_is_the_generated_graph() -> None:
    """The shipped baseline is exactly what `s2sr.models.graphs` generates (reproducible)."""
    assert "bicubic" in builtin_names()
    assert (BUILTIN_DIR / "bicubic.onnx").read_bytes() == resize_model(10, 2, mode="cubic")
    card = resolve_card("bicubic")
    assert card.bands == tuple(ALL_BANDS) and card.factor == 2


def test_default_model_loads_offline() -> None:
    model = load_model(None)
    assert model.card.name in builtin_names()


def test_model_spec_forms(convnet_card: Path) -> None:
    assert resolve_card(convnet_card).name == "convnet_x2"
    assert resolve_card(convnet_card.with_suffix(".onnx")).name == "convnet_x2"  # seed style: -m model.onnx
    with pytest.raises(ModelError, match="neither a card file nor a built-in"):
        resolve_card("no-such-model")


def test_threads_option_sets_intra_op_threads(convnet_card: Path) -> None:
    model = load_model(convnet_card, threads=1)
    assert model.session.get_session_options().intra_op_num_threads == 1


def test_gpu_falls_back_to_cpu_with_a_log_line(convnet_card: Path, caplog: pytest.LogCaptureFixture) -> None:
    # No GPU on CI machines: this exercises the real fallback path of a CPU-only onnxruntime.
    # (With onnxruntime-gpu and a CUDA device, CUDAExecutionProvider would be used instead.)
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a CUDA provider is present; fallback not exercised")
    with caplog.at_level(logging.WARNING):
        model = load_model(convnet_card, gpu=True)
    assert model.providers == ("CPUExecutionProvider",)
    assert "running on CPU" in caplog.text
