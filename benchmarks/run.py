"""The performance benchmark: one command, its own inputs, one JSON of figures from one run.

    python benchmarks/run.py [--size 1098] [--threads N] [--json benchmark.json]

(s2sr installed, or ``PYTHONPATH=src`` in a checkout; the children import the same s2sr.)

Builds a SIZE² (10 m px) Theia L2A product (real pixels when ``shared/data/real_pixels`` is
found, else generated texture) and a CARN-sized conv net (381 k parameters, 10 bands, ×2,
margin 32, seeded weights: :func:`s2sr.testing.carn_like_x2`), then measures, on this machine,
in one run:

* ``s2sr run PRODUCT -o DIR`` as a user runs it (COG + STAC item + thumbnail), whole process: its
  wall, peak RSS, output Mpx/s and pipeline ratio (the headline figures);
* ``s2sr``: the whole product into a local COG, in a child process (whole-process wall, the
  library call's own wall and split, peak RSS, margin overhead = inferred input px / ROI px);
* pure ONNX Runtime on the same tiles (same count and shape, same session options and threads):
  the *pipeline ratio* = s2sr wall / ONNX Runtime wall (the runs are interleaved when
  ``--repeat`` > 1, and the median ratio is kept); the same with the read and write threads at
  niceness 10 (``pipeline.IO_NICE``) for comparison;
* output Mpx/s and the extrapolated time of a whole 10980² product (ONNX Runtime's s per input
  Mpx × the input px a 10980² run infers (its margin overhead) × the pipeline ratio);
* peak RSS per product size (``--rss-sizes``: 1/100, 1/25, 1/4 of a 10980² tile by default);
* a tile-size sweep (``--tile-sizes``);
* two tiles through the model at once (``RunOptions.model_workers=2``, half the threads each), at
  the same tile size and a smaller one;
* ``--precision fp16`` against fp32 on the same product: the DN difference it causes (on CPU here;
  the same conversion runs on a GPU);
* ONNX Runtime session options, interleaved: s2sr's against ONNX Runtime's defaults and each
  change alone (wall, CPU time, and peak RSS in a child process);
* the seed tool (``sentinel2_superresolution``) on the same product and model, with its default
  threads and with ``--threads``, when it is importable by ``--seed-python`` (default: this
  interpreter).

The first four (``s2sr run``, the library call, ONNX Runtime alone, the seed tool) run in rounds,
one of each per round (``--repeat`` rounds, default 3): the machine's speed drifts on a shared
host, so only figures taken side by side compare; medians over the rounds are reported, and the
ratios from each kind's best round too.

Nothing here asserts timings: figures are printed and saved, and judged by a reader.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np



FULL = 10980  #: a whole Sentinel-2 tile, 10 m pixels per side

# The child that runs s2sr: prints one JSON line about the run.
CHILD = r"""
import json, logging, os, sys, time
t_import = time.perf_counter()
import s2sr
if "S2SR_BENCH_IO_NICE" in os.environ:  # the A/B of the read/write threads' priority
    import s2sr.pipeline
    s2sr.pipeline.IO_NICE = int(os.environ["S2SR_BENCH_IO_NICE"])
product, out, card, tile_size, threads, precision, model_workers = sys.argv[1:8]
options = s2sr.RunOptions(tile_size=int(tile_size), threads=None if threads == "auto" else int(threads),
                          precision=precision, model_workers=int(model_workers))
t0 = time.perf_counter()
r = s2sr.write_cogs(product, out, card, options)
wall = time.perf_counter() - t0
info = {
    "run_wall_s": wall,
    "import_s": t0 - t_import,
    "timings": dict(r.timings),
    "tiles": r.tiles,
    "output_px": [r.output_grid.width, r.output_grid.height],
    "roi_px": [r.roi.width, r.roi.height],
}
for name in ("margin_overhead", "inferred_px", "threads", "read_shape", "device", "batch"):
    if hasattr(r, name):
        v = getattr(r, name)
        info[name] = list(v) if isinstance(v, tuple) else v
