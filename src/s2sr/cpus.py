"""How many CPU cores this process may use: the default thread count of a run.

``os.cpu_count()`` is the machine's count; a process may be pinned to fewer cores
(``taskset``, Kubernetes' static CPU manager: ``os.sched_getaffinity``) or throttled to a
CPU quota by its cgroup (a container's ``--cpus``: cgroup v2 ``cpu.max``, v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``).  Threads beyond that only compete.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def affinity_cpus() -> int:
    """Cores this process may be scheduled on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def quota_cpus(root: Path = CGROUP_ROOT) -> float | None:
    """The cgroup CPU quota in cores (e.g. 1.5), or None when there is none.

    Reads cgroup v2 ``cpu.max`` (``"max 100000"`` or ``"150000 100000"``) of the process's own
    cgroup (from ``/proc/self/cgroup``) or of the root, then cgroup v1's ``cpu/cpu.cfs_quota_us``.
    """
    candidates = []
    own = _read(Path("/proc/self/cgroup")) if root == CGROUP_ROOT else None
    for line in (own or "").splitlines():
        if line.startswith("0::"):
            candidates.append(root / line[3:].lstrip("/") / "cpu.max")
    candidates.append(root / "cpu.max")
    for path in candidates:
        text = _read(path)
        if text:
            parts = text.split()
            if len(parts) == 2 and parts[0] != "max":
                try:
                    return int(parts[0]) / int(parts[1])
                except (ValueError, ZeroDivisionError):
                    pass
            return None
    quota, period = _read(root / "cpu" / "cpu.cfs_quota_us"), _read(root / "cpu" / "cpu.cfs_period_us")
    try:
        q, p = int(quota or "-1"), int(period or "0")
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def available_cpus(root: Path = CGROUP_ROOT) -> int:
    """Cores this process can use: its CPU affinity, capped by its cgroup quota (rounded up)."""
    n = affinity_cpus()
    quota = quota_cpus(root)
    if quota is not None:
        n = min(n, max(1, math.ceil(quota - 1e-9)))
    return n
