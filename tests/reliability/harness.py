"""What the reliability suite drives s2sr with: the real ``s2sr`` command in a subprocess, real
files, a local HTTP server that can stall or demand a password, a TCP proxy that can stall or
cut an upload, and small size-limited filesystems (tmpfs) to run out of space or inodes.

Every command the suite runs goes through :func:`run` / :func:`spawn`, which put known secret
values in the environment and record everything the command printed; the destinations it
wrote are recorded too, so the secrets sweep (``test_secrets.py``) can grep all of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2sr.testing.servers import RangeServer

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
PROG = "s2sr"

#: Secret values the suite plants (environment, URLs); none may ever appear in anything s2sr writes.
URL_USER = "reluser"
URL_PASSWORD = "url-pass-7f1e9c"
ENV_SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIARELIABILITY0000X",
    "AWS_SECRET_ACCESS_KEY": "env-secret-3b8d2a61c4",
    "AWS_SESSION_TOKEN": "env-session-token-55e0a9",
    "S2SR_TEST_PASSWORD": "env-password-d41c7b",
}
SECRETS: set[str] = {URL_PASSWORD, *ENV_SECRETS.values()}

#: Everything the suite's commands printed, and every destination they wrote (for the sweep).
TRANSCRIPTS: list[str] = []
DESTINATIONS: list[Path] = []


def add_secret(value: str) -> None:
    """Also sweep for ``value`` (e.g. the S3 server's real keys)."""
    SECRETS.add(value)


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    rc: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]

    def describe(self) -> str:
        return f"$ s2sr {' '.join(self.args)}\nrc={self.rc}\n--- stdout\n{self.out}--- stderr\n{self.err}"


def base_env(extra: dict[str, str | None] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S2SR_", "GDAL_", "CPL_"))}
    env.update(ENV_SECRETS)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # never ask a cloud metadata endpoint
    # short HTTP budgets so stalled-server cases fail in seconds (the defaults are documented in the README)
    env.setdefault("S2SR_HTTP_TIMEOUT", "3")
    env.setdefault("S2SR_HTTP_RETRIES", "1")
    env.setdefault("S2SR_HTTP_BACKOFF", "0.1")
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)  # None: unset
        else:
            env[k] = v
    return env


def _command(args: Sequence[str | Path]) -> list[str]:
    """The installed ``s2sr`` console script (PYTHONPATH puts this checkout first), else its entry point."""
    script = Path(sys.executable).parent / PROG
    if script.is_file():
        return [str(script), *map(str, args)]
    return [sys.executable, "-c", "import sys; from s2sr.cli import main; sys.exit(main())", *map(str, args)]


def _record(args: Sequence[str | Path], text: str) -> None:
    TRANSCRIPTS.append(text)
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"secret value(s) printed by s2sr {' '.join(map(str, args))}:\n{text[-3000:]}"
    argv = [str(a) for a in args]
    for flag in ("-o", "--output"):
        if flag in argv and argv.index(flag) + 1 < len(argv):
            dest = argv[argv.index(flag) + 1]
            if "://" not in dest:
                DESTINATIONS.append(Path(dest))


def run(*args: str | Path, env: dict[str, str | None] | None = None, timeout: float = 120, cwd: Path | None = None) -> Result:
    """Run ``s2sr ARGS`` to completion."""
    proc = subprocess.run(_command(args), capture_output=True, text=True, env=base_env(env), timeout=timeout, check=False,
                          cwd=cwd)
    res = Result(tuple(str(a) for a in args), proc.returncode, proc.stdout, proc.stderr)
    _record(args, res.out + res.err)
    return res


class Spawned:
    """A running ``s2sr`` command, for signals."""

    def __init__(self, args: Sequence[str | Path], env: dict[str, str | None] | None = None) -> None:
        self.args = tuple(str(a) for a in args)
        self.proc = subprocess.Popen(_command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=base_env(env))

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> Result:
        out, err = self.proc.communicate(timeout=timeout)
        res = Result(self.args, self.proc.returncode, out, err)
        _record(self.args, out + err)
        return res

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.communicate()


def spawn(*args: str | Path, env: dict[str, str | None] | None = None) -> Spawned:
    return Spawned(args, env)


def wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition", proc: Spawned | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}:\n{proc.wait().describe()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# -- assertions every case makes -------------------------------------------------------------
def assert_one_error(res: Result, code: int, *needles: str) -> str:
    """Exit ``code``, exactly one line on stderr (``s2sr: …``, no traceback) holding every needle."""
    lines = res.err_lines
    assert res.rc == code, f"expected exit {code}\n{res.describe()}"
    assert "Traceback" not in res.err, res.describe()
    assert len(lines) == 1, f"expected one error line\n{res.describe()}"
    line = lines[0]
    assert line.startswith(f"{PROG}: "), res.describe()
    assert "internal error" not in line, res.describe()
    for n in needles:
        assert n.lower() in line.lower(), f"{n!r} not in the error line\n{res.describe()}"
    return line


def visible_files(dest: Path) -> list[str]:
    """Files under ``dest`` a consumer could take for output (hidden staging excluded)."""
    if not dest.exists():
        return []
    out = []
    for p in dest.rglob("*"):
        rel = p.relative_to(dest)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts) and ".s2sr-tmp" not in p.name:
            out.append(rel.as_posix())
    return sorted(out)


def assert_nothing_published(dest: Path, collection: str = "s2sr") -> None:
    """No COG, quicklook, card or item under a final name; no collection listing an item."""
    files = visible_files(dest)
    coll = dest / collection / "collection.json"
    rest = [f for f in files if f != f"{collection}/collection.json"]
    assert not rest, f"partial output visible: {rest}"
    if coll.exists():
        doc = json.loads(coll.read_text())
        items = [lk for lk in doc.get("links", []) if lk.get("rel") == "item"]
        assert not items, f"collection lists items that do not exist: {items}"


def assert_no_staging_left(*dirs: Path) -> None:
    for d in dirs:
        left = [p for p in d.rglob("*") if p.is_file()] if d.exists() else []
        assert not left, f"staging left behind: {left}"


def item_paths(dest: Path, collection: str = "s2sr") -> list[Path]:
    root = dest / collection
    return sorted(p for p in root.glob("*/*.json")) if root.exists() else []


def assert_published(dest: Path, collection: str = "s2sr", n_items: int = 1) -> dict[str, Any]:
    """``n_items`` complete items, each listed by a valid collection, each asset present."""
    items = item_paths(dest, collection)
    assert len(items) == n_items, f"items: {items}; files: {visible_files(dest)}"
    coll = json.loads((dest / collection / "collection.json").read_text())
    listed = {lk["href"] for lk in coll["links"] if lk.get("rel") == "item"}
    for p in items:
        doc = json.loads(p.read_text())
        assert any(h.endswith(f"{doc['id']}/{doc['id']}.json") for h in listed), f"{p} not in the collection"
        for a in doc["assets"].values():
            href = a["href"]
            assert (p.parent / href).is_file(), f"asset {href} missing"  # absolute, or relative to the item
    return coll


