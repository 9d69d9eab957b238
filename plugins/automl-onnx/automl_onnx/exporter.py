"""The ``onnx`` exporter: build the graph, write it with its sidecar, check it against the native
model on held-out inputs, time both, and optionally quantize (see the package docstring)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from automl.plugins.api import decide
from automl_onnx.backbones import conversion_seconds, kind_of
from automl_onnx.build import build_graph
from automl_onnx.config import ExportReport, OnnxExportConfig, QuantizationReport
from automl_onnx.graph import Unsupported
from automl_onnx.network_cache import NetworkCache
from automl_onnx.runtime import EMBEDDING, SIDECAR, OnnxModel

MODEL_FILE = "model.onnx"
FLOAT_FILE = "model.float.onnx"  # the float graph, kept beside a quantized model.onnx
QUANTIZED_FILE = "model.quantized.onnx"
_EXTERNAL_DATA_BYTES = 1_500_000_000  # protobuf cannot hold 2 GB: larger graphs keep weights beside


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:300]}" if text else type(err).__name__


def _timed(fn: Callable[[], Any], budget_s: float = 0.5, runs: int = 3) -> tuple[Any, float]:
    """The first run's result and the fastest run's seconds (up to ``runs`` runs, fewer once
    ``budget_s`` is spent: a loaded machine makes single timings noisy)."""
    out, best, spent = None, float("inf"), 0.0
    for i in range(runs):
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        out = result if i == 0 else out
        best, spent = min(best, seconds), spent + seconds
        if spent >= budget_s:
            break
    return out, best


def _head(inputs: Any, n: int) -> Any:
    return inputs.iloc[:n] if hasattr(inputs, "iloc") else list(inputs)[:n]


def _margin(proba: np.ndarray, threshold: float | None) -> np.ndarray:
    """How far each native prediction is from changing label."""
    if threshold is not None and proba.shape[1] == 2:
        return np.abs(proba[:, 1] - threshold)
    top = np.sort(proba, axis=1)
    return top[:, -1] - top[:, -2] if proba.shape[1] > 1 else np.full(len(proba), np.inf)


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("automl-onnx", "onnx", "onnxruntime", "skl2onnx", "onnxmltools", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def save_model(model: onnx.ModelProto, path: Path) -> list[str]:
    """Writes ``model``; returns the file names written (the graph, and its weights when large)."""
    if model.ByteSize() < _EXTERNAL_DATA_BYTES:
        onnx.save_model(model, str(path))
        return [path.name]
    data = path.name + ".data"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=data)
    return [path.name, data]


@dataclass
class _Checked:
    """The check rows with the native model's and the float graph's predictions."""

    inputs: Any
    native: np.ndarray
    native_label: np.ndarray
    proba: np.ndarray
    ms: float  # the float graph's ms per row
    threshold: float | None


class OnnxExporter:
    """``export(model, inputs, folder)`` -> :class:`ExportReport`; built by the plugin's factory
    from :class:`OnnxExportConfig`."""

    def __init__(self, config: OnnxExportConfig | None = None) -> None:
        self.config = config or OnnxExportConfig()

    def load(self, folder: Path, threads: int | None = None) -> Any:
        """The exported graph in an onnxruntime session (:class:`automl_onnx.runtime.OnnxModel`)."""
        from automl_onnx.runtime import OnnxModel

        return OnnxModel(folder, threads=threads)

    def expected_seconds(self, views: Any, cache_dir: Path | None = None) -> float:
        """The seconds an export over ``views`` (a model's views: table columns or backbone
        embeddings) may add beyond a table's: converting a backbone not yet in ``cache_dir``. A
        run holds them back from its search so the export ends within the time budget."""
        cache = NetworkCache(cache_dir)
        costs = [conversion_seconds(cache, e, self.config.opset) for e in _embedders(views)]
        return max(costs, default=0.0)

    def export(
        self,
        model: Any,
        inputs: Any,
        folder: Path,
        *,
        labels: Any = None,
        metric: Any = None,
        cache_dir: Path | None = None,
        seconds_left: float | None = None,
        reference: tuple[Any, Any] | None = None,
    ) -> ExportReport:
        """Export ``model`` (an ``automl.model.fitted.FittedModel``) into ``folder``; ``inputs`` are held-out
        raw inputs (a DataFrame of rows, or image paths / texts) to check agreement and time it.
        ``labels`` (their class indices) and ``metric`` (a ``MetricSpec``, default accuracy) make
        the quantization tolerance a bound on the metric's change. ``cache_dir`` keeps converted
        backbone networks for later exports; ``seconds_left`` (the run's time budget) skips a
        backbone conversion that would not end within it. ``reference``: the native model's
        probabilities and logged embedding on ``inputs`` when the caller has them (a run, from its
        embedding cache), so the check need not run the backbone again (``native_ms_per_row`` is
        then not measured). Never raises for a model that cannot be exported: the report says why."""
        started = time.perf_counter()
        cfg = self.config
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)

        def report(exported: bool, reason: str | None = None, **fields: Any) -> ExportReport:
            return ExportReport(exported, reason, seconds=round(time.perf_counter() - started, 3), **fields)

        n = len(inputs)
        if n == 0:
            return report(False, "no check rows were given, so the export could not be checked")
        used = [model.views[key] for key in dict.fromkeys(m.view for m in model.members)]
        needed = self.expected_seconds(used, cache_dir)
        if seconds_left is not None and needed > seconds_left:
            return report(
                False,
                f"converting the backbone takes about {needed:.0f} s the first time, more than the "
                f"{max(seconds_left, 0):.0f} s search.time_budget_s leaves; a run with a larger budget exports it "
                "(later runs reuse the converted backbone)",
            )
        try:
            built = build_graph(model, cfg.opset, folder, NetworkCache(cache_dir))
        except Unsupported as err:
            return report(False, str(err))
        path = folder / MODEL_FILE
        files = save_model(built.model, path)
        files += [p.relative_to(folder).as_posix() for p in folder.glob("*tokenizer/*") if p.is_file()]
        meta = {**built.meta, "file": MODEL_FILE, "quantized": None, "float_file": None, "versions": _versions()}
        self._write_sidecar(folder, meta)
        files.append(SIDECAR)
        common = {"path": path, "files": files, "bytes": path.stat().st_size}
        try:
            runtime = OnnxModel(folder, batch_size=cfg.batch_size)
        except Exception as err:
            return report(False, f"onnxruntime cannot load the exported graph: {_first_line(err)}", **common)

        embeds = runtime.has_embedding
        names = ("probabilities", "label", EMBEDDING) if embeds else ("probabilities", "label")
        warm = _head(inputs, min(n, 8))
        runtime.outputs(warm, names)
        native_s: float | None = None
        if reference is not None and (reference[1] is not None or not embeds):
            native, native_embedding = np.asarray(reference[0], dtype=np.float64), reference[1]
        else:
            model.predict_proba(warm)
            (native, native_embedding), native_s = _timed(lambda: _native(model, inputs, embeds))
        onnx_out, onnx_s = _timed(lambda: runtime.outputs(inputs, names))
        proba, label = onnx_out[0], onnx_out[1]
        native_label = decide(native, model.threshold)
        diff = float(np.abs(proba - native).max())
        same = float(np.mean(label == native_label))
        flips = (label != native_label) & (_margin(native, model.threshold) > cfg.atol)
        measured = {
            "max_abs_diff": diff,
            "same_label_rate": same,
            "rows_checked": n,
            "native_ms_per_row": None if native_s is None else round(1000 * native_s / n, 4),
            "onnx_ms_per_row": round(1000 * onnx_s / n, 4),
            "embedding": embeds,
        }
        if diff > cfg.atol or flips.any():
            reason = (
                f"the ONNX graph disagrees with the native model on {n} check rows: max |p_onnx - p_native| "
                f"{diff:.2e} (atol {cfg.atol:g}), same label on {same:.1%}"
            )
            return report(False, reason, **common, **measured)
        if embeds:
            scale = max(1.0, float(np.abs(native_embedding).max()))
            measured["embedding_max_abs_diff"] = float(np.abs(onnx_out[2] - native_embedding).max())
            if measured["embedding_max_abs_diff"] > cfg.atol * scale:
                reason = (
                    f"the ONNX graph's embedding disagrees with the native model's on {n} check rows: max |e_onnx - "
                    f"e_native| {measured['embedding_max_abs_diff']:.2e} (atol {cfg.atol:g} x {scale:.3g})"
                )
                return report(False, reason, **common, **measured)
        quantized = None
        if cfg.quantize != "none":
            checked = _Checked(inputs, native, native_label, proba, measured["onnx_ms_per_row"], model.threshold)
            quantized = self._quantize(folder, checked, labels, metric)
            if quantized.kept:
                path.rename(folder / FLOAT_FILE)
                (folder / QUANTIZED_FILE).rename(path)
                meta.update(quantized=cfg.quantize, float_file=FLOAT_FILE)
                self._write_sidecar(folder, meta)
                files = [FLOAT_FILE if f == MODEL_FILE else f for f in files] + [MODEL_FILE]
                quantized.file = MODEL_FILE
                common.update(files=files, bytes=path.stat().st_size)
        return report(
            True,
            None,
            **common,
            **measured,
            quantized=bool(quantized and quantized.kept),
            quantized_report=quantized,
        )

    @staticmethod
    def _write_sidecar(folder: Path, meta: dict[str, Any]) -> None:
        (folder / SIDECAR).write_text(json.dumps(meta, indent=2, default=str) + "\n")

    def _quantize(self, folder: Path, checked: _Checked, labels: Any, metric: Any) -> QuantizationReport:
        from automl_onnx.quantize import count_quantizable, quantize

        inputs, native, native_label, float_ms = checked.inputs, checked.native, checked.native_label, checked.ms
        cfg = self.config
        started = time.perf_counter()
        mode = cfg.quantize
        source, target = folder / MODEL_FILE, folder / QUANTIZED_FILE
        n = len(inputs)

        def done(kept: bool, reason: str, **fields: Any) -> QuantizationReport:
            if not kept:
                target.unlink(missing_ok=True)
                fields.pop("file", None)  # not kept: deleted
            seconds = round(time.perf_counter() - started, 3)
            size = source.stat().st_size
            return QuantizationReport(
                mode, kept, reason, float_ms_per_row=float_ms, float_bytes=size, seconds=seconds, **fields
            )

        if not count_quantizable(source):
            return done(False, "nothing in the graph can be quantized (no float32 weights of Conv, MatMul or Gemm)")
        try:
            calibration = None
            if mode == "static":
                runtime = OnnxModel(folder, batch_size=cfg.batch_size)
                calibration = [runtime.feeds(b) for b in runtime.batches(_head(inputs, cfg.calibration_rows))]
            count = quantize(source, target, mode, calibration)
        except Exception as err:
            return done(False, f"onnxruntime could not quantize the graph: {_first_line(err)}")
        if count == 0:
            return done(False, "onnxruntime's quantizer left every operator as it was", quantized_nodes=0)
        try:
            runtime = OnnxModel(folder, file=QUANTIZED_FILE, batch_size=cfg.batch_size)
            runtime.run(_head(inputs, min(n, 8)))
            (proba, label), seconds = _timed(lambda: runtime.run(inputs))
        except Exception as err:
            return done(False, f"onnxruntime cannot run the quantized graph: {_first_line(err)}", quantized_nodes=count)
        fields: dict[str, Any] = {
            "file": QUANTIZED_FILE,
            "max_abs_diff": float(np.abs(proba - native).max()),
            "same_label_rate": float(np.mean(label == native_label)),
            "ms_per_row": round(1000 * seconds / n, 4),
            "bytes": target.stat().st_size,
            "quantized_nodes": count,
        }
        speed = f"{fields['ms_per_row']:.3g} ms/row quantized vs {float_ms:.3g} float"
        if labels is not None:
            y = np.asarray(labels)
            fields["metric_float"] = _score(metric, y, checked.proba, checked.threshold)
            fields["metric_quantized"] = _score(metric, y, proba, checked.threshold)
            greater = getattr(metric, "greater_is_better", True)
            worse = fields["metric_float"] - fields["metric_quantized"]
            worse = worse if greater else -worse
            name = getattr(metric, "name", "accuracy")
            kept = worse <= cfg.tolerance
            reason = (
                f"{name} {fields['metric_quantized']:.4f} quantized vs {fields['metric_float']:.4f} float on {n} rows "
                f"({'within' if kept else 'beyond'} tolerance {cfg.tolerance:g}); {speed}"
            )
        else:
            changed = 1.0 - fields["same_label_rate"]
            kept = changed <= cfg.tolerance
            reason = (
                f"{changed:.1%} of {n} check rows change label ({'within' if kept else 'beyond'} tolerance "
                f"{cfg.tolerance:.1%}); {speed}"
            )
        if kept and not cfg.keep_slower and fields["ms_per_row"] > float_ms:
            kept = False
            reason += ": slower than the float graph, so not kept (keep_slower: true keeps it for its size)"
        return done(kept, reason, **fields)


def _embedders(views: Any) -> list[Any]:
    """The backbone embedders among ``views`` that this exporter converts."""
    from automl.plugins.api import EmbeddingView

    found = []
    for view in views:
        if isinstance(view, EmbeddingView):
            try:
                kind_of(view.embedder)
            except Unsupported:
                continue
            found.append(view.embedder)
    return found


def _native(model: Any, inputs: Any, embeds: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The native model's probabilities, and its logged embedding when the graph has one to check."""
    if not embeds:
        return np.asarray(model.predict_proba(inputs), dtype=np.float64), None
    proba, embedding = model.predict_proba_and_embedding(inputs)
    return np.asarray(proba, dtype=np.float64), np.asarray(embedding, dtype=np.float32)


def _score(metric: Any, y: np.ndarray, proba: np.ndarray, threshold: float | None) -> float:
    if metric is None:
        return float(np.mean(decide(proba, threshold) == y))
    from automl.plugins.api import score

    return float(score(metric, y, proba, threshold))
