"""``s2sr batch``: many products, one command, on existing engines (never a scheduler of our own).

- :mod:`.worklist`: the products — a STAC API search, a file of paths/URLs, a folder of products;
- :mod:`.settings`: what every product is run with, and the exact ``s2sr run`` arguments for it;
- :mod:`.plan`: the work list as JSON for external engines (Argo ``withParam`` …), and back;
- :mod:`.task`: one product → one call of the library's publish function (failures are values);
- :mod:`.runners`: in this process, a bounded local process pool, or a Dask distributed cluster;
- :mod:`.summary`: done / skipped / failed with reasons / throughput.
"""

from __future__ import annotations

from .plan import PlanEntry, plan_entries, plan_json, read_plan
from .runners import run_batch
from .settings import RunSettings
from .summary import BatchSummary
from .task import Outcome, process
from .worklist import WorkItem, work_from_file, work_from_folder, work_from_search

__all__ = [
    "BatchSummary", "Outcome", "PlanEntry", "RunSettings", "WorkItem", "plan_entries", "plan_json", "process",
    "read_plan", "run_batch", "work_from_file", "work_from_folder", "work_from_search",
]
