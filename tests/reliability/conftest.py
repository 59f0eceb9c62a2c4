"""Fixtures of the reliability suite: one tiny real Theia product (folder and zip) and tiny models."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from s2sr.bands import GROUP_10M, GROUP_20M
from s2sr.testing import resize_model, synthetic_pixels, write_model, write_theia_product

from . import harness

BANDS = list(GROUP_10M + GROUP_20M)
SIZE = 32  # 10 m pixels per side: every run takes about a second
ITEM_ID = "SENTINEL2A_20170527_L2A_T33UUB_5m"


@pytest.fixture(scope="session")
def arrays() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_pixels(SIZE, seed=7)


@pytest.fixture(scope="session")
def product_master(tmp_path_factory: pytest.TempPathFactory, arrays: tuple[np.ndarray, np.ndarray]) -> Path:
    return write_theia_product(tmp_path_factory.mktemp("rel_product"), *arrays, reflectances=("FRE",))


@pytest.fixture
def product(tmp_path: Path, product_master: Path) -> Path:
    """A fresh copy of the product folder (tests may damage it)."""
    dst = tmp_path / "in" / product_master.name
    shutil.copytree(product_master, dst)
    return dst


@pytest.fixture(scope="session")
def product_b(tmp_path_factory: pytest.TempPathFactory, arrays: tuple[np.ndarray, np.ndarray]) -> Path:
    """Another product (another day): another item of the same collection."""
    return write_theia_product(tmp_path_factory.mktemp("rel_product_b"), *arrays, reflectances=("FRE",),
                               acquired=dt.datetime(2017, 6, 6, 10, 20, 21, 0))


@pytest.fixture(scope="session")
def product_zip(tmp_path_factory: pytest.TempPathFactory, arrays: tuple[np.ndarray, np.ndarray]) -> Path:
    return write_theia_product(tmp_path_factory.mktemp("rel_zip"), *arrays, reflectances=("FRE",), as_zip=True)


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rel_models")
    write_model(d, "nearest", resize_model(len(BANDS), 2, mode="nearest"), bands=BANDS, factor=2, margin=0)
    harness.nonfinite_model(d, "emits_inf", "inf", BANDS)
    harness.nonfinite_model(d, "emits_nan", "nan", BANDS)
    harness.failing_model(d, BANDS)
    return d


@pytest.fixture(scope="session")
def model(models: Path) -> Path:
    return models / "nearest.yaml"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every case runs the real command at least twice (the fault, then the rerun): slow."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)
