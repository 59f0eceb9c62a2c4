"""The CPU image, built and run in the test suite with podman (as ``shared/RECIPES.md`` says: an
offline debootstrap base, the wheelhouse, runc; no Docker engine, no registry):

- the container processes a STAC item whose COGs are on the test S3 server (SeaweedFS) and
  publishes COG + STAC back to it; the host reads the result with odc-stac and finds the pixels
  ``s2sr run`` makes on the host;
- the EO Application Package (``infra/cwl/s2sr.cwl``) is run by cwltool with podman as its
  container engine: the output directory's STAC catalog validates and its COG equals ``s2sr run``.

podman, runc and debootstrap come from apt: installed here when missing and root (as the pgstac
fixture installs PostGIS). The image is built once per test session (shared by xdist workers
through a lock); the debootstrap base is cached in ~/.cache/s2sr/base-image across sessions.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2sr.testing import RangeServer, SeaweedS3, aws_env, es_v1_item, write_earthsearch_cogs

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
TAG = f"localhost/s2sr:{VERSION}"  # what infra/cwl/s2sr.cwl's DockerRequirement names
APT_PACKAGES = ("podman", "runc", "debootstrap")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"container tests cannot run in CI: {reason}")
    pytest.skip(reason)


def ensure_podman() -> None:
    """podman, runc and debootstrap: apt-get install them when missing (needs root and apt)."""
    missing = [p for p in APT_PACKAGES if shutil.which(p) is None and not Path(f"/usr/sbin/{p}").exists()]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        _unavailable(f"{', '.join(missing)} missing and apt-get cannot run here (needs root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", *APT_PACKAGES]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, env=env)
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        _unavailable(f"apt-get install {' '.join(APT_PACKAGES)} failed: {r.stderr.strip()[-300:]}")


@dataclass(frozen=True)
class Podman:
    """podman with its own storage (``--root``/``--runroot``) and the sandbox settings."""

    root: Path

    @property
    def cmd(self) -> list[str]:
        return ["podman", "--root", str(self.root / "storage"), "--runroot", str(self.root / "run")]

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(INFRA / "podman" / "containers.conf")}

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([*self.cmd, *args], capture_output=True, text=True, env={**self.env, **(env or {})},
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"podman {' '.join(args[:3])} … failed ({r.returncode}): {r.stderr[-2000:]}")
        return r



@dataclass(frozen=True)
class Image:
    podman: Podman
    tag: str
    build_seconds: float
    size_bytes: int


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    """The CPU image built with infra/build-image.sh --offline-base --no-network, once per session
    (xdist workers share it: same storage, a lock, a count of users for the clean-up)."""
    ensure_podman()
    reuse = os.environ.get("S2SR_TEST_PODMAN_ROOT")  # development only: a storage already holding TAG
    if reuse:
        pm = Podman(Path(reuse))
        size = int(pm.run("image", "inspect", TAG, "--format", "{{.Size}}").stdout.strip())
        yield Image(pm, TAG, float("nan"), size)
        return
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    # short: podman refuses a --runroot longer than 50 characters
    root = Path(tempfile.gettempdir()) / f"s2sr-pm-{hashlib.sha256(run_id.encode()).hexdigest()[:10]}"
    root.mkdir(exist_ok=True)
    pm = Podman(root)
    lock, users, built = root / "lock", root / "users", root / "built.json"
    with _locked(lock):
        users.write_text(str(int(users.read_text() or 0) + 1) if users.exists() else "1")
    try:
        with _locked(lock):
            if not built.exists():
                t0 = time.perf_counter()
                r = subprocess.run(
                    ["bash", str(INFRA / "build-image.sh"), "--offline-base", "--no-network", "--tag", TAG,
                     "--engine", " ".join(pm.cmd)],
                    capture_output=True, text=True, env={**pm.env, "PYTHON": sys.executable}, timeout=2400)
                if r.returncode != 0:
                    pytest.fail(f"infra/build-image.sh failed ({r.returncode}): {r.stderr[-3000:]}")
                seconds = time.perf_counter() - t0
                size = int(pm.run("image", "inspect", TAG, "--format", "{{.Size}}").stdout.strip())
                built.write_text(json.dumps({"seconds": seconds, "size": size}))
            facts = json.loads(built.read_text())
        yield Image(pm, TAG, facts["seconds"], facts["size"])
    finally:  # the last user removes the storage (also after a failed build)
        with _locked(lock):
            left = int(users.read_text()) - 1
            users.write_text(str(left))
        if left == 0:
            pm.run("system", "reset", "--force", check=False, timeout=300)
            shutil.rmtree(root, ignore_errors=True)


def test_image_runs_the_cli_as_non_root_with_a_health_check(image: Image) -> None:
    pm = image.podman
    r = pm.run("run", "--rm", image.tag, "--version")
    assert r.stdout.strip() == f"s2sr, version {VERSION}"
    r = pm.run("run", "--rm", image.tag, "s2sr", "--version")  # the CWL runners' form
    assert r.stdout.strip() == f"s2sr, version {VERSION}"
    r = pm.run("run", "--rm", "--entrypoint", "id", image.tag, "-u")
    assert r.stdout.strip() == "1000"
    info = json.loads(pm.run("image", "inspect", image.tag).stdout)[0]
    cfg = info["Config"]
    assert cfg["User"] == "1000:1000" and cfg["Entrypoint"] == ["/usr/local/bin/s2sr-entrypoint"]
    health = cfg.get("Healthcheck") or info.get("Healthcheck") or info.get("HealthCheck") or {}
    assert health.get("Test") == ["CMD", "s2sr", "--version"], info.keys()
    assert not any(e.startswith("AWS_") for e in cfg.get("Env", []))
    r = pm.run("run", "--rm", image.tag, "run", "/nowhere/product.zip", "-o", "/tmp/out", check=False)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("s2sr: error: ")
    print(f"\nimage {image.tag}: {image.size_bytes / 1e6:.0f} MB, built in {image.build_seconds:.0f} s")


@pytest.fixture()
def bucket(s3_server: SeaweedS3) -> str:
    s3_server.ensure_running()
    name = f"infra-{uuid.uuid4().hex[:8]}"
    s3_server.fs().mkdir(name)
    return name


def test_container_processes_a_product_on_s3_and_publishes_back(
    image: Image, s3_server: SeaweedS3, bucket: str, arrays: tuple[np.ndarray, np.ndarray], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A STAC item (over HTTP, as a STAC API serves it) whose COGs are on S3 → the container
    (credentials from the environment only) → COG + STAC item + catalog.json on S3 → odc-stac on
    the host reads what `s2sr run` makes here from the same item."""
    import odc.stac
    import pystac

    from s2sr import publish
    from s2sr.outputs.stac import FsspecStacIO

    files = write_earthsearch_cogs(tmp_path / "cogs", *arrays, offset=0, nodata_cols=6)
    item = es_v1_item(files, base_href=f"s3://{bucket}/in", **{
        "datetime": "2017-05-27T10:21:13.456000Z", "earthsearch:boa_offset_applied": False,
        "s2:processing_baseline": "02.14"})
    fs = s3_server.fs()
    for path in files.values():
        fs.put_file(str(path), f"{bucket}/in/{path.name}")
    served = tmp_path / "served"
    served.mkdir()
    (served / "item.json").write_text(json.dumps(item))

    env = aws_env(s3_server.endpoint)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    passed = [a for k in env for a in ("-e", k)]  # values come from the environment, not the command line
    with RangeServer(served) as http:
        item_href = f"{http.url}/item.json"
        t0 = time.perf_counter()
        r = image.podman.run("run", "--rm", "--network=host", *passed, image.tag, "run", item_href,
                             "-o", f"s3://{bucket}/out", "-m", "bicubic", "--stac-catalog", env=env)
        seconds = time.perf_counter() - t0
        local = publish(item_href, tmp_path / "host", "bicubic")
    assert env["AWS_SECRET_ACCESS_KEY"] not in r.stdout + r.stderr
    item_url = next(w for line in r.stdout.splitlines() if "(STAC item" in line for w in line.split() if
                    w.endswith(".json"))
    assert item_url.startswith(f"s3://{bucket}/out/s2sr/")
    catalog = json.loads(fs.cat_file(f"{bucket}/out/catalog.json"))
    links = [lk["href"] for lk in catalog["links"] if lk["rel"] == "item"]
    assert links == ["./" + item_url.removeprefix(f"s3://{bucket}/out/")]

    stac_item = pystac.Item.from_file(item_url, stac_io=FsspecStacIO())
    with rasterio.Env(AWS_S3_ENDPOINT=s3_server.endpoint.split("://", 1)[1], AWS_HTTPS="NO",
                      AWS_VIRTUAL_HOSTING="FALSE"):
        ds = odc.stac.load([stac_item], bands=["B4", "B8"])
        remote = np.stack([ds[b].values[0] for b in ("B4", "B8")])

    with rasterio.open(local.sisr) as src:
        names = list(src.descriptions)
        here = np.stack([src.read(names.index(b) + 1) for b in ("B4", "B8")])
    assert remote.shape == here.shape and np.array_equal(remote, here)
    print(f"\ncontainer run (start → COG + STAC on S3): {seconds:.1f} s")


