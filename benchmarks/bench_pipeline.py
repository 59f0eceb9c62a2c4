"""Benchmark: `s2sr run` end to end vs. pure ONNX Runtime on the same tiles.

Builds a SIZE×SIZE (10 m px) demo Theia product and a conv-net test model, then measures
in one run (ratios, not absolute thresholds):

* the whole pipeline (`s2sr.super_resolve`) in a child process: wall time, peak RSS,
  and the pipeline's own read / infer / write split;
* pure ONNX Runtime: the same number of tiles of the same shape through `session.run`.

    python benchmarks/bench_pipeline.py --size 1098 --threads 2 --json bench.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from s2sr.bands import GROUP_10M, GROUP_20M
from s2sr.demo import make_demo_product
from s2sr.models import load_model
from s2sr.testing import convnet_model, write_model
from s2sr.tiling import full_roi, plan_tiles

CHILD = """
import json, resource, sys, time
import s2sr
t0 = time.perf_counter()
r = s2sr.super_resolve(sys.argv[1], sys.argv[2], sys.argv[3], tile_size=int(sys.argv[4]), threads=int(sys.argv[5]))
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "timings": r.timings, "tiles": r.tiles,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1098, help="product size in 10 m pixels")
    ap.add_argument("--tile-size", type=int, default=1000, help="tile size in output pixels")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=32, help="conv-net width")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        product = make_demo_product(d / "product", size=args.size)
        bands = list(GROUP_10M + GROUP_20M)
        card = write_model(d / "model", "convnet", convnet_model(10, 2, layers_in=3, layers_out=1, hidden=args.hidden),
                           bands=bands, factor=2, margin=16)

        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(product), str(d / "out"), str(card), str(args.tile_size), str(args.threads)],
            check=True, capture_output=True, text=True,
        )
        run = json.loads(proc.stdout.strip().splitlines()[-1])
        out_mb = sum(f.stat().st_size for f in (d / "out").iterdir()) / 1e6

        model = load_model(card, threads=args.threads)
        from s2sr.products import open_product

        grid = open_product(product).group_grid("10m")
        plan = plan_tiles(grid, full_roi(grid), factor=2, tile_size=args.tile_size, margin=16)
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 5000, size=(1, 10, *plan.read_shape)).astype(np.float32)
        model.predict(x)  # warm-up
        t0 = time.perf_counter()
        for _ in range(len(plan)):
            model.predict(x)
        ort_s = time.perf_counter() - t0

    result: dict[str, object] = {
        "product_px": f"{args.size}x{args.size} at 10 m -> {2 * args.size}x{2 * args.size} at 5 m",
        "tiles": run["tiles"],
        "tile_read_shape": list(plan.read_shape),
        "threads": args.threads,
        "pipeline_wall_s": round(run["wall_s"], 3),
        "pipeline_split_s": {k: round(v, 3) for k, v in run["timings"].items()},
        "pipeline_peak_rss_mb": round(run["peak_rss_mb"], 1),
        "pure_onnxruntime_s": round(ort_s, 3),
        "pipeline_over_onnxruntime": round(run["wall_s"] / ort_s, 3),
        "output_mb": round(out_mb, 1),
        "output_mpix_per_s": round((2 * args.size) ** 2 / 1e6 / run["wall_s"], 3),
        "bench_process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
