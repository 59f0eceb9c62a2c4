#!/usr/bin/env python
"""Train s2sr's built-in default model ``s2sr_tiny`` (10 bands, x2, 10 m -> 5 m).

Dev-only: needs PyTorch (``pip install torch==2.13.0``); the ``s2sr`` package never imports it.

Protocol (Wald): every band is degraded by the factor 2 (Gaussian blur whose MTF at the
degraded Nyquist frequency is 0.3, then decimation by 2, centred on the coarse pixels), the
inputs are prepared exactly as the pipeline prepares them at inference (degraded 20 m-group
bands, now 40 m, brought to the degraded 10 m-group grid, now 20 m, with GDAL cubic through
``rasterio.warp.reproject``), and the network learns to restore the originals: the four 10 m
bands directly, the six 20 m-group bands through the 2x2 mean of their output (against the
20 m originals).  Training data: Shark Bay (T49JGM) + the western half of Malmo (T33UUB,
10 m columns 0-299); the eastern half (10 m columns 300-599) is held out for evaluation.

Network: output = cubic_x2(x) + net(x), all scaling inside the graph, so the ONNX model takes
and returns reflectance x 10000 as the model contract says (docs/model-contract.md).

    python training/train.py --out-dir src/s2sr/models/builtin

Smoke test (seconds): ``main(["--steps", "5", "--crop", "64", "--out-dir", tmp])``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "real_pixels"

BANDS = ["B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12"]
N10 = 4  # the first four bands are the 10 m group
FACTOR = 2
TRAIN_FILES = ["S2B_MSIL1C_20171022_T49JGM.npz", "S2A_MSIL1C_20170527_T33UUB.npz"]
MALMO = "S2A_MSIL1C_20170527_T33UUB.npz"
MTF_NYQUIST = 0.3
# Gaussian whose MTF at the degraded Nyquist (0.25 cycles per original pixel) is MTF_NYQUIST:
# exp(-2 pi^2 sigma^2 f^2) = 0.3  ->  sigma ~= 0.988 original pixels.
SIGMA = math.sqrt(-math.log(MTF_NYQUIST) / (2.0 * math.pi**2 * 0.25**2))

# Keys cubic convolution, a = -0.5: GDAL's "cubic" kernel.
CUBIC_A = -0.5


# --------------------------------------------------------------------------------------------
# Data: Wald degradation and inference-identical input preparation (numpy + rasterio, no torch)
# --------------------------------------------------------------------------------------------


def degrade(img: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """Gaussian blur + decimation by 2 of a (c, h, w) array, centred on the coarse pixels.

    Coarse pixel i covers fine pixels 2i and 2i+1; its centre is at fine coordinate 2i + 0.5.
    The 8 taps sit at distances +-0.5, +-1.5, +-2.5, +-3.5 from it (>= 3.5 sigma), symmetric
    padding at the image border.
    """
    offsets = np.arange(-3, 5)  # fine pixels 2i-3 .. 2i+4
    w = np.exp(-((offsets - 0.5) ** 2) / (2.0 * sigma**2))
    w /= w.sum()
    x = img.astype(np.float64)
    for axis in (1, 2):
        n = x.shape[axis] // 2
        pad = [(0, 0)] * 3
        pad[axis] = (3, 4)
        xp = np.pad(x, pad, mode="symmetric")
        acc = 0.0
        for k, wk in zip(offsets, w):
            sl = [slice(None)] * 3
            start = k + 3  # padded index of fine pixel 2i + k, at i = 0
            sl[axis] = slice(start, start + 2 * n, 2)
            acc = acc + wk * xp[tuple(sl)]
        x = acc
    return x.astype(np.float32)


def cubic_to_grid(src: np.ndarray, src_res: float, dst_shape: tuple[int, int], dst_res: float) -> np.ndarray:
    """Bring (c, h, w) from a src_res grid to an aligned dst_res grid with GDAL cubic."""
    import rasterio.warp
    from rasterio.crs import CRS
    from rasterio.enums import Resampling
    from rasterio.transform import Affine

    x0, y0 = 300000.0, 6000000.0  # any origin shared by both grids (aligned corners)
    crs = CRS.from_epsg(32633)
    dst = np.zeros((src.shape[0], *dst_shape), dtype=np.float32)
    rasterio.warp.reproject(
        source=src.astype(np.float32),
        destination=dst,
        src_transform=Affine(src_res, 0, x0, 0, -src_res, y0),
        src_crs=crs,
        dst_transform=Affine(dst_res, 0, x0, 0, -dst_res, y0),
        dst_crs=crs,
        resampling=Resampling.cubic,
        num_threads=1,
    )
    return dst


def make_pair(bands10: np.ndarray, bands20: np.ndarray):
    """Wald pair from original arrays (4, H, W) at 10 m and (6, H/2, W/2) at 20 m.

    Returns (inp, t10, t20): the network input (10, H/2, W/2) on the degraded 10 m grid
    (20 m), prepared as the pipeline prepares real inputs; the 10 m originals (4, H, W); the
    20 m originals (6, H/2, W/2).
    """
    h, w = bands10.shape[1:]
    d10 = degrade(bands10)  # (4, H/2, W/2)  "10 m group" now at 20 m
    d20 = degrade(bands20)  # (6, H/4, W/4)  "20 m group" now at 40 m
    d20_up = cubic_to_grid(d20, 40.0, (h // 2, w // 2), 20.0)
    inp = np.concatenate([d10, d20_up], axis=0)
    return inp, bands10.astype(np.float32), bands20.astype(np.float32)


def load_scene(path: Path, cols10: tuple[int, int] | None = None):
    d = np.load(path)
    b10, b20 = d["bands10"], d["bands20"]
    if cols10 is not None:
        c0, c1 = cols10
        b10 = b10[:, :, c0:c1]
        b20 = b20[:, :, c0 // 2 : c1 // 2]
    return b10, b20


def training_scenes(data_dir: Path, crop: int | None):
    """Shark Bay (whole) and the western half of Malmo, each cropped (top-left) when asked."""
    scenes = []
    for name in TRAIN_FILES:
        cols = (0, 300) if name == MALMO else None
        b10, b20 = load_scene(data_dir / name, cols)
        if crop:
            c = crop - crop % 4
            b10, b20 = b10[:, :c, :c], b20[:, : c // 2, : c // 2]
        scenes.append(make_pair(b10, b20))
    return scenes


def heldout_scene(data_dir: Path):
    b10, b20 = load_scene(data_dir / MALMO, (300, 600))
    return make_pair(b10, b20)


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------

DATA_RANGE = 10000.0  # reflectance 1.0


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * math.log10(data_range**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """SSIM (Wang et al. 2004): Gaussian window sigma 1.5, truncated at 3.5 sigma, K1/K2 = 0.01/0.03."""
    from scipy.ndimage import gaussian_filter

    a = a.astype(np.float64)
    b = b.astype(np.float64)
    f = lambda z: gaussian_filter(z, 1.5, truncate=3.5, mode="reflect")
    mu_a, mu_b = f(a), f(b)
    saa = f(a * a) - mu_a**2
    sbb = f(b * b) - mu_b**2
    sab = f(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    m = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))
    return float(m.mean())


def mean2x2(x: np.ndarray) -> np.ndarray:
    c, h, w = x.shape
    return x.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))


def band_scores(out: np.ndarray, t10: np.ndarray, t20: np.ndarray):
    """Per-band (psnr, ssim) of a (10, H, W) output: 10 m bands directly, 20 m group via 2x2 mean."""
    agg = mean2x2(out[N10:])
    res = {}
    for i, name in enumerate(BANDS):
        pred, ref = (out[i], t10[i]) if i < N10 else (agg[i - N10], t20[i - N10])
        res[name] = (psnr(pred, ref), ssim(pred, ref))
    return res


# --------------------------------------------------------------------------------------------
# Model (torch)
# --------------------------------------------------------------------------------------------


def _cubic_w(d: float, a: float = CUBIC_A) -> float:
    d = abs(d)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    if d < 2:
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return 0.0


def cubic_phase_kernels() -> np.ndarray:
    """(4, 5, 5) kernels of an exact x2 cubic (Keys a=-0.5, half-pixel centres) upsample.

    Fine pixel 2i+p sits at coarse coordinate i - 0.25 (p = 0) or i + 0.25 (p = 1); the 5 taps
    cover coarse pixels i-2 .. i+2.
    """
    taps = np.arange(-2, 3)
    p0 = np.array([_cubic_w(t + 0.25) for t in taps])
    p1 = np.array([_cubic_w(t - 0.25) for t in taps])
    ph = [p0, p1]
    return np.stack([np.outer(ph[r], ph[s]) for r in (0, 1) for s in (0, 1)]).astype(np.float32)


def build_model(mean, std, channels: int = 32, layers: int = 6):
    import torch
    from torch import nn

    class S2SRTiny(nn.Module):
        """output = cubic_x2(x) + std * pixel_shuffle(body((x - mean) / std)).

        body: `layers` 3x3 convs (ReLU between), the last one with 10*4 channels, so the
        residual's receptive-field radius is `layers` input pixels; the cubic path's is 2.
        """

        def __init__(self):
            super().__init__()
            nb = len(BANDS)
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, nb, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, nb, 1, 1))
            k = torch.from_numpy(cubic_phase_kernels())  # (4, 5, 5)
            self.register_buffer("cubic", k.repeat(nb, 1, 1).unsqueeze(1))  # (40, 1, 5, 5)
            convs = [nn.Conv2d(nb, channels, 3, padding=1)]
            for _ in range(layers - 2):
                convs.append(nn.Conv2d(channels, channels, 3, padding=1))
            convs.append(nn.Conv2d(channels, nb * FACTOR * FACTOR, 3, padding=1))
            self.convs = nn.ModuleList(convs)
            self.act = nn.ReLU()
            self.shuffle = nn.PixelShuffle(FACTOR)
            nn.init.zeros_(convs[-1].weight)
            nn.init.zeros_(convs[-1].bias)
            self.layers = layers

        def forward(self, x):
            nb = len(BANDS)
            xp = nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
            base = self.shuffle(nn.functional.conv2d(xp, self.cubic, groups=nb))
            h = (x - self.mean) / self.std
            for i, conv in enumerate(self.convs):
                h = conv(h)
                if i < len(self.convs) - 1:
                    h = self.act(h)
            return base + self.shuffle(h * self.std.repeat_interleave(FACTOR * FACTOR, dim=1))

    return S2SRTiny()


def receptive_field_radius_out(layers: int) -> int:
    """Receptive-field radius in OUTPUT pixels.

    Output pixel 2i+p depends on input pixels i-r .. i+r (r = max(layers, 2)); input pixel j
    covers output pixels 2j and 2j+1, so the farthest output-grid distance is 2r + 1.
    """
    return 2 * max(layers, 2) + 1


# --------------------------------------------------------------------------------------------
# Export, card, ONNX checks, throughput
# --------------------------------------------------------------------------------------------


def export_onnx(model, path: Path) -> None:
    import warnings

    import torch

    model.eval()
    dummy = torch.zeros(1, len(BANDS), 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation, Slice constant folding
        _export(model, dummy, path)


def _export(model, dummy, path: Path) -> None:
    import torch

    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "b", 2: "h", 3: "w"}, "output": {0: "b", 2: "h2", 3: "w2"}},
        opset_version=17,
        dynamo=False,
        do_constant_folding=True,
    )


def write_card(path: Path, onnx_name: str, margin: int, description: str) -> None:
    text = (
        "name: s2sr_tiny\n"
        f"description: {json.dumps(description)}\n"  # a JSON string is a valid YAML scalar
        f"bands: [{', '.join(BANDS)}]\n"
        f"factor: {float(FACTOR)}\n"
        f"margin: {margin}\n"
        f"model: {onnx_name}\n"
    )
    path.write_text(text)


def ort_session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def bicubic_resize_onnx(path: Path) -> None:
    """ONNX graph: Resize x2, mode cubic (a = -0.5, GDAL's kernel), half-pixel -- the baseline."""
    import onnx
    from onnx import TensorProto, helper

    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0])
    node = helper.make_node(
        "Resize",
        ["input", "", "scales"],
        ["output"],
        mode="cubic",
        cubic_coeff_a=CUBIC_A,
        coordinate_transformation_mode="half_pixel",
    )
    graph = helper.make_graph(
        [node],
        "bicubic_x2",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["b", len(BANDS), "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["b", len(BANDS), "h2", "w2"])],
        initializer=[scales],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def throughput(path: Path, tile: np.ndarray, threads: int, reps: int) -> float:
    """Output megapixels per second (best of `reps` runs after one warm-up) on one tile."""
    sess = ort_session(path, threads)
    sess.run(None, {"input": tile})
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        out = sess.run(None, {"input": tile})[0]
        best = min(best, time.perf_counter() - t0)
    return out.shape[0] * out.shape[2] * out.shape[3] / best / 1e6


def run_padded(sess, inp: np.ndarray, margin: int) -> np.ndarray:
    """Infer a (10, h, w) array as the pipeline does at a product border: reflect-pad the input
    by margin/factor pixels, infer, crop `margin` output pixels on each side."""
    p = margin // FACTOR
    x = np.pad(inp, ((0, 0), (p, p), (p, p)), mode="reflect")[None].astype(np.float32)
    y = sess.run(None, {"input": x})[0][0]
    return y[:, margin:-margin, margin:-margin] if margin else y


def gdal_cubic_x2(inp: np.ndarray) -> np.ndarray:
    h, w = inp.shape[1:]
    return cubic_to_grid(inp, 20.0, (2 * h, 2 * w), 10.0)


def benchmark(onnx_path: Path, heldout_inp: np.ndarray, args) -> dict:
    """Output Mpix/s of the model and of an ONNX Resize-cubic x2 graph, 1 and 2 threads."""
    import onnxruntime as ort

    t = args.bench_tile
    tile = np.pad(heldout_inp, ((0, 0), (0, t), (0, t)), mode="reflect")[None, :, :t, :t]
    tile = np.ascontiguousarray(tile)
    bic_path = onnx_path.parent / "bicubic_x2_resize.onnx"
    bicubic_resize_onnx(bic_path)
    bench = {"tile_input_pixels": [t, t], "tile_output_pixels": [2 * t, 2 * t], "reps": args.bench_reps,
             "statistic": "best of reps after one warm-up run", "onnxruntime": ort.__version__,
             "cpu_count": os.cpu_count(), "note": "shared 2-core machine; numbers are indicative"}
    for threads in (1, 2):
        bench[f"model_mpix_per_s_{threads}_thread"] = round(throughput(onnx_path, tile, threads, args.bench_reps), 3)
        bench[f"bicubic_resize_mpix_per_s_{threads}_thread"] = round(
            throughput(bic_path, tile, threads, args.bench_reps), 3)
    bic_path.unlink()
    return bench


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "out" / "training")
    p.add_argument("--name", default="s2sr_tiny", help="file stem of the ONNX, card and metrics")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=48, help="training patch side, input pixels")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--crop", type=int, default=None,
                   help="train on the top-left CROPxCROP 10 m pixels of each scene (smoke tests)")
    p.add_argument("--no-bench", action="store_true", help="skip the CPU throughput measurement")
    p.add_argument("--bench-tile", type=int, default=256)
    p.add_argument("--bench-reps", type=int, default=5)
    p.add_argument("--bench-only", action="store_true",
                   help="no training: measure the throughput of OUT_DIR/NAME.onnx and update the metrics JSON")
    p.add_argument("--metrics", type=Path, default=None,
                   help="metrics JSON path (default: OUT_DIR/NAME_metrics.json)")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.bench_only:
        metrics_path = args.metrics or args.out_dir / f"{args.name}_metrics.json"
        metrics = json.loads(metrics_path.read_text())
        metrics["throughput"] = benchmark(args.out_dir / f"{args.name}.onnx", heldout_scene(args.data_dir)[0], args)
        metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
        print(json.dumps(metrics["throughput"], indent=1))
        return metrics
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    t_start = time.time()

    scenes = training_scenes(args.data_dir, args.crop)
    allin = np.concatenate([s[0].reshape(len(BANDS), -1) for s in scenes], axis=1)
    mean = allin.mean(axis=1).astype(np.float32)
    std = allin.std(axis=1).astype(np.float32)

    model = build_model(mean, std, args.channels, args.layers)
    n_params = sum(p.numel() for p in model.parameters())
    margin_rf = receptive_field_radius_out(args.layers)
    margin = int(math.ceil(margin_rf / 4.0) * 4)  # >= RF radius, whole input pixels, tidy
    print(f"params={n_params} rf_radius_out={margin_rf} margin={margin} sigma={SIGMA:.4f}", flush=True)

    patch = min(args.patch, *[min(s[0].shape[1:]) for s in scenes])
    border = min(args.layers, patch // 4)  # input pixels excluded from the loss at patch edges
    tstd = torch.from_numpy(std)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=max(args.steps, 1),
                                                pct_start=0.05)
    weights = np.array([s[0].shape[1] * s[0].shape[2] for s in scenes], dtype=float)
    weights /= weights.sum()

    def batch():
        xs, y10s, y20s = [], [], []
        for _ in range(args.batch):
            inp, t10, t20 = scenes[rng.choice(len(scenes), p=weights)]
            i = rng.integers(0, inp.shape[1] - patch + 1)
            j = rng.integers(0, inp.shape[2] - patch + 1)
            x = inp[:, i : i + patch, j : j + patch]
            y10 = t10[:, 2 * i : 2 * (i + patch), 2 * j : 2 * (j + patch)]
            y20 = t20[:, i : i + patch, j : j + patch]
            k, flip = rng.integers(0, 4), rng.integers(0, 2)
            arrs = [np.rot90(a, k, axes=(1, 2)) for a in (x, y10, y20)]
            if flip:
                arrs = [a[:, :, ::-1] for a in arrs]
            xs.append(arrs[0]); y10s.append(arrs[1]); y20s.append(arrs[2])
        t = lambda a: torch.from_numpy(np.ascontiguousarray(np.stack(a)))
        return t(xs), t(y10s), t(y20s)

    model.train()
    log = []
    for step in range(args.steps):
        x, y10, y20 = batch()
        out = model(x)
        b, b2 = border, 2 * border
        e10 = (out[:, :N10] - y10) / tstd[:N10].view(1, -1, 1, 1)
        agg = torch.nn.functional.avg_pool2d(out[:, N10:], 2)
        e20 = (agg - y20) / tstd[N10:].view(1, -1, 1, 1)
        e10 = e10[:, :, b2 : e10.shape[2] - b2, b2 : e10.shape[3] - b2]
        e20 = e20[:, :, b : e20.shape[2] - b, b : e20.shape[3] - b]
        loss = (e10.abs().mean() * N10 + e20.abs().mean() * (len(BANDS) - N10)) / len(BANDS)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == args.steps - 1:
            log.append((step, round(loss.item(), 5)))
            print(f"step {step:5d} loss {loss.item():.5f} {time.time() - t_start:6.1f}s", flush=True)
    train_s = time.time() - t_start

    # ---- export + card
    args.out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out_dir / f"{args.name}.onnx"
    card_path = args.out_dir / f"{args.name}.yaml"
    model.eval()
    export_onnx(model, onnx_path)
    write_card(
        card_path,
        onnx_path.name,
        margin,
        "s2sr built-in default: 10 bands x2 (10 m -> 5 m), residual CNN over a cubic upsample, "
        f"{n_params} parameters, trained with training/train.py (Wald protocol, Sentinel-2 L1C "
        "T49JGM + western half of T33UUB; contains modified Copernicus Sentinel data 2017)",
    )

    # ---- ONNX vs torch check
    sess = ort_session(onnx_path, args.threads)
    heldout_inp, heldout_t10, heldout_t20 = heldout_scene(args.data_dir)
    probe = heldout_inp[None, :, :40, :36].copy()
    with torch.no_grad():
        ref = model(torch.from_numpy(probe)).numpy()
    got = sess.run(None, {"input": probe})[0]
    max_abs = float(np.abs(ref - got).max())
    assert got.shape == (1, len(BANDS), 80, 72), got.shape
    assert max_abs < 0.05, f"ONNX differs from torch by {max_abs}"

    # ---- held-out evaluation (eastern half of Malmo)
    out_model = run_padded(sess, heldout_inp, margin)
    out_bic = gdal_cubic_x2(heldout_inp)
    s_model = band_scores(out_model, heldout_t10, heldout_t20)
    s_bic = band_scores(out_bic, heldout_t10, heldout_t20)
    per_band = {}
    for name in BANDS:
        pm, sm = s_model[name]
        pb, sb = s_bic[name]
        per_band[name] = {
            "psnr_model": round(pm, 3), "psnr_bicubic": round(pb, 3), "psnr_gain": round(pm - pb, 3),
            "ssim_model": round(sm, 4), "ssim_bicubic": round(sb, 4), "ssim_gain": round(sm - sb, 4),
        }

    metrics = {
        "model": onnx_path.name,
        "parameters": int(n_params),
        "onnx_bytes": onnx_path.stat().st_size,
        "margin": margin,
        "receptive_field_radius_output_pixels": margin_rf,
        "architecture": f"cubic_x2(x) + pixel_shuffle(body(x)), body = {args.layers} conv3x3 "
                        f"({args.channels} channels, ReLU), normalisation inside the graph",
        "training": {
            "steps": args.steps, "batch": args.batch, "patch_input_pixels": patch, "lr": args.lr,
            "seed": args.seed, "threads": args.threads, "crop": args.crop,
            "seconds": round(train_s, 1), "torch": torch.__version__,
            "data": ["S2B_MSIL1C_20171022_T49JGM (whole)", "S2A_MSIL1C_20170527_T33UUB 10 m columns 0-299"],
            "loss_log": log,
        },
        "protocol": {
            "degradation": f"Gaussian blur sigma={SIGMA:.4f} fine pixels (MTF {MTF_NYQUIST} at the "
                           "degraded Nyquist), decimation by 2 centred on the coarse pixels",
            "input_preparation": "degraded 20 m-group bands (40 m) to the degraded 10 m grid (20 m) "
                                 "with rasterio.warp.reproject Resampling.cubic",
            "targets": "10 m bands: originals; 20 m-group bands: 2x2 mean of the output vs 20 m originals",
            "heldout": "S2A_MSIL1C_20170527_T33UUB 10 m columns 300-599 (20 m columns 150-299), "
                       "cropped before degradation, never seen in training",
            "model_inference": f"reflect pad of {margin // FACTOR} input pixels, infer, crop {margin} "
                               "output pixels (as the pipeline at a product border)",
            "bicubic_baseline": "the same input upsampled x2 with rasterio.warp.reproject "
                                "Resampling.cubic (GDAL cubic), scored exactly like the model",
            "psnr": f"data range {DATA_RANGE:g} (reflectance 1.0), whole held-out half",
            "ssim": "Wang et al. 2004, Gaussian window sigma 1.5, data range 10000, whole held-out half",
        },
        "heldout_per_band": per_band,
        "onnx_vs_torch_max_abs": max_abs,
        "beats_bicubic_every_band_psnr": all(v["psnr_gain"] > 0 for v in per_band.values()),
    }

    # ---- CPU throughput (onnxruntime, CPUExecutionProvider)
    if not args.no_bench:
        metrics["throughput"] = benchmark(onnx_path, heldout_inp, args)

    metrics_path = args.metrics or args.out_dir / f"{args.name}_metrics.json"
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")

    print(f"{'band':5s} {'PSNR model':>10s} {'bicubic':>8s} {'gain':>6s} {'SSIM model':>10s} {'bicubic':>8s}")
    for name, v in per_band.items():
        print(f"{name:5s} {v['psnr_model']:10.2f} {v['psnr_bicubic']:8.2f} {v['psnr_gain']:+6.2f} "
              f"{v['ssim_model']:10.4f} {v['ssim_bicubic']:8.4f}")
    if "throughput" in metrics:
        print(json.dumps(metrics["throughput"], indent=1))
    print(f"wrote {onnx_path} {card_path} {metrics_path}")
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
