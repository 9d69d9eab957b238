"""A minimal image recipe (task and data only) on dog_vs_not_cifar10 against a plain logistic-regression
probe on the same backbone and the same folds.

1. automl: ``automl run recipe=bench/recipes/cifar_minimal.yaml search.time_budget_s=BUDGET
   seed=SEED workspace=TMP --json`` as a subprocess from the repository root, in a fresh workspace,
   offline (``HF_HUB_OFFLINE=1``). Wall time around the subprocess, everything included. The score
   is the summary's mean CV accuracy over 5 folds; the search is the image task's default (heads on
   the embeddings of the installed EfficientNet-Lite backbones that fit the budget, fine-tuning
   where it fits, networks from scratch last).
2. Baseline: the examples loaded by automl's own loader and table (same order, same content ids),
   the same folds (``automl.data.splits.stratified_folds`` with the run's seed), the
   efficientnet_lite0 embeddings (read from the run's embedding cache: the same vectors the run
   used), then ``StandardScaler`` + ``LogisticRegression(max_iter=5000)`` fitted on each training
   fold, accuracy on its validation fold.

The target: automl's accuracy above the baseline's. ``--repeats N`` (medians shown); JSON result
in bench/results/cifar-<timestamp>.json.

    .venv/bin/python bench/bench_cifar.py                    # budget 120 s, 1 repeat
    .venv/bin/python bench/bench_cifar.py --repeats 3 --wait-idle 300
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
from bench_income import add_wait_idle, automl_executable, machine_state, parse_summary, write_result

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "bench" / "recipes" / "cifar_minimal.yaml"
BACKBONE = "efficientnet_lite0"


def run_automl(budget: float, seed: int, workspace: Path) -> dict[str, Any]:
    cmd = [*automl_executable(), "run", f"recipe={RECIPE}", f"search.time_budget_s={budget}", f"seed={seed}"]
    cmd += [f"workspace={workspace}", "--json"]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"automl failed ({done.returncode}):\n{done.stderr[-3000:]}")
    summary = parse_summary(done.stdout)
    return {
        "wall_s": wall,
        "accuracy": summary["score"],
        "best": summary["best"],
        "trials": summary["trials"],
        "backbones": summary["backbones"]["used"],
        "skipped_backbones": [b["backbone"] for b in summary["backbones"]["skipped"]],
        "left_out": summary["left_out"],
        "budget": summary["budget"],
        "timing": summary["timing"],
        "duration_s": summary["duration_s"],
    }


def probe_baseline(seed: int, workspace: Path) -> dict[str, Any]:
    """Logistic regression on the run's efficientnet_lite0 embeddings, on the run's folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from automl.config.compose import load_recipe
    from automl.config.validate import check_recipe
    from automl.data.splits import stratified_folds
    from automl.features.embeddings import embed_cached
    from automl.plugins.manager import get_plugins
    from automl.train.runner import load_table

    plugins = get_plugins()
    checked = check_recipe(load_recipe(str(RECIPE), [f"seed={seed}", f"workspace={workspace}"]), plugins)
    table = load_table(checked, plugins)
    folds = stratified_folds(table.y, checked.recipe.eval.cv_folds, seed)
    spec = plugins.backbones.get(BACKBONE)
    embedder = spec.load(spec.default_config())  # type: ignore[misc]
    vectors, stats = embed_cached(embedder, table.ids.tolist(), table.features["input"].tolist(), workspace)
    scores = []
    for k in range(int(folds.max()) + 1):
        train, valid = folds != k, folds == k
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(vectors[train], table.y[train])
        scores.append(float(np.mean(model.predict(vectors[valid]) == table.y[valid])))
    return {"accuracy": float(np.mean(scores)), "fold_scores": scores, "from_cache": stats.cached, "rows": len(table)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="times to run everything (default 1); medians shown")
    parser.add_argument("--budget", type=float, default=120.0, help="automl's search.time_budget_s (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="recipe seed: fixes the folds (default 0)")
    add_wait_idle(parser, "each automl run")
    args = parser.parse_args()
    repeats = []
    for i in range(args.repeats):
        machine = machine_state(args.wait_idle, f"repeat {i + 1}")
        with tempfile.TemporaryDirectory(prefix="bench-cifar-") as tmp:
            run = run_automl(args.budget, args.seed, Path(tmp))
            base = probe_baseline(args.seed, Path(tmp))
        repeats.append({"automl": run, "probe": base, "machine": machine})
        print(
            f"repeat {i + 1}: automl accuracy {run['accuracy']:.4f} ({run['best']['trainer']} on "
            f"{run['best']['backbone']}), wall {run['wall_s']:.1f} s (budget {args.budget:g}); "
            f"probe {base['accuracy']:.4f}; backbones {run['backbones']}, skipped {run['skipped_backbones']}; "
            f"search end: {run['budget']['search_end']}",
            flush=True,
        )
    acc = statistics.median(r["automl"]["accuracy"] for r in repeats)
    probe = statistics.median(r["probe"]["accuracy"] for r in repeats)
    wall = statistics.median(r["automl"]["wall_s"] for r in repeats)
    limit = args.budget + max(0.1 * args.budget, 5.0)
    print(f"median automl accuracy {acc:.4f} vs probe {probe:.4f}: {'met' if acc > probe else 'NOT met'}")
    print(f"median wall {wall:.1f} s; budget rule {limit:.0f} s: {'met' if wall <= limit else 'NOT met'}")
    write_result(
        "cifar",
        args,
        ("automl", "torch", "timm", "ray"),
        {"repeats": repeats, "medians": {"automl_accuracy": acc, "probe_accuracy": probe, "wall_s": wall}},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
