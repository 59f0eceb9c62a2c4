"""Every error s2sr raises on purpose, in one hierarchy.

The user's mistakes (a wrong path, a product that is not one, a card that does not match its
ONNX file, a ROI outside the product, an output that cannot be written) derive from
:class:`UserError`; the CLI prints them as one line and exits with code 2.  Anything else
deriving from :class:`S2SRError` is a processing failure (exit code 1).

Each error carries a message saying what is wrong and, where there is one, a ``hint``
saying what to do about it.
"""

from __future__ import annotations


class S2SRError(Exception):
    """Base class of all s2sr errors."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message


class UserError(S2SRError):
    """The user's mistake: bad input, options, model or destination (exit code 2)."""

    exit_code = 2


#: The former name of :class:`UserError` (kept for compatibility).
InputError = UserError


class ProductError(UserError):
    """The input product is missing, unreadable, or not of a supported format."""


class HarmonisationError(ProductError):
    """The radiometric offset of a product cannot be decided from its metadata (never guessed)."""


class CredentialsError(UserError):
    """Remote data needs credentials that the environment does not provide (names the variables)."""


class RemoteError(UserError):
    """A URL (STAC item, STAC API, remote band) cannot be reached after retries."""


class ModelError(UserError):
    """The model card or its ONNX file is missing, invalid, or inconsistent."""


class RoiError(UserError):
    """The region of interest is empty or outside the product."""


class OutputError(UserError):
    """The output destination cannot be written."""


class UnsupportedError(UserError):
    """A feature that this version of s2sr does not support (yet)."""


class CubeError(UserError):
    """An openEO data cube handed to the UDF is not what the model needs (dimensions, bands)."""


class NothingFoundError(UserError):
    """A STAC API search matched no item and the caller required one (``--require``)."""


class ProcessingError(S2SRError):
    """A failure while processing valid input (I/O error mid-run, runtime failure)."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGINT: exit code 130, SIGTERM: 143).

    A ``KeyboardInterrupt``, so ``except Exception`` never swallows it and every clean-up
    (``finally``, context managers) runs on the way out.  ``state`` says what the interruption
    left behind, for the one line the CLI prints; code that knows more (the publisher, after
    the item is written) sets it.
    """

    def __init__(self, signum: int = 2, state: str = "no output was published") -> None:
        super().__init__(signum)
        self.signum = signum
        self.state = state

    @property
    def signal_name(self) -> str:
        return {2: "SIGINT", 15: "SIGTERM"}.get(self.signum, f"signal {self.signum}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def interruption_state(exc: BaseException) -> str:
    """What an interruption left behind (``Interrupted.state``; a plain ``KeyboardInterrupt``
    may carry the publisher's ``s2sr_state`` too)."""
    return getattr(exc, "state", None) or getattr(exc, "s2sr_state", None) or "no output was published"
