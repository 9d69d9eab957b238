"""Backbone networks converted to ONNX once per workspace, reused by every later export.

Converting a backbone with ``torch.onnx`` is most of an image or text export (EfficientNet-Lite0:
6.5 s of 10 s on 2 cores), and it gives the same graph every time for the same weights: the
embedder's ``identity`` (the embedding cache's key: the network, its weights' digest, its
preprocessing) says which. A retrain of the loop exports the new heads in seconds by splicing the
cached network. Each entry records how long its conversion took, so a run can hold that time back
from its search (``expected_seconds``). Keyed also by opset, torch and onnx versions: an upgrade
converts again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx

FORMAT = 1
# A first conversion's estimate, for a backbone never converted here: measured on this project's
# 2-core machine, EfficientNet-Lite0 (4.7 M parameters) took 6.5 s and MiniLM-L6 (22.7 M) 5.6 s:
# mostly tracing and optimisation passes, which grow with the layers more than the weights. The
# estimate stays above both.
SECONDS_PER_MILLION_PARAMETERS = 0.2
FIXED_S = 6.0
_LARGEST = 1_500_000_000  # bytes: larger graphs are not cached (protobuf's 2 GB limit)


def parameters(module: Any) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def first_conversion_seconds(module: Any) -> float:
    """The estimated seconds to convert ``module`` the first time (from its parameter count)."""
    return FIXED_S + SECONDS_PER_MILLION_PARAMETERS * parameters(module) / 1e6


class NetworkCache:
    """``folder`` None: nothing cached (every export converts)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = None if folder is None else Path(folder)

    def key(self, identity: str | None, kind: str, opset: int) -> str | None:
        if identity is None or self.folder is None:
            return None
        import torch

        parts = [FORMAT, identity, kind, opset, torch.__version__, onnx.__version__]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]

    def _paths(self, key: str) -> tuple[Path, Path]:
        assert self.folder is not None
        return self.folder / f"{key}.onnx", self.folder / f"{key}.json"

    def seconds(self, key: str | None) -> float | None:
        """The recorded conversion seconds of ``key``; None when it was never converted here."""
        if key is None:
            return None
        graph, record = self._paths(key)
        if not graph.is_file() or not record.is_file():
            return None
        try:
            return float(json.loads(record.read_text())["seconds"])
        except (ValueError, KeyError, OSError):
            return None

    def network(self, key: str | None, convert: Callable[[], onnx.ModelProto]) -> onnx.ModelProto:
        """The cached network for ``key``, or ``convert()`` (then cached)."""
        if key is not None and self.seconds(key) is not None:
            try:
                return onnx.load_model(str(self._paths(key)[0]))
            except Exception:  # noqa: BLE001 - a damaged entry is converted again and replaced
                pass
        started = time.perf_counter()
        model = convert()
        if key is not None and model.ByteSize() < _LARGEST:
            self._store(key, model, time.perf_counter() - started)
        return model

    def _store(self, key: str, model: onnx.ModelProto, seconds: float) -> None:
        graph, record = self._paths(key)
        graph.parent.mkdir(parents=True, exist_ok=True)
        tmp = graph.with_suffix(f".tmp{os.getpid()}")
        onnx.save_model(model, str(tmp))
        os.replace(tmp, graph)  # readers see the whole file or none; the record is written last
        record.write_text(json.dumps({"seconds": round(seconds, 3), "bytes": graph.stat().st_size}) + "\n")
