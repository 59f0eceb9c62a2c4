"""The work list as JSON, for engines that fan out themselves (Argo ``withParam``, a Kubernetes
indexed Job, GNU parallel …), and back (``s2sr batch --from-plan``).

One entry per product::

    {"name": "SENTINEL2A_…", "product": "/data/x.zip", "args": ["run", "/data/x.zip", "-o", "s3://…", …],
     "settings": {"destination": "s3://…", "model": null, …}}

``args`` are the exact ``s2sr run`` arguments (after the program name, i.e. the container's
arguments); ``settings`` the same options as a value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from .settings import RunSettings
from .worklist import WorkItem, work_from_sources


@dataclass(frozen=True)
class PlanEntry:
    item: WorkItem
    settings: RunSettings

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.item.name, "product": self.item.source, "args": self.settings.run_args(self.item.source),
                "settings": self.settings.to_dict()}


def plan_entries(work: Sequence[WorkItem], settings: RunSettings) -> list[PlanEntry]:
    return [PlanEntry(it, settings) for it in work]


def plan_json(entries: Sequence[PlanEntry]) -> str:
    """The plan as a JSON list (what ``s2sr batch --plan`` prints)."""
    return json.dumps([e.to_dict() for e in entries], indent=1)


def read_plan(path: str | Path) -> list[PlanEntry]:
    """A plan written by :func:`plan_json`; anything else is one clear error."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the plan {p}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UserError(f"the plan {p} is not JSON ({exc})",
                         hint="write it with: s2sr batch … --plan > plan.json") from None
    if not isinstance(data, list):
        raise UserError(f"the plan {p} is not a JSON list of products",
                         hint="write it with: s2sr batch … --plan > plan.json")
    pairs, settings = [], []
    for i, entry in enumerate(data):
        where = f"{p} entry {i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("product"), str):
            raise UserError(f"{where}: expected an object with a 'product' string",
                             hint="write the plan with: s2sr batch … --plan > plan.json")
        pairs.append((entry["product"], where))
        settings.append(RunSettings.from_dict(entry.get("settings"), where=where))
    work = work_from_sources(pairs)
    return [PlanEntry(it, s) for it, s in zip(work, settings, strict=True)]
