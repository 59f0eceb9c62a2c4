"""``s2sr evaluate``: a model's quality on a product without a high-resolution truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ._common import verbose_option
from .run import options_from, run_options


@click.command("evaluate")
@click.argument("input_path", metavar="PRODUCT")
@run_options
@click.option("--max-size", type=click.IntRange(min=8), default=1024, show_default=True,
              help="Side of the default (central) region, in source pixels.")
@click.option("--mtf", type=click.FloatRange(0.01, 0.99), default=0.3, show_default=True,
              help="Modulation of the degradation blur at the coarse grid's Nyquist frequency.")
@click.option("--figure", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a PNG: input | bicubic | model, side by side, same stretch.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON instead of a table.")
@verbose_option
def evaluate(
    input_path: str, model: str | None, max_size: int, mtf: float, figure: Path | None, as_json: bool, **params: Any
) -> None:
    """Quality of a model on PRODUCT without a high-resolution truth, against bicubic.

    Wald protocol (degrade by the factor, super-resolve, compare with the original: PSNR,
    SSIM per band, SAM) and consistency (output degraded back vs the input: L1, SAM).
    Without a ROI, the central --max-size pixels are evaluated.
    """
    from ..evaluate import evaluate as run_evaluation

    result = run_evaluation(input_path, model, options_from(params), mtf=mtf, max_size=max_size, figure=figure)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.table())
