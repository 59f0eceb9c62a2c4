"""The model zoo: the seed tool's pretrained models by name, downloaded on demand and verified.

Each :class:`ZooEntry` holds the seed's card values verbatim (docs/model-contract.md) and the git blob
SHA-1 of its ONNX file, pinned to one commit of the upstream repository.  Files land in the
cache (``S2SR_MODELS_DIR``, else the user cache dir) as ``<stem>.onnx`` with the card
``<stem>.yaml`` beside it.  Every load from the cache re-checks the blob SHA-1.

Environment:

* ``S2SR_MODELS_DIR``: cache folder (default: ``platformdirs.user_cache_dir("s2sr")/models``);
* ``S2SR_MODELS_URL``: base URL of a mirror holding the same file names (default: upstream);
* ``S2SR_MODELS_REGISTRY``: a YAML file of extra or replacing entries (same keys as
  :class:`ZooEntry`), for sites with their own models.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ModelError
from ..hashing import git_blob_sha1 as git_blob_sha1  # re-exported: zoo.git_blob_sha1
from .card import ModelCard
from .download import DownloadError, download
from .shipped import builtin_names

log = logging.getLogger(__name__)

#: Upstream repository, commit and folder the seed's models are pinned to.
UPSTREAM_REPO = "Evoland-Land-Monitoring-Evolution/sentinel2_superresolution"
UPSTREAM_COMMIT = "dd441a3a4aaa7cde3e16e6bc86b88d80f6cfc4bc"
UPSTREAM_FOLDER = "src/sentinel2_superresolution/models"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/{UPSTREAM_FOLDER}"
#: The zoo model used by default when it is cached.
ZOO_DEFAULT = "carn"

ENV_DIR = "S2SR_MODELS_DIR"
ENV_URL = "S2SR_MODELS_URL"
ENV_REGISTRY = "S2SR_MODELS_REGISTRY"

_TEN = ("B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12")
_RGBN = ("B2", "B3", "B4", "B8")


@dataclass(frozen=True)
class ZooEntry:
    """One downloadable model: its card values, file and expected git blob SHA-1."""

    name: str  #: short name used with ``-m`` (``carn``)
    stem: str  #: upstream file stem (``carn_3x3x64g4sw_bootstrap``): ``<stem>.onnx`` / ``<stem>.yaml``
    bands: tuple[str, ...]
    factor: int
    margin: int
    blob_sha1: str  #: git blob SHA-1 of the ONNX file
    architecture: str = ""
    description: str = ""
    license: str = "Apache-2.0"
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def onnx_file(self) -> str:
        return f"{self.stem}.onnx"

    @property
    def card_file(self) -> str:
        return f"{self.stem}.yaml"

    def card_dict(self) -> dict[str, Any]:
        """The card as the seed writes it (plus ``name`` and ``description``)."""
        return {
            "bands": list(self.bands),
            "factor": float(self.factor),
            "margin": self.margin,
            "model": self.onnx_file,
            "name": self.name,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any], origin: str) -> ZooEntry:
        try:
            return cls(
                name=name,
                stem=str(data.get("stem") or name),
                bands=tuple(str(b) for b in data["bands"]),
                factor=int(float(data["factor"])),
                margin=int(data["margin"]),
                blob_sha1=str(data["blob_sha1"]).lower(),
                architecture=str(data.get("architecture", "")),
                description=str(data.get("description", "")),
                license=str(data.get("license", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"model registry {origin}: entry {name!r} is invalid ({type(exc).__name__}: {exc})",
                hint="each entry needs bands, factor, margin and blob_sha1 (stem, description optional)",
            ) from None


_SEED = "from the seed tool sentinel2_superresolution (CESBIO, EVOLAND), Apache-2.0"
SEED_MODELS: dict[str, ZooEntry] = {
    e.name: e
    for e in (
        ZooEntry(
            "carn", "carn_3x3x64g4sw_bootstrap", _TEN, 2, 32, "f552f673884cc6ed5392f078906a278b85e67f5b",
            "CARN", f"CARN, 10 bands 10 m -> 5 m, trained on Sen2Venus (the seed's default); {_SEED}",
        ),
        ZooEntry(
            "s2v2x2", "s2v2x2_spatrad", _RGBN, 2, 66, "145c2bd092d5254e31f580630c84789ccb337f16",
            "ESRGAN", f"ESRGAN, B2 B3 B4 B8 10 m -> 5 m, trained on Sen2Venus (hal-04723225); {_SEED}",
        ),
        ZooEntry(
            "s2v2x4", "s2v2x4_spatrad", ("B5", "B6", "B7", "B8A"), 4, 110,
            "c719f9dab059274e84ccbdb79e76740a8ebf0b24",
            "ESRGAN", f"ESRGAN, B5 B6 B7 B8A 20 m -> 5 m, trained on Sen2Venus (hal-04723225); {_SEED}",
        ),
        ZooEntry(
            "wsx2", "wsx2_spatrad", _RGBN, 2, 66, "1ef035f98bbf10554223cadb47a00c533f5e27b9",
            "ESRGAN", f"ESRGAN, B2 B3 B4 B8 10 m -> 5 m, trained on WorldStrat (hal-04723225); {_SEED}",
        ),
        ZooEntry(
            "wsx4", "wsx4_spatrad", _RGBN, 4, 130, "06a9588edb45c271417cd34d2ae1d4e50cfc503f",
            "ESRGAN", f"ESRGAN, B2 B3 B4 B8 10 m -> 2.5 m, trained on WorldStrat (hal-04723225); {_SEED}",
        ),
    )
}


def registry() -> dict[str, ZooEntry]:
    """The zoo: the seed's models, updated with ``$S2SR_MODELS_REGISTRY`` entries if set."""
    entries = dict(SEED_MODELS)
    path = os.environ.get(ENV_REGISTRY)
    if path:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ModelError(f"model registry {p} ({ENV_REGISTRY}) cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise ModelError(f"model registry {p} ({ENV_REGISTRY}) is not a mapping of name -> entry")
        for name, value in data.items():
            if not isinstance(value, dict):
                raise ModelError(f"model registry {p}: entry {name!r} is not a mapping")
            entries[str(name)] = ZooEntry.from_dict(str(name), value, str(p))
    return entries


def names() -> list[str]:
    return list(registry())


def entry(name: str) -> ZooEntry:
    reg = registry()
    if name not in reg:
        raise ModelError(f"{name!r} is not a zoo model", hint=f"zoo models: {', '.join(reg)}")
    return reg[name]


def cache_dir() -> Path:
    """Where zoo models are cached (``$S2SR_MODELS_DIR`` or the user cache dir)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("s2sr", appauthor=False)) / "models"


def base_url() -> str:
    return (os.environ.get(ENV_URL) or DEFAULT_BASE_URL).rstrip("/")


def url_of(e: ZooEntry) -> str:
    return f"{base_url()}/{e.onnx_file}"


def onnx_path(e: ZooEntry) -> Path:
    return cache_dir() / e.onnx_file


def is_cached(name: str) -> bool:
    """True if the model's ONNX file is in the cache and its blob SHA-1 matches (no network)."""
    e = registry().get(name)
    if e is None:
        return False
    p = onnx_path(e)
    return p.is_file() and git_blob_sha1(p) == e.blob_sha1


@dataclass(frozen=True)
class CacheState:
    """What ``s2sr models verify`` reports for one model."""

    name: str
    path: Path
    state: str  #: ``ok``, ``missing`` or ``corrupt``
    sha1: str | None = None


def verify() -> Iterator[CacheState]:
    """Check every zoo model's cached file against its expected blob SHA-1."""
    for e in registry().values():
        p = onnx_path(e)
        if not p.is_file():
            yield CacheState(e.name, p, "missing")
            continue
        sha1 = git_blob_sha1(p)
        yield CacheState(e.name, p, "ok" if sha1 == e.blob_sha1 else "corrupt", sha1)


def _write_card(e: ZooEntry) -> Path:
    card = cache_dir() / e.card_file
    text = yaml.safe_dump(e.card_dict(), sort_keys=False)
    if not card.is_file() or card.read_text(encoding="utf-8") != text:
        tmp = card.with_name(card.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, card)
    return card


def _offline_hint(e: ZooEntry) -> str:
    return (
        f"run `s2sr models pull {e.name}` where the network is reachable (or set {ENV_URL} to a mirror, "
        f"or {ENV_DIR} to a folder holding {e.onnx_file}), or use a built-in model: "
        + ", ".join(f"-m {b}" for b in builtin_names())
    )


@contextmanager
def _lock(dest: Path) -> Iterator[None]:
    """An exclusive lock beside ``dest`` so two processes never grow the same ``.part``."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(dest.with_name(dest.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pull(
    name: str,
    *,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 60.0,
) -> ModelCard:
    """Make ``name`` available in the cache (download if missing or corrupt) and return its card.

    A cached file whose blob SHA-1 matches is a cache hit (no network).  Downloads go to a
    ``.part`` file, resume with HTTP Range after a dropped connection (``retries`` times, and
    on the next call), and are renamed into place only once verified; a corrupt download is
    deleted.
    """
    e = entry(name)
    dest = onnx_path(e)
    if dest.is_file():
        if git_blob_sha1(dest) == e.blob_sha1:
            log.info("model %s: cached at %s", name, dest)
            return ModelCard.from_file(_write_card(e))
        log.warning("model %s: cached file %s is corrupt; downloading it again", name, dest)
        dest.unlink()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"model cache {dest.parent} cannot be created: {exc}", hint=f"set {ENV_DIR}") from None
    url = url_of(e)
    try:
        with _lock(dest):
            if dest.is_file() and git_blob_sha1(dest) == e.blob_sha1:  # another process just pulled it
                return ModelCard.from_file(_write_card(e))
            log.info("model %s: downloading %s -> %s", name, url, dest)
            download(url, dest, expected_blob_sha1=e.blob_sha1, progress=progress, retries=retries, timeout=timeout)
    except DownloadError as exc:
        if exc.corrupt:
            raise ModelError(
                f"download of model {name} from {url} is corrupt ({exc.reason}); it was deleted",
                hint=f"check {ENV_URL} points to the right files, then pull again",
            ) from None
        raise ModelError(
            f"model {name!r} is not cached in {dest.parent} and cannot be downloaded from {url} ({exc.reason})",
            hint=_offline_hint(e),
        ) from None
    return ModelCard.from_file(_write_card(e))


def cached_card(name: str, *, download_missing: bool = True) -> ModelCard:
    """The card of zoo model ``name`` from the cache, verified; pulled first if missing."""
    e = entry(name)
    dest = onnx_path(e)
    if dest.is_file():
        sha1 = git_blob_sha1(dest)
        if sha1 == e.blob_sha1:
            return ModelCard.from_file(_write_card(e))
        raise ModelError(
            f"cached model {name} ({dest}) is corrupt: git blob SHA-1 {sha1}, expected {e.blob_sha1}",
            hint=f"run `s2sr models pull {name}` to download it again",
        )
    if not download_missing:
        raise ModelError(f"model {name!r} is not cached in {dest.parent}", hint=_offline_hint(e))
    return pull(name)
