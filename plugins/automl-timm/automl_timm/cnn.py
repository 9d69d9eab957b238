"""A small CNN trained from scratch on raw images (no backbone, no weights to download).

Each image is decoded once per ``fit`` / ``predict_proba`` with Pillow, resized to ``image_size``
and kept as one uint8 tensor, so the epochs only run the network (with random flips and crops).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from PIL import Image
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn
from torch.nn import functional as F

from automl.plugins.api import as_rgb


def decode_images(items: Any, size: int) -> torch.Tensor:
    """A uint8 tensor (n, 3, size, size) from image file paths (or PIL images)."""
    arrays = []
    for item in np.asarray(items, dtype=object).ravel():
        image = as_rgb(item)
        arrays.append(np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8))
    if not arrays:
        return torch.zeros((0, 3, size, size), dtype=torch.uint8)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2)
    )


class SmallCNN(nn.Module):
    """Four conv blocks (width, 2w, 4w, 8w channels, each halving the size), global average pooling,
    dropout and a linear layer."""

    def __init__(self, n_classes: int, width: int = 32) -> None:
        super().__init__()
        widths = [3, width, 2 * width, 4 * width, 8 * width]
        self.features = nn.Sequential(*[_block(a, b) for a, b in zip(widths, widths[1:], strict=False)])
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(widths[-1], n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def _augment(batch: torch.Tensor, gen: torch.Generator, pad: int) -> torch.Tensor:
    """Random horizontal flips and random crops after reflection padding (float batch)."""
    n, _, h, w = batch.shape
    flip = torch.rand(n, generator=gen) < 0.5
    batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
    padded = F.pad(batch, (pad, pad, pad, pad), mode="reflect")
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen).tolist()
    return torch.stack([padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets)])


def lr_factor(step: int, total: int) -> float:
    """Linear warm-up over the first 10% of the steps, then cosine decay to zero."""
    warmup = max(1, total // 10)
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class ScratchCNNClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier over image paths: ``fit(X, y)`` with ``y`` in 0..K-1."""

    def __init__(
        self,
        n_classes: int = 2,
        image_size: int = 64,
        epochs: int = 15,
        lr: float = 3e-3,
        batch_size: int = 64,
        augment: bool = True,
        weight_decay: float = 5e-4,
        width: int = 32,
        seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_classes = n_classes
        self.image_size = image_size
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.augment = augment
        self.weight_decay = weight_decay
        self.width = width
        self.seed = seed
        self.n_jobs = n_jobs

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() / 255.0 - self.mean_) / self.std_

    def fit(self, X: Any, y: np.ndarray) -> ScratchCNNClassifier:
        y = np.asarray(y, dtype=np.int64).ravel()
        k = max(int(self.n_classes), int(y.max()) + 1 if len(y) else 1)
        self.classes_ = np.arange(k)
        images = decode_images(X, self.image_size)
        pixels = images.float() / 255.0
        self.mean_ = pixels.mean(dim=(0, 2, 3)).reshape(1, 3, 1, 1)
        self.std_ = pixels.std(dim=(0, 2, 3)).clamp_min(1e-3).reshape(1, 3, 1, 1)
        targets = torch.from_numpy(y)
        gen = torch.Generator().manual_seed(self.seed)
        with torch_threads(self.n_jobs), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = SmallCNN(k, self.width)
            self._train(model, images, targets, gen)
            self._recalibrate(model, images)
        self.model_ = model.eval()
        return self

    def _train(self, model: SmallCNN, images: torch.Tensor, targets: torch.Tensor, gen: torch.Generator) -> None:
        n = len(images)
        batch = max(1, min(self.batch_size, n))
        total = max(1, self.epochs * math.ceil(n / batch))
        optimizer = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        pad = max(1, self.image_size // 16)
        model.train()
        step = 0
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, batch):
                idx = order[start : start + batch]
                x = self._normalise(images[idx])
                if self.augment:
                    x = _augment(x, gen, pad)
                loss = F.cross_entropy(model(x), targets[idx], label_smoothing=0.05)
                for group in optimizer.param_groups:
                    group["lr"] = self.lr * lr_factor(step, total)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1

    def _recalibrate(self, model: SmallCNN, images: torch.Tensor) -> None:
        """Batch-norm statistics as exact averages over the (unaugmented) training images: with few
        steps, the running averages would still be near their initial values."""
        norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average
        model.train()
        with torch.no_grad():
            for start in range(0, len(images), 256):
                model(self._normalise(images[start : start + 256]))
        for norm in norms:
            norm.momentum = 0.1

    def predict_proba(self, X: Any) -> np.ndarray:
        images = decode_images(X, self.image_size)
        out = []
        with torch_threads(self.n_jobs), torch.inference_mode():
            self.model_.eval()
            for start in range(0, len(images), 256):
                logits = self.model_(self._normalise(images[start : start + 256]))
                out.append(torch.softmax(logits.double(), dim=1).numpy())
        proba = np.concatenate(out) if out else np.zeros((0, len(self.classes_)))
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
