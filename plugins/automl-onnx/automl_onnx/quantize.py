"""Int8 quantization with onnxruntime's tools.

``dynamic``: weights of MatMul / Gemm / Conv (and a few others) to int8, activations quantized at
run time (``quantize_dynamic``); convolutions become ``ConvInteger``, which onnxruntime's CPU
kernels run slowly, so a CNN often gets slower. ``static``: weights and activations, with scales
from calibration rows, in QDQ form (uint8 activations, int8 per-channel weights, the layout
onnxruntime's x86 kernels fuse). Operators outside onnxruntime's lists (tree ensembles, string
lookups) stay as they are, so a table model usually has nothing to quantize.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx

QUANTIZED_OPS = {
    "QuantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "ConvInteger",
    "QLinearConv",
    "QLinearMatMul",
    "DynamicQuantizeMatMul",
    "QGemm",
    "QAttention",
}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    import onnxruntime as ort

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the tools log advice ("run pre-processing first") at warning level
    ort.set_default_logger_severity(3)  # and their sessions warn about initializers they leave unused
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)
        ort.set_default_logger_severity(2)


WEIGHTED_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm"}


def count_quantizable(path: Path) -> int:
    """Operators with float32 weights that the quantizers would turn into int8 ones."""
    model = onnx.load(str(path), load_external_data=False)
    weights = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    return sum(node.op_type in WEIGHTED_OPS and any(i in weights for i in node.input) for node in model.graph.node)


def count_quantized(path: Path) -> int:
    model = onnx.load(str(path), load_external_data=False)
    return sum(node.op_type in QUANTIZED_OPS for node in model.graph.node)


class _Calibration:
    """onnxruntime's CalibrationDataReader over a list of feed dicts."""

    def __init__(self, feeds: list[dict[str, Any]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, Any] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:  # onnxruntime calls it between passes on recent versions
        pass


def quantize(source: Path, target: Path, mode: str, calibration: list[dict[str, Any]] | None = None) -> int:
    """Writes the quantized graph of ``source`` to ``target``; returns its count of quantized
    operators (0: nothing in the graph could be quantized)."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    with _quiet():
        if mode == "dynamic":
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
        elif mode == "static":
            with tempfile.TemporaryDirectory() as tmp:
                prepared = _preprocessed(source, Path(tmp) / "prepared.onnx")
                quantize_static(
                    str(prepared),
                    str(target),
                    _Calibration(list(calibration or [])),
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    calibrate_method=CalibrationMethod.MinMax,
                )
        else:
            raise ValueError(f"unknown quantization mode {mode!r}")
    return count_quantized(target)


def _preprocessed(source: Path, target: Path) -> Path:
    """onnxruntime's recommended pre-processing (shape inference, graph optimisation); the graph as
    it is when that fails (e.g. on operators shape inference does not know)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(source), str(target), skip_symbolic_shape=True)
        return target
    except Exception:
        return source
