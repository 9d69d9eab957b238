"""End-to-end benchmark of ``automl run recipe=income`` against two baselines on the same folds.

1. automl: ``automl run recipe=income search.time_budget_s=BUDGET seed=SEED workspace=TMP --json``
   as a subprocess in a fresh temporary workspace; the wall time is measured around the
   subprocess, so it includes interpreter start-up, imports, Hydra, loading, Ray start-up and
   shutdown, the search, the refit, permutation importance and registration.
2. HGB baseline: scikit-learn's HistGradientBoostingClassifier with default parameters and native
   categorical support (an OrdinalEncoder fitted per fold feeds ``categorical_features``), scored
   with ROC AUC on each of the run's 5 validation folds (read back from the run's folds.parquet).
3. FLAML (``--skip-flaml`` to leave it out): ``flaml.AutoML`` with task classification, metric
   roc_auc, time_budget=BUDGET, eval_method="cv" and split_type=PredefinedSplit(the run's folds),
   so FLAML cross-validates on exactly those folds; reports its best CV ROC AUC
   (1 - best_loss, the mean of the per-fold AUCs) and the wall time of ``fit``.

Everything runs one after the other, never side by side, so each gets the whole machine.
With ``--repeats N`` everything is run N times and the table shows medians.
A JSON result is written to bench/results/income-<timestamp>.json.

    .venv/bin/python bench/bench_income.py                     # budget 60 s, 1 repeat
    .venv/bin/python bench/bench_income.py --repeats 3 --skip-flaml
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"

TARGET_AUC = 0.925
TARGET_WALL_S = 90.0
# The csv loader's defaults (automl.builtin.loaders.CsvOptions), so the baselines read
# the file exactly as automl does.
NA_VALUES = ["", "?", "NA", "N/A", "NaN", "null"]


def automl_executable() -> list[str]:
    beside = Path(sys.executable).parent / "automl"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("automl")
    return [found] if found else [sys.executable, "-m", "automl"]


def parse_summary(stdout: str) -> dict[str, Any]:
    """The ``--json`` summary: the whole of stdout, or failing that its last JSON object."""
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        start = stdout.rfind("\n{")
        return json.loads(stdout[start + 1 :] if start >= 0 else stdout[stdout.index("{") :])


# ---------------------------------------------------------------------------------------------
# The machine: is anything else using the CPUs?


def cpu_busy(sample_s: float = 1.0) -> float | None:
    """Share of all CPUs busy over ``sample_s`` (from /proc/stat), while this process sleeps:
    what other processes use. None where /proc/stat does not exist."""

    def read() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields[:8]), idle

    try:
        total0, idle0 = read()
        time.sleep(sample_s)
        total1, idle1 = read()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def add_wait_idle(parser: argparse.ArgumentParser, when: str) -> None:
    """``--wait-idle S``: before ``when``, wait up to S seconds for a quiet machine (machine_state)."""
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help=f"before {when}, wait up to S seconds until other processes use under "
        "15%% of the CPUs (default 0: do not wait; the share is recorded anyway)",
    )


def machine_state(wait_idle_s: float, phase: str) -> dict[str, Any]:
    """Wait (up to ``wait_idle_s``) until other processes use under 15% of the CPUs, then record
    the load average and that share; a busy machine makes every time here longer."""
    deadline = time.monotonic() + wait_idle_s
    busy = cpu_busy()
    waited = 0.0
    while busy is not None and busy > 0.15 and time.monotonic() < deadline:
        if waited == 0.0:
            print(
                f"[{phase}] other processes use {busy:.0%} of the CPUs; waiting for quiet",
                flush=True,
            )
        time.sleep(4.0)
        waited += 5.0
        busy = cpu_busy()
    if busy is not None and busy > 0.15:
        print(
            f"[{phase}] warning: other processes use {busy:.0%} of the CPUs; times will be inflated",
            flush=True,
        )
    return {
        "phase": phase,
        "other_cpu_busy": busy,
        "loadavg": list(os.getloadavg()),
        "waited_s": waited,
    }


# ---------------------------------------------------------------------------------------------
# automl


def run_automl(recipe: str, budget: float, seed: int, keep: Path | None) -> dict[str, Any]:
    workspace = Path(tempfile.mkdtemp(prefix="automl-bench-"))
    cmd = [
        *automl_executable(),
        "run",
        f"recipe={recipe}",
        f"search.time_budget_s={budget:g}",
        f"seed={seed}",
        f"workspace={workspace}",
        "--json",
    ]
    print(f"[automl] {' '.join(cmd)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    if proc.returncode not in (0, 3):  # 3: trained but not promoted, fine for a benchmark
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"automl run exited {proc.returncode}")
    summary = parse_summary(proc.stdout)
    run_dir = Path(summary["run_dir"])
    folds = pd.read_parquet(run_dir / "folds.parquet")
    oof = pd.read_parquet(run_dir / "oof.parquet")
    recipe_yaml = (run_dir / "recipe.yaml").read_text()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copytree(run_dir, keep / run_dir.name)
    shutil.rmtree(workspace, ignore_errors=True)
    return {
        "wall_s": wall_s,
        "exit_code": proc.returncode,
        "summary": summary,
        "folds": folds,
        "oof": oof,
        "recipe_yaml": recipe_yaml,
    }


def per_trial_overhead(summary: dict[str, Any], concurrency: int) -> float | None:
    """Seconds per trial that the search slots spent outside the trial function:
    (search_s * concurrency - trial_work_s) / trials."""
    t = summary["timing"]
    if not summary["trials"]:
        return None
    return (t["search_s"] * concurrency - t["trial_work_s"]) / summary["trials"]


def oof_fold_aucs(oof: pd.DataFrame, positive: str) -> list[float]:
    """ROC AUC of the run's out-of-fold predictions (oof.parquet), fold by fold: a cross-check of
    the score the summary reports."""
    from sklearn.metrics import roc_auc_score

    col = f"proba_{positive}"  # automl.model.predictor.PROBA_PREFIX + class
    return [float(roc_auc_score(g["label"] == positive, g[col])) for _, g in oof.groupby("fold", sort=True)]


# ---------------------------------------------------------------------------------------------
# The data and folds, as automl saw them


def load_frame(recipe_yaml: str) -> tuple[pd.DataFrame, np.ndarray, list[str], dict[str, Any]]:
    """Features (categoricals as pandas category), labels and classes, read from the path,
    target and drop list in the run's resolved recipe.yaml."""
    import yaml

    data = yaml.safe_load(recipe_yaml)["data"]
    frame = pd.read_csv(data["path"], na_values=NA_VALUES, keep_default_na=True, skipinitialspace=True)
    labels = frame.pop(data["target"]).astype(str).to_numpy()
    X = frame.drop(columns=list(data.get("drop") or []))
    if data.get("features"):
        X = X[list(data["features"])]
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("category")
        else:
            X[c] = X[c].astype("float64")
    classes = sorted(set(labels.tolist()))
    return X, labels, classes, data


