"""The graph as a user-defined process (UDP): how openEO users share an algorithm.

``s2sr openeo udp -o s2sr.json`` (:func:`write_udp`) writes a process definition (the
``GET /process_graphs/{id}`` document of the openEO API: id, parameters, returns, process graph)
for a model.  Users load it with the openeo client::

    cube = connection.datacube_from_json("s2sr.json", parameters={"spatial_extent": {...}, "temporal_extent": [...]})
    cube = connection.datacube_from_process("s2sr", namespace="https://…/s2sr.json", spatial_extent={...}, temporal_extent=[...])

The second form, the one ESA's APEx algorithm catalogue uses, leaves the definition at its URL:
the back-end fetches it (openeo-python-driver ``processgraph/definitions.py``
``get_process_definition_from_url``: a JSON object with ``id`` equal to the process id and a
``process_graph``), fills in the parameters' defaults and evaluates it (``processgraph/evaluator.py``
``_evaluate_process_graph_process``), and takes the job options from the definition's
``default_job_options`` (``extract_default_job_options_from_process_graph``): with
``model_archive``/``deps_archive`` given, the archives travel with the process.

The UDF's context is ``apply_neighborhood``'s ``context`` (``{"from_parameter": "context"}``
in ``run_udf``), whose values refer to the UDP's parameters (``{"from_parameter": "model"}``):
references in the parent graph are what the client's ``datacube_from_json`` fills in (with the
parameters' defaults), and what the back-end resolves against the process's arguments; the
geopyspark back-end then hands ``apply_neighborhood``'s context to the UDF
(``geopysparkdatacube.py`` ``_extract_udf_code_and_context``).  The graph is the one
:func:`s2sr.openeo.super_resolution_cube` builds for the model, without ``save_result`` so that
users chain their own; ``model`` may name another model with the same bands, factor and margin.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..models import ModelCard, resolve_card
from ..udf import DEFAULT_THREADS, MODEL_FOLDER
from .archives import job_options
from .graph import DEFAULT_COLLECTION, DEFAULT_WINDOW, model_reference, plan_neighborhood, super_resolution_cube

DEFAULT_PROCESS_ID = "s2sr"


def build_udp(
    model: str | Path | ModelCard | None = None,
    *,
    process_id: str = DEFAULT_PROCESS_ID,
    collection: str = DEFAULT_COLLECTION,
    window: int = DEFAULT_WINDOW,
    model_folder: str = MODEL_FOLDER,
    model_archive: str | None = None,
    deps_archive: str | None = None,
) -> dict[str, Any]:
    """The process definition (a JSON object) super-resolving ``collection`` with ``model``."""
    from openeo.api.process import Parameter
    from openeo.rest.udp import build_process_dict

    if not process_id.replace("_", "").isalnum() or not process_id[0].isalpha():
        raise InputError(
            f"process id {process_id!r} is not valid: letters, digits and underscores, starting with a letter"
        )
    card = resolve_card(model)
    plan = plan_neighborhood(card, window)
    default_model = model_reference(card, model, model_folder)
    metres = (10 if card.source_group == "10m" else 20) / card.factor
    parameters: list[Parameter | dict[str, Any]] = [
        Parameter.bounding_box("spatial_extent", description="The area to super-resolve (west, south, east, north; crs: an EPSG code, default 4326)."),
        Parameter.temporal_interval("temporal_extent", description="The dates to super-resolve: [start, end), end exclusive."),
        {
            "name": "model",
            "description": (
                f"The model, as the UDF finds it: a built-in name or a card in the model archive "
                f"('{model_folder}/<card>.yaml', from `s2sr openeo package-model`). It must have the bands, "
                f"factor and margin of {card.name} ({', '.join(card.bands)}; ×{card.factor}; margin {card.margin})."
            ),
            "schema": {"type": "string", "minLength": 1},
            "optional": True,
            "default": default_model,
        },
        {
            "name": "threads",
            "description": "ONNX Runtime threads per UDF call: at most the job option 'task-cpus' (default 1).",
            "schema": {"type": "integer", "minimum": 1},
            "optional": True,
            "default": DEFAULT_THREADS,
        },
        {
            "name": "nodata",
            "description": (
                "A value the UDF treats as nodata besides NaN. Leave it null for the back-ends' Sentinel-2 "
                "collections (harmonised values, NaN nodata: 0 and negative values are valid)."
            ),
            "schema": {"type": ["number", "null"]},
            "optional": True,
            "default": None,
        },
    ]
    context = {name: {"from_parameter": name} for name in ("model", "threads", "nodata")}
    cube = super_resolution_cube(
        None,
        card,
        spatial_extent=Parameter.bounding_box("spatial_extent"),
        temporal_extent=Parameter.temporal_interval("temporal_extent"),
        collection=collection,
        window=plan.window,
        format=None,
        context=context,
    )
    description = (
        f"Super-resolves Sentinel-2 ({collection}) to {metres:g} m with the s2sr model {card.name}: "
        f"its bands ({', '.join(card.bands)}) loaded, the 20 m ones cubic-resampled onto the 10 m grid, "
        f"and the s2sr UDF run in apply_neighborhood (runtime Python-Jep) on windows of {plan.window} px "
        f"with {plan.overlap} px of overlap.\n\n"
        "The batch job needs the job option 'udf-dependency-archives': "
        "['<URL of s2sr-deps.zip>#tmp/s2sr_deps'] (from `s2sr openeo package-deps`), plus "
        f"'<URL of the model zip>#{model_folder}' (from `s2sr openeo package-model`) unless the model is "
        "built into s2sr. The result is float32, reflectance × 10000, NaN where the input is nodata."
    )
    opts = job_options(model_archive, deps_archive, model_folder=model_folder)
    return build_process_dict(
        process_graph=cube,
        process_id=process_id,
        summary=f"Sentinel-2 super-resolution to {metres:g} m (s2sr, model {card.name})",
        description=description,
        parameters=parameters,
        returns={"description": "The super-resolved data cube.", "schema": {"type": "object", "subtype": "datacube"}},
        categories=["cubes", "import", "udf"],
        default_job_options=opts or None,
    )


def write_udp(output: str | Path, model: str | Path | ModelCard | None = None, **kwargs: Any) -> Path:
    """Write :func:`build_udp`'s definition to ``output`` (JSON); nothing is written on error."""
    out = Path(output)
    if out.suffix.lower() != ".json":
        raise InputError(f"output {out} is not a .json file", hint="name it s2sr.json")
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} of the output file does not exist")
    text = json.dumps(build_udp(model, **kwargs), indent=2) + "\n"
    tmp = out.with_name(f".{out.name}.part")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


__all__ = ["DEFAULT_PROCESS_ID", "build_udp", "write_udp"]
