"""A timm model as an automl Embedder: pooled features of Pillow-decoded images, in batches."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from automl.plugins.api import ensure_torchvision_importable

ensure_torchvision_importable()  # before timm (and before unpickling a saved embedder's timm model)

import timm  # noqa: E402
import timm.data  # noqa: E402
import torch  # noqa: E402

from automl.plugins.api import as_rgb  # noqa: E402


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
        self._fast: torch.nn.Module | None = None

    def __getstate__(self) -> dict[str, Any]:
        """The inference copy is rebuilt where the embedder is used, never pickled."""
        return {**self.__dict__, "_fast": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"_fast": None, **state})

    def inference_model(self) -> torch.nn.Module:
        """The model ``embed`` runs: a folded, channels-last copy where it agrees with ``model``."""
        if self._fast is None:
            from automl_timm.fast_inference import inference_copy

            self._fast = inference_copy(self.model, tuple(self.data_config["input_size"]))
        return self._fast

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
        rows = []
        try:
            model = self.inference_model()
            with torch.inference_mode():
                for batch in self._batches(items):
                    rows.append(model(batch).float().reshape(len(batch), -1).numpy())
        finally:
            torch.set_num_threads(previous)
        return np.ascontiguousarray(np.concatenate(rows), dtype=np.float32)

    def _tensor(self, items: Sequence[Any]) -> torch.Tensor:
        with torch.inference_mode():
            batch = torch.stack([self.transform(as_rgb(x)) for x in items])
        return batch.contiguous(memory_format=torch.channels_last)

    def _batches(self, items: list[Any]) -> Iterator[torch.Tensor]:
        """The preprocessed batches, each decoded and resized in a helper thread while the model
        runs on the one before (Pillow releases the GIL)."""
        chunks = [items[start : start + self.batch_size] for start in range(0, len(items), self.batch_size)]
        with ThreadPoolExecutor(1, thread_name_prefix="automl-decode") as pool:
            pending = pool.submit(self._tensor, chunks[0])
            for following in [*chunks[1:], None]:
                batch = pending.result()
                if following is not None:
                    pending = pool.submit(self._tensor, following)
                yield batch
