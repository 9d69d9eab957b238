"""Fine-tuning a timm backbone with a new linear head: the last stage (with the head) or every layer.

The images are decoded once per ``fit`` with Pillow and resized to ``image_size``; each epoch runs
the recipe's augmenters on them before normalising with the backbone's own mean and std. A share
of the training images is held out for early stopping: training stops when its loss has not
improved for ``patience`` epochs, and the weights of the best epoch are kept.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn
from torch.nn import functional as F

from automl_timm.cnn import decode_images, lr_factor, torch_threads
from automl_timm.embedder import TimmEmbedder  # imported before a pickled network is resolved

# Cost of a training step relative to an inference pass over the same images (forward + backward).
STEP_COST = {"all": 3.0, "last": 1.6}


def last_stage_prefix(model: nn.Module) -> str | None:
    """The module name of the model's last feature stage (timm's ``feature_info``), if it has one."""
    info = getattr(model, "feature_info", None)
    try:
        return str(info[-1]["module"]) if info else None
    except (KeyError, IndexError, TypeError):
        return None


def trainable_names(model: nn.Module, train: str) -> set[str]:
    """Names of the parameters to update: all of them, or those of the last stage and everything
    registered after it (final norms, convolutional heads); without ``feature_info``, the last
    quarter of the parameter tensors."""
    names = [n for n, _ in model.named_parameters()]
    if train == "all":
        return set(names)
    prefix = last_stage_prefix(model)
    start = next((i for i, n in enumerate(names) if prefix and n.startswith(prefix + ".")), None)
    if start is None:
        start = len(names) - max(1, len(names) // 4)
    return set(names[start:])


class Network(nn.Module):
    """The backbone's pooled features followed by a linear classifier."""

    def __init__(self, backbone: nn.Module, n_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(int(backbone.num_features), n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def holdout_mask(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A stratified early-stopping hold-out: about ``fraction`` of each class, at least one example
    of a class with three or more, none when ``fraction`` is 0."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(y), dtype=bool)
    if fraction <= 0:
        return mask
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        if len(idx) < 3:
            continue
        take = min(len(idx) - 2, max(1, round(fraction * len(idx))))
        mask[rng.choice(idx, size=take, replace=False)] = True
    return mask


class FinetuneClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier over image paths that fine-tunes a copy of ``embedder``'s network."""

    def __init__(
        self,
        embedder: TimmEmbedder | None = None,
        n_classes: int = 2,
        train: str = "last",
        epochs: int = 6,
        lr: float = 1e-3,
        backbone_lr_scale: float = 0.1,
        batch_size: int = 32,
        image_size: int | None = None,
        augment: bool = True,
        augmenters: Sequence[Callable[[Any], Any]] = (),
        patience: int = 2,
        holdout: float = 0.15,
        weight_decay: float = 1e-4,
        seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.embedder = embedder
        self.n_classes = n_classes
        self.train = train
        self.epochs = epochs
        self.lr = lr
        self.backbone_lr_scale = backbone_lr_scale
        self.batch_size = batch_size
        self.image_size = image_size
        self.augment = augment
        self.augmenters = augmenters
        self.patience = patience
        self.holdout = holdout
        self.weight_decay = weight_decay
        self.seed = seed
        self.n_jobs = n_jobs

    # --- preprocessing ------------------------------------------------------------------------

    def _size(self) -> int:
        assert self.embedder is not None
        return int(self.image_size or self.embedder.data_config["input_size"][-1])

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() / 255.0 - self.mean_) / self.std_

    def _augmented(self, images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """The batch through every augmenter, image by image (uint8 in and out)."""
        out = []
        for pixels in images.permute(0, 2, 3, 1).numpy():
            image = Image.fromarray(pixels)
            for augmenter in self.augmenters:
                image = augmenter(image, rng)
            out.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()

    # --- training -----------------------------------------------------------------------------

    def fit(self, X: Any, y: np.ndarray) -> FinetuneClassifier:
        if self.embedder is None or not isinstance(self.embedder, TimmEmbedder):
            raise TypeError("finetune needs a timm backbone (TrainContext.backbone); got " + repr(self.embedder))
        y = np.asarray(y, dtype=np.int64).ravel()
        k = max(int(self.n_classes), int(y.max()) + 1 if len(y) else 1)
        self.classes_ = np.arange(k)
        cfg = self.embedder.data_config
        self.mean_ = torch.tensor(cfg["mean"], dtype=torch.float32).reshape(1, 3, 1, 1)
        self.std_ = torch.tensor(cfg["std"], dtype=torch.float32).reshape(1, 3, 1, 1)
        self.size_ = self._size()
        images = decode_images(X, self.size_)
        held = holdout_mask(y, self.holdout, self.seed)
        with torch_threads(self.n_jobs), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = Network(copy.deepcopy(self.embedder.model), k)
            self.history_ = self._train(model, images[~held], torch.from_numpy(y[~held]), images[held], y[held])
        self.model_ = model.eval()
        return self

    def _optimizer(self, model: Network) -> tuple[torch.optim.Optimizer, list[nn.Module]]:
        names = trainable_names(model.backbone, self.train)
        backbone_params = []
        for name, param in model.backbone.named_parameters():
            param.requires_grad_(name in names)
            if name in names:
                backbone_params.append(param)
        frozen_norms = [
            m
            for m in model.backbone.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in m.parameters())
        ]
        groups = [
            {"params": list(model.head.parameters()), "lr": self.lr, "scale": 1.0},
            {"params": backbone_params, "lr": self.lr * self.backbone_lr_scale, "scale": self.backbone_lr_scale},
        ]
        return torch.optim.AdamW(groups, weight_decay=self.weight_decay), frozen_norms

    def _train(
        self, model: Network, images: torch.Tensor, targets: torch.Tensor, held: torch.Tensor, held_y: np.ndarray
    ) -> list[dict[str, float]]:
        optimizer, frozen_norms = self._optimizer(model)
        rng = np.random.default_rng(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        n = len(images)
        batch = max(1, min(self.batch_size, n))
        total = max(1, self.epochs * math.ceil(n / batch))
        best_loss, best_state, waited, step = math.inf, None, 0, 0
        history: list[dict[str, float]] = []
        for epoch in range(self.epochs):
            model.train()
            for norm in frozen_norms:  # keep the pretrained statistics of the layers not trained
                norm.eval()
            order = torch.randperm(n, generator=gen)
            train_loss = 0.0
            for start in range(0, n, batch):
                idx = order[start : start + batch]
                x = images[idx]
                if self.augment and self.augmenters:
                    x = self._augmented(x, rng)
                loss = F.cross_entropy(model(self._normalise(x)), targets[idx], label_smoothing=0.1)
                for group in optimizer.param_groups:
                    group["lr"] = self.lr * group["scale"] * lr_factor(step, total)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                train_loss += float(loss.detach()) * len(idx)
                step += 1
            record = {"epoch": epoch + 1, "train_loss": train_loss / max(1, n)}
            if len(held):
                record["holdout_loss"] = self._loss(model, held, held_y)
                if record["holdout_loss"] < best_loss - 1e-4:
                    best_loss, waited = record["holdout_loss"], 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    waited += 1
            history.append(record)
            if len(held) and waited > self.patience:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        return history

    def _loss(self, model: Network, images: torch.Tensor, y: np.ndarray) -> float:
        proba = self._proba(model, images)
        return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None))))

    # --- prediction ---------------------------------------------------------------------------

    def _proba(self, model: Network, images: torch.Tensor) -> np.ndarray:
        model.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), 64):
                logits = model(self._normalise(images[start : start + 64]))
                out.append(torch.softmax(logits.double(), dim=1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)))

    def predict_proba(self, X: Any) -> np.ndarray:
        images = decode_images(list(X), self.size_)
        with torch_threads(self.n_jobs):
            proba = self._proba(self.model_, images)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def __getstate__(self) -> dict[str, Any]:
        """A fitted model keeps its own network: the embedder it started from is not saved with it."""
        state = super().__getstate__()
        if "model_" in state:
            state["embedder"] = None
        return state


def finetune_cost(
    train: str, epochs: int, image_size: int | None, n_examples: int, rate: float, base: int = 224
) -> float:
    """Seconds of one fit: ``epochs`` training passes, each ``STEP_COST`` inference passes (scaled by
    the pixel count against the backbone's input size ``base``), at ``rate`` images per second."""
    pixels = ((image_size or base) / base) ** 2
    return epochs * n_examples * STEP_COST.get(train, 3.0) * pixels / rate
