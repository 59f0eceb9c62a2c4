"""Every error s2sr raises on purpose, in one hierarchy.

User errors (bad input: a wrong path, a product that is not one, a card that does not
match its ONNX file, a ROI outside the product, an output that cannot be written) derive
from :class:`InputError`; the CLI prints them as one line and exits with code 2.  Anything
else deriving from :class:`S2SRError` is a processing failure (exit code 1).

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


class InputError(S2SRError):
    """Bad input from the user (exit code 2)."""

    exit_code = 2


class ProductError(InputError):
    """The input product is missing, unreadable, or not of a supported format."""


class HarmonisationError(ProductError):
    """The radiometric offset of a product cannot be decided from its metadata (never guessed)."""


class CredentialsError(InputError):
    """Remote data needs credentials that the environment does not provide (names the variables)."""


class RemoteError(InputError):
    """A URL (STAC item, STAC API, remote band) cannot be reached after retries."""


class ModelError(InputError):
    """The model card or its ONNX file is missing, invalid, or inconsistent."""


class RoiError(InputError):
    """The region of interest is empty or outside the product."""


class OutputError(InputError):
    """The output destination cannot be written."""


class UnsupportedError(InputError):
    """A feature that this version of s2sr does not support (yet)."""


class CubeError(InputError):
    """An openEO data cube handed to the UDF is not what the model needs (dimensions, bands)."""


class ProcessingError(S2SRError):
    """A failure while processing valid input (I/O error mid-run, runtime failure)."""
