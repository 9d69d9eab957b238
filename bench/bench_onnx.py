"""ONNX Runtime against the native model: same inputs, same process, interleaved; speed and agreement.

For each model, trained with ``automl run ... deploy.export=onnx`` (a subprocess from the
repository root, in a workspace under a temporary folder or ``--workspace``), this script loads
the registered version twice in one process:

- **native**: ``automl.model.predictor.load("NAME:V", workspace=...)`` and its ``predict_proba`` /
  ``predict``, i.e. what ``automl predict`` runs (the saved bundle: preprocessing, members,
  ensemble weights, the backbone for images and texts);
- **onnx**: ``automl_onnx.runtime.OnnxModel(<version dir>/export)`` (onnxruntime, CPU provider,
  its default threads; ``batch_size`` = max(64, N) so a batch of N is one ``session.run``), from
  the same raw inputs (DataFrame rows, image paths, texts): decoding and resizing images and
  tokenising texts are included on both sides.

Measured on rows held out of training (the script writes the training file or folder itself,
without them; held-out rows are drawn from examples with no duplicate in the data set):

- **batch-1 latency**: one pass = ``predict_proba`` on one example at a time, for ``b1`` examples;
  ms/row = pass time / b1. **batch-N throughput**: one pass = ``predict_proba`` on consecutive
  batches of N held-out examples; rows/s = rows / pass time. After one untimed warm-up of each
  (single example and one batch), passes alternate native, onnx, native, onnx, ... (``--repeats``
  pairs, with a short idle ``--gap`` between passes and ``gc.collect()`` before each), so a change
  in the machine's load hits both. Reported: medians; **ratio** = native time / onnx time (> 1:
  onnxruntime is faster), from the medians.
- **agreement** on every held-out example: max |p_native - p_onnx| over rows and classes, and the
  share of rows where ``predict`` (the decision threshold applied) gives the same label.

Models (``--only tabular,text,image``):

- tabular, ``recipe=income`` on adult.csv minus the held-out rows: one run per kind with one trial
  of that trainer and no ensemble (``lr``: logistic_regression, ``hgb``: hist_gradient_boosting,
  ``lightgbm``), and ``ensemble``: one trial each of the three, ensemble on (the winner is
  whatever the run picks; the table says which). 3 folds, no permutation importance, no budget.
- text, ``recipe=spam_filter``: linear_probe on all_minilm_l6_v2 (bundled, offline), trained on
  ``--text-train`` messages.
- image, ``recipe=dog_classifier``: linear_probe on a timm resnet18 with seeded random weights
  saved to a local ``.pth`` file (``search.backbone_options.resnet18.weights``; no hub here), on
  the dog_vs_not_oxford_pets photos not held out.

A JSON result is written to bench/results/onnx-<timestamp>.json (every pass time, the
exporter's own report, the training runs' summaries in brief, the machine's load).

    .venv/bin/python bench/bench_onnx.py                    # everything, default repeats
    .venv/bin/python bench/bench_onnx.py --quick            # smoke run: fewer rows and repeats
    .venv/bin/python bench/bench_onnx.py --only tabular --repeats 30
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_income import add_wait_idle, automl_executable, machine_state, parse_summary, write_result

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AUTOML_SHARED_DATA") or REPO.parent / "shared" / "data")

KINDS = ("tabular", "text", "image")
TABULAR_MODELS = {
    "lr": ["logistic_regression"],
    "hgb": ["hist_gradient_boosting"],
    "lightgbm": ["lightgbm"],
    "ensemble": ["logistic_regression", "hist_gradient_boosting", "lightgbm"],
}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")  # automl.data.images
# Per kind: held-out examples, examples per batch-1 pass, N, batches per batch-N pass, repeats.
DEFAULTS = {
    "tabular": {"holdout": 1024, "b1": 64, "batch": 256, "batches": 4, "repeats": 15},
    "text": {"holdout": 256, "b1": 16, "batch": 32, "batches": 4, "repeats": 9},
    "image": {"holdout": 96, "b1": 8, "batch": 32, "batches": 1, "repeats": 9},
}
QUICK = {
    "tabular": {"holdout": 512, "b1": 16, "batch": 256, "batches": 2, "repeats": 3},
    "text": {"holdout": 64, "b1": 4, "batch": 32, "batches": 1, "repeats": 2},
    "image": {"holdout": 32, "b1": 2, "batch": 32, "batches": 1, "repeats": 2},
}
# Training run settings shared by every model: one search, no budget, 3 folds, exported.
COMMON = [
    "search.time_budget_s=null",
    "search.mode=search",
    "eval.cv_folds=3",
    "deploy.export=onnx",
]


@dataclass
class Case:
    """One model to train and measure."""

    kind: str
    name: str  # registry name
    label: str
    recipe: str
    overrides: list[str]
    inputs: Any = None  # held-out inputs: a DataFrame (tabular) or a list of paths / texts
    settings: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Data: the training files without the held-out examples


def holdout_positions(duplicated: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` seeded positions among the rows that have no duplicate, sorted."""
    candidates = np.flatnonzero(~duplicated)
    if n > len(candidates):
        raise SystemExit(f"asked for {n} held-out examples, only {len(candidates)} have no duplicate")
    return np.sort(np.random.default_rng(seed).choice(candidates, size=n, replace=False))


