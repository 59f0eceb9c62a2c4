"""A model mirror on 127.0.0.1 for zoo tests: serves files with HTTP Range, can drop or corrupt."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml


def blob_sha1(data: bytes) -> str:
    """git's blob SHA-1, computed independently of s2sr."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Mirror:
    """Files by name, and how the server misbehaves."""

    files: dict[str, bytes] = field(default_factory=dict)
    drop_after: int | None = None  #: send only this many body bytes, then drop the connection …
    drops_left: int = 0  #: … for this many responses
    corrupt: bool = False  #: flip one byte of every body
    ignore_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)  #: (path, Range header)
    url: str = ""


def _handler(mirror: Mirror) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            mirror.requests.append((self.path, rng))
            name = self.path.rsplit("/", 1)[-1]
            data = mirror.files.get(name)
            if data is None or not self.path.startswith("/models/"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if mirror.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = 0
            if rng and not mirror.ignore_range and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if mirror.drop_after is not None and mirror.drops_left > 0:
                mirror.drops_left -= 1
                self.wfile.write(body[: mirror.drop_after])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@contextmanager
def serve(mirror: Mirror) -> Iterator[Mirror]:
    """Run ``mirror`` on 127.0.0.1 (a free port) for the ``with`` block; ``mirror.url`` is its base."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(mirror))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}/models"
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def write_registry(path: Path, entries: dict[str, dict[str, object]]) -> Path:
    """Write a zoo registry (YAML: name → entry) to ``path``."""
    path.write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    return path
