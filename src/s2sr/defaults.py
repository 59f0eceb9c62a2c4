"""Defaults that the library and every entry point (CLI help included) share; no imports, so the
command line can show them without loading the library."""

from __future__ import annotations

#: The most useful output pixels per tile side when none is given.  732 (366 source px at ×2)
#: divides 1098 and 10980 (a whole tile) evenly, so with a margin of 32 every product size reads
#: 398² tiles: peak memory is flat in product size and ~1 GB with a CARN-sized model (the seed's
#: 1000 reads up to 532² tiles: ~1.4 GB) for a margin overhead of 1.18 instead of 1.13.
DEFAULT_TILE_SIZE = 732

#: STAC collection id (and folder under the destination) that runs publish into.
DEFAULT_COLLECTION = "s2sr"

#: Where the model may run (``--device``); what this onnxruntime lacks falls back TensorRT → CUDA → CPU.
DEVICES = ("cpu", "cuda", "tensorrt")

#: Arithmetic precision of the model (``--precision``); fp16 converts the model at load.
PRECISIONS = ("fp32", "fp16")
