"""Quality of a model on a product without a high-resolution truth.

Two checks, both against bicubic on the same pixels:

* **Wald protocol** (reduced resolution): every band is degraded by the model's factor
  (a Gaussian blur whose modulation at the degraded grid's Nyquist frequency is ``mtf``,
  standing in for the sensor MTF, then decimation), inputs are prepared exactly as the
  pipeline prepares them (bands coarser than the source grid brought onto it with GDAL's
  cubic), the model super-resolves them back with :func:`s2sr.inference.infer` (the same
  tiles and margins as a run), and the result is compared with the original: PSNR, SSIM per
  band, and the spectral angle (SAM).  Bands coarser than the source grid (the 20 m group
  for a 10 m model) are compared at their native resolution, through the k×k mean of the
  output.
* **Consistency** (full resolution): the super-resolved output, degraded back to each
  band's native grid with the same operator, against the input: per-band L1 in reflectance
  and the spectral angle.

"Bicubic" is exactly the built-in ``bicubic`` model's operation (ONNX Resize, Keys cubic
a = −0.5, half-pixel centres) run through the same :func:`~s2sr.inference.infer` and
tiles, so evaluating ``-m bicubic`` gives the bicubic numbers by construction.

PSNR and SSIM use each band's dynamic range over the reference (max − min) as the peak.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rasterio.windows import Window

from .bands import BANDS
from .errors import RoiError
from .grid import Grid
from .inference import infer
from .metrics import DEFAULT_MTF, block_mean, degrade, l1_reflectance, psnr, spectral_angle, ssim
from .models import Model, ModelCard
from .models.graphs import resize_model
from .models.runtime import RuntimeOptions, create_session
from .plan import RunOptions, plan_run
from .products import BandReader, Product
from .defaults import DEFAULT_TILE_SIZE
from .tiling import Roi, plan_tiles

log = logging.getLogger(__name__)

#: Default largest evaluated region, in source pixels per side (a centred crop of bigger products).
DEFAULT_MAX_SIZE = 1024


# --------------------------------------------------------------------------- inference on arrays


def bicubic_model(card: ModelCard, *, threads: int | None = None) -> Model:
    """The built-in bicubic operation (ONNX Resize cubic) for ``card``'s bands, factor and tiling."""
    session = create_session(resize_model(len(card.bands), card.factor, mode="cubic"), RuntimeOptions(threads=threads))
    bic_card = replace(card, name="bicubic", description="bicubic baseline", card_path=None,
                       onnx_path=Path("bicubic.onnx"))
    return Model(card=bic_card, session=session, providers=tuple(session.get_providers()))


def _is_bicubic(model: Model) -> bool:
    path = model.card.onnx_path
    try:
        return path.is_file() and path.read_bytes() == resize_model(len(model.card.bands), model.card.factor)
    except OSError:
        return False


def infer_array(model: Model, array: np.ndarray, *, tile_size: int = DEFAULT_TILE_SIZE) -> np.ndarray:
    """Super-resolve a whole in-memory ``(bands, h, w)`` array tile by tile, as a run does.

    Tiles, margins and cropping come from :func:`s2sr.tiling.plan_tiles`; each tile goes
    through :func:`s2sr.inference.infer`; pixels past the array are NaN (filled by infer).
    """
    card = model.card
    b, h, w = array.shape
    grid = Grid(None, Affine.identity(), w, h)  # type: ignore[arg-type]
    plan = plan_tiles(grid, Roi(0, 0, w, h), factor=card.factor, tile_size=tile_size, margin=card.margin)
    f = card.factor
    out = np.full((b, h * f, w * f), np.nan, np.float32)
    for tile in plan:
        win = _window(array, tile.read)
        r0, c0 = int(tile.out.row_off), int(tile.out.col_off)
        out[:, r0 : r0 + int(tile.out.height), c0 : c0 + int(tile.out.width)] = tile.crop(infer(model, win))
    return out