# -- products and models -----------------------------------------------------------------------
def nonfinite_model(directory: Path, name: str, kind: str, bands: Sequence[str]) -> Path:
    """A ×2 model whose output is not finite: ``inf`` everywhere, or NaN where the input < 1000."""
    from onnx import TensorProto, helper

    from s2sr.testing import write_model

    n = len(bands)
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0])
    nodes = [helper.make_node("Resize", ["input", "", "scales"], ["up"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor")]
    inits = [scales]
    if kind == "inf":
        nodes += [helper.make_node("Sub", ["up", "up"], ["zero"]), helper.make_node("Reciprocal", ["zero"], ["output"])]
    else:
        inits.append(helper.make_tensor("t", TensorProto.FLOAT, [], [1000.0]))
        nodes += [helper.make_node("Sub", ["up", "t"], ["d"]), helper.make_node("Sqrt", ["d"], ["output"])]
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["b", n, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["b", n, "H", "W"])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return write_model(directory, name, model.SerializeToString(), bands=list(bands), factor=2, margin=0)


def failing_model(directory: Path, bands: Sequence[str]) -> Path:
    """A model that loads and passes the 32-pixel probe but fails at run time on larger tiles
    (a Reshape to the probe's fixed size)."""
    from onnx import TensorProto, helper

    from s2sr.testing import write_model

    n = len(bands)
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0])
    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [1, n, 64, 64])
    nodes = [helper.make_node("Resize", ["input", "", "scales"], ["up"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
             helper.make_node("Reshape", ["up", "shape"], ["output"])]
    graph = helper.make_graph(
        nodes, "fails_at_run_time", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["b", n, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["b", n, "H", "W"])], initializer=[scales, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return write_model(directory, "fails_at_run_time", model.SerializeToString(), bands=list(bands), factor=2, margin=0)


def stac_item_for(product_dir: Path, item_id: str, href_of: Any) -> dict[str, Any]:
    """A STAC item (Earth Search v0 style: asset keys B02 …) whose band hrefs are ``href_of(file)``."""
    from s2sr.bands import BANDS

    assets: dict[str, Any] = {}
    for f in sorted(product_dir.glob("*_FRE_B*.tif")):
        band = f.stem.rsplit("_", 1)[-1]
        info = BANDS[band]
        key = f"B{int(band[1:].rstrip('A')):02d}" + ("A" if band.endswith("A") else "")
        assets[key] = {"href": href_of(f), "type": "image/tiff; application=geotiff",
                       "eo:bands": [{"name": key, "common_name": info.common_name,
                                     "center_wavelength": info.center_wavelength}],
                       "raster:bands": [{"nodata": -10000, "scale": 1.0, "offset": 0}],
                       "roles": ["data"]}
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": item_id,
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.0.0/schema.json"],
        "bbox": [12.0, 55.0, 12.1, 55.1],
        "geometry": {"type": "Polygon", "coordinates": [[[12.0, 55.0], [12.1, 55.0], [12.1, 55.1], [12.0, 55.1],
                                                          [12.0, 55.0]]]},
        "properties": {"datetime": "2017-05-27T10:21:13Z", "platform": "sentinel-2a",
                       "s2:product_type": "S2MSI2A", "s2:mgrs_tile": "33UUB",
                       "s2:processing_baseline": "04.00"},
        "links": [], "assets": assets,
    }


# -- HTTP server: s2sr.testing's RangeServer (Range requests, optional Basic auth, stalls) -------------
@contextlib.contextmanager
def http_server(root: Path, *, auth: str | None = None) -> Iterator[RangeServer]:
    with RangeServer(root, auth=auth) as srv:
        yield srv


# -- a TCP proxy that stalls uploads -------------------------------------------------------------
class StallProxy:
    """Forwards 127.0.0.1:port → target; after :meth:`stall_after` bytes from clients, stops
    forwarding (connections hang open) until :meth:`heal`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.port = self._srv.getsockname()[1]
        self._budget: int | None = None
        self._pattern: bytes | None = None
        self._healed = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self.stalled = threading.Event()
        self.bytes_up = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stall_after(self, nbytes: int) -> None:
        with self._lock:
            self._budget = nbytes
            self._healed.clear()
            self.stalled.clear()

    def stall_on(self, pattern: bytes) -> None:
        """Stop forwarding from the first client chunk holding ``pattern`` (e.g. ``b"PUT /b/key"``)."""
        with self._lock:
            self._pattern = pattern
            self._healed.clear()
            self.stalled.clear()

    def heal(self) -> None:
        with self._lock:
            self._budget = None
            self._pattern = None
        self._healed.set()

    def close(self) -> None:
        self._closed = True
        self.heal()
        with contextlib.suppress(OSError):
            self._srv.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._srv.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, client_side: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if client_side:
                    with self._lock:
                        self.bytes_up += len(data)
                        stall = False
                        if self._budget is not None:
                            self._budget -= len(data)
                            stall = self._budget <= 0
                        if self._pattern is not None and self._pattern in data:
                            stall = True
                    if stall:
                        self.stalled.set()
                        self._healed.wait()
                        if self._closed:
                            break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()


# -- size-limited filesystems ---------------------------------------------------------------------
def can_mount() -> str | None:
    """None if this process may mount a tmpfs, else why not."""
    if os.geteuid() != 0:
        return "mounting a size-limited tmpfs needs root"
    return None


@contextlib.contextmanager
def tmpfs(path: Path, *, size: str = "1m", inodes: int | None = None) -> Iterator[Path]:
    """A small tmpfs at ``path`` (``size`` bytes, optionally ``inodes`` inodes), unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        import pytest

        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}): no size-limited filesystem")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def signal_name(code: int) -> str:
    return {130: "SIGINT", 143: "SIGTERM"}.get(code, str(code))

