"""A real STAC API for tests: stac-fastapi-pgstac on a throw-away Debian PostgreSQL 15 + PostGIS
cluster (pypgstac migrates and loads), as RECIPES.md describes.  Skips the test (fails it in CI)
when PostgreSQL/PostGIS cannot be had."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PgStacApi", "ensure_postgis"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"STAC API server unavailable in CI: {reason}")
    pytest.skip(reason)


def ensure_postgis() -> None:
    """PostgreSQL 15 + PostGIS: install postgresql-15-postgis-3 with apt-get when missing and root."""
    if not (PG_BIN / "initdb").exists():
        _unavailable("PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin)")
    if POSTGIS_CONTROL.exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        _unavailable("PostGIS is missing and apt-get cannot run here (need root)")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql-15-postgis-3"]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if r.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True)
        r = subprocess.run(cmd, capture_output=True, text=True,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if r.returncode != 0 or not POSTGIS_CONTROL.exists():
        _unavailable(f"installing postgresql-15-postgis-3 failed: {r.stderr.strip()[-300:]}")


class PgStacApi:
    """A real STAC API (stac-fastapi-pgstac) on a throw-away PostgreSQL cluster; a context manager."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="s2sr-pgstac-"))
        self.pg_port = _free_port()
        self.api_port = _free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self._api: subprocess.Popen[bytes] | None = None
        self._pg_started = False
        self.env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.pg_port), "PGUSER": "postgres",
                    "PGPASSWORD": "unused", "PGDATABASE": "postgres"}

    def _run(self, *cmd: str, as_postgres: bool = False, env: dict[str, str] | None = None) -> None:
        root = os.geteuid() == 0  # PostgreSQL refuses to run as root: run it as postgres then
        full = ["runuser", "-u", "postgres", "--", *cmd] if as_postgres and root else list(cmd)
        r = subprocess.run(full, capture_output=True, text=True, env=env or self.env, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:3])} failed: {(r.stderr or r.stdout).strip()[-800:]}")

    def __enter__(self) -> PgStacApi:
        ensure_postgis()
        try:
            if os.geteuid() == 0:
                shutil.chown(self.dir, "postgres", "postgres")
            self._run(str(PG_BIN / "initdb"), "-D", f"{self.dir}/data", "-U", "postgres", "--auth=trust",
                      as_postgres=True)
            self._run(str(PG_BIN / "pg_ctl"), "-D", f"{self.dir}/data", "-l", f"{self.dir}/pg.log", "-w", "-o",
                      f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {self.dir} -c fsync=off "
                      "-c full_page_writes=off -c synchronous_commit=off", "start", as_postgres=True)
            self._pg_started = True
            self._pypgstac("migrate")
            api_env = {**self.env, "ENABLE_TRANSACTIONS_EXTENSIONS": "false"}
            self._api = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.api_port), "--log-level", "warning"],
                env=api_env, stdout=subprocess.DEVNULL, stderr=open(self.dir / "api.log", "wb"),
            )
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError):
                    with urllib.request.urlopen(f"{self.url}/_mgmt/ping", timeout=2) as r:
                        if r.status == 200:
                            break
                if self._api.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("stac-fastapi did not start: " + (self.dir / "api.log").read_text()[-800:])
                time.sleep(0.2)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _pypgstac(self, *args: str) -> None:
        exe = Path(sys.executable).parent / "pypgstac"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pypgstac.pypgstac"]
        self._run(*cmd, *args)

    def load(self, collection: Mapping[str, Any], items: list[Mapping[str, Any]]) -> None:
        cfile = self.dir / f"collection-{collection['id']}.json"
        cfile.write_text(json.dumps(collection))
        ifile = self.dir / f"items-{collection['id']}.ndjson"
        ifile.write_text("\n".join(json.dumps(it) for it in items) + "\n")
        self._pypgstac("load", "collections", str(cfile), "--method", "upsert")
        self._pypgstac("load", "items", str(ifile), "--method", "upsert")

    def __exit__(self, *exc: object) -> None:
        if self._api is not None:
            self._api.terminate()
            try:
                self._api.wait(10)
            except subprocess.TimeoutExpired:
                self._api.kill()
        if self._pg_started:
            with contextlib.suppress(Exception):
                self._run(str(PG_BIN / "pg_ctl"), "-D", f"{self.dir}/data", "-m", "immediate", "-w", "stop",
                          as_postgres=True)
        shutil.rmtree(self.dir, ignore_errors=True)
