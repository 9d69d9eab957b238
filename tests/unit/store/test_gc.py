"""Retention per model: ``gc`` with per-model cutoffs, its dry run, the writer-request path, and
``automl gc``, which reads each model's ``deploy.retention_days`` from its registered recipe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from automl.cli import main
from automl.cli.gc import gc_by_recipe, registered_retention
from automl.config.schema import DeployConfig
from automl.errors import UserError
from automl.registry.promote import promote
from automl.registry.store import ModelStore
from automl.store.invokes import (
    DEFAULT_RETENTION_DAYS,
    InvokePaths,
    InvokeRecord,
    InvokeWriter,
    gc,
    read_blob,
    read_invokes,
)
from tests.helpers import db_count, record, wait_for

FAST = {"flush_interval_s": 0.02, "publish_interval_s": 0.05}
NOW = datetime.now(timezone.utc)


def aged(model: str, days_old: float, input: Any = None, i: int = 0) -> InvokeRecord:
    """An invoke of ``model`` logged ``days_old`` days before NOW."""
    return record(
        i,
        model=model,
        version=1,
        content_id=f"{model}-{days_old}-{i}",
        input={"n": i} if input is None else input,
        ts=NOW - timedelta(days=days_old),
    )


def log_all(workspace: Path, records: list[InvokeRecord]) -> None:
    with InvokeWriter(workspace, **FAST) as w:
        for r in records:
            w.log(r)


def ages(workspace: Path, model: str) -> list[float]:
    """Ages in days (rounded) of the model's published invokes, oldest first."""
    frame = read_invokes(workspace, model=model)
    return sorted((round((NOW - ts).total_seconds() / 86400) for ts in frame["ts"]), reverse=True)


def snapshot(workspace: Path) -> dict[str, tuple[int, int]]:
    """Every file under invokes/ but the lock, with its size and modification time."""
    root = InvokePaths(workspace).root
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and p.name != "owner.lock"
    }


def register(workspace: Path, name: str, deploy: dict[str, Any] | None, *, lineage: bool = False) -> int:
    """A version whose recipe sets ``deploy`` (None: a recipe saved before deploy.retention_days)."""
    recipe = {"name": name, "deploy": deploy if deploy is not None else {"backend": None}}
    meta = {"task": "tabular_classification", "classes": ["no", "yes"]}
    meta |= {"lineage": {"recipe": recipe}} if lineage else {"recipe": recipe}
    return ModelStore(workspace).register(name, {"a": "model"}, meta)


@pytest.fixture
def writer(workspace: Path) -> Iterator[InvokeWriter]:
    w = InvokeWriter(workspace, **FAST).start()
    yield w
    w.close()


# --- gc with per-model cutoffs -------------------------------------------------------------------


def test_each_model_keeps_its_invokes_as_long_as_its_retention_says(workspace: Path):
    log_all(workspace, [aged("a", 10), aged("a", 1), aged("b", 400), aged("b", 1)])
    result = gc(workspace, {"a": 7, "b": None}, now=NOW)
    assert ages(workspace, "a") == [1]
    assert ages(workspace, "b") == [400, 1]
    assert db_count(workspace) == 3
    a, b = result.model("a"), result.model("b")
    assert (a.retention_days, a.cutoff) == (7, NOW.replace(tzinfo=None) - timedelta(days=7))
    assert (a.db_rows, a.published_rows, a.invokes) == (1, 1, 1)
    assert (b.retention_days, b.cutoff, b.invokes) == (None, None, 0)


def test_models_not_named_get_the_default(workspace: Path):
    log_all(workspace, [aged("gone", 100), aged("gone", 10), aged("kept", 100)])
    result = gc(workspace, {"kept": None}, now=NOW)  # default_days: 90
    assert (ages(workspace, "gone"), ages(workspace, "kept")) == ([10], [100])
    assert result.model("gone").retention_days == DEFAULT_RETENTION_DAYS
    assert gc(workspace, {}, default_days=None, now=NOW).invokes == 0


def test_blobs_of_deleted_image_invokes_go_and_shared_ones_stay(workspace: Path):
    log_all(
        workspace,
        [
            aged("a", 10, b"only a's old image"),
            aged("a", 10, b"shared image"),
            aged("b", 10, b"shared image"),
            aged("b", 10, b"b's image"),
        ],
    )
    frame = read_invokes(workspace)
    keys = {read_blob(workspace, k): k for k in frame["input_blob"]}
    result = gc(workspace, {"a": 7, "b": 30}, now=NOW)
    assert (result.blobs, result.model("a").blobs, result.model("b").blobs) == (1, 1, 0)
    assert read_blob(workspace, keys[b"shared image"]) == b"shared image"
    assert read_blob(workspace, keys[b"b's image"]) == b"b's image"
    with pytest.raises(UserError, match="removed by `automl gc`"):
        read_blob(workspace, keys[b"only a's old image"])