def align_folds(folds: pd.DataFrame, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers (``source``, 0-based row of the CSV) that automl kept, and their folds."""
    rows = folds["source"].astype(int).to_numpy()
    if rows.min() < 0 or rows.max() >= n_rows or len(np.unique(rows)) != len(rows):
        raise SystemExit("folds.parquet: source does not look like 0-based CSV row numbers")
    return rows, folds["fold"].to_numpy().astype(int)


# ---------------------------------------------------------------------------------------------
# Baselines


def hgb_baseline(X: pd.DataFrame, y: np.ndarray, folds: np.ndarray, seed: int) -> dict[str, Any]:
    """Default HistGradientBoostingClassifier with native categoricals, on the given folds."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in X.columns if c not in categorical]
    started = time.perf_counter()
    scores = []
    for k in range(int(folds.max()) + 1):
        train, valid = folds != k, folds == k
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan)
        features = ColumnTransformer(
            [("cat", encoder, categorical), ("num", "passthrough", numeric)],
            verbose_feature_names_out=False,
        )
        model = HistGradientBoostingClassifier(  # default hyperparameters; a seed for repeatability
            categorical_features=[True] * len(categorical) + [False] * len(numeric),
            random_state=seed,
        )
        pipe = Pipeline([("features", features), ("model", model)]).fit(X[train], y[train])
        scores.append(float(roc_auc_score(y[valid], pipe.predict_proba(X[valid])[:, 1])))
    return {
        "auc": float(np.mean(scores)),
        "auc_std": float(np.std(scores)),
        "fold_aucs": scores,
        "wall_s": time.perf_counter() - started,
    }


