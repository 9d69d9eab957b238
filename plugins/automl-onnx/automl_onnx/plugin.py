"""Registers the ``onnx`` exporter. Nothing heavy is imported here (``automl plugins`` imports this
module): onnx, onnxruntime, skl2onnx and torch are imported when an export runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automl.plugins.api import ComponentSpec, hookimpl
from automl_onnx.config import OnnxExportConfig


def make_exporter(config: OnnxExportConfig) -> Any:
    """The exporter object for ``config``: ``export(model, inputs, folder) -> ExportReport``."""
    from automl_onnx.exporter import OnnxExporter

    return OnnxExporter(config)


@hookimpl
def register_exporters(register: Callable[[ComponentSpec], None]) -> None:
    register(
        ComponentSpec(
            name="onnx",
            config_cls=OnnxExportConfig,
            factory=make_exporter,
            description="One ONNX graph (preprocessing, members, weighted average) checked against the native "
            "model; optional int8 quantization kept only within tolerance.",
        )
    )