def test_a_dry_run_counts_what_a_real_run_deletes_and_deletes_nothing(workspace: Path):
    log_all(workspace, [aged("a", 10, b"old"), aged("a", 10, b"kept"), aged("a", 1, b"kept"), aged("b", 5)])
    before = snapshot(workspace)
    dry = gc(workspace, {"a": 7, "b": 1}, dry_run=True, now=NOW)
    assert snapshot(workspace) == before
    assert dry.dry_run and len(read_invokes(workspace)) == 4
    real = gc(workspace, {"a": 7, "b": 1}, now=NOW)
    assert not real.dry_run
    assert [(m.model, m.db_rows, m.published_rows, m.blobs) for m in dry.models] == [
        (m.model, m.db_rows, m.published_rows, m.blobs) for m in real.models
    ]
    assert (real.invokes, real.blobs) == (3, 1)


def test_the_newest_part_stays_so_seq_never_repeats(workspace: Path):
    log_all(workspace, [aged("a", 10, i=i) for i in range(3)])
    assert gc(workspace, {"a": 1}, now=NOW).published_rows == 3
    log_all(workspace, [aged("a", 0)])
    assert read_invokes(workspace)["seq"].tolist() == [4]


def test_bad_retention_is_refused_before_anything_is_deleted(workspace: Path):
    log_all(workspace, [aged("a", 10)])
    for bad in ({"a": -1}, {"a": float("nan")}, {"a": "30"}):
        with pytest.raises(UserError, match="retention_days of a must be a number of days >= 0"):
            gc(workspace, bad, now=NOW)
    assert len(read_invokes(workspace)) == 1


# --- while a server's writer runs: the request path -------------------------------------------


def test_gc_while_a_writer_runs_applies_each_models_cutoff(writer: InvokeWriter, workspace: Path):
    for r in [aged("a", 10, b"a's image"), aged("a", 1), aged("b", 10, b"b's image")]:
        writer.log(r)
    wait_for(lambda: len(read_invokes(workspace)) == 3, timeout=30, what="the 3 rows to be published")
    dry = gc(workspace, {"a": 7, "b": None}, dry_run=True, now=NOW, timeout_s=60)
    assert (dry.model("a").invokes, dry.blobs, len(read_invokes(workspace))) == (1, 1, 3)
    result = gc(workspace, {"a": 7, "b": None}, now=NOW, timeout_s=60)
    assert (result.model("a").db_rows, result.model("a").published_rows, result.blobs) == (1, 1, 1)
    assert (ages(workspace, "a"), ages(workspace, "b")) == ([1], [10])
    writer.log(aged("a", 0))  # the writer goes on logging after it carried out gc
    wait_for(lambda: ages(workspace, "a") == [1, 0], timeout=30, what="the row logged after gc to be published")
    assert not list(InvokePaths(workspace).root.glob("gc-*.json"))


def test_a_request_the_writer_cannot_carry_out_is_an_error_at_once(
    writer: InvokeWriter, workspace: Path, monkeypatch: pytest.MonkeyPatch
):
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("automl.store.invokes.writer.collect", broken)
    # the writer's error, not the timeout: had gc waited out timeout_s, its error would be "did not
    # carry out gc within 120 s", so the match shows that the writer answered the request at once
    with pytest.raises(UserError, match="could not carry out gc: OSError: disk full; see the server's log"):
        gc(workspace, {"a": 7}, timeout_s=120)
    assert not list(InvokePaths(workspace).root.glob("gc-*.json"))


def test_a_request_of_another_format_is_refused(writer: InvokeWriter, workspace: Path):
    request = InvokePaths(workspace).root / "gc-request-old.json"
    request.write_text(json.dumps({"cutoff": NOW.isoformat()}))  # format 1
    done = request.with_name("gc-done-old.json")
    wait_for(done.exists, timeout=30, what=f"the writer to answer with {done.name}")
    assert "gc request format None; this automl reads 2" in json.loads(done.read_text())["error"]
    # removed after the answer is written
    wait_for(lambda: not request.exists(), timeout=30, what=f"the writer to remove {request.name}")


# --- the recipe's deploy.retention_days ------------------------------------------------------


def test_the_schema_default_is_the_gc_default():
    assert DeployConfig().retention_days == DEFAULT_RETENTION_DAYS == 90


def test_retention_comes_from_the_production_versions_recipe_else_the_newest(workspace: Path):
    register(workspace, "income", {"retention_days": 30})
    register(workspace, "income", {"retention_days": 5}, lineage=True)  # as automl run saves it
    register(workspace, "old", None)
    register(workspace, "forever", {"retention_days": None})
    assert registered_retention(workspace) == {"income": 5, "old": 90, "forever": None}
    promote(ModelStore(workspace), "income", 1)
    assert registered_retention(workspace)["income"] == 30


