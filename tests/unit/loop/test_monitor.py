"""``automl monitor`` on a real invoke log (written by the InvokeWriter, read from its published
parts): no drift on the same distribution, drift (exit 4) on a shifted column or class balance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.cli import main
from automl.loop.monitor import holm, monitor
from automl.plugins.manager import get_plugins
from automl.registry.promote import promote
from automl.registry.store import ModelStore
from automl.store.invokes import InvokeRecord, InvokeWriter

FAST = {"flush_interval_s": 0.02, "publish_interval_s": 0.05}


def _log(workspace: Path, rows: pd.DataFrame, labels: list[str]) -> None:
    with InvokeWriter(workspace, **FAST) as writer:
        for (_, row), label in zip(rows.iterrows(), labels, strict=True):
            yes = 0.9 if label == "yes" else 0.2
            writer.log(
                InvokeRecord("m", 1, "production", "cid", row.to_dict(), label, {"yes": yes, "no": 1 - yes}, 1.0)
            )


def _traffic(
    rng: np.random.Generator, n: int, shift: float = 0.0, yes_share: float = 0.5
) -> tuple[pd.DataFrame, list[str]]:
    rows = pd.DataFrame(
        {
            "age": rng.normal(40 + shift * 10, 10, n).round(1),
            "city": rng.choice(["oslo", "rome", "lima"], n),
            "member": rng.choice(["y", "n"], n),
        }
    )
    return rows, ["yes" if v else "no" for v in rng.random(n) < yes_share]


@pytest.fixture
def registered(workspace: Path) -> Path:
    store = ModelStore(workspace)
    meta = {
        "classes": ["no", "yes"],
        "features": ["age", "city", "member"],
        "lineage": {"recipe": {"monitor": {"reference": "window", "window": 300}}},
    }
    promote(store, "m", store.register("m", {"w": 1}, meta))
    return workspace


def test_the_same_distribution_is_no_drift(registered: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    _log(registered, *_traffic(rng, 600))
    report = monitor(registered, "m", get_plugins())
    assert [c.name for c in report.checks] == ["age", "city", "member", "predicted class", "confidence"]
    assert [c.detector for c in report.checks[:3]] == ["ks", "chi2", "z_test"]
    assert not report.drifted and report.reference == "the 300 invokes before them"
    assert main(["monitor", "model=m", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["drift"] is False


def test_a_shifted_column_is_drift_with_exit_4_and_an_html_report(
    registered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(1)
    _log(registered, *_traffic(rng, 300))
    _log(registered, *_traffic(rng, 300, shift=0.5))  # half a standard deviation
    page = tmp_path / "drift.html"
    assert main(["monitor", "model=m", f"html={page}"]) == 4
    out, err = capsys.readouterr()
    assert "age" in err and err.startswith("drift: m v1: age")
    assert "yes" in next(line for line in out.splitlines() if line.startswith("age"))
    html = page.read_text()
    assert "<img alt='Drift per check' src='data:image/png;base64," in html and "Predicted-class balance" in html


def test_a_changed_class_balance_is_drift(registered: Path) -> None:
    rng = np.random.default_rng(2)
    _log(registered, *_traffic(rng, 300))
    _log(registered, *_traffic(rng, 300, yes_share=0.7))
    assert [c.name for c in monitor(registered, "m", get_plugins()).drifted] == ["predicted class", "confidence"]


def test_too_few_invokes_say_so_and_bad_options_are_user_errors(
    registered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(3)
    _log(registered, *_traffic(rng, 20))
    report = monitor(registered, "m", get_plugins())
    assert not report.checks and "too few to compare" in report.notes[-1]
    assert main(["monitor", "model=m", "reference=yesterday"]) == 2
    assert "Unknown monitor.reference 'yesterday'" in capsys.readouterr().err
    assert main(["monitor", "model=m", "alpha=2"]) == 2
    assert main(["monitor", "model=ghost"]) == 2


def test_holm_adjusts_in_step_down_order() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []


def test_the_training_data_is_the_default_reference(workspace: Path, tmp_path: Path) -> None:
    """The production version's training table (read again through its recipe) and its run's
    out-of-fold predictions are what recent invokes are compared with."""
    from omegaconf import OmegaConf

    from automl.config.compose import to_recipe
    from automl.config.validate import check_recipe
    from automl.train.runner import load_table

    rng = np.random.default_rng(4)
    rows, labels = _traffic(rng, 400)
    csv = tmp_path / "train.csv"
    rows.assign(label=labels).to_csv(csv, index=False)
    recipe = {"name": "m", "data": {"path": str(csv), "target": "label"}, "monitor": {"window": 300}}
    plugins = get_plugins()
    table = load_table(check_recipe(to_recipe(OmegaConf.create(recipe)), plugins), plugins)
    run_dir = workspace / "runs" / "m" / "20260101-000000-abcd"
    run_dir.mkdir(parents=True)
    yes = np.where(table.labels == "yes", 0.9, 0.2)  # as confident as the traffic the test logs
    pd.DataFrame({"example_id": table.ids, "label": table.labels, "proba_no": 1 - yes, "proba_yes": yes}).to_parquet(
        run_dir / "oof.parquet"
    )
    store = ModelStore(workspace)
    lineage = {"recipe": recipe, "run_id": run_dir.name}
    promote(store, "m", store.register("m", {"w": 1}, {"classes": ["no", "yes"], "lineage": lineage}))

    _log(workspace, *_traffic(rng, 300))
    report = monitor(workspace, "m", plugins)
    assert report.reference == "the 400 training examples (out-of-fold predictions)"
    assert [c.name for c in report.checks][:3] == ["age", "city", "member"] and not report.drifted
    assert report.checks[0].reference_n == 400

    _log(workspace, *_traffic(rng, 300, shift=0.5))
    assert "age" in [c.name for c in monitor(workspace, "m", plugins).drifted]
    csv.unlink()  # the training data is gone: said, not hidden
    report = monitor(workspace, "m", plugins)
    assert report.notes and report.notes[0].startswith("input columns: the training data cannot be read again")
    assert [c.name for c in report.checks] == ["predicted class", "confidence"]


def test_texts_and_images_are_compared_by_their_logged_embeddings(workspace: Path) -> None:
    store = ModelStore(workspace)
    lineage = {"recipe": {"monitor": {"reference": "window", "window": 200}}}
    meta = {"task": "text_classification", "classes": ["ham", "spam"], "lineage": lineage}
    promote(store, "t", store.register("t", {"w": 1}, meta))
    rng = np.random.default_rng(5)

    def log(vectors: np.ndarray) -> None:
        with InvokeWriter(workspace, **FAST) as writer:
            for v in vectors:
                scores = {"ham": 0.7, "spam": 0.3}
                writer.log(InvokeRecord("t", 1, "production", "c", "a text", "ham", scores, 1.0, embedding=v.tolist()))

    log(rng.normal(size=(400, 8)))
    report = monitor(workspace, "t", get_plugins())
    assert [c.name for c in report.checks] == ["embeddings", "predicted class", "confidence"] and not report.drifted
    log(np.vstack([rng.normal(size=(160, 8)), rng.normal(loc=2.0, size=(40, 8))]))  # a fifth of a new kind
    assert [c.name for c in monitor(workspace, "t", get_plugins()).drifted] == ["embeddings"]


def test_windows_by_time(registered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import datetime, timedelta, timezone

    rng = np.random.default_rng(6)
    now = datetime.now(timezone.utc)
    with InvokeWriter(registered, **FAST) as writer:
        for hours_ago, shift in ((30, 0.0), (9, 0.0), (1, 0.5)):  # a day and more ago, then the two windows
            rows, labels = _traffic(rng, 200, shift=shift)
            for (_, row), label in zip(rows.iterrows(), labels, strict=True):
                scores = {"yes": 0.9 if label == "yes" else 0.2, "no": 0.1 if label == "yes" else 0.8}
                at = now - timedelta(hours=hours_ago)
                writer.log(InvokeRecord("m", 1, "production", "c", row.to_dict(), label, scores, 1.0, ts=at))
    report = monitor(registered, "m", get_plugins(), {"window_hours": 6})
    assert (
        report.current == "the 200 invokes of the last 6 h" and report.reference == "the 200 invokes of the 6 h before"
    )
    assert [c.name for c in report.drifted] == ["age"]
    page = tmp_path / "drift.html"
    assert main(["monitor", "model=m", "window_hours=6", f"html={page}"]) == 4
    assert "Class-balance drift over time (distance to the reference)" in page.read_text()
    capsys.readouterr()
    assert main(["monitor", "model=m", "window_hours=0"]) == 2
    assert "window_hours=0: give the window in hours" in capsys.readouterr().err
