"""openEO: super-resolve Sentinel-2 on an openEO back-end with an s2sr model, for users of the openeo client.

Three statements for a user::

    import openeo, s2sr.openeo
    cube = s2sr.openeo.super_resolution_cube(openeo.connect("openeo.dataspace.copernicus.eu").authenticate_oidc(),
                                             model="carn.yaml", spatial_extent={...}, temporal_extent=["2023-06-01", "2023-06-30"])
    job = cube.create_job(title="s2sr", job_options=s2sr.openeo.job_options("https://…/carn.zip", "https://…/s2sr-deps.zip"))

* :mod:`.graph` — the process graph (:func:`super_resolution_cube`; ``build_graph`` and
  ``super_resolve`` are the same function);
* :mod:`.archives` — the model zip (:func:`package_model`) and the job option naming the archives
  (:func:`job_options`);
* :mod:`.deps` — the dependency archive: s2sr and onnxruntime for the back-end's Python
  (:func:`package_deps`);
* :mod:`.udp` — the graph as a user-defined process (:func:`build_udp`, :func:`write_udp`).

The UDF itself lives in :mod:`s2sr.udf`.
"""

from __future__ import annotations

from .archives import job_options, package_model
from .deps import DEFAULT_PLATFORM, DEFAULT_REQUIREMENTS, DepsArchive, package_deps
from .graph import (
    DEFAULT_COLLECTION,
    DEFAULT_RUNTIME,
    DEFAULT_WINDOW,
    NeighborhoodPlan,
    build_graph,
    model_reference,
    plan_neighborhood,
    super_resolution_cube,
    super_resolve,
    udf_context,
)
from .udp import DEFAULT_PROCESS_ID, build_udp, write_udp

__all__ = [
    "DEFAULT_COLLECTION",
    "DEFAULT_PLATFORM",
    "DEFAULT_PROCESS_ID",
    "DEFAULT_REQUIREMENTS",
    "DEFAULT_RUNTIME",
    "DEFAULT_WINDOW",
    "DepsArchive",
    "NeighborhoodPlan",
    "build_graph",
    "build_udp",
    "job_options",
    "model_reference",
    "package_deps",
    "package_model",
    "plan_neighborhood",
    "super_resolution_cube",
    "super_resolve",
    "udf_context",
    "write_udp",
]
