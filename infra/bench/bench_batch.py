"""Batch throughput: the same products through ``s2sr batch``'s Dask runner on a
``distributed.LocalCluster`` of 1, then 2 worker processes (each run into a fresh destination).

    python infra/bench/bench_batch.py [--products 4] [--size 600] [--model s2sr_tiny] [--workers 1 2]

Prints one JSON line per configuration (wall time, products/min, output Mpx/s). CPU-bound: on a
shared or small machine the numbers say little about a real cluster.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=4)
    ap.add_argument("--size", type=int, default=600)
    ap.add_argument("--model", default="s2sr_tiny")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()

    from s2sr.batch import RunSettings, plan_entries, run_batch, work_from_folder
    from s2sr.testing import sample_pixels, write_theia_product

    with tempfile.TemporaryDirectory(prefix="s2sr-bench-batch-") as tmp:
        folder = Path(tmp) / "products"
        b10, b20 = sample_pixels(args.size)
        for i in range(args.products):
            write_theia_product(folder, b10, b20, acquired=dt.datetime(2020, 1, 1 + i, 10, 0, 0))
        work = work_from_folder(folder)
        for n in args.workers:
            settings = RunSettings(destination=str(Path(tmp) / f"out-{n}"), model=args.model)
            summary = run_batch(plan_entries(work, settings), workers=n, dask="local")
            print(json.dumps({"workers": n, "products": len(work), "size": args.size, "model": args.model,
                              "seconds": round(summary.seconds, 2), "done": len(summary.done),
                              "failed": len(summary.failed),
                              "products_per_minute": round(summary.products_per_minute, 2),
                              "output_megapixels_per_second": round(summary.megapixels_per_second, 3)}), flush=True)


if __name__ == "__main__":
    main()
