"""What every command shares: the program name, logging, progress bars, options, and the one
error boundary that turns any failure into one line and an exit code."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from .. import interrupt
from ..errors import Interrupted, S2SRError, interruption_state
from ..remote.aws import redact_url

PROG = "s2sr"

#: Exit codes (documented in the README): bad input, other failure, interrupted (SIGINT, SIGTERM).
EXIT_USER_ERROR = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

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
    for handler in logging.getLogger().handlers:
        handler.addFilter(_REDACT)
    logging.getLogger("rasterio").setLevel(max(level, logging.WARNING))
    # GDAL's own warnings (e.g. the HTTP status of a refused remote read) come back as one s2sr error
    logging.getLogger("rasterio._env").setLevel(logging.ERROR if verbosity <= 0 else level)
    # HTTP/S3 client logs: retries are reported by s2sr itself, and their debug logs print request
    # headers (an access key id rides in Authorization): credentials never appear, even with -vv
    for name in ("botocore", "aiobotocore", "boto3", "s3fs", "fsspec"):
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    logging.getLogger("urllib3").setLevel(logging.INFO if verbosity >= 2 else logging.ERROR)


class _Redact(logging.Filter):
    """No credentials that ride in URLs in any log line (``http://user:password@…``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = redact_url(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


_REDACT = _Redact()


def _set_verbosity(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    ctx.find_root().meta[_VERBOSITY_KEY] = value
    quiet_native_stderr(value < 2)
    setup_logging(value)
    return value


_saved_stderr: tuple[int, object] | None = None


def quiet_native_stderr(quiet: bool) -> None:
    """Keep what native libraries print straight to file descriptor 2 (libtiff's "No space left
    on device." lines, GDAL's "ERROR 1:" lines from worker threads, ONNX Runtime's log) off the
    terminal unless -vv: s2sr reports every failure itself, in one line.  Python's ``sys.stderr``
    keeps writing to the real stderr.  Only in a real process (fd 2 behind ``sys.stderr``)."""
    global _saved_stderr
    if not quiet or _saved_stderr is not None:
        return
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):  # replaced by a test runner
        return
    sys.stderr.flush()
    real = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    _saved_stderr = (real, sys.stderr)
    sys.stderr = open(real, "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None) or "utf-8",  # noqa: SIM115
                      errors="backslashreplace", closefd=False)


def restore_native_stderr() -> None:
    global _saved_stderr
    if _saved_stderr is None:
        return
    real, old = _saved_stderr
    _saved_stderr = None
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os.dup2(real, 2)  # ``real`` stays open: log handlers made meanwhile may still write to it
    sys.stderr = old  # type: ignore[assignment]


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
        print(redact_url("".join(traceback.format_exception(exc))), end="", file=sys.stderr)
    if isinstance(exc, S2SRError):
        print(redact_url(f"{prog}: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        name = exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"
        print(f"{prog}: interrupted ({name}); {interruption_state(exc)}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, Interrupted) else EXIT_INTERRUPTED
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" writing {exc.filename}" if exc.filename else ""
        print(f"{prog}: error: no space left on device{where}; free space (or inodes) there, then rerun",
              file=sys.stderr)
        return EXIT_FAILURE
    text = redact_url(str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
    print(f"{prog}: internal error: {type(exc).__name__}: {text} (rerun with -vv for details)", file=sys.stderr)
    return EXIT_FAILURE


@contextmanager
def error_boundary(prog: str, verbosity: Callable[[], int]) -> Iterator[None]:
    """The one place where failures become one line and an exit code (``SystemExit``).

    click's own exits (usage errors, ``--help``, ``ctx.exit``) pass through unchanged.  SIGTERM
    (how containers and batch engines stop work) is handled like SIGINT: :class:`Interrupted` is
    raised where the program is, every clean-up runs (staging folders, unfinished uploads), and
    the exit code is 143 (130 for SIGINT).
    """
    handlers = _install_signal_handlers()
    unraisable = sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable(unraisable)
    interrupt.clear()
    try:
        yield
        signum = interrupt.received()
        if signum is not None:  # swallowed by native code, and the run finished anyway
            exc = Interrupted(signum, "the run had finished: its outputs are complete")
            raise SystemExit(report(prog, exc, verbosity()))
    except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
        raise
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the one boundary: every failure is one line
        signum = interrupt.received()
        if signum is not None and not isinstance(exc, Interrupted):
            # the failure came while stopping (a read cut short by the signal): report the signal
            stopped = Interrupted(signum, interruption_state(exc) if isinstance(exc, KeyboardInterrupt) else
                                  "no output was published")
            raise SystemExit(report(prog, stopped, verbosity())) from None
        raise SystemExit(report(prog, exc, verbosity())) from None
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        sys.unraisablehook = unraisable
        restore_native_stderr()


def _raise_interrupted(signum: int, frame: Any) -> None:
    interrupt.noted(signum)
    f = frame
    while f is not None:
        # in a log call (GDAL's messages reach logging from a native callback, which would print
        # and swallow the exception): only noted, the run stops at its next check
        if f.f_code.co_filename == logging.__file__:
            return
        f = f.f_back
    raise Interrupted(signum)


def _quiet_unraisable(default: Any) -> Any:
    """An interruption swallowed inside a native callback is not reported as "Exception ignored"
    (:mod:`s2sr.interrupt` keeps it and the run stops at the next check)."""

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            return
        default(unraisable)

    return hook


def _install_signal_handlers() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
