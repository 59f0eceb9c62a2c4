"""A TCP proxy on 127.0.0.1 that can cut every connection mid-transfer (a server going down),
put in front of the SeaweedFS S3 server (:class:`s2sr.testing.SeaweedS3`) by the S3 output tests."""

from __future__ import annotations

import contextlib
import socket
import threading

__all__ = ["FaultProxy"]


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
