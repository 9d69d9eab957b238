"""Defaults by task (loader, trainers, backbones), the wall-time deadline, the early-stop rule and
the staged order of configurations."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from automl.config.compose import load_recipe
from automl.config.defaults import default_backbones, default_trainers
from automl.config.validate import check_recipe
from automl.deadline import EMBED_SHARE, MIN_SEARCH_S, Deadline
from automl.errors import UserError
from automl.evaluate.trials import TrialConfig
from automl.plugins.manager import get_plugins
from automl.search.budget import EarlyStop
from automl.search.configs import draw_configs


def _minimal(tmp_path: Path, task: str, data: str) -> Path:
    path = tmp_path / f"{task}.yaml"
    path.write_text(f"name: minimal\ntask: {{type: {task}}}\ndata: {data}\n")
    return path


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    path = tmp_path / "texts.csv"
    path.write_text("text,label\n" + "".join(f"message {i},{'a' if i % 2 else 'b'}\n" for i in range(20)))
    return path


def test_a_minimal_recipe_gets_the_tasks_loader_trainers_and_backbones(tmp_path: Path, small_csv: Path, texts: Path):
    plugins = get_plugins()
    tab = check_recipe(
        load_recipe(str(_minimal(tmp_path, "tabular_classification", f"{{path: {small_csv}, target: label}}")), []),
        plugins,
    )
    assert tab.recipe.data.loader == "csv" and tab.recipe.search.backbones == []
    assert tab.recipe.search.trainers[0] == "hist_gradient_boosting"
    assert {"logistic_regression", "random_forest", "lightgbm"} <= set(tab.recipe.search.trainers)

    text = check_recipe(
        load_recipe(str(_minimal(tmp_path, "text_classification", f"{{path: {texts}, target: label}}")), []), plugins
    )
    assert text.recipe.data.loader == "text_table"
    assert text.recipe.search.backbones == ["all_minilm_l6_v2"]  # hf_local needs a path: not a default
    assert "tfidf_linear" in text.recipe.search.trainers and "logistic_regression" not in text.recipe.search.trainers
    assert set(text.defaults.filled) == {"data.loader", "search.trainers", "search.backbones", "deploy.export"}
    assert text.recipe.deploy.export == "onnx"  # deploy.export: auto exports every task with onnx when installed

    images = tmp_path / "images"
    (images / "a").mkdir(parents=True)
    image = check_recipe(
        load_recipe(str(_minimal(tmp_path, "image_classification", f"{{path: {images}}}")), []), plugins
    )
    assert image.recipe.data.loader == "image_folder"
    trainers = image.recipe.search.trainers
    # heads on embeddings first, then fine-tuning, then networks from scratch
    assert trainers.index("linear_probe") < trainers.index("finetune") < trainers.index("scratch_cnn")
    assert trainers.index("finetune") < trainers.index("image_histogram")


def test_default_backbones_are_those_with_weights_here_cheapest_first(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    chosen, left_out = default_backbones(get_plugins(), "image_classification", tmp_path / "ws")
    assert chosen[:3] == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    assert {n["backbone"] for n in left_out} >= {"resnet50", "vit_small_patch16_224"}
    assert all("not cached" in n["reason"] for n in left_out)
    # weights imported into the workspace make a hub backbone a default
    folder = tmp_path / "ws" / "weights" / "resnet18"
    folder.mkdir(parents=True)
    (folder / "abc.pth").write_bytes(b"x")
    chosen, _ = default_backbones(get_plugins(), "image_classification", tmp_path / "ws")
    assert "resnet18" in chosen and chosen.index("resnet18") > chosen.index("efficientnet_lite2")


def test_a_recipes_own_lists_win(tmp_path: Path, small_csv: Path):
    path = _minimal(tmp_path, "tabular_classification", f"{{path: {small_csv}, target: label}}")
    r = check_recipe(load_recipe(str(path), ["search.trainers=[logistic_regression]"]), get_plugins()).recipe
    assert r.search.trainers == ["logistic_regression"]


def test_default_trainers_follow_stage_then_registration_order():
    names = default_trainers(get_plugins(), "image_classification")
    stages = [get_plugins().trainers.get(n).stage for n in names]
    assert stages == sorted(stages)


def test_a_text_task_on_the_csv_loader_names_text_table(tmp_path: Path, texts: Path):
    path = _minimal(
        tmp_path, "text_classification", f"{{loader: csv, path: {texts}, target: label, text_column: text}}"
    )
    with pytest.raises(UserError, match="use text_table") as err:
        check_recipe(load_recipe(str(path), []), get_plugins())
    assert "\n" not in str(err.value)


def test_a_family_name_without_a_model_is_a_user_error(tmp_path: Path):
    images = tmp_path / "images"
    images.mkdir()
    path = _minimal(tmp_path, "image_classification", f"{{path: {images}}}")
    with pytest.raises(UserError, match="name one as timm:MODEL"):
        check_recipe(load_recipe(str(path), ["search.backbones=[timm]"]), get_plugins())
    with pytest.raises(UserError, match="timm has no model 'resnet51'; did you mean"):
        check_recipe(load_recipe(str(path), ["search.backbones=[timm:resnet51]"]), get_plugins())


def test_the_deadline_counts_from_the_start_and_keeps_a_reserve():
    started = time.monotonic() - 10
    deadline = Deadline(30.0, started)
    assert 9.9 < deadline.elapsed() < 11 and 19 < deadline.remaining() < 20.1
    assert deadline.fits(4.0, EMBED_SHARE) and not deadline.fits(6.0, EMBED_SHARE)
    assert deadline.search_seconds() == pytest.approx(deadline.remaining() - 3.0, abs=0.1)
    assert Deadline(30.0, time.monotonic() - 40).search_seconds() == MIN_SEARCH_S
    free = Deadline(None)
    assert free.remaining() == math.inf and free.search_seconds() is None and free.fits(1e9)
    # a known cost after the search (a backbone's first export) is held back from it
    before = deadline.search_seconds()
    deadline.hold(8.0)
    assert deadline.search_seconds() == pytest.approx(before - 8.0, abs=0.1)
    free.hold(8.0)
    assert free.search_seconds() is None


def test_early_stop_waits_for_every_pair_then_stops_without_gain():
    early = EarlyStop(min_trials=3, patience=3)
    for score in (0.80, 0.90, 0.85):
        early.add(score, [score - 0.01, score + 0.01])
    assert not early.stop  # 3 ended, patience needs 4
    early.add(0.95, [0.94, 0.96])  # a gain beyond noise keeps it going
    assert not early.stop
    early.add(None, [])  # stopped by the scheduler: no gain
    early.add(0.951, [0.95, 0.952])  # within the best's noise
    assert not early.stop
    early.add(0.90, [0.9, 0.9])
    assert early.stop and "the last 3 did not beat the best (0.9500)" in early.reason


def test_early_stop_for_a_metric_where_lower_is_better():
    early = EarlyStop(min_trials=1, patience=2, greater_is_better=False)
    for score in (0.5, 0.3, 0.31, 0.32):
        early.add(score, [score, score])
    assert early.stop and "(0.3000)" in early.reason


def test_later_stages_join_the_rounds_later():
    plugins = get_plugins()
    pairs = [("linear_probe", "b"), ("scratch_cnn", None)]
    spaces = {}
    from automl.config.space import build_space

    for name, _ in pairs:
        spec = plugins.trainers.get(name)
        spaces[name] = build_space(f"search.space.{name}", spec.config_cls, spec.default_space, {})
    classes = {n: plugins.trainers.get(n).config_cls for n, _ in pairs}
    stages = {n: plugins.trainers.get(n).stage for n, _ in pairs}
    order = [c.trainer for c in draw_configs(pairs, spaces, classes, 5, 0, stages)]
    assert order == ["linear_probe", "linear_probe", "linear_probe", "scratch_cnn", "linear_probe"]
    assert [c.trainer for c in draw_configs(pairs, spaces, classes, 4, 0)] == [
        "linear_probe",
        "scratch_cnn",
    ] * 2


def test_the_search_time_waits_for_a_first_complete_trial():
    from automl.search.budget import SearchStop

    stop = SearchStop(until=time.monotonic() - 1)  # already past its budget
    stop.ended(None, [])  # a trial stopped after one fold
    assert not stop.time_is_up() and stop.late
    stop.ended(0.9, [0.9, 0.9])
    assert stop.time_is_up()
    assert "ran past its budget until a first trial completed" in stop.reason(2, 10)
    assert stop.reason(10, 10) == "every planned configuration was tried: 10"
    assert SearchStop(until=None).hard_budget_s is None and not SearchStop(until=None).time_is_up()
    assert SearchStop(until=time.monotonic() + 10).hard_budget_s == pytest.approx(70, abs=1)


def test_a_retrain_evaluates_in_the_driver_and_records_a_failing_config():
    import numpy as np
    import pandas as pd

    from automl.evaluate.cv import TrialData
    from automl.features.tabular import FeatureSchema
    from automl.plugins.components import TrainContext
    from automl.search.in_driver import evaluate_in_driver

    rng = np.random.default_rng(0)
    y = np.arange(60) % 2
    frame = pd.DataFrame({"x": rng.normal(size=60) + y, "z": rng.normal(size=60)})
    schema = FeatureSchema.infer(frame)
    ctx = TrainContext("tabular_classification", 2, 0, schema.numeric, schema.categorical)
    data = TrialData({"features": schema.coerce(frame)}, {"features": ctx}, y, np.arange(60) % 3)
    configs = [
        TrialConfig(0, "logistic_regression", {}, None),
        TrialConfig(1, "logistic_regression", {"max_iter": -1}, None),
    ]
    done, failed = evaluate_in_driver(get_plugins(), data, configs, "accuracy", None)
    assert done.status == "completed" and len(done.fold_scores) == 3 and done.oof.shape == (60, 2)
    assert done.score > 0.6 and not np.isnan(done.oof).any()
    assert failed.status == "failed" and "max_iter" in failed.error


def test_the_refit_takes_the_best_candidate_that_fits_what_is_left():
    import numpy as np

    from automl.evaluate.leaderboard import LeaderboardEntry, Member
    from automl.evaluate.refit_choice import affordable_winner
    from automl.evaluate.trials import TrialRecord

    slow = TrialRecord(0, "hist_gradient_boosting", {"a": 1}, None, "completed", 0.9, [0.9] * 5, work_s=40.0)
    fast = TrialRecord(1, "logistic_regression", {}, None, "completed", 0.8, [0.8] * 5, work_s=4.0)
    board = [
        LeaderboardEntry(
            "t000", [Member("hist_gradient_boosting", None, {"a": 1}, 1.0)], np.zeros((2, 2)), None, [0.9] * 5
        ),
        LeaderboardEntry("t001", [Member("logistic_regression", None, {}, 1.0)], np.zeros((2, 2)), None, [0.8] * 5),
    ]
    assert affordable_winner(board, [slow, fast], 5, seconds_left=20.0) == (board[0], "")
    chosen, note = affordable_winner(board, [slow, fast], 5, seconds_left=5.0)  # HGB's refit: about 10 s
    assert chosen is board[1] and "would take about 10 s" in note and "refit t001" in note
    assert affordable_winner(board, [slow, fast], 5, seconds_left=-3.0)[0] is board[1]  # under 2 s: always


def test_notes_of_a_run_go_to_its_progress_stream(tmp_path: Path, capsys):
    """``run_recipe(progress_stream=)`` gets the backbone notes too, not stderr."""
    import io

    from automl.data.table import build_table
    from automl.features.prepare import prepare_views
    from automl.plugins.components import LoadRequest

    texts = tmp_path / "t.csv"
    texts.write_text("text,label\n" + "".join(f"message {i},{'a' if i % 2 else 'b'}\n" for i in range(40)))
    path = _minimal(tmp_path, "text_classification", f"{{path: {texts}, target: label}}")
    checked = check_recipe(load_recipe(str(path), ["search.backbones=[hf_local]"]), get_plugins())
    loader = get_plugins().loaders.get("text_table")
    r = checked.recipe
    request = LoadRequest(r.task.type, Path(r.data.path), r.data.target, checked.loader_options, text_column=None)
    table = build_table(loader.load(request), r.data, min_per_class=2)
    log = io.StringIO()
    prepare_views(checked, get_plugins(), table, tmp_path / "ws", log=log)
    assert "skipping backbone hf_local" in log.getvalue()
    assert "hf_local" not in capsys.readouterr().err


class _SlowEmbedder:
    """10 ms per example, 3-d vectors: a backbone whose timing the budget rule can see."""

    identity = "fake:slow|v1"

    def embed(self, inputs):
        import numpy as np

        time.sleep(0.01 * len(inputs))
        return np.ones((len(inputs), 3), dtype=np.float32)


@pytest.mark.slow  # a fresh Python process or a timed backbone: seconds
def test_a_backbone_is_timed_on_a_sample_and_skipped_past_half_the_budget(tmp_path: Path):
    from automl.features.prepare import PROBE, _embed_within

    ids = [f"id{i}" for i in range(400)]  # about 4 s to embed
    tight = Deadline(4.0)  # half of it is 2 s
    reason = _embed_within(_SlowEmbedder(), ids, ids, tmp_path, tight, needed=False)
    assert isinstance(reason, str) and "embedding 400 examples would take about 4 s" in reason
    assert f"(timed on {PROBE})" in reason
    # needed (nothing cheap and strong instead): embedded anyway, the sample reused from the cache
    vectors, stats = _embed_within(_SlowEmbedder(), ids, ids, tmp_path, tight, needed=True)
    assert vectors.shape == (400, 3) and stats.computed == 400 - 1 - PROBE and stats.cached == 1 + PROBE
    # no budget: nothing timed, nothing skipped
    _, again = _embed_within(_SlowEmbedder(), ids, ids, tmp_path, Deadline(None), needed=False)
    assert again.computed == 0 and again.cached == 400
