"""Recipes with only name, task and data, for all three tasks, run end to end offline; and
``search.time_budget_s`` bounds the wall time of the whole command (a generous margin here: the
exact figures belong to the benchmarks)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.slow

OFFLINE = {"HF_HUB_OFFLINE": "1"}
BUDGET_S = 20.0
MARGIN_S = 20.0  # the rule is budget + max(10%, 5 s); CI machines are shared and slower


def _recipe(tmp_path: Path, task: str, data: str) -> Path:
    path = tmp_path / "minimal.yaml"
    path.write_text(f"name: minimal\ntask: {{type: {task}}}\ndata: {data}\n")
    return path


def _run(recipe: Path, tmp_path: Path, *overrides: str) -> tuple[dict, float]:
    started = time.monotonic()
    proc = run_cli(
        "run", f"recipe={recipe}", f"workspace={tmp_path / 'ws'}", "eval.cv_folds=3", *overrides, "--json", env=OFFLINE
    )
    wall = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout), wall


def test_minimal_tabular_recipe(tmp_path: Path, shared_data: Path) -> None:
    recipe = _recipe(
        tmp_path, "tabular_classification", f"{{path: {shared_data / 'penguins/penguins.csv'}, target: species}}"
    )
    summary, wall = _run(recipe, tmp_path, f"search.time_budget_s={BUDGET_S}")
    assert summary["score"] > 0.95  # ROC AUC on three species
    assert wall <= BUDGET_S + MARGIN_S, wall
    assert summary["budget"]["time_budget_s"] == BUDGET_S and summary["budget"]["search_end"]
    assert summary["duration_s"] <= BUDGET_S + MARGIN_S


def test_minimal_text_recipe(tmp_path: Path, shared_data: Path) -> None:
    frame = pd.read_csv(shared_data / "sms_spam/sms_spam.csv")
    sample = pd.concat([frame[frame.label == "spam"].head(60), frame[frame.label == "ham"].head(240)])
    sample.to_csv(tmp_path / "sms.csv", index=False)
    recipe = _recipe(tmp_path, "text_classification", f"{{path: {tmp_path / 'sms.csv'}, target: label}}")
    summary, wall = _run(recipe, tmp_path, f"search.time_budget_s={BUDGET_S}")
    used, skipped = summary["backbones"]["used"], summary["backbones"]["skipped"]
    # MiniLM is the default backbone; on a loaded machine its timed embedding may not fit half the
    # budget, and then TF-IDF (a cheap, strong trainer on the raw texts) stands in, as it says
    assert used == ["all_minilm_l6_v2"] or "would take about" in skipped[0]["reason"]
    assert summary["score"] > 0.9
    assert wall <= BUDGET_S + MARGIN_S, wall


def test_minimal_image_recipe_uses_the_installed_weights(tmp_path: Path, shared_data: Path) -> None:
    photos = tmp_path / "photos"
    for label in ("DogPresent", "NoDogPresent"):
        (photos / label).mkdir(parents=True)
        for src in sorted((shared_data / "dog_vs_not_oxford_pets" / label).glob("*.jpg"))[:30]:
            (photos / label / src.name).symlink_to(src)
    recipe = _recipe(tmp_path, "image_classification", f"{{path: {photos}}}")
    summary, wall = _run(recipe, tmp_path, f"search.time_budget_s={BUDGET_S}", "eval.metric=accuracy")
    assert summary["backbones"]["used"][0] == "efficientnet_lite0"
    assert summary["best"]["backbone"] in summary["backbones"]["used"]
    assert summary["score"] >= 0.9  # 60 photos; ImageNet features separate dogs from cats
    assert wall <= BUDGET_S + MARGIN_S, wall
    assert summary["budget"]["search_end"] and summary["budget"]["search_budget_s"] is not None
