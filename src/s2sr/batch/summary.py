"""What a batch did: done, skipped as already done, failed with reasons, throughput."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .task import DONE, FAILED, SKIPPED, Outcome


@dataclass(frozen=True)
class BatchSummary:
    outcomes: tuple[Outcome, ...]
    seconds: float  #: wall time of the whole batch
    engine: str  #: ``in-process``, ``local pool of N``, ``dask local (N workers)``, ``dask tcp://…``

    def _with(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def done(self) -> list[Outcome]:
        return self._with(DONE)

    @property
    def skipped(self) -> list[Outcome]:
        return self._with(SKIPPED)

    @property
    def failed(self) -> list[Outcome]:
        return self._with(FAILED)

    @property
    def exit_code(self) -> int:
        """0 when no product failed, else 1 (each failure's own code is in its outcome)."""
        return 1 if self.failed else 0

    @property
    def products_per_minute(self) -> float:
        return 60.0 * len(self.done) / self.seconds if self.seconds > 0 else 0.0

    @property
    def megapixels_per_second(self) -> float:
        return sum(o.megapixels for o in self.done) / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        out = [(f"batch: {len(self.outcomes)} product(s) on {self.engine} in {self.seconds:.1f} s: "
                f"{len(self.done)} done, {len(self.skipped)} skipped (already done), {len(self.failed)} failed")]
        if self.done:
            out.append(f"throughput: {self.products_per_minute:.2f} products/min, "
                       f"{self.megapixels_per_second:.3f} output Mpx/s")
        out += [f"failed: {o.source}: {o.reason}" for o in self.failed]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine, "seconds": round(self.seconds, 3), "done": len(self.done),
            "skipped": len(self.skipped), "failed": len(self.failed),
            "products_per_minute": round(self.products_per_minute, 3),
            "megapixels_per_second": round(self.megapixels_per_second, 4),
            "outcomes": [{"product": o.source, "status": o.status, "item": o.item_url, "reason": o.reason or None,
                          "exit_code": o.exit_code, "seconds": round(o.seconds, 3)} for o in self.outcomes],
        }
