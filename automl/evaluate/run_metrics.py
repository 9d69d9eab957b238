"""The numbers of a run's report, from its folder alone: the leaderboard's rows, and the winner's
out-of-fold predictions measured per class, as a confusion matrix, as curves, for calibration and
for accuracy against coverage (scikit-learn computes the metrics)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.data.table import PROBA_PREFIX
from automl.evaluate.scoring import decide

CALIBRATION_BINS = 10
CONFIDENCES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
"""The confidences the coverage table answers at."""
ACCURACY_TARGETS = (0.9, 0.95, 0.99)


@dataclass(frozen=True)
class BoardRow:
    """One row of ``leaderboard.csv``."""

    rank: int | None
    candidate: str
    trainer: str
    backbone: str | None
    status: str
    score: float | None
    score_std: float | None
    fold_scores: list[float]
    threshold: float | None
    params: Any
    error: str | None
    work_s: float | None  # seconds inside the trial; absent from runs before it was recorded

    @property
    def order(self) -> int | None:
        """The trial's place in the configuration order (``t007`` -> 7); None for the ensemble."""
        name = self.candidate
        return int(name[1:]) if name[:1] == "t" and name[1:].isdigit() else None


def _number(text: str | None) -> float | None:
    if text is None or text.strip() == "":
        return None
    value = float(text)
    return None if math.isnan(value) else value


def read_board(path: Path) -> list[BoardRow]:
    import csv

    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    board = []
    for r in rows:
        rank = _number(r.get("rank"))
        board.append(
            BoardRow(
                rank=None if rank is None else int(rank),
                candidate=r["candidate"],
                trainer=r["trainer"],
                backbone=r.get("backbone") or None,
                status=r["status"],
                score=_number(r.get("score")),
                score_std=_number(r.get("score_std")),
                fold_scores=[float(s) for s in json.loads(r.get("fold_scores") or "[]") or []],
                threshold=_number(r.get("threshold")),
                params=json.loads(r.get("params") or "null"),
                error=r.get("error") or None,
                work_s=_number(r.get("work_s")),
            )
        )
    return board


def greater_is_better(board: list[BoardRow]) -> bool:
    """The metric's direction, read from the ranking (the best first); higher when it cannot tell."""
    scores = [r.score for r in board if r.rank is not None and r.score is not None]
    return len(scores) < 2 or scores[0] >= scores[-1]


@dataclass(frozen=True)
class Predictions:
    """The winner's out-of-fold predictions and its decisions (``decide`` with its threshold)."""

    classes: list[str]
    y: np.ndarray  # true class indices
    proba: np.ndarray
    folds: np.ndarray
    threshold: float | None
    kept: np.ndarray | None = None  # the rows of the out-of-fold file these are (None: all of them)
    notes: tuple[str, ...] = ()  # what reading left out or changed, said where the numbers are shown

    @property
    def predicted(self) -> np.ndarray:
        return decide(self.proba, self.threshold)

    @property
    def confidence(self) -> np.ndarray:
        """The probability of the decided class."""
        return np.asarray(self.proba[np.arange(len(self.y)), self.predicted])

    @property
    def correct(self) -> np.ndarray:
        return np.asarray(self.predicted == self.y)

    @property
    def rows(self) -> np.ndarray:
        """The out-of-fold file's row of each prediction."""
        return np.arange(len(self.y)) if self.kept is None else self.kept


def read_predictions(path: Path, threshold: float | None) -> Predictions:
    """The out-of-fold file's predictions; a row with a missing (NaN) probability is left out, and a
    probability outside [0, 1] is clipped to it, each said in ``notes``."""
    import pandas as pd

    oof = pd.read_parquet(path)
    columns = [str(c) for c in oof.columns if str(c).startswith(PROBA_PREFIX)]
    classes = [c[len(PROBA_PREFIX) :] for c in columns]
    index = {c: i for i, c in enumerate(classes)}
    labels = oof["label"].astype(str).tolist()
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise ValueError(f"{path.name}: labels without a probability column: {unknown[:5]}")
    y = np.array([index[label] for label in labels], dtype=np.int64)
    proba = oof[columns].to_numpy(dtype=np.float64)
    notes = []
    whole = ~np.isnan(proba).any(axis=1)
    if not whole.all():
        notes.append(
            f"{int((~whole).sum())} of {len(y)} out-of-fold rows have no probability (NaN) for some class: "
            "they are left out of these numbers"
        )
    outside = int(((proba < 0) | (proba > 1)).any(axis=1)[whole].sum())
    if outside:
        notes.append(f"{outside} out-of-fold rows have a probability outside [0, 1]: clipped to it")
    kept = np.flatnonzero(whole)
    proba = np.clip(proba[kept], 0.0, 1.0)
    folds = oof["fold"].to_numpy()[kept]
    return Predictions(classes, y[kept], proba, folds, threshold, None if whole.all() else kept, tuple(notes))


