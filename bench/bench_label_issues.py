"""Label issues on real data: flip 5% of the labels at random, run the recipe, and see how many
of the flips ``automl inspect`` ranks in its top k (k = the number flipped), against a random
pick of k (which finds 5% of them on average).

For each dataset and seed: a copy of the data with 5% of the labels moved to another class (a
CSV for ``income`` and ``spam_filter``, a folder of links for ``dog_classifier``), ``automl run``
of the ready recipe on it in a fresh workspace (``search.time_budget_s``, default 60), then
``inspect_labels(workspace, recipe, top=k)``. Target: >= 60% of the flips in the top k, each.

    .venv/bin/python bench/bench_label_issues.py --seeds 2
"""

from __future__ import annotations

import argparse
import os
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

from automl.loop.label_issues import inspect_labels  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARE = 0.05


def flip(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Labels with SHARE of them moved to another class at random, and which were moved."""
    classes = np.unique(labels)
    moved = rng.choice(len(labels), int(round(SHARE * len(labels))), replace=False)
    out = labels.astype(object).copy()
    for i in moved:
        out[i] = rng.choice([c for c in classes if c != labels[i]])
    return out, moved


def table_case(
    name: str, csv: Path, target: str, folder: Path, rng: np.random.Generator, rows: int | None
) -> tuple[list[str], set[str]]:
    frame = pd.read_csv(csv)
    if rows and len(frame) > rows:
        frame = frame.sample(rows, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)
    labels, moved = flip(frame[target].astype(str).to_numpy(), rng)
    frame[target] = labels
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return [f"data.path={path}"], {str(i) for i in moved}


def image_case(folder: Path, rng: np.random.Generator) -> tuple[list[str], set[str]]:
    root = DATA / "dog_vs_not_oxford_pets"
    files = sorted((p, p.parent.name) for d in ("DogPresent", "NoDogPresent") for p in (root / d).iterdir())
    labels, moved = flip(np.asarray([label for _, label in files]), rng)
    target = folder / "images"
    for (path, _), label in zip(files, labels, strict=True):
        (target / label).mkdir(parents=True, exist_ok=True)
        os.symlink(path, target / label / path.name)
    flipped = {str(target / labels[i] / files[i][0].name) for i in moved}
    return [f"data.path={target}"], flipped


def one(recipe: str, seed: int, budget: float, rows: int | None) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if recipe == "income":
            overrides, flipped = table_case("income", DATA / "adult_income" / "adult.csv", "income", folder, rng, rows)
        elif recipe == "spam_filter":
            overrides, flipped = table_case("spam", DATA / "sms_spam" / "sms_spam.csv", "label", folder, rng, None)
        else:
            overrides, flipped = image_case(folder, rng)
        ws = folder / "ws"
        started = time.perf_counter()
        done = subprocess.run(
            [*automl_executable(), "run", f"recipe={recipe}", f"workspace={ws}", f"search.time_budget_s={budget}",
             "search.mode=search", *overrides],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode not in (0, 3):
            raise SystemExit(f"automl run {recipe} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        run_s = time.perf_counter() - started
        report = inspect_labels(ws, recipe, top=len(flipped))
        found = sum(s.source in flipped for s in report.suspects)
    return {
        "recipe": recipe, "seed": seed, "examples": report.examples, "flipped": len(flipped),
        "found_in_top_k": found, "share": found / len(flipped), "random_expected": SHARE,
        "flagged": report.flagged, "run_s": round(run_s, 1),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="flips per dataset (default 2)")
    parser.add_argument("--budget", type=float, default=60, help="search.time_budget_s of each run (default 60)")
    parser.add_argument(
        "--income-rows", type=int, default=0, help="rows sampled from adult_income (default 0: all 32,561)"
    )
    parser.add_argument("--recipes", default="income,spam_filter,dog_classifier", help="comma-separated")
    args = parser.parse_args()
    rows = []
    for recipe in args.recipes.split(","):
        for seed in range(args.seeds):
            rows.append(one(recipe, seed, args.budget, args.income_rows))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("recipe")["share"].agg(["mean", "min"]).round(3)
    print(summary.to_string())
    targets = {f"{r}: >= 60% of flips in top k": bool(summary.loc[r, "mean"] >= 0.6) for r in summary.index}
    for name, met in targets.items():
        print(f"{'met' if met else 'NOT MET'}: {name}")
    write_result("label_issues", args, ("automl", "cleanlab"), {"runs": rows, "targets": targets})
    return 0


if __name__ == "__main__":
    sys.exit(main())
