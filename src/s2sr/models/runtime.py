"""ONNX Runtime sessions for model cards: one session per run, validated against its card.

:func:`load_model` is the usual entry: what the user gave (:func:`~s2sr.models.resolve.resolve_card`)
to a validated session.  (``file_sha256`` stays importable from here; it lives in :mod:`s2sr.hashing`.)
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..cpus import available_cpus
from ..defaults import DEVICES, PRECISIONS
from ..errors import ModelError, ProcessingError
from ..hashing import file_sha256 as file_sha256  # re-exported: runtime.file_sha256
from .card import ModelCard
from .resolve import resolve_card

log = logging.getLogger(__name__)

INPUT_NAME = "input"
_QUIET_RUN = ort.RunOptions()
_QUIET_RUN.log_severity_level = 4  # ONNX Runtime's own error log line stays off stderr
_PROBE_SIZE = 32  # input pixels per side of the dummy tile used to validate a model


_CUDA, _TRT, _CPU = "CUDAExecutionProvider", "TensorrtExecutionProvider", "CPUExecutionProvider"


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run a model: threads, device and precision."""

    threads: int | None = None  #: intra-op threads (None: the cores this process may use, :func:`available_cpus`)
    gpu: bool = False  #: shorthand for ``device="cuda"``
    device: str | None = None  #: ``cpu``, ``cuda`` or ``tensorrt`` (None: ``cuda`` if ``gpu`` else ``cpu``)
    precision: str = "fp32"  #: ``fp16``: the model is converted at load (inputs and outputs stay float32)

    def __post_init__(self) -> None:
        if self.device is not None and self.device not in DEVICES:
            raise ModelError(f"unknown device {self.device!r}", hint=f"use one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise ModelError(f"unknown precision {self.precision!r}", hint=f"use one of {', '.join(PRECISIONS)}")

    @property
    def wanted_device(self) -> str:
        return self.device or ("cuda" if self.gpu else "cpu")


@dataclass
class Model:
    """A model card bound to an ONNX Runtime session."""

    card: ModelCard
    session: ort.InferenceSession
    providers: tuple[str, ...]
    sha256: str = field(default="")
    precision: str = "fp32"
    #: feed and fetch through ONNX Runtime's I/O binding (set on CUDA: the output is allocated
    #: on the device and copied back once; also works, and is tested, on CPU)
    io_binding: bool = False

    @property
    def name(self) -> str:
        return self.card.name or self.card.onnx_path.stem

    @property
    def device(self) -> str:
        """Where the model runs: ``cpu``, ``cuda`` or ``tensorrt`` (the session's first provider)."""
        first = self.providers[0] if self.providers else _CPU
        return {_CUDA: "cuda", _TRT: "tensorrt"}.get(first, "cpu")

    @property
    def threads(self) -> int:
        """The session's intra-op threads."""
        return int(self.session.get_session_options().intra_op_num_threads)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on ``[b, c, h, w]`` float32 (no NaN); return ``[b, c, h·f, w·f]``."""
        x = np.ascontiguousarray(batch, dtype=np.float32)
        try:
            if self.io_binding:
                y = self._run_bound(x)
            else:
                (y,) = self.session.run(None, {INPUT_NAME: x}, _QUIET_RUN)[:1]
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ProcessingError(f"inference failed in model {self.name}: {exc}") from exc
        return np.asarray(y, dtype=np.float32)

    def _run_bound(self, x: np.ndarray) -> np.ndarray:
        binding = self.session.io_binding()
        binding.bind_cpu_input(INPUT_NAME, x)  # one host→device copy
        device = "cpu" if self.device == "cpu" else "cuda"
        binding.bind_output(self.session.get_outputs()[0].name, device)  # allocated where the model runs
        self.session.run_with_iobinding(binding, _QUIET_RUN)
        return binding.copy_outputs_to_cpu()[0]


def default_threads() -> int:
    """Intra-op threads when none are asked for: the cores this process may use."""
    return available_cpus()


def engine_cache_dir() -> Path:
    """Where TensorRT engines are cached (``$S2SR_TRT_CACHE`` or the user cache dir)."""
    env = os.environ.get("S2SR_TRT_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("s2sr", appauthor=False)) / "tensorrt"


def _providers(options: RuntimeOptions) -> list[str | tuple[str, dict[str, str]]]:
    """Execution providers for ``options``, best first; what this onnxruntime lacks falls back
    (TensorRT → CUDA → CPU) with a warning."""
    available = ort.get_available_providers()
    wanted = options.wanted_device
    chain: list[str | tuple[str, dict[str, str]]] = []
    if wanted == "tensorrt":
        if _TRT in available:
            cache = engine_cache_dir()
            cache.mkdir(parents=True, exist_ok=True)
            chain.append((_TRT, {
                "trt_engine_cache_enable": "True",
                "trt_engine_cache_path": str(cache),
                "trt_timing_cache_enable": "True",
                "trt_fp16_enable": "True" if options.precision == "fp16" else "False",
            }))
        else:
            log.warning("TensorRT asked for but this onnxruntime has no TensorrtExecutionProvider; trying CUDA")
    if wanted in {"cuda", "tensorrt"}:
        if _CUDA in available:
            chain.append(_CUDA)
        else:
            log.warning(
                "%s asked for but this onnxruntime has no CUDAExecutionProvider "
                "(install s2sr[gpu]); running on CPU", "--device " + wanted if options.device else "--gpu"
            )
    chain.append(_CPU)
    return chain


def session_options(
    threads: int | None, *, spinning: bool = False, mem_pattern: bool = False, arena: bool = True
) -> ort.SessionOptions:
    """Session options measured on the benchmark (``benchmarks/run.py``, ``onnxruntime_options``;
    the keywords are there for that comparison):

    * intra-op threads = the cores this process may use (not ONNX Runtime's guess), one inter-op;
    * no spinning: waiting threads sleep, so the read and write threads get the cores the model
      leaves idle (same CPU time for the model, less contention);
    * no memory pattern: the pattern pre-plans one block per tensor for the largest shape seen;
      off, the arena reuses freed blocks (27 % less peak memory on a 398² tile of the CARN-sized
      model, same CPU time); the arena stays (without it every run faults its buffers in again:
      +45 % CPU time).
    """
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads or default_threads())
    so.inter_op_num_threads = 1
    so.enable_mem_pattern = mem_pattern
    so.enable_cpu_mem_arena = arena
    spin = "1" if spinning else "0"
    so.add_session_config_entry("session.intra_op.allow_spinning", spin)
    so.add_session_config_entry("session.inter_op.allow_spinning", spin)
    so.log_severity_level = 4  # fatal only: a failing run is reported by s2sr, in one line
    return so


def to_fp16(model: str | bytes) -> bytes:
    """``model`` with float16 weights and arithmetic, float32 inputs and outputs (onnxconverter-common)."""
    try:
        import onnx
        from onnxconverter_common import float16
    except ImportError:
        raise ModelError(
            "--precision fp16 needs the onnxconverter-common package",
            hint="pip install 's2sr[gpu]' (or onnxconverter-common)",
        ) from None
    proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(model)
    for i, node in enumerate(proto.graph.node):  # the converter names its casts after nodes: unnamed ones collide
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    with warnings.catch_warnings():  # "the float32 number … will be truncated": expected, per weight
        warnings.simplefilter("ignore", UserWarning)
        converted = float16.convert_float_to_float16(proto, keep_io_types=True)
    return converted.SerializeToString()


def create_session(model: str | bytes, options: RuntimeOptions) -> ort.InferenceSession:
    """An ONNX Runtime session for a model file path or serialized bytes, with ``options``
    (threads, device with fallback, fp16 conversion) and the measured session options."""
    providers = _providers(options)
    source: str | bytes = model
    first = providers[0] if isinstance(providers[0], str) else providers[0][0]
    if options.precision == "fp16" and first != _TRT:
        source = to_fp16(model)  # TensorRT makes its own fp16 engine from the fp32 graph
    session = ort.InferenceSession(source, sess_options=session_options(options.threads), providers=providers)
    got = session.get_providers()
    if len(providers) > 1 and got and got[0] == _CPU:
        log.warning("the GPU could not be initialised; running on CPU")
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
    model = Model(card=card, session=session, providers=used, sha256=file_sha256(path), precision=opts.precision)
    model.io_binding = model.device != "cpu"
    _validate(model)
    log.info("model %s (%s), providers %s, %s, %d thread(s)", model.name, path, ", ".join(used), opts.precision,
             model.threads)
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
    device: str | None = None,
    precision: str = "fp32",
) -> Model:
    """Resolve ``spec`` to a card and open its validated ONNX Runtime session."""
    return open_model(resolve_card(spec), RuntimeOptions(threads=threads, gpu=gpu, device=device, precision=precision))
