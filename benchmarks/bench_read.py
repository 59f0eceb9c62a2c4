"""Benchmark: read throughput of one product from local files vs. over HTTP (Range requests).

Reads the real Earth Search item in ``shared/data/earthsearch_l2a_T29RKH_100m`` (10 bands: four
1098×1098 COGs at 100 m, six 549×549 at 200 m brought to the 100 m grid with GDAL cubic) through
:class:`s2sr.products.BandReader`, window by window as the pipeline does, once from local files
and once from a local Range-capable HTTP server (127.0.0.1), and reports MB/s of file bytes
fetched and of float32 pixels delivered.

    PYTHONPATH=src python benchmarks/bench_read.py [--window 512] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rasterio.windows import Window

from s2sr.products import BandReader, open_product
from s2sr.testing import ES_ITEM, RangeServer, rewrite_item, shared_es_files

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared"
BANDS = ["B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12"]


def read_all(item: Path | str, window: int) -> tuple[float, int]:
    prod = open_product(str(item))
    grid = prod.group_grid("10m")
    t0 = time.perf_counter()
    n = 0
    with BandReader(prod, BANDS, grid) as r:
        for row in range(0, grid.height, window):
            for col in range(0, grid.width, window):
                n += r.read(Window(col, row, min(window, grid.width - col), min(window, grid.height - row))).nbytes
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    data = SHARED / "data" / "earthsearch_l2a_T29RKH_100m"
    real = json.loads((SHARED / "data" / ES_ITEM).read_text())
    files = shared_es_files(SHARED)
    file_bytes = sum(files[k].stat().st_size for k in files if k not in {"coastal", "nir09", "scl"})
    tmp = Path(tempfile.mkdtemp())
    (tmp / "local.json").write_text(json.dumps(rewrite_item(real, files)))
    res: dict[str, dict[str, float]] = {}
    fetched = 0
    with RangeServer(data) as srv:
        (tmp / "http.json").write_text(json.dumps(rewrite_item(real, files, base_href=srv.url)))
        for name in ("http", "local"):
            best = None
            for _ in range(args.repeat):
                srv.reset_stats()
                dt, nbytes = read_all(tmp / f"{name}.json", args.window)
                best = dt if best is None or dt < best else best
                if name == "http":
                    fetched = srv.stats["bytes"]
                    requests = srv.stats["requests"]
            # MB/s of compressed file bytes the read needs (what HTTP fetched; local files read the same
            # blocks), and of float32 pixels delivered on the 100 m grid
            res[name] = {"seconds": round(best, 3), "needed_file_MB": round(fetched / 1e6, 2),
                         "file_MB_per_s": round(fetched / 1e6 / best, 1),
                         "pixels_MB_per_s": round(nbytes / 1e6 / best, 1),
                         "http_requests": requests if name == "http" else 0}
    res["files_on_disk_MB"] = {"total": round(file_bytes / 1e6, 2)}
    res["http_vs_local"] = {"time_ratio": round(res["http"]["seconds"] / res["local"]["seconds"], 2)}
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