def _validate_catalog(doc: dict[str, object]) -> None:
    import copy

    from .support.stac_validate import CORE, _validate

    core = copy.deepcopy(doc)
    core["stac_version"] = "1.1.0-beta.1"
    _validate(core, f"{CORE}/catalog-spec/json-schema/catalog.json")


def _local_catalogues_are_relative() -> bool:
    """Whether this s2sr writes relative hrefs into local catalogues (issue 13's change)."""
    import inspect

    from s2sr.outputs.stac import build_item

    return "relative" in inspect.signature(build_item).parameters


def test_cwl_package_runs_with_cwltool_and_podman(image: Image, theia_zip: Path, tmp_path: Path) -> None:
    import pystac

    from s2sr import publish

    from .support.stac_validate import validate_stac

    cwltool = Path(sys.executable).parent / "cwltool"
    if not cwltool.exists():
        _unavailable("cwltool is not installed (in the test extra)")
    job = tmp_path / "job.yml"
    job.write_text(json.dumps({"product": {"class": "File", "path": str(theia_zip)}, "model": "bicubic"}))
    out = tmp_path / "cwl-out"
    r = subprocess.run(  # podman-as-caller.sh: as cwltool runs docker (--user=UID:GID), as README says
        [str(cwltool), "--user-space-docker-cmd", str(INFRA / "cwl" / "podman-as-caller.sh"), "--outdir", str(out),
         str(INFRA / "cwl" / "s2sr.cwl") + "#s2sr", str(job)],
        capture_output=True, text=True, env={**image.podman.env, "PODMAN": " ".join(image.podman.cmd)}, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout)
    folder = Path(result["stac_catalog"]["path"])
    assert sorted(p.name for p in folder.iterdir()) == ["catalog.json", "s2sr"], "nothing else in the output"
    cat_doc = json.loads((folder / "catalog.json").read_text())
    _validate_catalog(cat_doc)

    shutil.move(str(folder), tmp_path / "moved")  # self-contained: it still reads after a move
    catalog = pystac.Catalog.from_file(str(tmp_path / "moved" / "catalog.json"))
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 1
    validate_stac(json.loads(Path(items[0].get_self_href() or "").read_text()))  # the file as written
    item_file = Path(items[0].get_self_href() or "")
    here = publish(theia_zip, tmp_path / "host", "bicubic")  # `s2sr run` on the same product, here
    with rasterio.open(item_file.parent / Path(here.sisr).name) as a, rasterio.open(here.sisr) as b:
        assert a.profile["width"] == b.profile["width"] and a.transform == b.transform
        assert np.array_equal(a.read(), b.read())

    if Path(items[0].assets["sisr"].href).is_absolute() and not _local_catalogues_are_relative():
        pytest.xfail("local items hold absolute hrefs until relative local catalogues land (issue 13)")
    sisr = Path(items[0].assets["sisr"].get_absolute_href() or "")
    assert sisr.is_file() and sisr.parent == item_file.parent, "the assets are found through the moved catalog"