print("S2SR-BENCH " + json.dumps(info))
"""

SEED_CHECK = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('sentinel2_superresolution') else 1)"


# ----------------------------------------------------------------------------- helpers


def run_child(cmd: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd``; its whole-process wall, peak RSS (MB, from wait4) and stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} … failed ({proc.returncode}):\n{err[-3000:]}")
    return {"process_wall_s": wall, "stdout": out, "stderr": err}


def measured(cmd: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """``cmd`` under a tiny wrapper that reports the child's peak RSS (ru_maxrss of its children).

    Not measured directly: Linux carries a process's peak RSS across fork and exec, so a child
    of this (large) process would report at least this process's size; the wrapper is small.
    """
    wrapper = (
        "import os, resource, subprocess, sys, time\n"
        "t0 = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:])\n"
        "w = time.perf_counter() - t0\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print('RSS-BENCH %d %.6f' % (ru.ru_maxrss, w), file=sys.stderr)\n"
        "sys.exit(p.returncode)\n"
    )
    r = run_child([sys.executable, "-c", wrapper, *cmd], env=env)
    line = next(ln for ln in r["stderr"].splitlines() if ln.startswith("RSS-BENCH "))
    _, kb, wall = line.split()
    r["peak_rss_mb"] = int(kb) / 1024
    r["process_wall_s"] = float(wall)
    return r


def s2sr_env() -> dict[str, str]:
    """The children's environment: this one (they import the s2sr this process imports)."""
    env = dict(os.environ)
    import s2sr

    src = str(Path(s2sr.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    return env


def run_s2sr(product: Path, out: Path, card: Path, tile_size: int, threads: int | str,
             io_nice: int | None = None, precision: str = "fp32", keep: Path | None = None,
             model_workers: int = 1) -> dict[str, Any]:
    """One ``s2sr`` run in a child process; its figures.  ``keep``: move the output COG there."""
    env = s2sr_env()
    if io_nice is not None:
        env["S2SR_BENCH_IO_NICE"] = str(io_nice)
    r = measured([sys.executable, "-c", CHILD, str(product), str(out), str(card), str(tile_size), str(threads),
                  precision, str(model_workers)], env=env)
    line = next(ln for ln in r["stdout"].splitlines() if ln.startswith("S2SR-BENCH "))
    info = json.loads(line.split(" ", 1)[1])
    info.update(process_wall_s=r["process_wall_s"], peak_rss_mb=r["peak_rss_mb"])
    for f in out.glob("*.tif"):
        if keep is not None and f.name.endswith("_sisr.tif"):
            f.replace(keep)
        else:
            f.unlink()
    return info


def run_cli(product: Path, out: Path, card: Path, tile_size: int, threads: int | str) -> dict[str, Any]:
    """``s2sr run`` in a child process, as a user runs it (COG + STAC item + thumbnail into a local
    catalogue): its whole-process wall and peak RSS."""
    cmd = [sys.executable, "-m", "s2sr", "run", str(product), "-o", str(out), "-m", str(card),
           "--tile-size", str(tile_size)]
    if threads != "auto":
        cmd += ["--threads", str(threads)]
    r = measured(cmd, env=s2sr_env())
    shutil.rmtree(out, ignore_errors=True)
    return {"process_wall_s": r["process_wall_s"], "peak_rss_mb": r["peak_rss_mb"]}


def dn_difference(a_path: Path, b_path: Path) -> dict[str, float]:
    """Differences in DN (reflectance × 10000) between two runs' COGs, over pixels valid in both."""
    import rasterio

    with rasterio.open(a_path) as a_ds, rasterio.open(b_path) as b_ds:
        a, b = a_ds.read().astype(np.int32), b_ds.read().astype(np.int32)
    valid = (a != -10000) & (b != -10000)
    d = np.abs(a - b)[valid]
    return {"max_abs_dn": int(d.max()) if d.size else 0, "mean_abs_dn": float(d.mean()) if d.size else 0.0,
            "p99_abs_dn": float(np.percentile(d, 99)) if d.size else 0.0,
            "pixels_differing": float((d > 0).mean()) if d.size else 0.0,
            "nodata_identical": bool(np.array_equal(a == -10000, b == -10000))}


def default_threads() -> int:
    """The thread count s2sr picks when none is given."""
    from s2sr.cpus import available_cpus

    return available_cpus()


def tile_geometry(size: int, tile_size: int, factor: int, margin: int) -> dict[str, Any]:
    """Read shape, tile count and margin overhead s2sr's tiling gives a size² ROI (no I/O)."""
    from affine import Affine
    from rasterio.crs import CRS

    from s2sr.grid import Grid
    from s2sr.tiling import full_roi, plan_tiles

    grid = Grid(CRS.from_epsg(32633), Affine(10, 0, 300000, 0, -10, 6200040), size, size)
    plan = plan_tiles(grid, full_roi(grid), factor=factor, tile_size=tile_size, margin=margin)
    rows, cols = plan.read_shape
    inferred = len(plan) * rows * cols
    return {"tiles": len(plan), "read_shape": [rows, cols], "inferred_px": inferred,
            "margin_overhead": inferred / (size * size)}


def pure_ort(card: Path, read_shape: Sequence[int], tiles: int, threads: int) -> float:
    """Seconds for ONNX Runtime alone on ``tiles`` tiles of ``read_shape`` (session as s2sr makes it)."""
    from s2sr.models import load_model

    model = load_model(card, threads=threads)
    x = np.random.default_rng(0).uniform(200, 4000, size=(1, 10, *read_shape)).astype(np.float32)
    model.predict(x)  # warm-up (first-run allocations)
    t0 = time.perf_counter()
    for _ in range(tiles):
        model.predict(x)
    return time.perf_counter() - t0


ORT_VARIANTS = {
    "s2sr": {},
    "onnxruntime_defaults": {"spinning": True, "mem_pattern": True},
    "with_spinning": {"spinning": True},
    "with_mem_pattern": {"mem_pattern": True},
    "without_arena": {"arena": False},
}

ORT_CHILD = r"""
import json, sys
import numpy as np
import onnxruntime as ort
from s2sr.models.runtime import session_options
so = session_options(int(sys.argv[2]), **json.loads(sys.argv[3]))
s = ort.InferenceSession(sys.argv[1], sess_options=so, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).uniform(200, 4000, size=(1, 10, int(sys.argv[4]), int(sys.argv[5]))).astype(np.float32)
s.run(None, {"input": x})
s.run(None, {"input": x})
"""


def ort_session(onnx_path: str, threads: int, change: dict[str, bool]) -> Any:
    """A session with s2sr's options (:func:`s2sr.models.runtime.session_options`), ``change`` applied."""
    import onnxruntime as ort

    from s2sr.models.runtime import session_options

    so = session_options(threads, **change)
    return ort.InferenceSession(onnx_path, sess_options=so, providers=["CPUExecutionProvider"])


def ort_options(onnx_path: Path, read_shape: Sequence[int], threads: int, rounds: int) -> dict[str, Any]:
    """Wall and CPU seconds per tile (median of ``rounds``, interleaved) and peak RSS per variant."""
    sessions = {name: ort_session(str(onnx_path), threads, change) for name, change in ORT_VARIANTS.items()}
    x = np.random.default_rng(0).uniform(200, 4000, size=(1, 10, *read_shape)).astype(np.float32)
    walls: dict[str, list[float]] = {n: [] for n in sessions}
    cpus: dict[str, list[float]] = {n: [] for n in sessions}
    for s in sessions.values():
        s.run(None, {"input": x})
    for _ in range(rounds):
        for name, s in sessions.items():
            t0, c0 = time.perf_counter(), time.process_time()
            s.run(None, {"input": x})
            walls[name].append(time.perf_counter() - t0)
            cpus[name].append(time.process_time() - c0)
    del sessions
    out: dict[str, Any] = {}
    base_w, base_c = statistics.median(walls["s2sr"]), statistics.median(cpus["s2sr"])
    for name, change in ORT_VARIANTS.items():
        r = measured([sys.executable, "-c", ORT_CHILD, str(onnx_path), str(threads), json.dumps(change),
                       str(read_shape[0]), str(read_shape[1])], env=s2sr_env())
        rss = r["peak_rss_mb"]
        w, c = statistics.median(walls[name]), statistics.median(cpus[name])
        out[name] = {"change": change, "wall_s": w, "cpu_s": c, "wall_vs_s2sr": w / base_w, "cpu_vs_s2sr": c / base_c,
                     "peak_rss_mb": rss}
    return out


def seed_compatible(product: Path) -> None:
    """Add the sun-angle grids the seed's reader (sensorsio) insists on to the product's MTD_ALL.xml."""
    mtd = next(product.glob("*_MTD_ALL.xml"))
    text = mtd.read_text(encoding="utf-8")
    if "Angles_Grids_List" in text:
        return
    values = "".join("<VALUES>" + " ".join(["30.0"] * 3) + "</VALUES>" for _ in range(3))
    grid = f'<COL_STEP unit="m">5000</COL_STEP><ROW_STEP unit="m">5000</ROW_STEP><Values_List>{values}</Values_List>'
    geo = (
        "<Geometric_Informations><Angles_Grids_List><Sun_Angles_Grids>"
        f"<Zenith>{grid}</Zenith><Azimuth>{grid}</Azimuth></Sun_Angles_Grids>"
        "<Viewing_Incidence_Angles_Grids_List/></Angles_Grids_List></Geometric_Informations>\n"
    )
    mtd.write_text(text.replace("</Muscate_Metadata_Document>", geo + "</Muscate_Metadata_Document>"), encoding="utf-8")


def seed_importable(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", SEED_CHECK], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def run_seed(python: str, product: Path, out: Path, card: Path, threads: int | None) -> dict[str, Any]:
    import rasterio

    cmd = [python, "-m", "sentinel2_superresolution.run", "-i", str(product), "-o", str(out), "-m", str(card)]
    if threads is not None:
        cmd += ["--number_of_threads", str(threads)]
    r = measured(cmd)
    (tif,) = sorted(out.glob("*_sisr.tif"))
    with rasterio.open(tif) as ds:
        px = ds.width * ds.height
    tif.unlink()
    return {"threads": threads if threads is not None else "default (8)", "process_wall_s": r["process_wall_s"],
            "peak_rss_mb": r["peak_rss_mb"], "output_mpx": px / 1e6,
            "output_mpx_per_s": px / 1e6 / r["process_wall_s"]}


def parameter_count(onnx_path: Path) -> int:
    import onnx

    return int(sum(int(np.prod(t.dims)) for t in onnx.load(str(onnx_path)).graph.initializer if len(t.dims) >= 1
                   and int(np.prod(t.dims)) > 4))


def rounded(obj: Any, nd: int = 3) -> Any:
    if isinstance(obj, float):
        return round(obj, nd)
    if isinstance(obj, dict):
        return {k: rounded(v, nd) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rounded(v, nd) for v in obj]
    return obj


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1098, help="product size in 10 m px (default 1098 = 1/100 of a tile)")
    ap.add_argument("--tile-size", type=int, default=None, help="s2sr tile size in output px (default: s2sr's)")
    ap.add_argument("--threads", type=int, default=None, help="threads for s2sr and ONNX Runtime (default: s2sr's)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of s2sr run / library / ONNX Runtime / seed, interleaved (medians kept)")
    ap.add_argument("--rss-sizes", default="1098,2196,5490",
                    help="product sizes for the peak-RSS series, comma-separated ('' to skip)")
    ap.add_argument("--tile-sizes", default="512,732,1000,1098",
                    help="tile sizes (output px) for the sweep, comma-separated ('' to skip)")
    ap.add_argument("--no-io-nice-ab", dest="io_nice_ab", action="store_false",
                    help="skip the run with the read/write threads at niceness 10")
    ap.add_argument("--no-model-workers-ab", dest="model_workers_ab", action="store_false",
                    help="skip the runs with two tiles through the model at once")
    ap.add_argument("--model-workers-tile-sizes", type=lambda t: [int(v) for v in t.split(",") if v.strip()],
                    default=[550], help="extra tile sizes for the two-worker runs (smaller tiles: less memory)")
    ap.add_argument("--no-fp16", dest="fp16", action="store_false", help="skip the fp16 run")
    ap.add_argument("--ort-rounds", type=int, default=3, help="interleaved rounds of the session-options A/B (0: skip)")
    ap.add_argument("--seed-python", default=sys.executable,
                    help="interpreter that can import the seed tool (sentinel2_superresolution)")
    ap.add_argument("--no-seed", action="store_true", help="skip the seed tool")
    ap.add_argument("--source", default="auto", choices=("auto", "real", "synthetic"), help="product pixels")
    ap.add_argument("--workdir", type=Path, default=None, help="keep inputs here (default: a temporary folder)")
    ap.add_argument("--json", type=Path, default=Path("benchmark.json"), help="where to save the figures")
    args = ap.parse_args(argv)

    from s2sr.demo import make_demo_product
    from s2sr.testing import carn_like_x2

    threads = args.threads or default_threads()
    tile_size = args.tile_size or _s2sr_default_tile_size()
    sizes = [int(s) for s in args.rss_sizes.split(",") if s.strip()]
    sweep = [int(s) for s in args.tile_sizes.split(",") if s.strip()]
    result: dict[str, Any] = {
        "machine": {"cpus_usable": default_threads(), "platform": platform.platform(),
                    "python": platform.python_version(), "load_average_start": load_average()},
        "threads": threads,
        "tile_size": tile_size,
    }
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        d = Path(tmp)
        card = carn_like_x2(d / "model")
        onnx_path = card.with_suffix(".onnx")
        result["model"] = {"name": card.stem, "parameters": parameter_count(onnx_path), "bands": 10,
                           "factor": 2, "margin": 32}
        products: dict[int, Path] = {}

        def product_of(size: int) -> Path:
            if size not in products:
                products[size] = make_demo_product(d / f"product_{size}", size=size, source=args.source)
            return products[size]

        product = product_of(args.size)
        out = d / "out"
        geo = tile_geometry(args.size, tile_size, 2, 32)

        # 1. s2sr (`s2sr run` as a user runs it, and the library call alone), pure ONNX Runtime on
        #    the same tiles and the seed tool (its default threads and --threads), interleaved
        #    round by round (--repeat rounds): on a shared machine whose speed drifts, figures taken
        #    side by side within a round compare; medians over the rounds are kept, and ratios are
        #    also given from each kind's best round (the least disturbed)
        seed_ok = not args.no_seed and seed_importable(args.seed_python)
        seed_product = None
        if seed_ok:
            seed_product = d / "seed_product" / product.name
            shutil.copytree(product, seed_product)  # the seed's reader needs extra metadata: a copy gets it
            seed_compatible(seed_product)
        rounds: list[dict[str, Any]] = []
        nice10 = []
        fp32_cog = d / "fp32_sisr.tif"
        for _ in range(max(1, args.repeat)):
            rnd: dict[str, Any] = {}
            rnd["lib"] = run_s2sr(product, out, card, tile_size, threads, keep=fp32_cog)
            rnd["ort"] = pure_ort(card, rnd["lib"].get("read_shape", geo["read_shape"]), rnd["lib"]["tiles"], threads)
            rnd["cli"] = run_cli(product, d / "cli_out", card, tile_size, threads)
            if seed_ok:
                assert seed_product is not None
                rnd["seed_default"] = run_seed(args.seed_python, seed_product, d / "seed_out", card, None)
                rnd["seed_threads"] = run_seed(args.seed_python, seed_product, d / "seed_out", card, threads)
            rounds.append(rnd)
            if args.io_nice_ab:
                nice10.append(run_s2sr(product, out, card, tile_size, threads,
                                       io_nice=10)["process_wall_s"] / rnd["ort"])
        ratios = [r["lib"]["process_wall_s"] / r["ort"] for r in rounds]
        k = ratios.index(statistics.median_low(ratios))
        run, ort_s = rounds[k]["lib"], rounds[k]["ort"]
        out_px = out_px_of(run)
        inferred = run.get("inferred_px", geo["inferred_px"])
        full = tile_geometry(FULL, tile_size, 2, 32)
        ort_walls = [r["ort"] for r in rounds]
        s_per_input_mpx = statistics.median(ort_walls) / (inferred / 1e6)
        cli_walls = [r["cli"]["process_wall_s"] for r in rounds]
        cli_ratios = [r["cli"]["process_wall_s"] / r["ort"] for r in rounds]
        result["s2sr_run_cli"] = {
            "what": "s2sr run PRODUCT -o DIR (COG + STAC item + thumbnail), whole process",
            "process_wall_s": statistics.median(cli_walls),
            "process_wall_s_all": cli_walls,
            "peak_rss_mb": max(r["cli"]["peak_rss_mb"] for r in rounds),
            "output_mpx_per_s": out_px / 1e6 / statistics.median(cli_walls),
            "pipeline_ratio": statistics.median(cli_ratios),
            "pipeline_ratios_all": cli_ratios,
            "pipeline_ratio_best_rounds": min(cli_walls) / min(ort_walls),
        }
        lib_walls = [r["lib"]["process_wall_s"] for r in rounds]
        result["s2sr"] = {
            "what": "s2sr.write_cogs (the COG alone) in a child process; split from the median round",
            "product_px": args.size,
            "tiles": run["tiles"],
            "read_shape": run.get("read_shape", geo["read_shape"]),
            "margin_overhead": run.get("margin_overhead", geo["margin_overhead"]),
            "process_wall_s": run["process_wall_s"],
            "process_wall_s_all": lib_walls,
            "run_wall_s": run["run_wall_s"],
            "split_s": run["timings"],
            "peak_rss_mb": run["peak_rss_mb"],
            "output_mpx": out_px / 1e6,
            "output_mpx_per_s": out_px / 1e6 / run["process_wall_s"],
        }
        result["pure_onnxruntime"] = {
            "wall_s": ort_s,
            "wall_s_all": ort_walls,
            "s_per_input_mpx": s_per_input_mpx,
            "pipeline_ratio_process": run["process_wall_s"] / ort_s,
            "pipeline_ratio_run": run["run_wall_s"] / ort_s,
            "pipeline_ratios_all": ratios,
            "pipeline_ratio_best_rounds": min(lib_walls) / min(ort_walls),
        }
        if nice10:
            result["pure_onnxruntime"]["pipeline_ratio_io_nice_10"] = statistics.median(nice10)
        ratio = statistics.median(cli_ratios)
        result["full_product_extrapolated"] = {
            "tiles": full["tiles"],
            "read_shape": full["read_shape"],
            "margin_overhead": full["margin_overhead"],
            "wall_s": s_per_input_mpx * full["inferred_px"] / 1e6 * ratio,
            "how": "ONNX Runtime s per input Mpx x input Mpx a 10980^2 run infers x the s2sr run pipeline ratio",
        }

        # 2. the seed tool (measured in the same rounds)
        if args.no_seed:
            result["seed_tool"] = "skipped (--no-seed)"
        elif not seed_ok:
            result["seed_tool"] = f"not importable by {args.seed_python} (pip install its repository to compare)"
        else:
            seed_rows = []
            for key in ("seed_default", "seed_threads"):
                walls = [r[key]["process_wall_s"] for r in rounds]
                first = rounds[0][key]
                seed_px = first["output_mpx"]
                per_round = [(out_px / r["cli"]["process_wall_s"]) / (seed_px * 1e6 / r[key]["process_wall_s"])
                             for r in rounds]
                seed_rows.append({
                    "threads": first["threads"],
                    "process_wall_s": statistics.median(walls),
                    "process_wall_s_all": walls,
                    "peak_rss_mb": max(r[key]["peak_rss_mb"] for r in rounds),
                    "output_mpx": seed_px,
                    "output_mpx_per_s": seed_px / statistics.median(walls),
                    "s2sr_run_cli_speedup_output_mpx_per_s": statistics.median(per_round),
                    "s2sr_run_cli_speedup_all": per_round,
                    "s2sr_run_cli_speedup_best_rounds": (out_px / 1e6 / min(cli_walls)) / (seed_px / min(walls)),
                })
            result["seed_tool"] = seed_rows
        _print_progress(result, args.json)

        # 3. two tiles through the model at once (each on half the threads), same and smaller tiles
        if args.model_workers_ab and threads >= 2:
            rows = []
            for ts in (tile_size, *args.model_workers_tile_sizes):
                r = run_s2sr(product, out, card, ts, threads // 2, model_workers=2)
                rows.append({"tile_size": ts, "model_workers": 2, "threads_each": threads // 2,
                             "read_shape": r.get("read_shape"), "margin_overhead": r.get("margin_overhead"),
                             "process_wall_s": r["process_wall_s"], "peak_rss_mb": r["peak_rss_mb"],
                             "output_mpx_per_s": out_px / 1e6 / r["process_wall_s"],
                             "wall_vs_one_worker": r["process_wall_s"] / run["process_wall_s"]})
            result["model_workers_2"] = rows
        _print_progress(result, args.json)

        # 4. fp16 (converted at load) against fp32 on the same product: the DN difference it causes
        if args.fp16:
            fp16_cog = d / "fp16_sisr.tif"
            r16 = run_s2sr(product, out, card, tile_size, threads, precision="fp16", keep=fp16_cog)
            result["fp16"] = {"device": r16.get("device", "cpu"), "process_wall_s": r16["process_wall_s"],
                              "peak_rss_mb": r16["peak_rss_mb"], **dn_difference(fp32_cog, fp16_cog),
                              "pixels": "real (shared/data/real_pixels)" if _real_pixels(args.source) else "synthetic"}
        _print_progress(result, args.json)

        # 5. ONNX Runtime session options
        if args.ort_rounds > 0:
            result["onnxruntime_options"] = ort_options(onnx_path, result["s2sr"]["read_shape"], threads,
                                                        args.ort_rounds)
        _print_progress(result, args.json)

        # 6. tile-size sweep on the main product
        rows = []
        for ts in sweep:
            r = run_s2sr(product, out, card, ts, threads)
            g = tile_geometry(args.size, ts, 2, 32)
            rows.append({"tile_size": ts, "tiles": r["tiles"], "read_shape": r.get("read_shape", g["read_shape"]),
                         "margin_overhead": r.get("margin_overhead", g["margin_overhead"]),
                         "full_product_margin_overhead": tile_geometry(FULL, ts, 2, 32)["margin_overhead"],
                         "process_wall_s": r["process_wall_s"], "peak_rss_mb": r["peak_rss_mb"],
                         "output_mpx_per_s": out_px / 1e6 / r["process_wall_s"]})
        if rows:
            result["tile_size_sweep"] = rows
        _print_progress(result, args.json)

        # 7. peak RSS per product size
        series = []
        for size in sizes:
            r = run_s2sr(product_of(size), out, card, tile_size, threads)
            series.append({"product_px": size, "fraction_of_tile": (size / FULL) ** 2,
                           "peak_rss_mb": r["peak_rss_mb"], "process_wall_s": r["process_wall_s"],
                           "tiles": r["tiles"]})
        if series:
            result["rss_by_product_size"] = series
            if len(series) > 1:
                a, b = series[0], series[-1]
                result["rss_slope_mb_per_output_mpx"] = (b["peak_rss_mb"] - a["peak_rss_mb"]) / (
                    4 * (b["product_px"] ** 2 - a["product_px"] ** 2) / 1e6)
    result["machine"]["load_average_end"] = load_average()
    result = rounded(result)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
        print(f"saved {args.json}", file=sys.stderr)
    return result


def out_px_of(run: dict[str, Any]) -> int:
    return int(run["output_px"][0] * run["output_px"][1])


def _s2sr_default_tile_size() -> int:
    from s2sr.defaults import DEFAULT_TILE_SIZE

    return DEFAULT_TILE_SIZE


def _real_pixels(source: str) -> bool:
    from s2sr.demo import find_real_pixels

    return source != "synthetic" and find_real_pixels() is not None


def _print_progress(result: dict[str, Any], path: Path | None = None) -> None:
    """The figures so far on stderr (and in ``path``: a long run interrupted keeps what it measured)."""
    print(json.dumps(rounded({k: v for k, v in result.items() if k in ("s2sr_run_cli", "s2sr", "pure_onnxruntime")})),
          file=sys.stderr, flush=True)
    if path is not None:
        path.write_text(json.dumps(rounded({**result, "complete": False}), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
