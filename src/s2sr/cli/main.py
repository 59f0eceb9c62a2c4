"""The ``s2sr`` program: its command group, with the one error boundary every command runs inside."""

from __future__ import annotations

from typing import Any

import click

from .. import __version__
from . import batch, demo, evaluate, models, openeo, run
from ._common import PROG, error_boundary, verbosity


class S2srGroup(click.Group):
    """A click group whose commands all run inside :func:`~s2sr.cli._common.error_boundary`."""

    def invoke(self, ctx: click.Context) -> Any:
        with error_boundary(PROG, lambda: verbosity(ctx)):
            return super().invoke(ctx)


@click.group(cls=S2srGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name=PROG)
def main() -> None:
    """Super-resolve Sentinel-2 products to 5 m with ONNX models, tile by tile, into COGs."""


for command in (run.run, batch.batch, demo.demo_product, models.models, evaluate.evaluate, openeo.openeo_group):
    main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main()
