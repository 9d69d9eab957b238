"""The run report: every section from a run folder's files, data escaped, and its numbers (the
calibration error, accuracy against coverage) right on cases worked by hand."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from automl.data.table import PROBA_PREFIX
from automl.evaluate.run_metrics import Predictions, coverage, read_board, reliability
from automl.evaluate.run_report import REPORT_FILE, render_run_report, write_run_report
from automl.testing.runs import fake_run

HOSTILE = "<script>alert(1)</script>"
SECTIONS = ("leaderboard", "folds", "history", "classes", "confusion", "curves", "calibration", "coverage", "lineage")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("ws") / "runs" / "pets" / "20260101-000000-abcd"
    fake_run(run_dir, classes=(HOSTILE, "$x$ & y", "_cat"), examples=240, trials=10)
    return run_dir


def test_the_page_has_every_section_and_a_plot_for_each_figure(hostile_run: Path):
    page = render_run_report(hostile_run)
    for section in SECTIONS:
        assert f"<section id='{section}'>" in page
    assert len(re.findall(r"<img alt='[^']*' src='data:image/png;base64,[A-Za-z0-9+/=]+'>", page)) == 5
    assert "<svg" not in page


def test_names_from_the_data_are_escaped(hostile_run: Path):
    page = render_run_report(hostile_run)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "$x$ &amp; y" in page and "_cat" in page  # drawn in the plots as written, without failing


def test_the_leaderboard_shows_the_trials_times_and_says_predict_time_is_not_recorded(hostile_run: Path):
    page = render_run_report(hostile_run)
    board = read_board(hostile_run / "leaderboard.csv")
    assert len(board) == 11 and board[0].candidate == "ensemble" and board[0].work_s is None  # 10 trials + ensemble
    timed = [r for r in board if r.candidate != "ensemble"]
    assert all(r.work_s is not None and r.work_s > 0 for r in timed)
    assert f"<td class='n'>{timed[0].work_s:.2f}</td>" in page
    assert "(winner)" in page and "Predict time is not recorded" in page
    assert {r.status for r in board} == {"completed", "stopped", "failed"} and "ValueError: diverged" in page


def test_the_lineage_says_what_was_compared(hostile_run: Path):
    summary = json.loads((hostile_run / "summary.json").read_text())
    page = render_run_report(hostile_run)
    section = page[page.index("<section id='lineage'>") :]
    assert "pets v2" in section and "production" in section and "<td>v1</td>" in section
    assert html.escape(summary["gate"]["reason"]) in section and "Against production, on the same examples" in section


def test_write_puts_report_html_beside_the_summary(hostile_run: Path):
    path = write_run_report(hostile_run)
    assert path == hostile_run / REPORT_FILE and path.read_text().startswith("<!doctype html>")


def test_expected_calibration_error_on_a_case_worked_by_hand():
    # 10 inputs at 0.95, all right: |1.0 - 0.95| = 0.05; 30 at 0.65, half right: |0.5 - 0.65| = 0.15.
    confidence = np.r_[np.full(10, 0.95), np.full(30, 0.65)]
    correct = np.r_[np.ones(10, bool), np.tile([True, False], 15)]
    r = reliability(confidence, correct)
    assert r.ece == pytest.approx(10 / 40 * 0.05 + 30 / 40 * 0.15)
    assert (
        list(r.counts) == [30, 10] and np.allclose(r.accuracy, [0.5, 1.0]) and np.allclose(r.confidence, [0.65, 0.95])
    )
    assert reliability(np.full(5, 0.8), np.array([1, 1, 1, 1, 0], bool)).ece == pytest.approx(0.0)


def test_accuracy_against_coverage_answers_ties_together():
    cov = coverage(np.array([0.9, 0.6, 0.9, 0.8, 0.4]), np.array([True, True, False, True, False]))
    assert np.allclose(cov.coverage, [0.4, 0.6, 0.8, 1.0]) and np.allclose(cov.accuracy, [0.5, 2 / 3, 0.75, 0.6])
    assert cov.at(0.9) == (0.4, 0.5) and cov.at(0.7) == pytest.approx((0.6, 2 / 3)) and cov.at(0.95) == (0.0, None)
    assert cov.for_accuracy(0.7) == (0.6, 0.8)  # the lowest cut-off still 70% right answers 80%
    assert cov.for_accuracy(0.99) is None


def test_a_binary_threshold_decides_as_the_model_does():
    proba = np.array([[0.7, 0.3], [0.6, 0.4], [0.9, 0.1]])
    p = Predictions(["no", "yes"], np.array([1, 1, 0]), proba, np.zeros(3, int), threshold=0.35)
    assert list(p.predicted) == [0, 1, 0] and np.allclose(p.confidence, [0.7, 0.4, 0.9])
    assert list(p.correct) == [False, True, True]


def test_a_binary_run_has_one_curve_of_its_positive_class(tmp_path: Path):
    run_dir = tmp_path / "runs" / "spam" / "r"
    fake_run(run_dir, classes=("ham", "spam"), examples=120, trials=6)
    page = render_run_report(run_dir)
    assert "ROC curve<" in page and "one-vs-rest" not in page.split("<section id='curves'>")[1].split("</section>")[0]


def test_the_run_records_its_report_and_a_broken_one_is_only_a_warning(tmp_path: Path):
    from automl.train.runner import _with_report

    summary = fake_run(tmp_path / "runs" / "m" / "r", examples=60, trials=4)
    run_dir = Path(summary.run_dir)
    log = io.StringIO()
    written = _with_report(summary, run_dir, log)
    assert written.report == str(run_dir / REPORT_FILE) and log.getvalue().startswith(f"report: {written.report} (")
    assert json.loads((run_dir / "summary.json").read_text())["report"] == written.report

    (run_dir / "oof.parquet").write_bytes(b"not a parquet file")
    log = io.StringIO()
    assert _with_report(summary, run_dir, log) == summary and summary.report is None
    assert log.getvalue().startswith("warning: no report.html: ") and log.getvalue().count("\n") == 1


def test_one_winner_when_two_backbones_share_a_trainer_and_params(tmp_path: Path):
    import csv

    run_dir = tmp_path / "runs" / "dogs" / "r"
    fake_run(run_dir, classes=("dog", "cat"), examples=60, trials=4)
    path = run_dir / "leaderboard.csv"
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["candidate"] != "ensemble"]
    for i, r in enumerate(rows):  # the same head on two backbones: only the backbone tells them apart
        r.update(trainer="linear_head", backbone=("resnet18", "vit_b16")[i % 2], params="{}")
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["best"] = {"trainer": "linear_head", "backbone": "vit_b16", "params": {}}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    board = render_run_report(run_dir).split("<section id='leaderboard'>")[1].split("</section>")[0]
    assert board.count("(winner)") == 1
    winner_row = next(r for r in board.split("<tr>") if "(winner)" in r)
    assert f"<b>{rows[1]['candidate']}</b>" in winner_row and "vit_b16" in winner_row


def test_the_figures_use_no_pyplot_and_draw_the_same_from_many_threads(
    hostile_run: Path, monkeypatch: pytest.MonkeyPatch
):
    from concurrent.futures import ThreadPoolExecutor

    import matplotlib.pyplot as plt

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("pyplot's global state is not safe from the pages' threads")

    for name in ("figure", "subplots", "gcf", "gca", "close"):
        monkeypatch.setattr(plt, name, refused)
    alone = render_run_report(hostile_run)
    with ThreadPoolExecutor(4) as pool:
        pages = list(pool.map(lambda _: render_run_report(hostile_run), range(4)))
    assert all(page == alone for page in pages)  # Agg draws the same bytes: no figure was shared


def _spoiled(tmp_path: Path, spoil, classes=("cat", "dog", "fox")) -> Path:
    import pandas as pd

    run_dir = tmp_path / "runs" / "pets" / "r"
    fake_run(run_dir, classes=classes, examples=90, trials=4)
    oof = pd.read_parquet(run_dir / "oof.parquet")
    spoil(oof).to_parquet(run_dir / "oof.parquet", index=False)
    return run_dir


def test_a_nan_probability_leaves_its_row_out_with_a_note(tmp_path: Path):
    def spoil(oof):
        oof.loc[[3, 7], f"{PROBA_PREFIX}dog"] = np.nan
        return oof

    page = render_run_report(_spoiled(tmp_path, spoil))
    assert "2 of 90 out-of-fold rows have no probability (NaN)" in page and "(88 examples)" in page
    assert "<section id='calibration'>" in page


def test_a_probability_just_outside_0_1_is_clipped(tmp_path: Path):
    def spoil(oof):
        oof.loc[0, f"{PROBA_PREFIX}cat"], oof.loc[1, f"{PROBA_PREFIX}dog"] = 1.0000001, -1e-9
        return oof

    page = render_run_report(_spoiled(tmp_path, spoil))
    assert "2 out-of-fold rows have a probability outside [0, 1]: clipped to it" in page
    assert "<section id='calibration'>" in page and "(90 examples)" in page


def test_a_run_without_out_of_fold_rows_says_so(tmp_path: Path):
    page = render_run_report(_spoiled(tmp_path, lambda oof: oof.iloc[:0]))
    assert "This run has no out-of-fold predictions to measure" in page
    assert "<section id='leaderboard'>" in page and "<section id='lineage'>" in page
    assert "<section id='confusion'>" not in page


def test_one_class_draws_no_legend_and_warns_nothing(tmp_path: Path):
    import warnings

    def spoil(oof):
        return oof.assign(label="cat")

    run_dir = _spoiled(tmp_path, spoil, classes=("cat", "dog"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = render_run_report(run_dir)
    assert [str(w.message) for w in caught] == [] and "<section id='curves'>" in page


def test_a_confidence_on_a_bin_edge_counts_in_the_lower_bin_as_calibration_curve_does():
    # 0.5 is the edge between [0.4, 0.5] and (0.5, 0.6]: it counts in the lower bin, apart from 0.55.
    confidence = np.r_[np.full(4, 0.5), np.full(6, 0.55)]
    correct = np.r_[np.ones(4, bool), np.zeros(6, bool)]
    r = reliability(confidence, correct)
    assert list(r.counts) == [4, 6] and np.allclose(r.confidence, [0.5, 0.55]) and np.allclose(r.accuracy, [1, 0])
    assert r.ece == pytest.approx(0.4 * 0.5 + 0.6 * 0.55)
