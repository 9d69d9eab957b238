"""Built-in metrics, registered through ``register_metrics`` like a plugin's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from automl.plugins.components import MetricSpec
from automl.plugins.markers import hookimpl


def _labels_metric(fn_name: str, **kwargs: Any) -> Callable[[np.ndarray, np.ndarray], float]:
    def score_labels(y: np.ndarray, y_pred: np.ndarray) -> float:
        import sklearn
        import sklearn.metrics

        # Called thousands of times on arrays automl made itself (thresholds, ensemble rounds):
        # scikit-learn's argument checks would be most of the cost.
        with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
            return float(getattr(sklearn.metrics, fn_name)(y, y_pred, **kwargs))

    return score_labels


def accuracy(y: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of correct labels (what ``sklearn.metrics.accuracy_score`` gives, without its checks)."""
    y, y_pred = np.asarray(y), np.asarray(y_pred)
    return float(np.mean(y == y_pred)) if len(y) else 0.0


def _from_argmax(score_labels: Callable[[np.ndarray, np.ndarray], float]) -> Callable[..., float]:
    def score(y: np.ndarray, proba: np.ndarray) -> float:
        return score_labels(y, np.asarray(proba).argmax(axis=1))

    return score


def roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """Binary ROC AUC, or macro one-vs-rest over classes for multiclass."""
    from sklearn.metrics import roc_auc_score

    proba = np.asarray(proba)
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(proba.shape[1])))


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import log_loss as sk_log_loss

    proba = np.clip(np.asarray(proba, dtype=float), 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return float(sk_log_loss(y, proba, labels=np.arange(proba.shape[1])))


def _label_spec(name: str, fn_name: str, description: str, **kwargs: Any) -> MetricSpec:
    labels = accuracy if fn_name == "accuracy_score" else _labels_metric(fn_name, **kwargs)
    return MetricSpec(name=name, description=description, score=_from_argmax(labels), score_labels=labels)


@hookimpl
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    register(_label_spec("accuracy", "accuracy_score", "Share of correct labels."))
    register(_label_spec("balanced_accuracy", "balanced_accuracy_score", "Mean recall over classes."))
    register(_label_spec("f1_macro", "f1_score", "Unweighted mean of per-class F1.", average="macro"))
    register(MetricSpec(name="roc_auc", score=roc_auc, description="ROC AUC (multiclass: macro one-vs-rest)."))
    register(
        MetricSpec(
            name="log_loss", score=log_loss, greater_is_better=False, description="Cross-entropy; lower is better."
        )
    )
