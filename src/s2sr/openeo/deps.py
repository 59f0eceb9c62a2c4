"""The dependency archive: s2sr and what the UDF imports that the back-end lacks, for its Python.

``s2sr openeo package-deps -o s2sr-deps.zip`` (:func:`package_deps`) writes one zip, unpacked
by the back-end into ``tmp/s2sr_deps`` (job option ``udf-dependency-archives``) and appended
to ``sys.path`` by the UDF:

* s2sr itself (its modules and built-in models, as a wheel holds them);
* the UDF path's imports the back-end does not declare (openeo-geopyspark-driver ``setup.py``
  pins numpy ≥ 2.3.3, scipy ≥ 1.8, xarray, pandas, and protobuf ~3.9): **onnxruntime** and
  **PyYAML** (model cards).  onnxruntime's wheel metadata asks for protobuf, flatbuffers,
  packaging and (older releases) sympy/coloredlogs, but ``import onnxruntime`` and a session
  import none of them, so they stay out: a protobuf on ``sys.path`` would shadow the
  back-end's own.  Each is one pinned wheel for the back-end's Python (cp311) and platform
  (``manylinux_2_28_x86_64``; onnxruntime ≥ 1.18 has no manylinux2014 wheels, and the last one
  that has, 1.16.3, is built against NumPy 1.x and crashes under NumPy 2), fetched with
  ``pip download --only-binary=:all: --no-deps``.

The archive is reproducible: entries sorted, every timestamp 1980-01-01, fixed permissions,
so the same pins give the same bytes (and the same SHA-256).  ``s2sr-deps.json`` at its root
records what it was built for; the UDF refuses an archive built for another Python.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, ProcessingError, RemoteError
from ..hashing import file_sha256
from ..udf import PYTHON_VERSION
from .archives import write_zip

#: The back-end's platform: CDSE's and VITO's UDF images are glibc ≥ 2.28 x86_64.
DEFAULT_PLATFORM = "manylinux_2_28_x86_64"
#: Pinned, so that the archive is reproducible; onnxruntime ≥ 1.18 is built against NumPy 2.
DEFAULT_REQUIREMENTS: tuple[str, ...] = ("onnxruntime==1.32.0", "PyYAML==6.0.4")
#: The manifest at the archive's root.
MANIFEST = "s2sr-deps.json"
#: What the UDF must not bring: the back-end's own (shadowing them breaks the back-end).
FORBIDDEN = ("numpy", "scipy", "xarray", "pandas", "openeo", "protobuf", "google", "flatbuffers", "jep")

_PACKAGE_DATA = ("py.typed", "models/builtin/*.onnx", "models/builtin/*.yaml")


@dataclass(frozen=True)
class DepsArchive:
    """A written dependency archive."""

    path: Path
    sha256: str
    wheels: tuple[str, ...]  #: the wheel files unpacked into it
    packages: tuple[str, ...] = field(default=())  #: its top-level import names


def package_deps(
    output: str | Path,
    *,
    python_version: str = PYTHON_VERSION,
    platform: str = DEFAULT_PLATFORM,
    requirements: Sequence[str] = DEFAULT_REQUIREMENTS,
    find_links: str | Path | None = None,
    no_index: bool = False,
) -> DepsArchive:
    """Write the dependency archive to ``output`` (a .zip): s2sr plus ``requirements``' wheels.

    ``find_links``/``no_index``: where pip looks for the wheels (a folder of wheels, offline).
    """
    out = Path(output)
    if out.suffix.lower() != ".zip":
        raise InputError(f"output {out} is not a .zip file", hint="name the archive s2sr-deps.zip")
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} of the output archive does not exist")
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        raise InputError(f"python version {python_version!r} is not of the form 3.N", hint=f"e.g. {PYTHON_VERSION}")
    bad = [r for r in requirements if _project(r) in FORBIDDEN]
    if bad:
        raise InputError(
            f"requirement(s) {', '.join(bad)} would shadow the back-end's own packages",
            hint="the back-end provides numpy, scipy, xarray, pandas, openeo and protobuf",
        )
    with tempfile.TemporaryDirectory(prefix="s2sr-deps-") as tmp:
        wheels = download_wheels(
            requirements, Path(tmp), python_version=python_version, platform=platform,
            find_links=find_links, no_index=no_index,
        )
        entries = _package_entries()
        for wheel in wheels:
            _merge(entries, _wheel_entries(wheel), wheel.name)
        manifest = {
            "python": python_version,
            "platform": platform,
            "requirements": list(requirements),
            "wheels": [w.name for w in wheels],
            "s2sr": _s2sr_version(),
        }
        _merge(entries, {MANIFEST: ((json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode(), 0o644)}, MANIFEST)
        write_zip(out, entries)
        names = tuple(w.name for w in wheels)
    packages = tuple(sorted({n.split("/", 1)[0] for n in entries if "/" in n and ".dist-info/" not in n}))
    return DepsArchive(path=out, sha256=file_sha256(out), wheels=names, packages=packages)


def download_wheels(
    requirements: Iterable[str],
    dest: Path,
    *,
    python_version: str = PYTHON_VERSION,
    platform: str = DEFAULT_PLATFORM,
    find_links: str | Path | None = None,
    no_index: bool = False,
) -> list[Path]:
    """``pip download`` one binary wheel per requirement, for ``python_version`` on ``platform``."""
    reqs = list(requirements)
    abi = "cp" + python_version.replace(".", "")
    cmd = [
        sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
        "--only-binary=:all:", "--no-deps", "--platform", platform, "--python-version", python_version,
        "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none", "-d", str(dest),
    ]
    if find_links is not None:
        cmd += ["--find-links", str(find_links)]
    if no_index:
        cmd.append("--no-index")
    res = subprocess.run([*cmd, *reqs], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        lines = [ln for ln in (res.stderr or res.stdout).splitlines() if ln.strip()]
        raise RemoteError(
            f"pip could not download {', '.join(reqs)} for Python {python_version} on {platform}: "
            f"{lines[-1] if lines else 'exit ' + str(res.returncode)}",
            hint="check the network or the package index (pip's own settings apply), or pass --find-links DIR",
        )
    wheels = sorted(dest.glob("*.whl"))
    for req in reqs:
        found = [w for w in wheels if _norm(w.name.split("-", 1)[0]) == _norm(_project(req))]
        if len(found) != 1:
            raise ProcessingError(f"pip download gave {len(found)} wheel(s) for {req}, expected one")
    return wheels


def _project(requirement: str) -> str:
    return _norm(re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0])


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _s2sr_version() -> str:
    from .. import __version__

    return str(__version__)


def _package_entries() -> dict[str, tuple[bytes, int]]:
    """s2sr's files as a wheel holds them: its modules and package data, no caches."""
    root = Path(__file__).resolve().parents[1]
    entries: dict[str, tuple[bytes, int]] = {}
    files = set(root.rglob("*.py"))
    for pattern in _PACKAGE_DATA:
        files |= set(root.glob(pattern))
    for f in sorted(files):
        if "__pycache__" in f.parts or not f.is_file():
            continue
        entries[f"s2sr/{f.relative_to(root).as_posix()}"] = (f.read_bytes(), 0o644)
    return entries


def _wheel_entries(wheel: Path) -> dict[str, tuple[bytes, int]]:
    """A wheel's files as ``pip install --target`` lays them out (``.data/purelib|platlib`` at the root)."""
    entries: dict[str, tuple[bytes, int]] = {}
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = info.filename
            head, _, rest = name.partition("/")
            if head.endswith(".data"):
                kind, _, inner = rest.partition("/")
                if kind not in ("purelib", "platlib") or not inner:
                    continue  # scripts, headers, data: not importable, not needed
                name = inner
            mode = 0o755 if (info.external_attr >> 16) & 0o111 else 0o644
            entries[name] = (zf.read(info), mode)
    return entries


def _merge(entries: dict[str, tuple[bytes, int]], new: dict[str, tuple[bytes, int]], source: str) -> None:
    clash = sorted(set(entries) & set(new))
    if clash:
        raise ProcessingError(f"{source} would overwrite {clash[0]} in the dependency archive")
    entries.update(new)


__all__ = ["DEFAULT_PLATFORM", "DEFAULT_REQUIREMENTS", "MANIFEST", "DepsArchive", "download_wheels", "package_deps"]
