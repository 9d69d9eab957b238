"""The exporter's options and its report (standard library only: ``automl plugins`` and recipe
validation import this module, and they must stay fast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

# OmegaConf reads these annotations at runtime: keep typing.Optional.
# ruff: noqa: UP045

QUANTIZE_MODES = ("none", "dynamic", "static")


@dataclass
class OnnxExportConfig:
    """Options of the ``onnx`` exporter (``deploy.export_options``).

    ``quantize``: ``none``, ``dynamic`` (int8 weights, activations quantized on the fly) or
    ``static`` (int8 weights and activations, calibrated on the first ``calibration_rows`` check
    rows). The quantized graph replaces the float one only when its predictions stay within
    ``tolerance`` of the float graph's: with labels, the recipe's metric may worsen by at most
    ``tolerance``; without, at most that share of the check rows may change label.
    A quantized graph that runs slower than the float one on the check rows (dynamic quantization
    of convolutions, typically) is not kept either, unless ``keep_slower`` (e.g. for its size).
    ``atol``: the largest ``|p_onnx - p_native|`` (any class, any check row) for the float graph
    to count as agreeing with the native model. ``opset``: the ONNX operator set of the graph.
    ``batch_size``: rows per onnxruntime call when checking and in :class:`automl_onnx.OnnxModel`.
    """

    quantize: str = "none"
    tolerance: float = 0.01
    keep_slower: bool = False
    atol: float = 1e-4
    calibration_rows: int = 64
    opset: int = 18
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.quantize not in QUANTIZE_MODES:
            raise ValueError(f"quantize must be one of {', '.join(QUANTIZE_MODES)}. Got {self.quantize!r}.")
        if not 0 <= self.tolerance <= 1:
            raise ValueError(f"tolerance must be a float in [0, 1]. Got {self.tolerance}.")
        if self.atol <= 0:
            raise ValueError(f"atol must be a float > 0. Got {self.atol}.")
        if self.calibration_rows < 1:
            raise ValueError(f"calibration_rows must be an int >= 1. Got {self.calibration_rows}.")
        if not 18 <= self.opset <= 21:
            raise ValueError(f"opset must be an int in [18, 21]. Got {self.opset}.")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1. Got {self.batch_size}.")


@dataclass
class QuantizationReport:
    """What quantization gave, measured on the same check rows as the float graph."""

    mode: str
    kept: bool
    reason: str
    file: Optional[str] = None  # the quantized graph in the export folder, when kept
    max_abs_diff: Optional[float] = None  # max |p_quantized - p_native|
    same_label_rate: Optional[float] = None  # share of rows whose label equals the native model's
    metric_float: Optional[float] = None  # the metric of the float graph on the check rows (with labels)
    metric_quantized: Optional[float] = None
    ms_per_row: Optional[float] = None
    float_ms_per_row: Optional[float] = None
    bytes: Optional[int] = None
    float_bytes: Optional[int] = None
    quantized_nodes: int = 0
    seconds: float = 0.0


@dataclass
class ExportReport:
    """The outcome of one export. ``exported`` is True only when ``model.onnx`` was written and
    agrees with the native model on the check rows; otherwise ``reason`` says why, in one line."""

    exported: bool
    reason: Optional[str] = None
    path: Optional[Path] = None  # the graph to serve (model.onnx in the export folder)
    files: list[str] = field(default_factory=list)  # every file written, relative to the folder
    max_abs_diff: Optional[float] = None  # max |p_onnx - p_native| over the check rows
    same_label_rate: Optional[float] = None
    rows_checked: int = 0
    seconds: float = 0.0
    native_ms_per_row: Optional[float] = None
    onnx_ms_per_row: Optional[float] = None
    embedding: bool = False  # the graph also outputs the backbone embedding the invoke log keeps
    embedding_max_abs_diff: Optional[float] = None  # max |e_onnx - e_native| over the check rows
    bytes: Optional[int] = None
    quantized: bool = False  # True when model.onnx is the quantized graph
    quantized_report: Optional[QuantizationReport] = None
