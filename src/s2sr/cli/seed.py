"""``sentinel2_superesolution``: the seed tool's command line, kept working on s2sr.

Takes the seed's flags (``-i -o -m -roi -roip --l1c --l3a --bicubic --gpu -ts
--number_of_threads -v``) and writes flat files in the output folder, as the seed did
(:func:`s2sr.write_cogs`).  ``-m`` may name the seed's ``.onnx`` file (its ``.yaml`` card beside
it is used), a card, or a built-in model.  ``-roip`` is in source-grid pixels from the
upper-left corner: ``COL0 ROW0 COL1 ROW1``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import UnsupportedError
from ..defaults import DEFAULT_TILE_SIZE
from ._common import TqdmProgress, error_boundary, setup_logging

PROG = "sentinel2_superesolution"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=PROG, description="5 m super-resolution of Sentinel-2 products (seed-compatible s2sr entry point)"
    )
    p.add_argument("--version", action="version", version=f"{PROG} (s2sr {__version__})")
    p.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1, default=0,
                   help="set loglevel to INFO")
    p.add_argument("-vv", "--very-verbose", dest="verbosity", action="store_const", const=2,
                   help="set loglevel to DEBUG")
    p.add_argument("-i", "--input", required=True,
                   help="input product: Theia or SAFE directory or zip, or a STAC item (file or URL)")
    p.add_argument("--l1c", action="store_true", help="input product is Sentinel-2 L1C (SAFE; detected anyway)")
    p.add_argument("--l3a", action="store_true", help="input product is a Theia L3A synthesis (detected anyway)")
    p.add_argument("-o", "--output_directory", required=True, help="output directory")
    p.add_argument("-m", "--model", default=None, help="model: .onnx (card beside it), .yaml card, or built-in name")
    p.add_argument("-ts", "--tile_size", type=int, default=DEFAULT_TILE_SIZE, help="tile size in output pixels")
    p.add_argument("-ov", "--overlap", type=int, default=None, help="ignored: the margin comes from the model card")
    p.add_argument("-roi", "--region_of_interest", type=float, nargs=4, default=None,
                   metavar=("LEFT", "BOTTOM", "RIGHT", "TOP"), help="region in the product's CRS")
    p.add_argument("-roip", "--region_of_interest_pixel", type=float, nargs=4, default=None,
                   metavar=("COL0", "ROW0", "COL1", "ROW1"), help="region in source-grid pixels, upper-left based")
    p.add_argument("--number_of_threads", type=int, default=None, help="threads for model inference")
    p.add_argument("--bicubic", action="store_true", help="also generate the bicubic upsampled image")
    p.add_argument("--gpu", action="store_true", help="run inference on GPU if available")
    return p.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.verbosity)
    if args.overlap is not None:
        logging.getLogger(__name__).warning("-ov/--overlap is ignored: s2sr uses the margin of the model card")
    with error_boundary(PROG, lambda: args.verbosity):
        from ..pipeline import write_cogs
        from ..plan import RunOptions
        from ..products import open_product

        # the kind is detected from the content; the seed's flags are kept as checks
        product = open_product(args.input)
        for flag, level in (("--l1c", "L1C"), ("--l3a", "L3A")):
            if getattr(args, flag[2:]) and product.info.level != level:
                raise UnsupportedError(f"{flag} given but {args.input} is a {product.info.level} product",
                                       hint=f"drop {flag}: the product kind is detected from its content")
        options = RunOptions(
            roi=args.region_of_interest, roi_pixels=args.region_of_interest_pixel, tile_size=args.tile_size,
            bicubic=args.bicubic, threads=args.number_of_threads, gpu=args.gpu,
        )
        result = write_cogs(product, args.output_directory, args.model, options, progress=TqdmProgress)
    print(result.sisr)


if __name__ == "__main__":  # pragma: no cover
    main()
