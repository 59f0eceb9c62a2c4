"""What both command lines share: logging set-up, progress bars, and turning errors into one line."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn, TypeVar

from .errors import S2SRError

T = TypeVar("T")


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


class TqdmProgress:
    """A progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int, desc: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="tile", disable=None, leave=False)

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def fail(prog: str, exc: BaseException, verbosity: int) -> NoReturn:
    """Print ``exc`` as one line (traceback with -vv) and exit: 2 for bad input, 1 otherwise."""
    if verbosity >= 2:
        traceback.print_exc()
    if isinstance(exc, S2SRError):
        print(f"{prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        print(f"{prog}: interrupted; no output was published", file=sys.stderr)
        raise SystemExit(130)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    print(f"{prog}: internal error: {type(exc).__name__}: {text} (rerun with -vv for details)", file=sys.stderr)
    raise SystemExit(1)


def guarded(prog: str, verbosity: int, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (S2SRError, Exception, KeyboardInterrupt) as exc:
        fail(prog, exc, verbosity)
