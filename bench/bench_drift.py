"""Drift detection on real data, at the recipe's default thresholds (``MonitorConfig()``), through
the same comparison ``automl monitor`` runs (``automl.loop.monitor.compare`` with the registered
detectors), repeated over seeds.

Scenarios (``--repeats`` each, 1,000-row windows unless said):

- **no drift, tabular**: two disjoint random windows of ``adult_income`` (every feature column,
  plus the income label standing in for the predicted class). A report with any drifted check is
  a false alarm; target <= 5% of repeats.
- **numeric shift**: the same, with ``age`` in the current window shifted by half its standard
  deviation; detected when ``age`` drifts; target >= 90%.
- **class balance**: the current window drawn with the ``>50K`` share raised from about 24% to
  36% (rows resampled by class), checks on the predicted class (the label); target >= 90%.
- **no drift, texts** and **new kind, texts**: ``sms_spam`` embedded once with the installed
  MiniLM backbone (``all_minilm_l6_v2``); reference: 600 ham messages; current: 600 ham (no drift)
  or 480 ham + 120 spam, a kind the reference has none of (20%); the ``embeddings`` check (MMD);
  targets <= 5% false alarms, >= 90% detected.

    .venv/bin/python bench/bench_drift.py --repeats 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_income import write_result  # noqa: E402

from automl.config.schema import MonitorConfig  # noqa: E402
from automl.loop.monitor import Detectors, compare  # noqa: E402
from automl.loop.windows import Sample  # noqa: E402
from automl.plugins.manager import get_plugins  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def sample(frame: pd.DataFrame, labels: np.ndarray, embeddings: np.ndarray | None = None) -> Sample:
    return Sample("bench", frame.reset_index(drop=True) if len(frame.columns) else None, embeddings,
                  labels.astype(str), np.full(len(labels), np.nan))  # fmt: skip


def tabular(repeats: int, window: int, detectors: Detectors, config: MonitorConfig) -> dict[str, Any]:
    data = pd.read_csv(DATA / "adult_income" / "adult.csv")
    features, labels = data.drop(columns=["income"]), data["income"].to_numpy()
    rich = labels == ">50K"
    counts = {"false_alarm": 0, "age_detected": 0, "balance_detected": 0}
    for seed in range(repeats):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(data))
        ref, cur = order[:window], order[window : 2 * window]
        reference = sample(features.iloc[ref], labels[ref])
        same = compare(reference, sample(features.iloc[cur], labels[cur]), config, detectors)
        counts["false_alarm"] += any(c.drift for c in same)
        moved = features.iloc[cur].copy()
        moved["age"] = moved["age"] + 0.5 * features["age"].std()
        shifted = compare(reference, sample(moved, labels[cur]), config, detectors)
        counts["age_detected"] += any(c.drift and c.name == "age" for c in shifted)
        n_rich = int(round(window * 0.36))
        rich_rows = rng.choice(np.setdiff1d(np.flatnonzero(rich), ref), n_rich, replace=False)
        poor_rows = rng.choice(np.setdiff1d(np.flatnonzero(~rich), ref), window - n_rich, replace=False)
        rows = np.r_[rich_rows, poor_rows]
        balance = compare(reference, sample(features.iloc[rows], labels[rows]), config, detectors)
        counts["balance_detected"] += any(c.drift and c.name == "predicted class" for c in balance)
    return {k: v / repeats for k, v in counts.items()} | {"reference_rich_share": float(rich.mean())}


def texts(repeats: int, n: int, detectors: Detectors, config: MonitorConfig) -> dict[str, Any]:
    data = pd.read_csv(DATA / "sms_spam" / "sms_spam.csv")
    spec = get_plugins().backbones.get("all_minilm_l6_v2")
    assert spec.load is not None
    started = time.perf_counter()
    embedder = spec.load(spec.default_config())
    vectors = np.asarray(embedder.embed(data["text"].astype(str).tolist()), dtype=np.float32)
    embed_s = time.perf_counter() - started
    ham, spam = np.flatnonzero(data["label"] == "ham"), np.flatnonzero(data["label"] == "spam")
    counts = {"false_alarm": 0, "new_kind_detected": 0}
    empty = pd.DataFrame(index=range(n))
    for seed in range(repeats):
        rng = np.random.default_rng(seed)
        pick = rng.permutation(ham)
        ref, cur = pick[:n], pick[n : 2 * n]
        reference = sample(empty.iloc[:0], np.array(["x"] * n), vectors[ref])
        same = compare(reference, sample(empty.iloc[:0], np.array(["x"] * n), vectors[cur]), config, detectors)
        counts["false_alarm"] += any(c.drift for c in same)
        mixed = np.r_[cur[: n - n // 5], rng.choice(spam, n // 5, replace=False)]
        new = compare(reference, sample(empty.iloc[:0], np.array(["x"] * n), vectors[mixed]), config, detectors)
        counts["new_kind_detected"] += any(c.drift and c.name == "embeddings" for c in new)
    return {k: v / repeats for k, v in counts.items()} | {"embed_s": round(embed_s, 1), "texts": len(data)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=100, help="seeds per scenario (default 100)")
    parser.add_argument("--window", type=int, default=1000, help="tabular window rows (default 1000)")
    parser.add_argument("--text-window", type=int, default=600, help="texts per side (default 600)")
    parser.add_argument("--skip-texts", action="store_true", help="leave the text scenarios out")
    args = parser.parse_args()
    config = MonitorConfig(permutations=199)
    detectors = Detectors(get_plugins(), config)
    started = time.perf_counter()
    result: dict[str, Any] = {"tabular": tabular(args.repeats, args.window, detectors, config)}
    print("tabular:", result["tabular"], flush=True)
    if not args.skip_texts:
        result["texts"] = texts(args.repeats, args.text_window, detectors, config)
        print("texts:", result["texts"], flush=True)
    result["seconds"] = round(time.perf_counter() - started, 1)
    targets = {
        "tabular false alarms <= 5%": result["tabular"]["false_alarm"] <= 0.05,
        "age shift detected >= 90%": result["tabular"]["age_detected"] >= 0.90,
        "class balance detected >= 90%": result["tabular"]["balance_detected"] >= 0.90,
    }
    if "texts" in result:
        targets["text false alarms <= 5%"] = result["texts"]["false_alarm"] <= 0.05
        targets["20% new kind detected >= 90%"] = result["texts"]["new_kind_detected"] >= 0.90
    for name, met in targets.items():
        print(f"{'met' if met else 'NOT MET'}: {name}")
    write_result("drift", args, ("automl", "scipy", "numpy"), {"result": result, "targets": targets})
    return 0


if __name__ == "__main__":
    sys.exit(main())