def flaml_automl() -> type:
    """``flaml.AutoML``, or exit with what to install. The plain ``flaml`` package (what the
    ``bench`` extra installs today) lacks it: AutoML needs ``flaml[automl]`` (xgboost)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from flaml import AutoML
        except ImportError as err:
            raise SystemExit(
                f"FLAML's AutoML is not importable ({err}); install it with "
                "pip install 'flaml[automl]' (or pass --skip-flaml)."
            ) from None
    return AutoML


def flaml_baseline(X: pd.DataFrame, y: np.ndarray, folds: np.ndarray, budget: float, seed: int) -> dict[str, Any]:
    import warnings

    from sklearn.model_selection import PredefinedSplit

    AutoML = flaml_automl()

    splitter = PredefinedSplit(test_fold=folds)
    automl = AutoML()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        automl.fit(
            X_train=X,
            y_train=y,
            task="classification",
            metric="roc_auc",
            time_budget=budget,
            eval_method="cv",
            split_type=splitter,
            seed=seed,
            verbose=0,
        )
    wall_s = time.perf_counter() - started
    return {
        "auc": float(1.0 - automl.best_loss),  # FLAML's roc_auc loss is 1 - mean fold AUC
        "wall_s": wall_s,
        "best_estimator": automl.best_estimator,
        "best_config": {k: (v.item() if hasattr(v, "item") else v) for k, v in (automl.best_config or {}).items()},
        "n_splits": splitter.get_n_splits(),
    }


# ---------------------------------------------------------------------------------------------


def one_repeat(args: argparse.Namespace, concurrency: int, index: int) -> dict[str, Any]:
    print(f"--- repeat {index + 1}/{args.repeats}", flush=True)
    machine = [machine_state(args.wait_idle, "automl")]
    run = run_automl(args.recipe, args.budget, args.seed, args.keep_runs)
    s = run["summary"]
    X, labels, classes, data_cfg = load_frame(run["recipe_yaml"])
    rows, folds = align_folds(run["folds"], len(X))
    if len(rows) != s["data"]["rows"]:
        raise SystemExit(f"folds.parquet has {len(rows)} rows, the summary {s['data']['rows']}")
    X, labels = X.iloc[rows].reset_index(drop=True), labels[rows]
    oof = run["oof"]
    if (
        not (oof["source"].to_numpy() == run["folds"]["source"].to_numpy()).all()
        or not (oof["label"].astype(str).to_numpy() == labels).all()
    ):
        raise SystemExit("oof.parquet does not line up with folds.parquet and the CSV's labels")
    if len(classes) != 2:
        raise SystemExit(f"a binary target is expected, got classes {classes}")
    positive = classes[1]  # automl sorts the labels; ROC AUC is for the second class
    y = (labels == positive).astype(int)
    oof_aucs = oof_fold_aucs(oof, positive)
    result: dict[str, Any] = {
        "automl": {
            "auc": s["score"],
            "auc_std": s["score_std"],
            "fold_aucs": s["fold_scores"],
            "oof_fold_aucs": oof_aucs,
            "oof_mean_auc": float(np.mean(oof_aucs)),
            "wall_s": run["wall_s"],
            "duration_s": s["duration_s"],
            "exit_code": run["exit_code"],
            "best": s["best"],
            "trials": s["trials"],
            "failed_trials": s["failed_trials"],
            "stopped_trials": s["stopped_trials"],
            "timing": s["timing"],
            "ray_start_s": s["timing"]["ray_start_s"],
            "per_trial_overhead_s": per_trial_overhead(s, concurrency),
            "outside_run_s": run["wall_s"] - s["duration_s"],
            "rows": s["data"]["rows"],
        },
        "data": {
            "path": data_cfg["path"],
            "rows": len(y),
            "positive": positive,
            "positive_rate": float(y.mean()),
            "fold_sizes": np.bincount(folds).tolist(),
        },
    }
    print(
        f"[automl] AUC {s['score']:.4f}, wall {run['wall_s']:.1f} s, {s['trials']} trials",
        flush=True,
    )
    result["machine"] = machine
    machine.append(machine_state(args.wait_idle, "hgb"))
    print("[hgb] 5-fold HistGradientBoostingClassifier", flush=True)
    result["hgb"] = hgb_baseline(X, y, folds, args.seed)
    print(f"[hgb] AUC {result['hgb']['auc']:.4f} in {result['hgb']['wall_s']:.1f} s", flush=True)
    if not args.skip_flaml:
        machine.append(machine_state(args.wait_idle, "flaml"))
        print(f"[flaml] AutoML, time_budget={args.budget:g}, cv on the run's folds", flush=True)
        result["flaml"] = flaml_baseline(X, y, folds, args.budget, args.seed)
        print(
            f"[flaml] AUC {result['flaml']['auc']:.4f} in {result['flaml']['wall_s']:.1f} s "
            f"({result['flaml']['best_estimator']})",
            flush=True,
        )
    machine.append(machine_state(0.0, "end"))
    return result


def median_of(repeats: list[dict[str, Any]], system: str, key: str) -> float | None:
    values = [r[system][key] for r in repeats if system in r and r[system].get(key) is not None]
    return float(statistics.median(values)) if values else None


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def write_result(
    name: str,
    args: argparse.Namespace,
    packages: tuple[str, ...],
    body: dict[str, Any],
    machine: dict[str, Any] | None = None,
) -> Path:
    """Write bench/results/<name>-<timestamp>.json (the run's arguments, the machine, package
    versions, then ``body``) and print where it went."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    document = {
        "benchmark": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            **(machine or {}),
        },
        "packages": {p: version(p) for p in packages},
        **body,
    }
    out.write_text(json.dumps(document, indent=2, default=str))
    print(f"result: {out.relative_to(REPO)}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="automl vs HGB vs FLAML on the income recipe.")
    parser.add_argument("--repeats", type=int, default=1, help="times to run everything (default 1); medians shown")
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="search budget in seconds for automl and FLAML (default 60)",
    )
    parser.add_argument("--skip-flaml", action="store_true", help="leave FLAML out")
    parser.add_argument("--seed", type=int, default=0, help="recipe seed: fixes the folds (default 0)")
    parser.add_argument("--recipe", default="income", help="ready recipe name or file (default income)")
    parser.add_argument(
        "--cpus",
        type=int,
        default=os.cpu_count() or 1,
        help="trial concurrency for the overhead estimate (default: CPU count, "
        "which is what a local Ray gives the search)",
    )
    add_wait_idle(parser, "each step")
    parser.add_argument("--keep-runs", type=Path, default=None, help="copy each automl run folder here")
    args = parser.parse_args()
    if not args.skip_flaml:
        flaml_automl()  # fail now, not after the automl run

    repeats = [one_repeat(args, args.cpus, i) for i in range(args.repeats)]

    med = {
        system: {key: median_of(repeats, system, key) for key in keys}
        for system, keys in {
            "automl": (
                "auc",
                "wall_s",
                "duration_s",
                "ray_start_s",
                "per_trial_overhead_s",
                "trials",
                "outside_run_s",
                "oof_mean_auc",
            ),
            "hgb": ("auc", "wall_s"),
            "flaml": ("auc", "wall_s"),
        }.items()
    }
    for key in ("load_s", "search_s", "trial_work_s", "refit_s", "importance_s"):
        med["automl"][key] = float(statistics.median(r["automl"]["timing"][key] for r in repeats))
    a = med["automl"]
    targets = {
        "auc_at_least_0.925": a["auc"] is not None and a["auc"] >= TARGET_AUC,
        "wall_under_90s": a["wall_s"] is not None and a["wall_s"] < TARGET_WALL_S,
    }

    label = "median of " + str(args.repeats) if args.repeats > 1 else "1 run"
    print()
    print(f"income recipe, budget {args.budget:g} s, seed {args.seed}, {os.cpu_count()} CPUs ({label})")
    print(f"{'system':<10} {'ROC AUC':>8} {'wall s':>8}  notes")
    best = repeats[0]["automl"]["best"]["trainer"] if args.repeats == 1 else "see JSON"
    print(
        f"{'automl':<10} {a['auc']:>8.4f} {a['wall_s']:>8.1f}  best {best}, "
        f"{a['trials']:g} trials, summary duration {a['duration_s']:.1f} s"
    )
    h = med["hgb"]
    print(f"{'hgb':<10} {h['auc']:>8.4f} {h['wall_s']:>8.1f}  default HistGradientBoostingClassifier, same 5 folds")
    if not args.skip_flaml:
        f = med["flaml"]
        est = repeats[0]["flaml"]["best_estimator"] if args.repeats == 1 else "see JSON"
        print(
            f"{'flaml':<10} {f['auc']:>8.4f} {f['wall_s']:>8.1f}  "
            f"best cv roc_auc, time_budget={args.budget:g}, "
            f"best {est}"
        )
    print()
    print(
        "automl time split (s): "
        + ", ".join(
            f"{k} {a[k]:.1f}"
            for k in (
                "load_s",
                "ray_start_s",
                "search_s",
                "trial_work_s",
                "refit_s",
                "importance_s",
            )
        )
    )
    parts = ("load_s", "ray_start_s", "search_s", "refit_s", "importance_s")
    rest = a["duration_s"] - sum(a[k] for k in parts)
    print(
        f"  rest of the run (checks, features, Ray shutdown, leaderboard and ensemble, "
        f"registration, files): {rest:.1f} s; outside the run (interpreter, imports, Hydra): "
        f"{a['outside_run_s']:.1f} s"
    )
    print(f"Ray start-up: {a['ray_start_s']:.2f} s (ray.init, from the summary's timing.ray_start_s)")
    if a["per_trial_overhead_s"] is not None:
        print(
            f"Ray per-trial overhead: {a['per_trial_overhead_s']:.2f} s "
            f"= (search_s {a['search_s']:.1f} x {args.cpus} slots "
            f"- trial_work_s {a['trial_work_s']:.1f}) "
            f"/ {a['trials']:g} trials"
        )
        print(
            "  (slot time not spent inside the trial function; an upper bound: it also counts "
            "slots left idle at the end of the budget and the unreported part of trials cut off "
            "by it)"
        )
    oof = a["oof_mean_auc"]
    print(f"cross-check: mean fold AUC recomputed from oof.parquet {oof:.4f} (summary {a['auc']:.4f})")
    shares = [m["other_cpu_busy"] for r in repeats for m in r["machine"] if m["other_cpu_busy"] is not None]
    if shares:
        print(
            f"machine: other processes used at most {max(shares):.0%} of the CPUs "
            "at the step boundaries "
            f"(sampled before each step and at the end; 1-min load average at the end "
            f"{repeats[-1]['machine'][-1]['loadavg'][0]:.2f})"
        )
    print(
        f"targets: AUC >= {TARGET_AUC}: {'met' if targets['auc_at_least_0.925'] else 'NOT met'}; "
        f"wall < {TARGET_WALL_S:g} s: {'met' if targets['wall_under_90s'] else 'NOT met'}"
    )

    write_result(
        "income",
        args,
        ("automl", "ray", "scikit-learn", "lightgbm", "flaml", "xgboost", "pandas", "numpy"),
        {
            "targets": {"auc": TARGET_AUC, "wall_s": TARGET_WALL_S, **targets},
            "overhead_formula": "(search_s * cpus - trial_work_s) / trials",
            "median": med,
            "repeats": repeats,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