def prepare_tabular(data_dir: Path, holdout: int, seed: int) -> tuple[Path, pd.DataFrame]:
    from automl.data.files import read_table

    source = SHARED / "adult_income" / "adult.csv"
    frame = pd.read_csv(source)
    features = frame.drop(columns=["income"])
    held = holdout_positions(features.duplicated(keep=False).to_numpy(), holdout, seed)
    mask = np.zeros(len(frame), dtype=bool)
    mask[held] = True
    train = data_dir / "income_train.csv"
    frame[~mask].to_csv(train, index=False)
    heldout_file = data_dir / "income_heldout.csv"
    frame[mask].drop(columns=["income"]).to_csv(heldout_file, index=False)
    # read back as `automl predict input=FILE` reads it
    inputs = read_table(heldout_file, "input").reset_index(drop=True)
    print(f"[data] income: {int((~mask).sum())} training rows, {holdout} held out", flush=True)
    return train, inputs


def prepare_text(data_dir: Path, holdout: int, n_train: int, seed: int) -> tuple[Path, list[str]]:
    source = SHARED / "sms_spam" / "sms_spam.csv"
    frame = pd.read_csv(source)
    held = holdout_positions(frame["text"].duplicated(keep=False).to_numpy(), holdout, seed)
    mask = np.zeros(len(frame), dtype=bool)
    mask[held] = True
    rest = frame[~mask]
    if n_train < len(rest):
        rest = rest.sample(n=n_train, random_state=seed)
    train = data_dir / "sms_train.csv"
    rest.to_csv(train, index=False)
    texts = ["" if v != v else str(v) for v in frame["text"][mask].tolist()]
    print(f"[data] sms_spam: {len(rest)} training messages, {holdout} held out", flush=True)
    return train, texts


