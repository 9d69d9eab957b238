"""Image and text recipes end to end on the real shared data, with the real backbone plugins:
embeddings cached per backbone, weights from a local file the test saves itself, an offline hub
that makes pretrained backbones skip (or fail the run when the recipe requires weights)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.slow

OFFLINE = {"HF_HUB_OFFLINE": "1"}
QUICK = ["search.time_budget_s=null", "search.scheduler=fifo", "eval.cv_folds=3", "--json"]


@pytest.fixture(scope="module")
def resnet18_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A resnet18 state dict saved by the test (random, seeded): stands in for downloaded weights."""
    import torch

    from automl.plugins.torch_compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    import timm

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), path)
    return path


def test_spam_filter_with_the_offline_minilm_backbone_and_tfidf(tmp_path: Path, shared_data: Path) -> None:
    proc = run_cli(
        "run",
        "recipe=spam_filter",
        "search.trainers=[tfidf_linear,linear_probe]",
        "search.max_trials=2",
        f"workspace={tmp_path}",
        *QUICK,
        env=OFFLINE,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["score"] > 0.9 and summary["failed_trials"] == 0
    assert summary["backbones"]["used"] == ["all_minilm_l6_v2"]
    unique = pd.read_parquet(Path(summary["run_dir"]) / "oof.parquet")["example_id"].nunique()
    assert summary["backbones"]["embedding"]["all_minilm_l6_v2"]["computed"] == unique  # duplicates once
    board = pd.read_csv(Path(summary["run_dir"]) / "leaderboard.csv")
    assert set(board["trainer"]) >= {"tfidf_linear", "linear_probe"}

    texts = tmp_path / "new.csv"
    pd.DataFrame({"text": ["WINNER!! Claim your free prize now, call 09061701461", "ok see you at 5"]}).to_csv(
        texts, index=False
    )
    out = tmp_path / "pred.csv"
    pred = run_cli(
        "predict", "model=spam_filter", f"input={texts}", f"output={out}", f"workspace={tmp_path}", env=OFFLINE
    )
    assert pred.returncode == 0, pred.stderr
    assert pd.read_csv(out)["predicted"].tolist() == ["spam", "ham"]


def test_dog_classifier_with_local_weights_cache_and_retrain(
    tmp_path: Path, shared_data: Path, resnet18_weights: Path
) -> None:
    args = [
        "run",
        "recipe=dog_classifier",
        f"data.path={shared_data / 'dog_vs_not_cifar10'}",
        "search.backbones=[resnet18]",
        f"+search.backbone_options.resnet18.weights={resnet18_weights}",
        "search.trainers=[linear_probe,image_histogram]",
        "search.max_trials=3",
        f"workspace={tmp_path}",
        *QUICK,
    ]
    first = run_cli(*args, env=OFFLINE)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["data"]["rows"] == 1500 and summary["backbones"]["used"] == ["resnet18"]
    assert summary["backbones"]["embedding"]["resnet18"]["computed"] == 1500
    assert summary["score"] > 0.6

    again = run_cli(*args, env=OFFLINE)
    assert again.returncode in (0, 3), again.stderr
    second = json.loads(again.stdout)
    assert second["mode"] == "retrain"
    assert second["backbones"]["embedding"]["resnet18"] == {
        **second["backbones"]["embedding"]["resnet18"],
        "computed": 0,
        "cached": 1500,
    }

    out = tmp_path / "pred.csv"
    folder = shared_data / "dog_vs_not_cifar10" / "DogPresent"
    pred = run_cli("predict", "model=dog_classifier", f"input={folder}", f"output={out}", f"workspace={tmp_path}")
    assert pred.returncode == 0, pred.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 750 and (frame["predicted"] == "DogPresent").mean() > 0.5


def test_pretrained_backbones_without_weights_are_skipped_or_fail_when_required(
    tmp_path: Path, shared_data: Path
) -> None:
    args = [
        "run",
        "recipe=dog_classifier",
        "search.backbones=[resnet50]",
        "search.trainers=[linear_probe,image_histogram]",
        "search.max_trials=2",
        f"workspace={tmp_path}",
        *QUICK,
    ]
    proc = run_cli(*args, env={**OFFLINE, "HF_HOME": str(tmp_path / "empty-hf-home")})
    assert proc.returncode == 0, proc.stderr
    assert "warning: skipping backbone resnet50" in proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["backbones"]["used"] == [] and summary["backbones"]["skipped"][0]["backbone"] == "resnet50"
    assert summary["best"]["trainer"] == "image_histogram"

    required = run_cli(
        *args, "search.require_weights=true", env={**OFFLINE, "HF_HOME": str(tmp_path / "empty-hf-home")}
    )
    assert required.returncode == 2 and "resnet50" in required.stderr


def _subset(source: Path, target: Path, per_label: int) -> Path:
    """A smaller copy of an image-folder dataset, as symbolic links."""
    for label_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        (target / label_dir.name).mkdir(parents=True)
        for image in sorted(label_dir.iterdir())[:per_label]:
            (target / label_dir.name / image.name).symlink_to(image)
    return target


def test_fine_tuning_runs_when_the_budget_allows_and_is_left_out_when_not(
    tmp_path: Path, shared_data: Path, resnet18_weights: Path
) -> None:
    photos = _subset(shared_data / "dog_vs_not_cifar10", tmp_path / "photos", 60)
    common = [
        "run",
        "recipe=dog_classifier",
        f"data.path={photos}",
        "search.backbones=[resnet18]",
        f"search.backbone_options.resnet18.weights={resnet18_weights}",
        f"workspace={tmp_path / 'ws'}",
        "eval.cv_folds=3",
        "search.mode=search",
        "--json",
    ]
    # 50 epochs over 80 images at 224 px on 3 folds need far more than half of 60 s (unless the
    # backbone ran at over 300 images/s); linear_probe has the whole budget for its two trials.
    tight = run_cli(
        *common,
        "search.trainers=[linear_probe,finetune]",
        "search.space.finetune.epochs=50",
        "search.time_budget_s=60",
        "search.max_trials=2",
        env=OFFLINE,
    )
    assert tight.returncode in (0, 3), tight.stderr
    summary = json.loads(tight.stdout)
    assert [(n["trainer"], n["backbone"]) for n in summary["left_out"]] == [("finetune", "resnet18")]
    assert "raise the budget" in summary["left_out"][0]["reason"]
    assert "note: not trying finetune on resnet18" in tight.stderr
    assert summary["best"]["trainer"] == "linear_probe"

    tuned = run_cli(
        *common,
        "search.trainers=[finetune]",
        "search.space.finetune={image_size: 32, epochs: 2, train: last}",
        "search.augmenters=[flip,noise]",
        "search.time_budget_s=null",
        "search.max_trials=1",
        env=OFFLINE,
    )
    assert tuned.returncode in (0, 3), tuned.stderr
    summary = json.loads(tuned.stdout)
    assert summary["best"]["trainer"] == "finetune" and summary["best"]["backbone"] == "resnet18"
    assert summary["failed_trials"] == 0 and summary["left_out"] == []

    out = tmp_path / "pred.csv"
    pred = run_cli(
        "predict",
        "model=dog_classifier",
        f"input={photos / 'DogPresent'}",
        f"output={out}",
        f"workspace={tmp_path / 'ws'}",
    )
    assert pred.returncode == 0, pred.stderr
    assert len(pd.read_csv(out)) == 60
