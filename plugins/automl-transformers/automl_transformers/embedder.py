"""The text embedder: a transformers encoder, its tokenizer and a pooling, as one picklable object.

This module imports torch and transformers (after automl's torchvision fix, which transformers'
BERT models need beside a CPU build of torch); the plugin module imports it only inside ``load``.
A pickled :class:`TextEmbedder` names this module before its model, so unpickling it in a fresh
process applies the fix before transformers' model classes are imported.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from automl.plugins.api import WeightsUnavailable, ensure_torchvision_importable, offline_mode
from automl_transformers.model_dir import model_digest

ensure_torchvision_importable()

from transformers import AutoModel, AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

POOLINGS = ("mean", "cls")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """transformers' logging at error level and its progress bars off; restored afterwards."""
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class TextEmbedder:
    """Texts -> L2-normalised (optionally) float32 vectors ``(n, dim)``; pickles with its weights."""

    def __init__(
        self,
        tokenizer: Any,
        model: Any,
        *,
        identity: str,
        pooling: str = "mean",
        max_length: int = 256,
        normalize: bool = True,
        batch_size: int = 64,
        num_threads: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.identity = identity
        self.pooling = pooling
        self.max_length = max_length
        self.normalize = normalize
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.dim = int(model.config.hidden_size)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text, in order, on ``num_threads`` (default: every core; the process's
        torch thread count is restored afterwards)."""
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {i} is a {type(text).__name__}, not a str")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        previous = torch.get_num_threads()
        torch.set_num_threads(self.num_threads or available_cores())
        try:
            with quiet(), torch.inference_mode():
                for rows in self._batches(texts):
                    out[rows] = self._embed_batch([texts[i] for i in rows])
        finally:
            torch.set_num_threads(previous)
        return out

    def _batches(self, texts: list[str]) -> list[np.ndarray]:
        """Row indices in batches of texts of similar token counts (longest first), so that a
        batch is padded little."""
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        order = np.argsort([-len(i) for i in ids], kind="stable")
        return [order[start : start + self.batch_size] for start in range(0, len(texts), self.batch_size)]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        hidden = self.model(**encoded).last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:  # mean over real tokens, as sentence-transformers pools
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        if self.normalize:
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.float().numpy()


def _max_length(requested: int, tokenizer: Any, config: Any) -> int:
    """``requested``, capped by what the tokenizer and the model's position embeddings allow."""
    limits = [requested, getattr(tokenizer, "model_max_length", None), getattr(config, "max_position_embeddings", None)]
    return min(int(v) for v in limits if isinstance(v, int) and 0 < v < 1_000_000)


def load_embedder(
    folder: Path,
    *,
    hint: str,
    pooling: str = "mean",
    max_length: int = 256,
    normalize: bool = True,
    batch_size: int = 64,
    num_threads: int | None = None,
) -> TextEmbedder:
    """Load a local model directory (never the network) into a :class:`TextEmbedder`.

    Raises :class:`WeightsUnavailable` naming ``folder`` and ``hint`` (what the user can set)
    when the directory does not hold a model transformers can load.
    """
    try:
        with offline_mode(), quiet():
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            model = AutoModel.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise WeightsUnavailable(f"could not load a model from {folder} ({reason}); {hint}") from None
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise WeightsUnavailable(
            f"the tokenizer in {folder} has {len(tokenizer)} tokens but the model embeds {rows}; {hint}"
        )
    model.eval()
    length = _max_length(max_length, tokenizer, model.config)
    identity = f"transformers:{model_digest(folder)}:pooling={pooling}:max_length={length}:normalize={normalize}"
    return TextEmbedder(
        tokenizer,
        model,
        identity=identity,
        pooling=pooling,
        max_length=length,
        normalize=normalize,
        batch_size=batch_size,
        num_threads=num_threads,
    )
