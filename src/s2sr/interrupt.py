"""Signals that stop a run, remembered where native code swallowed them.

The command line turns SIGINT and SIGTERM into :class:`~s2sr.errors.Interrupted`, raised where
the program is.  When that happens inside a native callback (rasterio's GDAL log handler, for
one) the exception is swallowed; the signal is still :func:`noted`, and :func:`check`, called
between tiles and between publishing steps, raises it there.
"""

from __future__ import annotations

from .errors import Interrupted

_received: int | None = None


def noted(signum: int) -> None:
    """Remember that ``signum`` asked the run to stop."""
    global _received
    _received = signum


def received() -> int | None:
    """The signal that asked the run to stop, if any."""
    return _received


def clear() -> None:
    global _received
    _received = None


def check() -> None:
    """Raise :class:`Interrupted` if a signal asked the run to stop."""
    if _received is not None:
        raise Interrupted(_received)
