"""A timm model as an automl Embedder: pooled features of Pillow-decoded images, in batches."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from automl.torch_compat import ensure_torchvision_importable

ensure_torchvision_importable()  # before timm (and before unpickling a saved embedder's timm model)

import timm  # noqa: E402
import timm.data  # noqa: E402
import torch  # noqa: E402

from automl.data.images import as_rgb  # noqa: E402


class TimmEmbedder:
    """Embeds images with a timm model built with ``num_classes=0`` (its pooled features).

    Plain attributes only (the torch module and the eval transform pickle as they are), so a saved
    model that holds it loads in a fresh process; unpickling imports this module first, which
    applies the torchvision compatibility fix before timm's classes are resolved.
    """

    def __init__(
        self, name: str, model: torch.nn.Module, data_config: dict[str, Any], identity: str, batch_size: int = 32
    ) -> None:
        self.name = name
        self.model = model.eval()
        self.data_config = data_config
        self.transform = timm.data.create_transform(**data_config)
        self.identity = identity
        self.batch_size = max(1, int(batch_size))
        self.num_threads: int | None = None

    @property
    def dim(self) -> int:
        return int(self.model.num_features)

    def embed(self, inputs: Sequence[Any]) -> np.ndarray:
        """One float32 row of length ``dim`` per image path or PIL image."""
        items = list(inputs)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.num_threads or os.cpu_count() or 1)
        self.model.eval()
        rows = []
        try:
            with torch.inference_mode():
                for start in range(0, len(items), self.batch_size):
                    batch = torch.stack([self.transform(as_rgb(x)) for x in items[start : start + self.batch_size]])
                    rows.append(self.model(batch).float().reshape(len(batch), -1).numpy())
        finally:
            torch.set_num_threads(previous)
        return np.ascontiguousarray(np.concatenate(rows), dtype=np.float32)
