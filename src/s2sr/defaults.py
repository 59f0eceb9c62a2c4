"""Defaults that the library and every entry point (CLI help included) share; no imports, so the
command line can show them without loading the library."""

from __future__ import annotations

#: Useful output pixels per tile side when none is given (the seed tool's default).
DEFAULT_TILE_SIZE = 1000

#: STAC collection id (and folder under the destination) that runs publish into.
DEFAULT_COLLECTION = "s2sr"

#: Where the model may run (``--device``); what this onnxruntime lacks falls back TensorRT → CUDA → CPU.
DEVICES = ("cpu", "cuda", "tensorrt")

#: Arithmetic precision of the model (``--precision``); fp16 converts the model at load.
PRECISIONS = ("fp32", "fp16")