def test_a_version_gc_cannot_read_names_the_way_around(workspace: Path):
    register(workspace, "a", {"retention_days": 7})
    meta_file = ModelStore(workspace).version_dir("a", 1) / "bundle.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "format": 1}))
    with pytest.raises(UserError, match=r"bundle format 1 .*retention_days=N does without it\)$"):
        gc_by_recipe(workspace)
    assert [m.retention_days for m in gc_by_recipe(workspace, retention_days=3).models] == [3]


def test_gc_by_recipe_override_and_one_model(workspace: Path):
    register(workspace, "a", {"retention_days": 7})
    register(workspace, "b", {"retention_days": None})
    log_all(workspace, [aged("a", 10), aged("a", 3), aged("b", 10), aged("gone", 100)])
    only_a = gc_by_recipe(workspace, "a", 1, dry_run=True, now=NOW)
    assert [(m.model, m.retention_days, m.invokes) for m in only_a.models] == [("a", 1, 2)]
    everyone = gc_by_recipe(workspace, retention_days=5, now=NOW)
    assert [(m.model, m.retention_days, m.invokes) for m in everyone.models] == [
        ("a", 5, 1),
        ("b", 5, 1),
        ("gone", 5, 1),
    ]
    assert ages(workspace, "a") == [3]


def test_an_unknown_model_is_an_error_that_lists_the_models(workspace: Path):
    register(workspace, "a", {"retention_days": 7})
    log_all(workspace, [aged("gone", 100)])
    with pytest.raises(UserError, match=r"model=ghost: not registered .* Models: a, gone\.$"):
        gc_by_recipe(workspace, "ghost")
    assert gc_by_recipe(workspace, "gone").model("gone").invokes == 1  # deleted from the registry, still logged


# --- automl gc -----------------------------------------------------------------------------------


@pytest.fixture
def logged(workspace: Path) -> Path:
    """Model a keeps 7 days, b forever, and 'gone' is no longer registered (default: 90 days)."""
    register(workspace, "a", {"retention_days": 7})
    register(workspace, "b", {"retention_days": None}, lineage=True)
    log_all(workspace, [aged("a", 10, b"a's image"), aged("a", 1), aged("b", 400), aged("gone", 100)])
    return workspace


def test_automl_gc_prints_a_line_per_model(logged: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["gc", "dry_run=true"]) == 0
    a, b, gone, total = capsys.readouterr().out.splitlines()
    assert a.startswith("a: keep 7 days, cutoff ") and a.endswith(": would delete 1 invokes, 1 input files")
    assert b == "b: kept forever (retention_days: null)"
    assert gone.startswith("gone (not registered): keep 90 days, cutoff ")
    assert gone.endswith(": would delete 1 invokes, 0 input files")
    assert total == "total: would delete 2 invokes, 1 input files; dry run, nothing was deleted"
    assert len(read_invokes(logged)) == 4
    assert main(["gc", f"workspace={logged}"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "total: deleted 2 invokes, 1 input files"
    assert (ages(logged, "a"), ages(logged, "b"), ages(logged, "gone")) == ([1], [400], [])


def test_automl_gc_one_model_with_an_override_as_json(logged: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["gc", "model=b", "retention_days=30", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(m["model"], m["retention_days"], m["invokes"]) for m in data["models"]] == [("b", 30.0, 1)]
    assert (ages(logged, "a"), ages(logged, "b"), ages(logged, "gone")) == ([10, 1], [], [100])


def test_automl_gc_while_a_server_runs(logged: Path, capsys: pytest.CaptureFixture[str]):
    with InvokeWriter(logged, **FAST):
        assert main(["gc"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "total: deleted 2 invokes, 1 input files"
    assert (ages(logged, "a"), ages(logged, "b")) == ([1], [400])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["retention_days=abc"], "retention_days=abc: give the days to keep as a number >= 0"),
        (["retention_days=-1"], "retention_days=-1: give the days to keep as a number >= 0"),
        (["retention_days=nan"], "retention_days=nan: give the days to keep"),
        (["dry_run=maybe"], "dry_run=maybe: use dry_run=true"),
        (["model=ghost", "retention_days=0"], "model=ghost: not registered"),
        (["keep=3"], "automl gc: unknown argument(s) keep="),
        (["now"], "'now': arguments are key=value"),
    ],
)
def test_automl_gc_bad_arguments_are_one_line_and_delete_nothing(
    args: list[str], message: str, logged: Path, capsys: pytest.CaptureFixture[str]
):
    before = snapshot(logged)
    assert main(["gc", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert snapshot(logged) == before