def prepare_images(data_dir: Path, holdout: int, n_train: int | None, seed: int) -> tuple[Path, list[str]]:
    """Per label (sub-folder): a seeded shuffle; the held-out images are taken in proportion to the
    labels' sizes, the training folder gets symbolic links to (up to ``n_train`` of) the rest."""
    source = SHARED / "dog_vs_not_oxford_pets"
    found = {
        d.name: sorted(f for f in d.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        for d in sorted(source.iterdir())
        if d.is_dir() and not d.name.startswith(".")
    }
    total = sum(len(v) for v in found.values())
    rng = np.random.default_rng(seed)
    folder = data_dir / "images"
    held: list[str] = []
    trained = 0
    for label, files in found.items():
        order = [files[i] for i in rng.permutation(len(files))]
        k = round(holdout * len(files) / total)
        held += [str(f) for f in order[:k]]
        rest = order[k:]
        if n_train is not None:
            rest = rest[: round(n_train * len(files) / total)]
        (folder / label).mkdir(parents=True, exist_ok=True)
        for f in rest:
            (folder / label / f.name).symlink_to(f.resolve())
        trained += len(rest)
    print(f"[data] dog_vs_not_oxford_pets: {trained} training images, {len(held)} held out", flush=True)
    return folder, sorted(held)


def write_resnet18_weights(path: Path, seed: int) -> None:
    """A timm resnet18 with seeded random weights, saved as a state dict (in a subprocess, so
    this process imports torch only when it loads an image or text model)."""
    code = (
        "import sys, torch\n"
        "from automl.plugins.torch_compat import ensure_torchvision_importable\n"
        "ensure_torchvision_importable()\n"
        "import timm\n"
        "torch.manual_seed(int(sys.argv[2]))\n"
        "torch.save(timm.create_model('resnet18', pretrained=False).state_dict(), sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(seed)], check=True, cwd=REPO)


# ---------------------------------------------------------------------------------------------
# Training: `automl run`


def train(case: Case, workspace: Path, extra: list[str], seed: int) -> dict[str, Any]:
    cmd = [
        *automl_executable(),
        "run",
        f"recipe={case.recipe}",
        f"name={case.name}",
        f"seed={seed}",
        *COMMON,
        *case.overrides,
        *extra,
        f"workspace={workspace}",
        "--json",
    ]
    print(f"[{case.name}] {' '.join(cmd)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    if proc.returncode not in (0, 3):
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"automl run for {case.name} exited {proc.returncode}")
    summary = parse_summary(proc.stdout)
    export = summary.get("export") or {}
    print(
        f"[{case.name}] trained in {wall_s:.1f} s: {summary['metric']} {summary['score']:.4f}, best "
        f"{describe_best(summary['best'])}; exported: {export.get('exported')}"
        + ("" if export.get("exported") else f" ({export.get('reason')})"),
        flush=True,
    )
    return {
        "wall_s": wall_s,
        "exit_code": proc.returncode,
        "metric": summary["metric"],
        "score": summary["score"],
        "best": summary["best"],
        "best_described": describe_best(summary["best"]),
        "model": summary["model"],
        "rows": summary["data"]["rows"],
        "timing": summary["timing"],
        "export": export,
        "run_dir": summary["run_dir"],
    }


def describe_best(best: dict[str, Any]) -> str:
    def one(b: dict[str, Any]) -> str:
        return b["trainer"] + (f" on {b['backbone']}" if b.get("backbone") else "")

    if best["trainer"] == "ensemble":
        members = best["params"]["members"]
        return "ensemble of " + " + ".join(f"{one(m)} ({m['weight']:g})" for m in members)
    return one(best)


# ---------------------------------------------------------------------------------------------
# Measuring


def singles(inputs: Any, n: int) -> list[Any]:
    """The first ``n`` examples, each as a one-example input (a one-row DataFrame or a 1-list)."""
    if isinstance(inputs, pd.DataFrame):
        return [inputs.iloc[[i]] for i in range(n)]
    return [[inputs[i]] for i in range(n)]


def batches(inputs: Any, size: int, count: int) -> list[Any]:
    """Up to ``count`` consecutive full batches of ``size`` examples."""
    count = min(count, len(inputs) // size)
    if count < 1:
        raise SystemExit(f"need at least {size} held-out examples for a batch of {size}, have {len(inputs)}")
    if isinstance(inputs, pd.DataFrame):
        return [inputs.iloc[i * size : (i + 1) * size] for i in range(count)]
    return [list(inputs[i * size : (i + 1) * size]) for i in range(count)]


def timed_pass(predict: Callable[[Any], Any], chunks: list[Any]) -> float:
    gc.collect()
    started = time.perf_counter()
    for chunk in chunks:
        predict(chunk)
    return time.perf_counter() - started


def interleaved(
    native: Callable[[Any], Any], onnx: Callable[[Any], Any], chunks: list[Any], repeats: int, gap: float
) -> dict[str, list[float]]:
    """Pass times, native then onnx, ``repeats`` times."""
    times: dict[str, list[float]] = {"native": [], "onnx": []}
    for _ in range(repeats):
        for side, predict in (("native", native), ("onnx", onnx)):
            time.sleep(gap)
            times[side].append(timed_pass(predict, chunks))
    return times


def large_call(case: Case, folder: Path, native_proba: Callable[[Any], Any], gap: float) -> dict[str, Any]:
    """Every held-out text in one call, with ``OnnxModel`` at its default batch size (64), as a user
    calls it: the call spans several batches, which it runs sorted by length (as the native embedder
    does), so each batch pads to texts of like length."""
    from automl_onnx.runtime import OnnxModel

    onnx = OnnxModel(folder)
    texts = list(case.inputs)
    onnx.predict_proba(texts)  # warm-up
    times = interleaved(native_proba, onnx.predict_proba, [texts], case.settings["repeats"], gap)
    ms = {k: 1000 * statistics.median(v) / len(texts) for k, v in times.items()}
    print(
        f"[{case.name}] one call of {len(texts)} texts (onnx batch size {onnx.batch_size}): ms/row native "
        f"{ms['native']:.2f}, onnx {ms['onnx']:.2f} (x{ms['native'] / ms['onnx']:.2f})",
        flush=True,
    )
    return {"rows": len(texts), "onnx_batch_size": onnx.batch_size, "pass_s": times, "ms_per_row": ms,
            "ratio": ms["native"] / ms["onnx"]}  # fmt: skip


def measure(case: Case, workspace: Path, run: dict[str, Any], gap: float) -> dict[str, Any]:
    import automl.model.predictor
    from automl.registry.store import ModelStore

    name, version = run["model"]["name"], int(run["model"]["version"])
    if not run["export"].get("exported"):
        return {"skipped": f"not exported: {run['export'].get('reason')}"}
    from automl_onnx.runtime import OnnxModel

    s = case.settings
    native = automl.model.predictor.load(f"{name}:{version}", workspace=workspace)
    folder = ModelStore(workspace).version_dir(name, version) / "export"
    onnx = OnnxModel(folder, batch_size=max(64, s["batch"]))
    if list(onnx.classes) != list(native.classes):
        raise SystemExit(f"{name}: class order differs: native {native.classes}, onnx {onnx.classes}")

    def native_proba(x: Any) -> Any:
        return native.predict_proba(x)

    inputs = case.inputs
    one = singles(inputs, s["b1"])
    many = batches(inputs, s["batch"], s["batches"])
    for predict in (native_proba, onnx.predict_proba):  # warm-up: first calls, lazy tokenizers, caches
        predict(one[0])
        predict(many[0])

    # agreement on every held-out example
    p_native = native.predict_proba(inputs).to_numpy(dtype=np.float64)
    p_onnx = onnx.predict_proba(inputs)
    labels_native = [str(v) for v in native.predict(inputs)]
    labels_onnx = onnx.predict(inputs)
    diff = np.abs(p_native - p_onnx)
    agreement = {
        "rows": len(labels_native),
        "max_abs_diff": float(np.nanmax(diff)),
        "mean_abs_diff": float(np.nanmean(diff)),
        "nan_native": int(np.isnan(p_native).sum()),
        "nan_onnx": int(np.isnan(p_onnx).sum()),
        "same_label": float(np.mean([a == b for a, b in zip(labels_native, labels_onnx, strict=True)])),
        "differing_labels": int(sum(a != b for a, b in zip(labels_native, labels_onnx, strict=True))),
    }

    print(f"[{case.name}] batch-1: {s['repeats']} x ({s['b1']} single examples native, then onnx)", flush=True)
    b1 = interleaved(native_proba, onnx.predict_proba, one, s["repeats"], gap)
    rows_n = len(many) * s["batch"]
    print(f"[{case.name}] batch-{s['batch']}: {s['repeats']} x ({len(many)} batches native, then onnx)", flush=True)
    bn = interleaved(native_proba, onnx.predict_proba, many, s["repeats"], gap)
    b1_ms = {k: 1000 * statistics.median(v) / s["b1"] for k, v in b1.items()}
    bn_rows_s = {k: rows_n / statistics.median(v) for k, v in bn.items()}
    large = large_call(case, folder, native_proba, gap) if case.kind == "text" else None
    threads = {"onnx_intra_op_threads": onnx.session.get_session_options().intra_op_num_threads}
    if "torch" in sys.modules:
        threads["torch_threads"] = sys.modules["torch"].get_num_threads()
    result = {
        "model": f"{name}:{version}",
        "export_folder": str(folder),
        "graph_bytes": (folder / onnx.meta["file"]).stat().st_size,
        "agreement": agreement,
        "batch1": {
            "rows_per_pass": s["b1"],
            "pass_s": b1,
            "ms_per_row": b1_ms,
            "ratio": b1_ms["native"] / b1_ms["onnx"],
        },
        "batchN": {
            "batch": s["batch"],
            "rows_per_pass": rows_n,
            "pass_s": bn,
            "rows_per_s": bn_rows_s,
            "ratio": bn_rows_s["onnx"] / bn_rows_s["native"],
        },
        "threads": threads,
        "large_call": large,
    }
    print(
        f"[{case.name}] batch-1 ms/row native {b1_ms['native']:.3f}, onnx {b1_ms['onnx']:.3f} "
        f"(x{result['batch1']['ratio']:.2f}); batch-{s['batch']} rows/s native {bn_rows_s['native']:.1f}, "
        f"onnx {bn_rows_s['onnx']:.1f} (x{result['batchN']['ratio']:.2f}); max |dp| {agreement['max_abs_diff']:.2e}, "
        f"same label {agreement['same_label']:.2%}",
        flush=True,
    )
    return result


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description="ONNX Runtime vs the native model: speed ratio and agreement.")
    parser.add_argument(
        "--only", default=",".join(KINDS), help="comma-separated kinds: tabular,text,image (default all)"
    )
    parser.add_argument(
        "--tabular-models",
        default=",".join(TABULAR_MODELS),
        help=f"comma-separated tabular models (default {','.join(TABULAR_MODELS)})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed pass pairs per measurement (default: tabular 15, text 9, image 9; --quick: 3, 2, 2)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer held-out rows, rows and repeats")
    parser.add_argument("--text-train", type=int, default=None, help="training messages (default 1500; quick 400)")
    parser.add_argument(
        "--image-train", type=int, default=None, help="training images (default: all not held out; quick 90)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out split and the runs (default 0)")
    parser.add_argument("--gap", type=float, default=0.05, help="idle seconds before each timed pass (default 0.05)")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another override for every automl run (repeatable), e.g. +deploy.export_options.quantize=dynamic",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="folder for the data files and the automl workspace, kept (default: a temporary folder, removed)",
    )
    add_wait_idle(parser, "each measurement")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    tab_models = [m.strip() for m in args.tabular_models.split(",") if m.strip()]
    if not kinds or any(k not in KINDS for k in kinds):
        parser.error(f"--only takes a comma-separated subset of {','.join(KINDS)}")
    if any(m not in TABULAR_MODELS for m in tab_models):
        parser.error(f"--tabular-models takes a comma-separated subset of {','.join(TABULAR_MODELS)}")
    settings = {k: dict((QUICK if args.quick else DEFAULTS)[k]) for k in KINDS}
    if args.repeats is not None:
        for s in settings.values():
            s["repeats"] = args.repeats
    text_train = args.text_train or (400 if args.quick else 1500)
    image_train = args.image_train or (90 if args.quick else None)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here: never wait on the network

    root = args.workspace.resolve() if args.workspace else Path(tempfile.mkdtemp(prefix="automl-bench-onnx-"))
    data_dir = root / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    workspace = root / "workspace"
    machine = [machine_state(args.wait_idle, "start")]
    started = time.perf_counter()

    cases: list[Case] = []
    if "tabular" in kinds:
        train_csv, frame = prepare_tabular(data_dir, settings["tabular"]["holdout"], args.seed)
        for m in tab_models:
            trainers = TABULAR_MODELS[m]
            single = len(trainers) == 1
            cases.append(
                Case(
                    "tabular",
                    f"income_{m}",
                    f"income, {m}",
                    "income",
                    [
                        f"data.path={train_csv}",
                        f"search.trainers=[{','.join(trainers)}]",
                        f"search.max_trials={len(trainers)}",
                        "search.scheduler=fifo",
                        f"search.ensemble={'false' if single else 'true'}",
                        "eval.feature_importance=false",
                    ],
                    frame,
                    settings["tabular"],
                )
            )
    if "text" in kinds:
        train_csv, texts = prepare_text(data_dir, settings["text"]["holdout"], text_train, args.seed)
        cases.append(
            Case(
                "text",
                "spam_minilm",
                "spam, MiniLM + linear_probe",
                "spam_filter",
                [
                    f"data.path={train_csv}",
                    "search.backbones=[all_minilm_l6_v2]",
                    "search.trainers=[linear_probe]",
                    "search.max_trials=1",
                ],
                texts,
                settings["text"],
            )
        )
    if "image" in kinds:
        folder, images = prepare_images(data_dir, settings["image"]["holdout"], image_train, args.seed)
        weights = data_dir / "resnet18-random.pth"
        write_resnet18_weights(weights, args.seed)
        cases.append(
            Case(
                "image",
                "dog_resnet18",
                "pets, resnet18 (random) + probe",
                "dog_classifier",
                [
                    f"data.path={folder}",
                    "search.backbones=[resnet18]",
                    f"search.backbone_options.resnet18.weights={weights}",
                    "search.trainers=[linear_probe]",
                    "search.max_trials=1",
                ],
                images,
                settings["image"],
            )
        )

    runs = {}
    for case in cases:
        machine.append(machine_state(0.0, f"train {case.name}"))
        runs[case.name] = train(case, workspace, args.override, args.seed)
    results = {}
    for case in cases:
        machine.append(machine_state(args.wait_idle, f"measure {case.name}"))
        results[case.name] = measure(case, workspace, runs[case.name], args.gap)
    machine.append(machine_state(0.0, "end"))
    total_s = time.perf_counter() - started

    print()
    print(
        f"ONNX Runtime vs native, same held-out inputs, interleaved passes, {os.cpu_count()} CPUs; "
        f"medians; ratio = native time / onnx time (> 1: onnx faster)"
    )
    header = (
        f"{'model':<34} {'b1 ms/row nat':>13} {'onnx':>8} {'ratio':>6} {'bN':>4} {'rows/s nat':>11} "
        f"{'onnx':>9} {'ratio':>6} {'max |dp|':>9} {'same lbl':>8} {'rows':>5}  best"
    )
    print(header)
    for case in cases:
        r, run = results[case.name], runs[case.name]
        if "skipped" in r:
            print(f"{case.label:<34} {r['skipped']}")
            continue
        b1, bn, a = r["batch1"], r["batchN"], r["agreement"]
        print(
            f"{case.label:<34} {b1['ms_per_row']['native']:>13.3f} {b1['ms_per_row']['onnx']:>8.3f} "
            f"{b1['ratio']:>6.2f} {bn['batch']:>4} {bn['rows_per_s']['native']:>11.1f} "
            f"{bn['rows_per_s']['onnx']:>9.1f} {bn['ratio']:>6.2f} {a['max_abs_diff']:>9.2e} "
            f"{a['same_label']:>8.2%} {a['rows']:>5}  {run['best_described']}"
        )
    print()
    for case in cases:
        r, run = results[case.name], runs[case.name]
        e = run["export"]
        if not e.get("exported"):
            continue
        s = case.settings
        b1, bn = r["batch1"], r["batchN"]

        def spread(times: list[float], per: float) -> str:
            return f"{min(times) * per:.3g}-{max(times) * per:.3g}"

        print(
            f"{case.label}: {s['repeats']} passes each of {s['b1']} single examples and of {bn['rows_per_pass']} "
            f"rows in batches of {s['batch']}; batch-1 ms/row range native "
            f"{spread(b1['pass_s']['native'], 1000 / s['b1'])}, onnx {spread(b1['pass_s']['onnx'], 1000 / s['b1'])}; "
            f"batch-{s['batch']} ms/row range native {spread(bn['pass_s']['native'], 1000 / bn['rows_per_pass'])}, "
            f"onnx {spread(bn['pass_s']['onnx'], 1000 / bn['rows_per_pass'])}"
        )
        if r.get("large_call"):
            big = r["large_call"]
            print(
                f"  one call of {big['rows']} texts, OnnxModel batch size {big['onnx_batch_size']}: ms/row native "
                f"{big['ms_per_row']['native']:.2f}, onnx {big['ms_per_row']['onnx']:.2f} (ratio {big['ratio']:.2f})"
            )
        print(
            f"  graph {r['graph_bytes'] / 1e6:.2f} MB; threads {r['threads']} (onnx 0: onnxruntime's default); "
            f"trained in {run['wall_s']:.1f} s on {run['rows']} rows ({run['metric']} {run['score']:.4f}); "
            f"exporter's own check on {e.get('rows_checked')} rows: max |dp| {e.get('max_abs_diff'):.2e}, "
            f"same label {e.get('same_label_rate'):.2%}, ms/row native {e.get('native_ms_per_row')} / onnx "
            f"{e.get('onnx_ms_per_row')}, quantized {e.get('quantized')}"
        )
    shares = [m["other_cpu_busy"] for m in machine if m["other_cpu_busy"] is not None]
    if shares:
        print(
            f"machine: other processes used {min(shares):.0%}-{max(shares):.0%} of the CPUs at the step "
            f"boundaries; 1-min load average {machine[0]['loadavg'][0]:.2f} at the start, "
            f"{machine[-1]['loadavg'][0]:.2f} at the end"
        )
    print(f"total {total_s:.0f} s")

    write_result(
        "onnx",
        args,
        (
            "automl",
            "automl-onnx",
            "onnxruntime",
            "onnx",
            "skl2onnx",
            "onnxmltools",
            "scikit-learn",
            "lightgbm",
            "torch",
            "timm",
            "transformers",
            "numpy",
            "pandas",
        ),
        {
            "settings": {c.name: c.settings for c in cases},
            "text_train": text_train,
            "image_train": image_train,
            "total_s": total_s,
            "runs": runs,
            "results": results,
        },
        machine={"contention": machine},
    )
    if args.workspace is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
