"""One pass of ``automl loop`` on a real invoke log and review store: drift without a trigger
exits 4; new reviewed labels are a trigger; the data's fingerprint moves with its files."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from automl.config.schema import LoopConfig, Recipe
from automl.loop.cycle import DRIFT, Loop, PassReport, data_fingerprint
from automl.store.reviews import Annotation, ReviewStore
from tests.unit.loop.test_monitor import _log, _traffic, registered  # noqa: F401 - the fixture


def a_run(workspace: Path, age_s: float = 0.0) -> Path:
    """A finished run of ``m`` (its folder, recipe and summary), ``age_s`` seconds ago."""
    run = workspace / "runs" / "m" / "20260101-000000-abcd"
    run.mkdir(parents=True)
    (run / "recipe.yaml").write_text("name: m\n")
    (run / "summary.json").write_text(json.dumps({"data": {"content_hash": "x"}}))
    when = datetime.now(timezone.utc).timestamp() - age_s
    os.utime(run / "recipe.yaml", (when, when))
    return run


def loop_of(workspace: Path, **loop: object) -> Loop:
    recipe = Recipe(name="m", workspace=str(workspace), loop=LoopConfig(**loop))  # type: ignore[arg-type]
    return Loop(recipe, io.StringIO())


def test_drift_without_a_trigger_exits_4(registered: Path) -> None:  # noqa: F811
    rng = np.random.default_rng(1)
    _log(registered, *_traffic(rng, 300))
    _log(registered, *_traffic(rng, 300, shift=0.5))
    a_run(registered)
    report = loop_of(registered, retrain_on=["annotations"], sample=False).run_pass()
    assert (report.drift, report.triggers, report.run, report.exit_code) == (True, [], None, DRIFT)
    assert "drift; 0 sent for review; no retrain (no trigger)" in report.line()


def test_new_reviewed_labels_are_a_trigger_old_ones_are_not(registered: Path) -> None:  # noqa: F811
    a_run(registered, age_s=60)
    loop = loop_of(registered, retrain_on=["annotations"], min_annotations=2)
    assert loop.triggers(PassReport("m")) == []
    at = datetime.now(timezone.utc).replace(tzinfo=None)
    notes = [Annotation(f"c{i}", "m", "yes", "me", at - timedelta(seconds=s), "import", None, "{}", None) for i, s in
             enumerate((120, 1, 0))]  # fmt: skip
    ReviewStore(registered).annotate(notes)
    assert loop.triggers(PassReport("m")) == ["annotations (2 new)"]
    assert loop_of(registered, retrain_on=["annotations"], min_annotations=3).triggers(PassReport("m")) == []
    assert loop_of(registered, retrain_on=["always"]).triggers(PassReport("m")) == ["always"]


def test_no_run_yet_is_a_trigger(registered: Path) -> None:  # noqa: F811
    assert loop_of(registered).triggers(PassReport("m")) == ["no model yet"]


def test_the_data_fingerprint_moves_with_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "1.jpg").write_bytes(b"x")
    before = data_fingerprint(str(folder))
    assert data_fingerprint(str(folder)) == before
    (folder / "a" / "2.jpg").write_bytes(b"y")
    assert data_fingerprint(str(folder)) != before
    assert data_fingerprint(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("retrain", ["sometimes", "never"])
def test_the_command_refuses_an_unknown_retrain_value(retrain: str, capsys: pytest.CaptureFixture[str]) -> None:
    from automl.cli import main

    assert main(["loop", "recipe=penguins", f"retrain={retrain}"]) == 2
    assert "the one value is retrain=always" in capsys.readouterr().err
