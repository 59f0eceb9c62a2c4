"""Benchmark: the openEO UDF per 256×256 window vs. the standalone pipeline per tile.

Builds a SIZE×SIZE (10 m px) demo Theia product and a conv-net test model (margin 16 → 8 px of
overlap at ×2), then measures in one process:

* the UDF (the code back-ends run, executed as Jep does) on 256×256 windows (240 useful px
  + 8 px overlap per side), t = 1, 10 bands: the first call (session creation) apart, then the
  median per window;
* ONNX Runtime alone on the same window shape (what the UDF adds on top of the network);
* `s2sr.super_resolve` with tiles of the same geometry (tile_size 480 output px → 256 px read)
  and with the default tile size (1000): wall time per tile and per output megapixel.

    python benchmarks/bench_udf.py --size 720 --threads 2 --json bench_udf.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr
from openeo.udf import XarrayDataCube
from rasterio.windows import Window

import s2sr
from s2sr.bands import GROUP_10M, GROUP_20M, esa_name
from s2sr.demo import make_demo_product
from s2sr.products import BandReader, open_product
from s2sr.testing import convnet_model, write_model
from s2sr.udf import udf_code, worker

WINDOW = 256


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=720, help="product size in 10 m pixels")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=32, help="conv-net width")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    bands = tuple(GROUP_10M + GROUP_20M)

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        product = make_demo_product(d / "product", size=args.size)
        card = write_model(d / "model", "convnet", convnet_model(10, 2, layers_in=3, layers_out=1, hidden=args.hidden),
                           bands=list(bands), factor=2, margin=16)
        overlap = 8
        size = WINDOW - 2 * overlap

        # --- the UDF, window by window -------------------------------------------------------
        prod = open_product(product)
        grid = prod.group_grid("10m")
        with BandReader(prod, bands, grid) as reader:
            windows = [
                reader.read(Window(c - overlap, r - overlap, WINDOW, WINDOW))
                for r in range(0, grid.height, size)
                for c in range(0, grid.width, size)
            ]
        ns: dict[str, object] = {}
        exec(udf_code(), ns)  # noqa: S102
        apply_datacube = ns["apply_datacube"]
        context = {"model": str(card), "threads": args.threads}
        worker.clear_cache()

        def cube(data: np.ndarray) -> XarrayDataCube:
            return XarrayDataCube(xr.DataArray(data[None], dims=("t", "bands", "y", "x"),
                                               coords={"bands": [esa_name(b) for b in bands]}))

        t0 = time.perf_counter()
        apply_datacube(cube(windows[0]), context)  # type: ignore[operator]
        first = time.perf_counter() - t0
        per_window = []
        for w in windows:
            t0 = time.perf_counter()
            apply_datacube(cube(w), context)  # type: ignore[operator]
            per_window.append(time.perf_counter() - t0)
        assert worker.sessions_created() == 1

        model = s2sr.load_model(card, threads=args.threads)
        x = np.nan_to_num(windows[len(windows) // 2])[None]
        model.predict(x)
        ort = []
        for _ in range(5):
            t0 = time.perf_counter()
            model.predict(x)
            ort.append(time.perf_counter() - t0)

        # --- the standalone pipeline ---------------------------------------------------------
        runs = {}
        for label, tile_size in (("tile_256_read", 2 * size), ("tile_default_1000", 1000)):
            t0 = time.perf_counter()
            r = s2sr.super_resolve(product, d / f"out_{label}", card, tile_size=tile_size, threads=args.threads)
            wall = time.perf_counter() - t0
            runs[label] = {
                "tiles": r.tiles,
                "wall_s": round(wall, 3),
                "per_tile_s": round(wall / r.tiles, 4),
                "infer_per_tile_s": round(r.timings["infer"] / r.tiles, 4),
                "s_per_output_mpix": round(wall / ((2 * args.size) ** 2 / 1e6), 4),
            }

    udf_median = statistics.median(per_window)
    result: dict[str, object] = {
        "product_px": f"{args.size}x{args.size} at 10 m",
        "threads": args.threads,
        "udf_window_px": f"{WINDOW}x{WINDOW} (useful {size}x{size}, overlap {overlap})",
        "udf_windows": len(windows),
        "udf_first_call_s": round(first, 4),
        "udf_median_per_window_s": round(udf_median, 4),
        "udf_s_per_output_mpix": round(udf_median / ((2 * size) ** 2 / 1e6), 4),
        "onnxruntime_per_window_s": round(statistics.median(ort), 4),
        "udf_over_onnxruntime": round(udf_median / statistics.median(ort), 3),
        "pipeline": runs,
        "udf_window_over_pipeline_tile_256": round(udf_median / runs["tile_256_read"]["per_tile_s"], 3),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
