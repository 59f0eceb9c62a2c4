"""One product of a batch: one call of the library's publish function; a failure is a value.

:func:`process` is what every runner executes (in this process, in a pool worker, as a Dask
task): it never raises for a product's own failure (bad product, unreadable band, refused
output…); it returns an :class:`Outcome` saying what happened and why. The model is loaded once
per worker process.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from ..errors import S2SRError
from .settings import RunSettings

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class Outcome:
    """What happened to one product."""

    source: str
    status: str  #: ``done``, ``skipped`` (already done) or ``failed``
    item_url: str | None = None
    reason: str = ""  #: the error line, for ``failed``
    exit_code: int = 0  #: what ``s2sr run`` would have exited with (2 bad input, 1 other)
    seconds: float = 0.0
    megapixels: float = 0.0  #: output pixels written (0 when skipped or failed)


@functools.lru_cache(maxsize=4)
def _model(name: str | None, threads: int | None, gpu: bool):  # type: ignore[no-untyped-def]
    from ..plan import RunOptions, open_run_model

    return open_run_model(name, RunOptions(threads=threads, gpu=gpu))


def process(source: str, settings: RunSettings) -> Outcome:
    """Publish ``source`` with ``settings`` (as ``s2sr run`` does); never raises for the product's
    own failure. Idempotent: a product already published the same way comes back ``skipped``."""
    t0 = time.perf_counter()
    try:
        from ..plan import plan_run
        from ..publisher import publish

        options = settings.run_options()
        plan = plan_run(source, _model(settings.model, options.threads, options.gpu), options)
        pub = publish(plan, settings.destination, collection=settings.collection, overwrite=settings.overwrite,
                      s3_endpoint=settings.s3_endpoint, create_bucket=settings.create_bucket)
        if settings.stac_catalog:
            from ..outputs.catalog import add_to_catalog
            from ..outputs.store import Store

            add_to_catalog(Store(settings.destination, s3_endpoint=settings.s3_endpoint), [pub.item_url])
    except S2SRError as exc:
        return Outcome(source, FAILED, reason=str(exc), exit_code=exc.exit_code, seconds=time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - one product's failure must not stop the others
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return Outcome(source, FAILED, reason=f"internal error: {type(exc).__name__}: {text}", exit_code=1,
                       seconds=time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    if pub.skipped:
        return Outcome(source, SKIPPED, item_url=pub.item_url, seconds=seconds)
    g = plan.output_grid
    return Outcome(source, DONE, item_url=pub.item_url, seconds=seconds, megapixels=g.width * g.height / 1e6)
