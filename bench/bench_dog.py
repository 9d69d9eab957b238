"""End-to-end benchmark of ``automl run recipe=dog_classifier``: a first run, then a run on 10% more images.

Two targets: report the wall time of ``automl run recipe=dog_classifier`` (its 30 s budget)
on dog_vs_not_oxford_pets, everything included; and a second run of the same recipe, in the same
workspace, on 10% more images, must take at most a third of the first run's wall time (the retrain
path re-evaluates the first run's best configurations instead of searching, and the embedding
cache embeds only the new images).

Per repeat:

1. A temporary data folder with the dataset's layout (one sub-folder per label, ``DogPresent/`` and
   ``NoDogPresent/``) holds symbolic links to a deterministic subset of the images: per label, a
   seeded shuffle of the sorted file names, of which the first ``round(n / (1 + EXTRA))`` are linked
   (EXTRA = ``--extra-share``, default 0.10: 227 of 250 and 109 of 120, i.e. 336 of 370 images, about
   91%). ``--fraction F`` first keeps a seeded share F of each label (for quick checks).
2. First run: ``automl run recipe=dog_classifier [search.time_budget_s=BUDGET] seed=SEED
   data.path=<data folder> workspace=<fresh temp workspace> --json`` as a subprocess from the
   repository root. The wall time is measured around the subprocess: interpreter start-up,
   imports, Hydra, loading and decoding the images, loading the backbones (or finding that their
   weights are missing), embedding, Ray start-up and shutdown, the search, the refit and
   registration.
3. Links to the remaining images of each label are added to the same folder (about 10% more).
4. Second run: the same command (same recipe, overrides, data folder and workspace). Its summary's
   ``mode`` says whether it retrained (``retrain``) or searched (``search``), and ``mode_reason`` why.

Reported for each run: wall time, mean CV accuracy (each run on its own 5 folds: the data differ),
``mode`` and ``mode_reason``, ``timing.*``, trials, the best candidate, the backbones used and
skipped (with the reason), and the embedding cache's counts (new / from the cache); then the ratio
second / first wall time against the target 1/3. The runs are sequential, never side by side.

Pretrained backbones need weights. Where none are available (no network and nothing imported with
``automl weights``), automl skips those backbones with a warning and only the weight-free
candidates train (image_histogram, scratch_cnn); the benchmark reports that and carries on.
``--override KEY=VALUE`` (repeatable) passes more recipe overrides to both runs, e.g. a weights file.

``--repeats N`` repeats everything (fresh data folder and workspace each time); the table shows
medians. A JSON result is written to bench/results/dog-<timestamp>.json.

    .venv/bin/python bench/bench_dog.py                      # the recipe's budget (30 s), 1 repeat
    .venv/bin/python bench/bench_dog.py --repeats 3 --wait-idle 300
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from bench_income import add_wait_idle, automl_executable, machine_state, parse_summary, write_result

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
SHARED = Path(os.environ.get("AUTOML_SHARED_DATA") or REPO.parent / "shared" / "data")

TARGET_RATIO = 1 / 3
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")  # automl.data.images
# Lines of automl's stderr worth keeping: the mode, skipped backbones, embedding counts, notes.
STDERR_KEEP = ("mode:", "warning", "embedded with", "note:")


# ---------------------------------------------------------------------------------------------
# The data: a deterministic subset, then the rest


def images_per_label(root: Path) -> dict[str, list[Path]]:
    labels = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    found = {
        d.name: sorted(
            f for f in d.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")
        )
        for d in labels
    }
    found = {k: v for k, v in found.items() if v}
    if len(found) < 2:
        raise SystemExit(f"{root}: expected one sub-folder of images per label, found {list(found)}")
    return found


def split_images(
    found: dict[str, list[Path]], fraction: float, extra_share: float, seed: int
) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """Per label: a seeded shuffle, cut to ``fraction``, then split into the first run's images
    (``round(k / (1 + extra_share))``) and the ones the second run adds."""
    rng = np.random.default_rng(seed)
    base: dict[str, list[Path]] = {}
    extra: dict[str, list[Path]] = {}
    for label, files in found.items():
        order = [files[i] for i in rng.permutation(len(files))]
        kept = order[: max(2, round(len(files) * fraction))]
        n_base = round(len(kept) / (1 + extra_share))
        base[label], extra[label] = kept[:n_base], kept[n_base:]
    return base, extra


def link(images: dict[str, list[Path]], source: Path, folder: Path) -> None:
    """Symbolic links ``folder/LABEL/...`` to the images, at their paths relative to ``source``."""
    for files in images.values():
        for f in files:
            target = folder / f.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(f.resolve())


# ---------------------------------------------------------------------------------------------
# automl


def run_automl(recipe: str, overrides: list[str], workspace: Path, phase: str) -> dict[str, Any]:
    cmd = [*automl_executable(), "run", f"recipe={recipe}", *overrides, f"workspace={workspace}", "--json"]
    print(f"[{phase}] {' '.join(cmd)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    if proc.returncode not in (0, 3):  # 3: trained but not promoted, fine for a benchmark
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"automl run exited {proc.returncode}")
    summary = parse_summary(proc.stdout)
    notes = [line.strip() for line in proc.stderr.splitlines() if line.strip().lower().startswith(STDERR_KEEP)]
    return {"wall_s": wall_s, "exit_code": proc.returncode, "summary": summary, "stderr_notes": notes}


def describe_best(best: dict[str, Any]) -> str:
    def one(trainer: str, backbone: str | None) -> str:
        return f"{trainer} on {backbone}" if backbone else trainer

    if best["trainer"] != "ensemble":
        return one(best["trainer"], best.get("backbone"))
    members = Counter(one(m["trainer"], m.get("backbone")) for m in best["params"]["members"])
    return "ensemble of " + " + ".join(f"{n} {name}" for name, n in members.most_common())


def trials_per_trainer(run_dir: Path) -> dict[str, dict[str, int]]:
    """Per trainer (and backbone), how many trials completed, were stopped or failed (leaderboard.csv)."""
    import pandas as pd

    board = pd.read_csv(run_dir / "leaderboard.csv")
    out: dict[str, dict[str, int]] = {}
    for _, row in board[board["trainer"] != "ensemble"].iterrows():
        backbone = row.get("backbone")
        key = f"{row['trainer']}/{backbone}" if isinstance(backbone, str) and backbone else str(row["trainer"])
        counts = out.setdefault(key, {})
        counts[str(row["status"])] = counts.get(str(row["status"]), 0) + 1
    return out


def run_record(run: dict[str, Any], images: int) -> dict[str, Any]:
    s = run["summary"]
    backbones = s.get("backbones") or {}
    return {
        "images": images,
        "wall_s": run["wall_s"],
        "duration_s": s["duration_s"],
        "outside_run_s": run["wall_s"] - s["duration_s"],
        "exit_code": run["exit_code"],
        "accuracy": s["score"],
        "accuracy_std": s["score_std"],
        "fold_scores": s["fold_scores"],
        "metric": s["metric"],
        "mode": s.get("mode"),
        "mode_reason": s.get("mode_reason"),
        "data_change": s.get("data_change"),
        "trials": s["trials"],
        "trials_per_trainer": trials_per_trainer(Path(s["run_dir"])),
        "failed_trials": s["failed_trials"],
        "stopped_trials": s["stopped_trials"],
        "best": s["best"],
        "best_described": describe_best(s["best"]),
        "timing": s["timing"],
        "backbones_used": backbones.get("used", []),
        "backbones_skipped": backbones.get("skipped", []),
        "embedding": backbones.get("embedding", {}),
        "left_out": s.get("left_out", []),
        "rows": s["data"]["rows"],
        "skipped_rows": s["data"]["skipped"],
        "run_dir": s["run_dir"],
        "stderr_notes": run["stderr_notes"],
    }


# ---------------------------------------------------------------------------------------------


def one_repeat(args: argparse.Namespace, index: int) -> dict[str, Any]:
    print(f"--- repeat {index + 1}/{args.repeats}", flush=True)
    found = images_per_label(args.data)
    base, extra = split_images(found, args.fraction, args.extra_share, args.seed)
    n_base = sum(map(len, base.values()))
    n_extra = sum(map(len, extra.values()))
    tmp = Path(tempfile.mkdtemp(prefix="automl-bench-dog-"))
    data_dir, workspace = tmp / "data", tmp / "workspace"
    overrides = [
        *([f"search.time_budget_s={args.budget:g}"] if args.budget is not None else []),
        f"seed={args.seed}",
        f"data.path={data_dir}",
        *args.override,
    ]
    try:
        link(base, args.data, data_dir)
        print(
            f"[data] first run: {n_base} images ({', '.join(f'{k} {len(v)}' for k, v in base.items())}); "
            f"second run adds {n_extra} ({n_extra / n_base:.1%} more)",
            flush=True,
        )
        machine = [machine_state(args.wait_idle, "first")]
        first = run_record(run_automl(args.recipe, overrides, workspace, "first"), n_base)
        print(
            f"[first] accuracy {first['accuracy']:.4f}, wall {first['wall_s']:.1f} s, mode {first['mode']}, "
            f"{first['trials']} trials",
            flush=True,
        )
        link(extra, args.data, data_dir)
        machine.append(machine_state(args.wait_idle, "second"))
        second = run_record(run_automl(args.recipe, overrides, workspace, "second"), n_base + n_extra)
        print(
            f"[second] accuracy {second['accuracy']:.4f}, wall {second['wall_s']:.1f} s, mode {second['mode']} "
            f"({second['mode_reason']}), {second['trials']} trials",
            flush=True,
        )
        machine.append(machine_state(0.0, "end"))
        if args.keep_runs is not None:
            args.keep_runs.mkdir(parents=True, exist_ok=True)
            for rec in (first, second):
                run_dir = Path(rec["run_dir"])
                shutil.copytree(run_dir, args.keep_runs / f"{tmp.name}-{run_dir.name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "first": first,
        "second": second,
        "ratio": second["wall_s"] / first["wall_s"],
        "images": {"first": n_base, "added": n_extra, "per_label_first": {k: len(v) for k, v in base.items()}},
        "machine": machine,
    }


def fmt_timing(t: dict[str, float]) -> str:
    order = ("load_s", "ray_start_s", "search_s", "trial_work_s", "refit_s", "importance_s")
    keys = [k for k in order if k in t] + [k for k in t if k not in order]
    return ", ".join(f"{k} {t[k]:.1f}" for k in keys)


def main() -> int:
    parser = argparse.ArgumentParser(description="dog_classifier: first run, then a run on 10% more images.")
    parser.add_argument("--repeats", type=int, default=1, help="times to run everything (default 1); medians shown")
    parser.add_argument(
        "--budget", type=float, default=None, help="search.time_budget_s of both runs (default: the recipe's, 30 s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="recipe seed and image-subset seed (default 0)")
    parser.add_argument("--recipe", default="dog_classifier", help="ready recipe name or file (default dog_classifier)")
    parser.add_argument(
        "--data",
        type=Path,
        default=SHARED / "dog_vs_not_oxford_pets",
        help="image folder, one sub-folder per label (default: the shared dog_vs_not_oxford_pets)",
    )
    parser.add_argument(
        "--fraction",
        type=float,
        default=1.0,
        help="use only this seeded share of each label's images (default 1: all; for quick checks)",
    )
    parser.add_argument(
        "--extra-share",
        type=float,
        default=0.10,
        help="images the second run adds, as a share of the first run's (default 0.10)",
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another recipe override for both runs (repeatable)",
    )
    add_wait_idle(parser, "each run")
    parser.add_argument("--keep-runs", type=Path, default=None, help="copy each automl run folder here")
    args = parser.parse_args()
    if not 0 < args.fraction <= 1 or args.extra_share <= 0:
        parser.error("--fraction must be in (0, 1] and --extra-share > 0")
    args.data = args.data.resolve()

    repeats = [one_repeat(args, i) for i in range(args.repeats)]

    def med(run: str, key: str) -> float:
        return float(statistics.median(r[run][key] for r in repeats))

    median = {
        run: {k: med(run, k) for k in ("wall_s", "duration_s", "outside_run_s", "accuracy", "trials")}
        for run in ("first", "second")
    }
    for run in ("first", "second"):
        median[run]["timing"] = {
            k: float(statistics.median(r[run]["timing"][k] for r in repeats)) for k in repeats[0][run]["timing"]
        }
    median["ratio"] = float(statistics.median(r["ratio"] for r in repeats))
    met = median["ratio"] <= TARGET_RATIO
    held = sum(r["ratio"] <= TARGET_RATIO for r in repeats)

    label = f"median of {args.repeats}" if args.repeats > 1 else "1 run"
    r0 = repeats[0]
    print()
    budget = f"{args.budget:g} s" if args.budget is not None else "the recipe's"
    print(
        f"dog_classifier recipe, budget {budget}, seed {args.seed}, {os.cpu_count()} CPUs ({label}); "
        f"data {args.data}" + (f", fraction {args.fraction:g}" if args.fraction < 1 else "")
    )
    print(f"{'run':<8} {'images':>6} {'accuracy':>9} {'wall s':>8} {'trials':>6}  mode (reason); best")
    for run in ("first", "second"):
        rec, m = r0[run], median[run]
        best = rec["best_described"] if args.repeats == 1 else "see JSON"
        print(
            f"{run:<8} {rec['images']:>6} {m['accuracy']:>9.4f} {m['wall_s']:>8.1f} {m['trials']:>6g}  "
            f"{rec['mode']} ({rec['mode_reason']}); best {best}"
        )
    print()
    for run in ("first", "second"):
        rec, m = r0[run], median[run]
        t = m["timing"]
        rest = m["duration_s"] - sum(v for k, v in t.items() if k != "trial_work_s")
        print(f"{run} run time split (s): {fmt_timing(t)}")
        print(
            f"  rest of the run (image decoding and checks, backbones, embedding, leaderboard, registration): "
            f"{rest:.1f}; outside the run (interpreter, imports, Hydra): {m['outside_run_s']:.1f}"
        )
        counts = rec["trials_per_trainer"]
        print(
            "  trials: "
            + "; ".join(f"{k} " + ", ".join(f"{n} {status}" for status, n in c.items()) for k, c in counts.items())
        )
        used = ", ".join(rec["backbones_used"]) or "none"
        print(f"  backbones used: {used}")
        for name, e in rec["embedding"].items():
            print(f"    {name}: {e['computed']:g} embedded, {e['cached']:g} from the cache, {e['seconds']:.1f} s")
        if (
            run == "second"
            and rec["backbones_skipped"]
            and rec["backbones_skipped"] == r0["first"]["backbones_skipped"]
        ):
            print(f"  skipped {', '.join(sk['backbone'] for sk in rec['backbones_skipped'])}: as in the first run")
        else:
            for sk in rec["backbones_skipped"]:
                print(f"  skipped {sk['backbone']}: {sk['reason']}")
        for note in rec["left_out"]:
            print(f"  left out: {note}")
    print()
    shares = [m["other_cpu_busy"] for r in repeats for m in r["machine"] if m["other_cpu_busy"] is not None]
    if shares:
        print(
            f"machine: other processes used at most {max(shares):.0%} of the CPUs at the run boundaries "
            f"(1-min load average at the end {repeats[-1]['machine'][-1]['loadavg'][0]:.2f})"
        )
    print(
        f"target: second run ({r0['images']['added']} more images) / first run wall time = "
        f"{median['second']['wall_s']:.1f} / {median['first']['wall_s']:.1f} = {median['ratio']:.3f} "
        f"<= {TARGET_RATIO:.3f}: {'MET' if met else 'NOT MET'} (held in {held}/{len(repeats)} repeats)"
    )

    write_result(
        "dog",
        args,
        ("automl", "automl-timm", "ray", "scikit-learn", "torch", "timm", "pillow", "numpy"),
        {
            "targets": {"ratio": TARGET_RATIO, "met": met, "held_in_repeats": f"{held}/{len(repeats)}"},
            "median": median,
            "repeats": repeats,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