@dataclass(frozen=True)
class ClassScores:
    name: str
    support: int
    precision: float
    recall: float
    f1: float
    roc_auc: float | None  # one-vs-rest; None when the class has no positives or no negatives
    average_precision: float | None


@dataclass(frozen=True)
class Curve:
    """One class's ROC and precision-recall curves, one-vs-rest (the positive class for binary)."""

    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float
    precision: np.ndarray
    recall: np.ndarray
    average_precision: float
    prevalence: float  # a classifier without skill has this precision


def curves(p: Predictions) -> list[Curve]:
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    which = [1] if len(p.classes) == 2 else range(len(p.classes))
    out = []
    for k in which:
        truth = p.y == k
        if truth.all() or not truth.any():
            continue
        fpr, tpr, _ = roc_curve(truth, p.proba[:, k])
        precision, recall, _ = precision_recall_curve(truth, p.proba[:, k])
        ap = float(average_precision_score(truth, p.proba[:, k]))
        out.append(Curve(p.classes[k], fpr, tpr, float(auc(fpr, tpr)), precision, recall, ap, float(truth.mean())))
    return out


def class_scores(p: Predictions, found: list[Curve]) -> list[ClassScores]:
    from sklearn.metrics import precision_recall_fscore_support

    labels = list(range(len(p.classes)))
    precision, recall, f1, support = precision_recall_fscore_support(p.y, p.predicted, labels=labels, zero_division=0)
    by_name = {c.name: c for c in found}
    rows = []
    for k, name in enumerate(p.classes):
        curve = by_name.get(name)
        rows.append(
            ClassScores(
                name,
                int(support[k]),
                float(precision[k]),
                float(recall[k]),
                float(f1[k]),
                None if curve is None else curve.auc,
                None if curve is None else curve.average_precision,
            )
        )
    return rows


def confusion(p: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """Counts (rows: true class, columns: predicted) and each row as shares of its true class."""
    from sklearn.metrics import confusion_matrix

    k = len(p.classes)
    counts = confusion_matrix(p.y, p.predicted, labels=list(range(k))) if len(p.y) else np.zeros((k, k), np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    return counts, counts / np.maximum(totals, 1)


@dataclass(frozen=True)
class Reliability:
    """Accuracy against confidence in equal-width bins of the decided class's probability."""

    confidence: np.ndarray  # mean confidence in each non-empty bin
    accuracy: np.ndarray  # share correct in each non-empty bin
    counts: np.ndarray  # examples in each non-empty bin
    ece: float  # expected calibration error: sum over bins of (n_bin / n) |accuracy - confidence|


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS) -> Reliability:
    from sklearn.calibration import calibration_curve

    accuracy, mean_confidence = calibration_curve(correct.astype(int), confidence, n_bins=bins, strategy="uniform")
    # The bins calibration_curve uses: uniform edges, and a value on an inner edge goes to the lower
    # bin (searchsorted's side="left": 0.1 counts in [0, 0.1], not in (0.1, 0.2]).
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=bins)
    counts = counts[counts > 0]
    ece = float(np.sum(counts / counts.sum() * np.abs(accuracy - mean_confidence))) if len(counts) else 0.0
    return Reliability(mean_confidence, accuracy, counts, ece)


@dataclass(frozen=True)
class Coverage:
    """Answer only the inputs whose confidence is at least a cut-off: how many are answered, how
    many of those correctly. ``coverage``/``accuracy``/``cutoff`` trace it at every distinct
    confidence (most confident first)."""

    coverage: np.ndarray
    accuracy: np.ndarray
    cutoff: np.ndarray

    def at(self, confidence: float) -> tuple[float, float | None]:
        """Share answered at ``confidence`` or above, and the accuracy on them (None if none)."""
        answered = self.cutoff >= confidence
        if not answered.any():
            return 0.0, None
        i = int(np.flatnonzero(answered)[-1])
        return float(self.coverage[i]), float(self.accuracy[i])

    def for_accuracy(self, target: float) -> tuple[float, float] | None:
        """The lowest cut-off whose answers are at least ``target`` accurate, and the share it
        answers; None if even the most confident inputs fall short."""
        good = np.flatnonzero(self.accuracy >= target)
        if not len(good):
            return None
        i = int(good[-1])
        return float(self.cutoff[i]), float(self.coverage[i])


def coverage(confidence: np.ndarray, correct: np.ndarray) -> Coverage:
    order = np.argsort(-confidence, kind="stable")
    ranked, hits = confidence[order], correct[order].astype(np.float64)
    answered = np.arange(1, len(ranked) + 1)
    accuracy = np.cumsum(hits) / answered
    # Inputs of equal confidence are answered together: keep the last of each run of ties.
    ends = np.flatnonzero(np.r_[ranked[1:] < ranked[:-1], True]) if len(ranked) else np.array([], dtype=int)
    return Coverage(answered[ends] / len(ranked), accuracy[ends], ranked[ends])
