"""Run an exported model with onnxruntime from the task's raw inputs, as the native model takes
them: a DataFrame of table rows, a list of image paths (or PIL images), or a list of texts.

Needs numpy, onnxruntime, and (by input kind) pandas, Pillow or the tokenizer's library; never
torch for tables and images::

    model = OnnxModel("export/")
    proba = model.predict_proba(frame)        # (N, K) float64, columns in model.classes order
    labels = model.predict(frame)             # class names, the decision threshold applied
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SIDECAR = "model.json"
EMBEDDING = "embedding"  # the output holding the logged backbone embedding (image and text graphs)


class OnnxModel:
    """An exported model: its graph in an onnxruntime session and its sidecar (classes, threshold,
    inputs and how to prepare them)."""

    def __init__(self, folder: str | Path, file: str | None = None, threads: int | None = None, batch_size: int = 64):
        import onnxruntime as ort

        self.folder = Path(folder)
        self.meta: dict[str, Any] = json.loads((self.folder / SIDECAR).read_text())
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        path = self.folder / (file or self.meta["file"])
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.classes: list[str] = list(self.meta["classes"])
        self.threshold: float | None = self.meta.get("threshold")
        self.batch_size = batch_size
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._tokenizers: dict[str, Any] = {}

    # --- inputs ---------------------------------------------------------------------------------

    def feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        """The graph's input arrays for a batch of raw inputs."""
        kind = self.meta["input_kind"]
        if kind == "table":
            return self._table_feeds(inputs)
        if kind == "image":
            from automl.plugins.api import as_rgb
            from automl_onnx.imaging import preprocess

            images = [as_rgb(item) for item in inputs]
            return {spec["name"]: preprocess(images, spec["preprocess"]["data_config"]) for spec in self.meta["inputs"]}
        if kind == "text":
            return self._text_feeds(list(inputs))
        raise ValueError(f"unknown input kind {kind!r} in {SIDECAR}")

    def _table_feeds(self, frame: Any) -> dict[str, np.ndarray]:
        import pandas as pd

        if isinstance(frame, list) and all(isinstance(row, dict) for row in frame):
            return self._row_feeds(frame)
        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(frame)
        missing = [spec["column"] for spec in self.meta["inputs"] if spec["column"] not in frame.columns]
        if missing:
            raise ValueError(f"input is missing feature column(s): {', '.join(map(str, missing))}")
        out = {}
        for spec in self.meta["inputs"]:
            column = frame[spec["column"]]
            if spec["type"] == "double":
                out[spec["name"]] = pd.to_numeric(column, errors="coerce").to_numpy(np.float64).reshape(-1, 1)
            else:
                text = np.where(column.isna(), spec["missing"], column.astype(str)).astype(object)
                out[spec["name"]] = text.reshape(-1, 1)
        return out

    def _row_feeds(self, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        """Feeds straight from row dicts (a served request's rows): no DataFrame built per call,
        the same coercion as ``_table_feeds`` (a number or NaN; a string, or the missing marker)."""
        missing = [spec["column"] for spec in self.meta["inputs"] if any(spec["column"] not in r for r in rows)]
        if missing:
            raise ValueError(f"input is missing feature column(s): {', '.join(map(str, dict.fromkeys(missing)))}")
        out = {}
        for spec in self.meta["inputs"]:
            values = [row[spec["column"]] for row in rows]
            if spec["type"] == "double":
                out[spec["name"]] = np.array([[_number(v)] for v in values], dtype=np.float64)
            else:
                marker = spec["missing"]
                out[spec["name"]] = np.array([[marker if _absent(v) else str(v)] for v in values], dtype=object)
        return out

    def _text_feeds(self, texts: list[str]) -> dict[str, np.ndarray]:
        out = {}
        for spec in self.meta["inputs"]:
            prep = spec["preprocess"]
            tokenizer = self._tokenizer(prep["dir"])
            encoded = tokenizer(
                texts, padding=True, truncation=True, max_length=prep["max_length"], return_tensors="np"
            )
            out[spec["name"]] = np.asarray(encoded[prep["field"]], dtype=np.int64)
        return out

    def _tokenizer(self, folder: str) -> Any:
        if folder not in self._tokenizers:
            import importlib.util

            if importlib.util.find_spec("torch") is not None:  # transformers may import torchvision
                from automl.plugins.api import ensure_torchvision_importable

                ensure_torchvision_importable()
            from transformers import AutoTokenizer

            self._tokenizers[folder] = AutoTokenizer.from_pretrained(str(self.folder / folder), local_files_only=True)
        return self._tokenizers[folder]

    # --- predictions ----------------------------------------------------------------------------

    def batches(self, inputs: Any) -> list[Any]:
        """``inputs`` in slices of ``batch_size`` (rows of a DataFrame, items of a list)."""
        n = len(inputs)
        if hasattr(inputs, "iloc"):
            return [inputs.iloc[start : start + self.batch_size] for start in range(0, n, self.batch_size)]
        items = list(inputs)
        return [items[start : start + self.batch_size] for start in range(0, n, self.batch_size)]

    @property
    def has_embedding(self) -> bool:
        """Whether the graph outputs the backbone embedding the native model logs (image and text
        models exported since the ``embedding`` output was added)."""
        return EMBEDDING in self.output_names

    def run(self, inputs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities ``(N, K)`` (float64) and class indices ``(N,)`` (threshold applied)."""
        proba, label = self.outputs(inputs, ("probabilities", "label"))
        return proba, label

    def outputs(self, inputs: Any, names: tuple[str, ...]) -> list[np.ndarray]:
        """The graph's outputs ``names`` for ``inputs``, batch by batch, in the order given.

        Texts run sorted by length (as the native embedder batches them), so a batch pads to
        texts of like length; the results come back in the order given."""
        if self.meta["input_kind"] == "text" and len(inputs) > self.batch_size:
            texts = list(inputs)
            order = np.argsort([len(t) for t in texts], kind="stable")
            sorted_out = self._run_batches([texts[i] for i in order], names)
            back = np.empty_like(order)
            back[order] = np.arange(len(order))
            return [values[back] for values in sorted_out]
        return self._run_batches(inputs, names)

    def _run_batches(self, inputs: Any, names: tuple[str, ...]) -> list[np.ndarray]:
        parts: list[list[np.ndarray]] = [[] for _ in names]
        for batch in self.batches(inputs):
            for i, values in enumerate(self.session.run(list(names), self.feeds(batch))):
                parts[i].append(_typed(names[i], values))
        if not parts[0]:
            empty = {"probabilities": np.zeros((0, len(self.classes))), "label": np.zeros(0, dtype=np.int64)}
            return [empty.get(name, np.zeros((0, 0), dtype=np.float32)) for name in names]
        return [np.concatenate(chunks) for chunks in parts]

    def predict_proba(self, inputs: Any) -> np.ndarray:
        return self.run(inputs)[0]

    def predict_proba_and_embedding(self, inputs: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities and the logged view's embedding (None when the graph has no such output)."""
        if not self.has_embedding:
            return self.predict_proba(inputs), None
        proba, embedding = self.outputs(inputs, ("probabilities", EMBEDDING))
        return proba, embedding

    def predict_index(self, inputs: Any) -> np.ndarray:
        return self.run(inputs)[1]

    def predict(self, inputs: Any) -> list[str]:
        return [self.classes[i] for i in self.predict_index(inputs)]


def _typed(name: str, values: Any) -> np.ndarray:
    if name == "probabilities":
        return np.asarray(values, dtype=np.float64)
    if name == "label":
        return np.asarray(values, dtype=np.int64).reshape(-1)
    return np.asarray(values, dtype=np.float32)


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _number(value: Any) -> float:
    """What ``pd.to_numeric(errors="coerce")`` gives for one value: a float, or NaN."""
    if _absent(value) or isinstance(value, bool):
        return float("nan") if _absent(value) else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
