"""Small ONNX graphs built with ``onnx.helper``: the built-in baseline and test models.

Only the build step needs the ``onnx`` package; running the graphs needs ONNX Runtime alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def resize_model(n_bands: int, factor: int, *, mode: str = "cubic", opset: int = 17) -> bytes:
    """A model that upsamples ``input [b, n_bands, h, w]`` by ``factor`` with ONNX Resize.

    ``mode="cubic"`` uses the Keys kernel with a = -0.5 (GDAL's cubic) on pixel centres
    (``half_pixel``), so it matches GDAL's cubic upsampling away from the borders.
    """
    import onnx
    from onnx import TensorProto, helper

    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, float(factor), float(factor)])
    attrs: dict[str, Any] = {"mode": mode}
    if mode == "cubic":
        attrs.update(cubic_coeff_a=-0.5, coordinate_transformation_mode="half_pixel", exclude_outside=0)
    elif mode == "nearest":
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    node = helper.make_node("Resize", ["input", "", "scales"], ["output"], **attrs)
    graph = helper.make_graph(
        [node],
        f"resize_{mode}_x{factor}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["b", n_bands, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["b", n_bands, "H", "W"])],
        initializer=[scales],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="s2sr")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def convnet_model(
    n_bands: int,
    factor: int,
    *,
    layers_in: int = 2,
    layers_out: int = 2,
    hidden: int | None = None,
    seed: int = 0,
    opset: int = 17,
) -> bytes:
    """A small residual conv net with a known receptive field (for tests and benchmarks).

    ``layers_in`` 3×3 convolutions on the input grid, nearest ×factor, then ``layers_out``
    3×3 convolutions on the output grid, added to a nearest upsample of the input.  Its
    receptive-field radius in output pixels is ``layers_in * factor + layers_out``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = []
    nodes = []
    cur = "input"
    hidden = hidden or max(8, n_bands)

    def conv(name: str, cin: int, cout: int, x: str, relu: bool) -> str:
        w = (rng.standard_normal((cout, cin, 3, 3)) * (0.5 / np.sqrt(cin * 9))).astype(np.float32)
        b = np.zeros(cout, np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(b, f"{name}_b")])
        nodes.append(helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [f"{name}_y"], pads=[1, 1, 1, 1]))
        if relu:
            nodes.append(helper.make_node("Relu", [f"{name}_y"], [f"{name}_r"]))
            return f"{name}_r"
        return f"{name}_y"

    scale_in = helper.make_tensor("scale_in", TensorProto.FLOAT, [], [1e-4])
    scale_out = helper.make_tensor("scale_out", TensorProto.FLOAT, [], [1e4])
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, float(factor), float(factor)])
    inits.extend([scale_in, scale_out, scales])
    nodes.append(helper.make_node("Mul", ["input", "scale_in"], ["x0"]))
    cur, cin = "x0", n_bands
    for i in range(layers_in):
        cur = conv(f"ci{i}", cin, hidden, cur, relu=True)
        cin = hidden
    nearest = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    nodes.append(helper.make_node("Resize", [cur, "", "scales"], ["up"], **nearest))
    cur = "up"
    for i in range(layers_out):
        last = i == layers_out - 1
        cur = conv(f"co{i}", cin, n_bands if last else hidden, cur, relu=not last)
        cin = hidden
    nodes.append(helper.make_node("Resize", ["x0", "", "scales"], ["skip"], **nearest))
    nodes.append(helper.make_node("Add", [cur, "skip"], ["sum"]))
    nodes.append(helper.make_node("Mul", ["sum", "scale_out"], ["output"]))
    graph = helper.make_graph(
        nodes,
        f"convnet_x{factor}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["b", n_bands, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["b", n_bands, "H", "W"])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="s2sr")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def carn_like_model(
    n_bands: int = 10, factor: int = 2, *, width: int = 64, blocks: int = 3, seed: int = 0
) -> bytes:
    """A CARN-sized conv net with seeded weights (for benchmarks): about the size and cost of the
    seed tool's default model (``carn_3x3x64g4sw``, ~400 k parameters, 3×3 convolutions on the
    input grid, ×factor by sub-pixel shuffle).

    ``input ×1e-4 → conv n→64 → blocks × [conv, ReLU, conv, + skip] → + head → conv 64→64·f²
    → DepthToSpace(f) → conv 64→n → + nearest ×f of the input → ×1e4``.  With the defaults:
    381 k parameters, receptive-field radius 10 input px + 1 output px (21 output px at ×2,
    inside a margin of 32).  Weights are small and seeded: the output stays near the nearest
    upsample of the input (plausible reflectances).
    """
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
    tail = conv("tail", "shuffled", width, n_bands, gain=0.01)
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


def write_model(
    directory: str | Path,
    name: str,
    onnx_bytes: bytes,
    *,
    bands: list[str] | tuple[str, ...],
    factor: int,
    margin: int,
    description: str = "",
) -> Path:
    """Write ``NAME.onnx`` and its card ``NAME.yaml`` into ``directory``; return the card path."""
    import yaml

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.onnx").write_bytes(onnx_bytes)
    card: dict[str, object] = {
        "bands": list(bands),
        "factor": float(factor),
        "margin": int(margin),
        "model": f"{name}.onnx",
        "name": name,
    }
    if description:
        card["description"] = description
    path = d / f"{name}.yaml"
    path.write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    return path
