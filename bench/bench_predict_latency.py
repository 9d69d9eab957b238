"""One-row predictions in process: ``automl.load("income").predict_proba`` answered by the
version's ONNX export (what ``automl.load`` and ``automl serve`` use by default when the export
passed its check) against the same version's native model, side by side in one process, with a
default scikit-learn HistGradientBoosting as the floor a user would compare with.

The income recipe is trained once (``automl run recipe=income deploy.export=onnx``, its default
search and budget); then, alternating in rounds: one row as a DataFrame and as a row dict (what
a served request carries), ``--calls`` calls per round, medians over rounds. The two runtimes'
probabilities are compared on 2,000 held-out rows (same labels, max |p - p_native|).

    .venv/bin/python bench/bench_predict_latency.py --rounds 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_income import automl_executable, write_result  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult_income" / "adult.csv"


def per_call_ms(fn: Any, x: Any, calls: int) -> float:
    fn(x)
    started = time.perf_counter()
    for _ in range(calls):
        fn(x)
    return (time.perf_counter() - started) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--workspace", type=Path, default=None, help="reuse a workspace with an exported income")
    args = parser.parse_args()
    ws = args.workspace or Path(tempfile.mkdtemp(prefix="bench-latency-")) / "ws"
    if args.workspace is None:
        env = {**os.environ, "AUTOML_WORKSPACE": str(ws)}
        done = subprocess.run([*automl_executable(), "run", "recipe=income", "deploy.export=onnx"], env=env)
        if done.returncode not in (0, 3):
            raise SystemExit(done.returncode)

    from sklearn.ensemble import HistGradientBoostingClassifier

    import automl

    fast = automl.load("income", workspace=str(ws))
    native = automl.load("income", workspace=str(ws), runtime="native")
    if fast.runtime != "onnx":
        raise SystemExit(f"the income version answers natively ({fast.choice.why}); nothing to compare")
    frame = pd.read_csv(DATA)
    held = frame.sample(2000, random_state=1)
    features = held.drop(columns=["income", "fnlwgt"])
    a, b = fast.predict_proba(features).to_numpy(), native.predict_proba(features).to_numpy()
    agreement = {
        "rows": len(features),
        "max_abs_diff": float(np.abs(a - b).max()),
        "same_labels": float((fast.predict(features) == native.predict(features)).mean()),
    }
    baseline_x = frame.drop(columns=["income", "fnlwgt"]).apply(
        lambda c: c.astype("category") if not pd.api.types.is_numeric_dtype(c) else c
    )
    baseline = HistGradientBoostingClassifier(categorical_features="from_dtype").fit(baseline_x, frame["income"])
    one_frame = features.iloc[:1]
    one_row = [{k: (None if pd.isna(v) else v) for k, v in one_frame.iloc[0].items()}]
    one_baseline = baseline_x.iloc[:1]
    cases = {
        "onnx, DataFrame": (fast.predict_proba, one_frame),
        "onnx, row dict": (fast.predict_proba, one_row),
        "native, DataFrame": (native.predict_proba, one_frame),
        "native, row dict": (native.predict_proba, one_row),
        "sklearn HistGradientBoosting (default), DataFrame": (baseline.predict_proba, one_baseline),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (fn, x) in cases.items():
            times[name].append(per_call_ms(fn, x, args.calls))
    medians = {name: round(statistics.median(v), 3) for name, v in times.items()}
    for name, ms in medians.items():
        print(f"{name:<52} {ms:8.3f} ms per one-row predict_proba")
    print(f"agreement on {agreement['rows']} held-out rows: {agreement}")
    body = {"workspace": str(ws), "best": native.meta.best.trainer, "median_ms": medians, "agreement": agreement}
    write_result("predict_latency", args, ("automl", "onnxruntime", "scikit-learn", "lightgbm"), body)


if __name__ == "__main__":
    main()
