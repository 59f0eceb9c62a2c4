"""ONNX Runtime sessions for model cards: one session per run, validated against its card.

:func:`load_model` is the usual entry: what the user gave (:func:`~s2sr.models.resolve.resolve_card`)
to a validated session.  (``file_sha256`` stays importable from here; it lives in :mod:`s2sr.hashing`.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..errors import ModelError, ProcessingError
from ..hashing import file_sha256 as file_sha256  # re-exported: runtime.file_sha256
from .card import ModelCard
from .resolve import resolve_card

log = logging.getLogger(__name__)

INPUT_NAME = "input"
_PROBE_SIZE = 32  # input pixels per side of the dummy tile used to validate a model


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run a model: threads and execution provider."""

    threads: int | None = None  #: intra-op threads (None: ONNX Runtime's default, all cores)
    gpu: bool = False  #: ask for CUDA, falling back to CPU with a log line


@dataclass
class Model:
    """A model card bound to an ONNX Runtime session."""

    card: ModelCard
    session: ort.InferenceSession
    providers: tuple[str, ...]
    sha256: str = field(default="")

    @property
    def name(self) -> str:
        return self.card.name or self.card.onnx_path.stem

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on ``[b, c, h, w]`` float32 (no NaN); return ``[b, c, h·f, w·f]``."""
        x = np.ascontiguousarray(batch, dtype=np.float32)
        try:
            (y,) = self.session.run(None, {INPUT_NAME: x})[:1]
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ProcessingError(f"inference failed in model {self.name}: {exc}") from exc
        return np.asarray(y, dtype=np.float32)


def _providers(gpu: bool) -> list[str]:
    available = ort.get_available_providers()
    if gpu:
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        log.warning(
            "--gpu asked for CUDA but this onnxruntime has no CUDAExecutionProvider "
            "(install s2sr[gpu]); running on CPU"
        )
    return ["CPUExecutionProvider"]


def create_session(model: str | bytes, options: RuntimeOptions) -> ort.InferenceSession:
    """An ONNX Runtime session for a model file path or serialized bytes, with ``options``
    (intra-op threads; CUDA when asked and available, else CPU with a log line)."""
    so = ort.SessionOptions()
    if options.threads:
        so.intra_op_num_threads = int(options.threads)
        so.inter_op_num_threads = 1
    so.log_severity_level = 3
    providers = _providers(options.gpu)
    session = ort.InferenceSession(model, sess_options=so, providers=providers)
    if "CUDAExecutionProvider" in providers and "CUDAExecutionProvider" not in session.get_providers():
        log.warning("CUDA could not be initialised; running on CPU")
    return session


def open_model(card: ModelCard, options: RuntimeOptions | None = None) -> Model:
    """Create the ONNX Runtime session for ``card`` and check the ONNX file matches it.

    Checks: the input is named ``input`` and takes ``len(card.bands)`` channels, and a
    dummy tile comes out with the same channels, ``factor`` times larger.
    """
    opts = options or RuntimeOptions()
    path = card.onnx_path
    if not path.is_file():
        raise ModelError(
            f"ONNX file {path} named by the model card not found",
            hint="put the .onnx file beside its card, as the card's 'model' key says",
        )
    try:
        session = create_session(str(path), opts)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"ONNX file {path} cannot be loaded: {first}") from None
    used = tuple(session.get_providers())
    model = Model(card=card, session=session, providers=used, sha256=file_sha256(path))
    _validate(model)
    log.info("model %s (%s), providers %s", model.name, path, ", ".join(used))
    return model


def _validate(model: Model) -> None:
    card, session = model.card, model.session
    origin = f"ONNX file {card.onnx_path.name}"
    inputs = session.get_inputs()
    names = [i.name for i in inputs]
    if INPUT_NAME not in names:
        raise ModelError(
            f"{origin} does not match its card: its input is named {', '.join(names)}, expected {INPUT_NAME!r}"
        )
    shape = next(i for i in inputs if i.name == INPUT_NAME).shape
    n = len(card.bands)
    if len(shape) != 4:
        raise ModelError(f"{origin} does not match its card: input has rank {len(shape)}, expected 4 [b, c, h, w]")
    if isinstance(shape[1], int) and shape[1] != n:
        raise ModelError(
            f"{origin} does not match its card: it takes {shape[1]} channels, the card lists {n} bands"
        )
    probe = np.full((1, n, _PROBE_SIZE, _PROBE_SIZE), 1000.0, dtype=np.float32)
    try:
        out = model.predict(probe)
    except ProcessingError as exc:
        raise ModelError(f"{origin} does not match its card: a {n}-band dummy tile fails ({exc})") from None
    expected = (1, n, _PROBE_SIZE * card.factor, _PROBE_SIZE * card.factor)
    if tuple(out.shape) != expected:
        if out.ndim == 4 and out.shape[1] != n:
            what = f"it returns {out.shape[1]} channels, the card lists {n} bands"
        elif out.ndim == 4 and out.shape[2] % _PROBE_SIZE == 0 and out.shape[2] // _PROBE_SIZE != card.factor:
            what = f"it upsamples by {out.shape[2] / _PROBE_SIZE:g}, the card says factor {card.factor}"
        else:
            what = f"a dummy tile gives shape {list(out.shape)}, expected {list(expected)}"
        raise ModelError(f"{origin} does not match its card: {what}")


def load_model(
    spec: str | Path | ModelCard | None = None,
    *,
    threads: int | None = None,
    gpu: bool = False,
) -> Model:
    """Resolve ``spec`` to a card and open its validated ONNX Runtime session."""
    return open_model(resolve_card(spec), RuntimeOptions(threads=threads, gpu=gpu))