def _window(array: np.ndarray, win: Window) -> np.ndarray:
    b, h, w = array.shape
    c0, r0, ww, hh = int(win.col_off), int(win.row_off), int(win.width), int(win.height)
    out = np.full((b, hh, ww), np.nan, np.float32)
    ic0, ir0, ic1, ir1 = max(c0, 0), max(r0, 0), min(c0 + ww, w), min(r0 + hh, h)
    if ic1 > ic0 and ir1 > ir0:
        out[:, ir0 - r0 : ir1 - r0, ic0 - c0 : ic1 - c0] = array[:, ir0:ir1, ic0:ic1]
    return out


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BandScore:
    """Scores of one band: Wald protocol (PSNR dB, SSIM) and consistency (L1, reflectance)."""

    band: str
    resolution: int  #: native resolution (m), where the band is compared
    psnr: float
    psnr_bicubic: float
    ssim: float
    ssim_bicubic: float
    consistency_l1: float
    consistency_l1_bicubic: float

    @property
    def psnr_gain(self) -> float:
        return self.psnr - self.psnr_bicubic


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` measured."""

    product_id: str
    model: str
    factor: int
    roi: tuple[int, int, int, int]  #: source-grid pixels COL0 ROW0 COL1 ROW1
    mtf: float
    bands: tuple[BandScore, ...]
    sam: float  #: Wald: mean spectral angle (degrees), all bands on the coarsest native grid
    sam_bicubic: float
    consistency_sam: float  #: consistency: mean spectral angle (degrees)
    consistency_sam_bicubic: float
    figure: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for b, src in zip(d["bands"], self.bands, strict=True):
            b["psnr_gain"] = src.psnr_gain
        return _json_safe(d)

    def table(self) -> str:
        """A plain-text table of the scores."""
        head = (
            f"{'band':<5} {'res':>4}  {'PSNR':>7} {'bicubic':>7} {'gain':>6}  {'SSIM':>6} {'bicubic':>7}"
            f"  {'L1 cons':>8} {'bicubic':>8}"
        )
        lines = [
            (
                f"Wald protocol (x{self.factor}, MTF {self.mtf:g}) and consistency: model {self.model} "
                f"on {self.product_id}, source pixels {' '.join(map(str, self.roi))}"
            ),
            head,
            "-" * len(head),
        ]
        for s in self.bands:
            lines.append(
                f"{s.band:<5} {s.resolution:>3}m  {s.psnr:7.2f} {s.psnr_bicubic:7.2f} {s.psnr_gain:+6.2f}"
                f"  {s.ssim:6.4f} {s.ssim_bicubic:7.4f}  {s.consistency_l1:8.5f} {s.consistency_l1_bicubic:8.5f}"
            )
        lines.append("-" * len(head))
        lines.append(f"SAM (deg), Wald: model {self.sam:.3f}, bicubic {self.sam_bicubic:.3f}; "
                     f"consistency: model {self.consistency_sam:.3f}, bicubic {self.consistency_sam_bicubic:.3f}")
        if self.figure:
            lines.append(f"figure (input | bicubic | model): {self.figure}")
        return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# --------------------------------------------------------------------------- the evaluation


def _evaluation_roi(source: Grid, roi: Roi | None, max_size: int) -> Roi:
    """The given ROI, or the central ``max_size``² source pixels."""
    if roi is None:
        w, h = min(source.width, max_size), min(source.height, max_size)
        c0, r0 = (source.width - w) // 2, (source.height - h) // 2
        roi = Roi(c0, r0, c0 + w, r0 + h)
        if (w, h) != (source.width, source.height):
            log.info("evaluating the central %dx%d source pixels (give a ROI for another region)", w, h)
    return roi


def _snap(roi: Roi, k: int, align: int) -> Roi:
    """``roi`` shrunk so its origin is a multiple of ``k`` and its size a multiple of ``align``."""
    c0 = -(-roi.col0 // k) * k
    r0 = -(-roi.row0 // k) * k
    w = (roi.col1 - c0) // align * align
    h = (roi.row1 - r0) // align * align
    if w <= 0 or h <= 0:
        raise RoiError(
            f"the region {roi.col0} {roi.row0} {roi.col1} {roi.row1} is too small to evaluate",
            hint=f"give at least {align}x{align} source pixels",
        )
    return Roi(c0, r0, c0 + w, r0 + h)


def evaluate(
    product: str | Path | Product,
    model: str | Path | ModelCard | Model | None = None,
    options: RunOptions | None = None,
    *,
    mtf: float = DEFAULT_MTF,
    max_size: int = DEFAULT_MAX_SIZE,
    figure: str | Path | None = None,
) -> Evaluation:
    """Wald-protocol and consistency scores of ``model`` on ``product``, against bicubic.

    ``options`` as for a run (:class:`s2sr.RunOptions`: ROI, tile size, SRE, threads); without
    a ROI, the central ``max_size``² source pixels.  The region is snapped inward so every
    band's grid divides it by the factor.  ``figure``: write a PNG (input | bicubic | model,
    same stretch) there.
    """
    plan = plan_run(product, model, options)
    prod, mdl, card, opts = plan.product, plan.model, plan.card, plan.options
    tile_size = opts.tile_size
    log.info("evaluating model %s on %s", mdl.name, prod.info.product_id)
    f = card.factor
    source = plan.source_grid
    given = plan.roi if opts.has_roi else None
    # k: how many source pixels per side make one native pixel of each band (2 for 20 m bands on 10 m)
    ratios = {b: max(1, round(BANDS[b].resolution / source.res)) for b in card.bands}
    kmax = max(ratios.values())
    the_roi = _snap(_evaluation_roi(source, given, max_size), kmax, kmax * f)
    bicubic = bicubic_model(card, threads=opts.threads)

    # Inputs and references: every band on the source grid (as a run reads it) and at its native grid.
    with BandReader(prod, card.bands, source) as reader:
        x_in = reader.read(the_roi.window)
    native: dict[str, np.ndarray] = {}
    for i, b in enumerate(card.bands):
        k = ratios[b]
        if k == 1:
            native[b] = x_in[i]
        else:
            grid_b = prod.grid(b)
            win = Window(the_roi.col0 // k, the_roi.row0 // k, the_roi.width // k, the_roi.height // k)
            with BandReader(prod, [b], grid_b) as r:
                native[b] = r.read(win)[0]

    # Wald protocol: degrade each band at its native grid, prepare on the coarse source grid, infer.
    h, w = the_roi.height, the_roi.width
    roi_grid = source.window_grid(the_roi.window)
    coarse_transform = roi_grid.transform @ Affine.scale(f)
    lr = np.empty((len(card.bands), h // f, w // f), np.float32)
    for i, b in enumerate(card.bands):
        k = ratios[b]
        small = degrade(native[b][None], f, mtf)[0]
        if k == 1:
            lr[i] = small
        else:
            dst = np.full((h // f, w // f), np.nan, np.float32)
            reproject(
                small, dst,
                src_transform=roi_grid.transform @ Affine.scale(f * k), dst_transform=coarse_transform,
                src_crs=source.crs, dst_crs=source.crs, src_nodata=np.nan, dst_nodata=np.nan,
                resampling=Resampling.cubic,
            )
            lr[i] = dst
    same = _is_bicubic(mdl)  # -m bicubic: the baseline is the model itself; run it once
    pred = infer_array(mdl, lr, tile_size=tile_size)
    base = pred if same else infer_array(bicubic, lr, tile_size=tile_size)

    # Consistency: super-resolve the real input, degrade back to each band's native grid.
    y_full = infer_array(mdl, x_in, tile_size=tile_size)
    b_full = y_full if same else infer_array(bicubic, x_in, tile_size=tile_size)

    scores = []
    wald_p: list[np.ndarray] = []
    wald_b: list[np.ndarray] = []
    wald_r: list[np.ndarray] = []
    cons_p: list[np.ndarray] = []
    cons_b: list[np.ndarray] = []
    cons_r: list[np.ndarray] = []
    for i, b in enumerate(card.bands):
        k = ratios[b]
        ref = native[b]
        p_i = block_mean(pred[i : i + 1], k)[0]
        b_i = block_mean(base[i : i + 1], k)[0]
        cp = degrade(y_full[i : i + 1], f * k, mtf)[0]
        cb = degrade(b_full[i : i + 1], f * k, mtf)[0]
        scores.append(BandScore(
            band=b, resolution=int(BANDS[b].resolution),
            psnr=psnr(p_i, ref), psnr_bicubic=psnr(b_i, ref),
            ssim=ssim(p_i, ref), ssim_bicubic=ssim(b_i, ref),
            consistency_l1=l1_reflectance(cp, ref), consistency_l1_bicubic=l1_reflectance(cb, ref),
        ))
        down = kmax // k
        for lst, arr in ((wald_p, p_i), (wald_b, b_i), (wald_r, ref), (cons_p, cp), (cons_b, cb), (cons_r, ref)):
            lst.append(block_mean(arr[None], down)[0])

    fig_path = None
    if figure is not None:
        fig_path = str(write_figure(figure, x_in, b_full, y_full, card))
    return Evaluation(
        product_id=prod.info.product_id,
        model=mdl.name,
        factor=f,
        roi=(the_roi.col0, the_roi.row0, the_roi.col1, the_roi.row1),
        mtf=mtf,
        bands=tuple(scores),
        sam=spectral_angle(np.stack(wald_p), np.stack(wald_r)),
        sam_bicubic=spectral_angle(np.stack(wald_b), np.stack(wald_r)),
        consistency_sam=spectral_angle(np.stack(cons_p), np.stack(cons_r)),
        consistency_sam_bicubic=spectral_angle(np.stack(cons_b), np.stack(cons_r)),
        figure=fig_path,
        extra={"model_sha256": mdl.sha256, "psnr_peak": "reference max - min, per band"},
    )


# --------------------------------------------------------------------------- figure


def _rgb_indices(bands: tuple[str, ...]) -> list[int]:
    if all(b in bands for b in ("B4", "B3", "B2")):
        return [bands.index("B4"), bands.index("B3"), bands.index("B2")]
    idx = list(range(min(3, len(bands))))
    return (idx * 3)[:3] if len(idx) < 3 else idx


def write_figure(
    path: str | Path,
    x_in: np.ndarray,
    bicubic: np.ndarray,
    sr: np.ndarray,
    card: ModelCard,
    *,
    size: int = 256,
    gap: int = 4,
) -> Path:
    """A PNG of the central ``size``² output pixels: input (nearest) | bicubic | model, one stretch
    (the input's 2–98 %, shared by the three bands and the three panels, as the quicklooks do)."""
    from .outputs.thumbnail import save_png, stretch_limits, to_bytes

    f = card.factor
    idx = _rgb_indices(card.bands)
    H, W = sr.shape[1:]
    s_h, s_w = min(size, H) // f * f, min(size, W) // f * f
    r0, c0 = ((H - s_h) // 2) // f * f, ((W - s_w) // 2) // f * f
    inp = x_in[idx, r0 // f : (r0 + s_h) // f, c0 // f : (c0 + s_w) // f].repeat(f, axis=1).repeat(f, axis=2)
    panels = [inp, bicubic[idx, r0 : r0 + s_h, c0 : c0 + s_w], sr[idx, r0 : r0 + s_h, c0 : c0 + s_w]]
    lo, hi = stretch_limits(inp, ~np.isnan(inp).any(axis=0))
    canvas = np.full((s_h, 3 * s_w + 2 * gap, 3), 255, np.uint8)
    for j, p in enumerate(panels):
        rgb = to_bytes(p, ~np.isnan(p).any(axis=0), lo, hi)
        canvas[:, j * (s_w + gap) : j * (s_w + gap) + s_w] = rgb.transpose(1, 2, 0)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".tmp.png")
    save_png(canvas, tmp)
    tmp.replace(out)
    return out
