"""A CARN-sized conv net with fixed seeded weights: the benchmark's own model.

About the size and cost of the seed tool's default model (``carn_3x3x64g4sw``, ~400 k
parameters, all 3×3 convolutions on the 10 m grid, ×2 by sub-pixel shuffle), built with
``onnx.helper`` so the benchmark needs no download:

    input ×1e-4 → conv 10→64 → 3 × [conv 64→64, ReLU, conv 64→64, + skip] → + head
    → conv 64→256 → DepthToSpace(2) → conv 64→10 → + nearest ×2 of the input → ×1e4

381 k parameters; receptive-field radius 10 input px + 1 output px = 21 output px, inside
the card's margin of 32 output px (so tiled == untiled).  Weights are small and seeded: the
output stays near the nearest-neighbour upsample of the input (plausible reflectances).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BANDS = ("B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12")
FACTOR = 2
MARGIN = 32


def carn_like_model(
    n_bands: int = 10, factor: int = FACTOR, *, width: int = 64, blocks: int = 3, seed: int = 0
) -> bytes:
    """Serialized ONNX model ``input [b, n_bands, h, w] → output [b, n_bands, h·f, w·f]``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def conv(name: str, x: str, cin: int, cout: int, *, gain: float = 1.0, relu: bool = False) -> str:
        w = rng.standard_normal((cout, cin, 3, 3)) * (gain * np.sqrt(2.0 / (cin * 9)))
        b = rng.standard_normal(cout) * 0.01
        nodes.append(
            helper.make_node("Conv", [x, const(f"{name}_w", w), const(f"{name}_b", b)], [f"{name}_y"], pads=[1, 1, 1, 1])
        )
        if not relu:
            return f"{name}_y"
        nodes.append(helper.make_node("Relu", [f"{name}_y"], [f"{name}_r"]))
        return f"{name}_r"

    def add(name: str, a: str, b: str) -> str:
        nodes.append(helper.make_node("Add", [a, b], [name]))
        return name

    nodes.append(helper.make_node("Mul", ["input", const("scale_in", np.array(1e-4))], ["x0"]))
    head = conv("head", "x0", n_bands, width)
    cur = head
    for i in range(blocks):
        y = conv(f"b{i}a", cur, width, width, relu=True)
        y = conv(f"b{i}b", y, width, width, gain=0.3)
        cur = add(f"b{i}_sum", cur, y)
    cur = add("body_sum", cur, head)
    up = conv("up", cur, width, width * factor * factor, gain=0.5)
    nodes.append(helper.make_node("DepthToSpace", [up], ["shuffled"], blocksize=factor, mode="CRD"))
    tail = conv("tail", "shuffled", width, n_bands, gain=0.05)
    scales = const("scales", np.array([1.0, 1.0, factor, factor]))
    nearest = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    nodes.append(helper.make_node("Resize", ["x0", "", scales], ["skip"], **nearest))
    out = add("sum", tail, "skip")
    nodes.append(helper.make_node("Mul", [out, const("scale_out", np.array(1e4))], ["output"]))
    graph = helper.make_graph(
        nodes,
        f"carn_like_x{factor}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["b", n_bands, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["b", n_bands, "H", "W"])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="s2sr-benchmarks")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def parameter_count(onnx_bytes: bytes) -> int:
    import onnx

    m = onnx.load_from_string(onnx_bytes)
    return int(sum(np.prod(t.dims) for t in m.graph.initializer if len(t.dims) > 1 or t.name.endswith("_b")))


def write_carn_like(directory: str | Path, name: str = "carn_like") -> Path:
    """Write ``NAME.onnx`` and its card (10 bands, ×2, margin 32) into ``directory``; the card path."""
    from s2sr.models.graphs import write_model

    return write_model(
        directory, name, carn_like_model(), bands=BANDS, factor=FACTOR, margin=MARGIN,
        description="CARN-sized benchmark model (seeded weights, not trained)",
    )
