"""What every command shares: the program name, logging, progress bars, options, and the one
error boundary that turns any failure into one line and an exit code."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from ..errors import S2SRError

PROG = "s2sr"

#: Exit codes (documented in the README): bad input, other failure, interrupted (SIGINT).
EXIT_USER_ERROR = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])

_VERBOSITY_KEY = "s2sr.verbosity"


def setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        force=True,
    )
    logging.getLogger("rasterio").setLevel(max(level, logging.WARNING))
    # GDAL's own warnings (e.g. the HTTP status of a refused remote read) come back as one s2sr error
    logging.getLogger("rasterio._env").setLevel(logging.ERROR if verbosity <= 0 else level)
    # HTTP/S3 client logs: retries are reported by s2sr itself, and their debug logs print request
    # headers (an access key id rides in Authorization): credentials never appear, even with -vv
    for name in ("botocore", "aiobotocore", "boto3", "s3fs", "fsspec"):
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    logging.getLogger("urllib3").setLevel(logging.INFO if verbosity >= 2 else logging.ERROR)


def _set_verbosity(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    ctx.find_root().meta[_VERBOSITY_KEY] = value
    setup_logging(value)
    return value


def verbose_option(f: F) -> F:
    """``-v`` (progress details) / ``-vv`` (debug, tracebacks); sets up logging when parsed."""
    return click.option(
        "-v", "--verbose", count=True, expose_value=False, is_eager=True, callback=_set_verbosity,
        help="-v: progress details; -vv: debug and tracebacks.",
    )(f)


def verbosity(ctx: click.Context | None = None) -> int:
    ctx = ctx or click.get_current_context(silent=True)
    return int(ctx.find_root().meta.get(_VERBOSITY_KEY, 0)) if ctx is not None else 0


class TqdmProgress:
    """A progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int, desc: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="tile", disable=None, leave=False)

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def report(prog: str, exc: BaseException, verbosity: int) -> int:
    """Print ``exc`` as one line on stderr (with its traceback at -vv); return the exit code."""
    if verbosity >= 2:
        traceback.print_exception(exc)
    if isinstance(exc, S2SRError):
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        print(f"{prog}: interrupted; no output was published", file=sys.stderr)
        return EXIT_INTERRUPTED
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    print(f"{prog}: internal error: {type(exc).__name__}: {text} (rerun with -vv for details)", file=sys.stderr)
    return EXIT_FAILURE


@contextmanager
def error_boundary(prog: str, verbosity: Callable[[], int]) -> Iterator[None]:
    """The one place where failures become one line and an exit code (``SystemExit``).

    click's own exits (usage errors, ``--help``, ``ctx.exit``) pass through unchanged.
    """
    try:
        yield
    except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
        raise
    except (Exception, KeyboardInterrupt) as exc:
        raise SystemExit(report(prog, exc, verbosity())) from None
