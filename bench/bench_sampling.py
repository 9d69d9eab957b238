"""Active sampling on real data: does ``automl sample`` pick the model's mistakes?

Per dataset and seed: the ready recipe trained (``automl run``) on 40% of the data, the other
60% sent to it as traffic through the core's request pipeline (``automl.testing.InProcessServer``:
every answer logged to the invoke store, as a server logs it), then ``automl sample`` (the
recipe's samplers, ``n`` items; no reviews yet, so ``near_mistakes`` leaves its share to
``low_confidence``). The share of misclassified invokes among those sampled is compared with
their share in all the traffic (what a random sample of the same size finds on average).
Target: >= 3x.

    .venv/bin/python bench/bench_sampling.py --seeds 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_income import automl_executable, write_result  # noqa: E402

from automl.loop.sampling import sample  # noqa: E402
from automl.plugins.manager import get_plugins  # noqa: E402
from automl.serve.api_keys import KeyStore  # noqa: E402
from automl.serve.config import ServeConfig  # noqa: E402
from automl.testing import InProcessServer  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = {
    "spam_filter": (DATA / "sms_spam" / "sms_spam.csv", "label", "text"),
    "income": (DATA / "adult_income" / "adult.csv", "income", None),
}


def one(recipe: str, seed: int, n: int, budget: float, traffic_rows: int) -> dict[str, Any]:
    path, target, text = CASES[recipe]
    frame = pd.read_csv(path).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cut = int(0.4 * len(frame))
    train, traffic = frame.iloc[:cut], frame.iloc[cut:].head(traffic_rows)
    with tempfile.TemporaryDirectory() as tmp:
        ws, csv = Path(tmp) / "ws", Path(tmp) / "train.csv"
        train.to_csv(csv, index=False)
        done = subprocess.run(
            [*automl_executable(), "run", f"recipe={recipe}", f"workspace={ws}", f"data.path={csv}",
             f"search.time_budget_s={budget}", f"monitor.per_day={n}", f"seed={seed}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"automl run {recipe} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        truth: dict[str, str] = {}
        wrong: dict[str, bool] = {}
        inputs = traffic[text].astype(str).tolist() if text else traffic.drop(columns=[target]).to_dict("records")
        labels = traffic[target].astype(str).tolist()
        with InProcessServer(ServeConfig(str(ws), (recipe,), max_inputs=64)) as server:
            key = KeyStore(ws).add(recipe, "bench")[1]
            for start in range(0, len(inputs), 64):
                answer = server.predict(recipe, inputs[start : start + 64], key)
                assert answer.status == 200, answer.body
                for p, label in zip(answer.body["predictions"], labels[start : start + 64], strict=True):
                    truth[p["invoke_id"]] = label
                    wrong[p["invoke_id"]] = p["label"] != label
        picked = sample(ws, recipe, get_plugins(), n=n).picked
    sampled_error = float(np.mean([wrong[i.invoke_id] for i in picked]))
    base_error = float(np.mean(list(wrong.values())))
    return {
        "recipe": recipe, "seed": seed, "traffic": len(wrong), "sampled": len(picked),
        "error_in_sample": round(sampled_error, 4), "error_in_traffic": round(base_error, 4),
        "ratio": round(sampled_error / base_error, 2) if base_error else None,
        "samplers": pd.Series([i.sampler for i in picked]).value_counts().to_dict(),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="splits per dataset (default 2)")
    parser.add_argument("--n", type=int, default=100, help="invokes sampled (default 100)")
    parser.add_argument("--budget", type=float, default=30, help="search.time_budget_s (default 30)")
    parser.add_argument("--traffic", type=int, default=3000, help="invokes sent, at most (default 3000)")
    parser.add_argument("--recipes", default="spam_filter,income", help="comma-separated")
    args = parser.parse_args()
    rows = []
    for recipe in args.recipes.split(","):
        for seed in range(args.seeds):
            rows.append(one(recipe, seed, args.n, args.budget, args.traffic))
            print(rows[-1], flush=True)
    targets = {
        f"{r}: misclassified share in the sample >= 3x the traffic's": bool(
            np.mean([row["ratio"] for row in rows if row["recipe"] == r]) >= 3
        )
        for r in args.recipes.split(",")
    }
    for name, met in targets.items():
        print(f"{'met' if met else 'NOT MET'}: {name}")
    write_result("sampling", args, ("automl",), {"runs": rows, "targets": targets})
    return 0


if __name__ == "__main__":
    sys.exit(main())
