"""Sampling invokes for review, the queue's CSV round trip, and reviewed labels back into the
training table: a real invoke log, a real review database, the commands in-process."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.cli import main
from automl.config.schema import Recipe
from automl.data.table import ExampleTable
from automl.loop.sampling import sample
from automl.plugins.manager import get_plugins
from automl.registry.promote import promote
from automl.registry.store import ModelStore
from automl.store.invokes import InvokeRecord, InvokeWriter
from automl.store.reviews import ReviewStore
from automl.train.annotations import with_annotations

FAST = {"flush_interval_s": 0.02, "publish_interval_s": 0.05}


@pytest.fixture
def logged(workspace: Path) -> Path:
    """A text model with 200 invokes: confidences from 0.5 to 1.0, embeddings in two clusters,
    'spam' predicted for one in ten."""
    store = ModelStore(workspace)
    lineage = {"recipe": {"monitor": {"per_day": 30, "random_share": 0.1}}}
    promote(
        store,
        "t",
        store.register("t", {"w": 1}, {"task": "text_classification", "classes": ["ham", "spam"], "lineage": lineage}),
    )
    rng = np.random.default_rng(0)
    with InvokeWriter(workspace, **FAST) as writer:
        for i in range(200):
            label = "spam" if i % 10 == 0 else "ham"
            top = 0.5 + 0.5 * (i % 50) / 50
            scores = {label: top, ("ham" if label == "spam" else "spam"): 1 - top}
            vector = rng.normal(loc=3.0 if i % 2 else -3.0, size=4)
            writer.log(
                InvokeRecord("t", 1, "production", f"c{i}", f"text {i}", label, scores, 1.0, embedding=vector.tolist())
            )
    return workspace


def test_a_batch_is_shared_diverse_and_within_the_day(logged: Path) -> None:
    now = datetime(2026, 12, 6, 12)
    result = sample(logged, "t", get_plugins(), n=10, now=now)
    picked = result.picked
    assert len(picked) == 10 and len({i.content_id for i in picked}) == 10
    samplers = [i.sampler for i in picked]
    assert samplers.count("random") == 1  # random_share 0.1
    assert {"low_confidence", "rare_class"} <= set(samplers)  # near_mistakes has nothing yet: low_confidence fills
    low = [i for i in picked if i.sampler == "low_confidence"]
    assert max(i.confidence for i in low) <= 0.6 and low[0].reason.startswith("low confidence (margin")
    assert all(i.predicted == "spam" for i in picked if i.sampler == "rare_class")
    again = sample(logged, "t", get_plugins(), now=now)  # the rest of the day's 30
    assert len(again.picked) == 20 and not {i.invoke_id for i in again.picked} & {i.invoke_id for i in picked}
    spent = sample(logged, "t", get_plugins(), now=now)
    assert not spent.picked and "budget is spent" in spent.notes[0]
    assert len(sample(logged, "t", get_plugins(), n=5, now=now + timedelta(days=1)).picked) == 5


def test_a_batch_passes_over_near_duplicates(logged: Path) -> None:
    store = ModelStore(logged)
    meta = store.meta("t", 1)
    lineage = {"recipe": {"monitor": {"samplers": ["low_confidence"], "random_share": 0.0, "min_distance": 1.5}}}
    promote(store, "t", store.register("t", {"w": 1}, {**meta.to_json(), "lineage": lineage}))
    picked = sample(logged, "t", get_plugins(), n=10).picked
    assert len(picked) == 2  # two clusters: one invoke from each, the rest too close to them


def _export(workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    target = tmp_path / "queue.csv"
    assert main(["review", "export", "model=t", f"output={target}"]) == 0
    assert f"-> {target}" in capsys.readouterr().out
    with target.open() as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_export_then_import_all_or_nothing(logged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "model=t", "n=6"]) == 0
    assert capsys.readouterr().out.startswith("queued 6 of 200 invokes of t for review")
    rows = _export(logged, tmp_path, capsys)
    assert len(rows) == 6 and rows[0]["input"].startswith("text ") and rows[0]["label"] == ""
    bad_cases = [
        ({**rows[0], "item_id": "nope"}, "line 2: unknown item id 'nope'"),
        (
            {**rows[0], "label": "eggs"},
            "line 2: label 'eggs' is not one of t's classes (ham, spam); add new_labels=true",
        ),
    ]
    for first, message in bad_cases:
        assert main(["review", "import", "model=t", f"input={_write(tmp_path / 'bad.csv', [first, *rows[1:]])}"]) == 2
        assert message in capsys.readouterr().err
    duplicate = _write(tmp_path / "dup.csv", [{**rows[0], "label": "ham"}, {**rows[0], "label": "spam"}])
    assert main(["review", "import", "model=t", f"input={duplicate}"]) == 2
    assert "line 3: item" in capsys.readouterr().err and not ReviewStore(logged).annotations("t")  # nothing saved
    labelled = [{**r, "label": "spam"} for r in rows[:4]] + rows[4:]
    assert main(["review", "import", "model=t", f"input={_write(tmp_path / 'ok.csv', labelled)}", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["labelled"], done["left_empty"]) == (4, 2)
    assert len(ReviewStore(logged).items("t")) == 2  # the unlabelled stay pending
    new = [{**rows[4], "label": "eggs"}]
    assert main(["review", "import", "model=t", f"input={_write(tmp_path / 'new.csv', new)}", "new_labels=true"]) == 0
    assert "new labels: eggs" in capsys.readouterr().out


def test_near_mistakes_follow_the_corrections(logged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = sample(logged, "t", get_plugins(), n=4).picked
    wrong = [{"item_id": i.item_id, "label": "spam" if i.predicted == "ham" else "ham"} for i in first]
    assert main(["review", "import", "model=t", f"input={_write(tmp_path / 'fix.csv', wrong)}"]) == 0
    later = sample(logged, "t", get_plugins(), n=9).picked
    assert any(i.sampler == "near_mistakes" and i.reason == "near a corrected mistake" for i in later)


def test_reviews_relabel_examples_and_add_new_ones(workspace: Path) -> None:
    from automl.store.reviews import Annotation

    table = ExampleTable(
        pd.DataFrame({"input": ["a", "b", "c", "d"]}), np.array(["ham", "spam", "ham", "spam"]),
        np.array(["ca", "cb", "cc", "cd"], dtype=object), np.array([0, 1, 2, 3], dtype=object), ["ham", "spam"],
    )  # fmt: skip
    at = datetime(2026, 12, 6)
    notes = [
        Annotation("cb", "t", "ham", "me", at, "import", "i1", json.dumps("b"), None),  # relabels b
        Annotation("cx", "t", "spam", "me", at, "import", "i2", json.dumps("a new text"), None),
        Annotation("cy", "t", "eggs", "me", at, "import", "i3", json.dumps("eggy"), None),
        Annotation("cz", "t", "eggs", "me", at + timedelta(seconds=1), "import", "i4", json.dumps("eggier"), None),
    ]
    ReviewStore(workspace).annotate(notes)
    recipe = Recipe(name="t")
    recipe.task.type = "text_classification"
    recipe.eval.cv_folds = 2
    merged = with_annotations(table, recipe, workspace)
    assert (merged.from_reviews, merged.relabelled) == (3, 1)
    assert merged.classes == ["eggs", "ham", "spam"] and merged.labels.tolist()[:2] == ["ham", "ham"]
    assert merged.features["input"].tolist()[4:] == ["a new text", "eggy", "eggier"]
    assert merged.sources.tolist()[4:] == ["review:i2", "review:i3", "review:i4"]
    recipe.data.labels = ["ham", "spam"]
    with pytest.raises(Exception, match="reviews of t use label\\(s\\) eggs, which data.labels leaves out"):
        with_annotations(table, recipe, workspace)


def test_the_terminal_review_saves_each_answer_at_once(
    logged: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from automl.loop.review import review_next

    sample(logged, "t", get_plugins(), n=4)
    first = ReviewStore(logged).items("t")
    answers = iter(["2", "x", "s", "u", "1", "q"])
    shown: list[str] = []
    labelled, skipped = review_next(logged, "t", lambda _: next(answers), shown.append, "me")
    assert (labelled, skipped) == (2, 0)  # the skip was undone, then labelled
    text = "\n".join(shown)
    assert "[1] ham  [2] spam  [s] skip  [u] undo  [q] quit" in text and "'x': press one of 1, 2, s, u, q" in text
    saved = {a.item_id: a.label for a in ReviewStore(logged).annotations("t")}
    assert saved == {first[0].item_id: "spam", first[1].item_id: "ham"}
    assert len(ReviewStore(logged).items("t")) == 2
    # the command: the end of input quits, and what was answered stays saved
    monkeypatch.setattr("sys.stdin", io.StringIO("s\n"))
    assert main(["review", "next", "model=t"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("0 labelled, 1 skipped")
    assert len(ReviewStore(logged).items("t")) == 1


def test_monitor_reports_the_reviewers_disagreement_per_class(logged: Path, tmp_path: Path) -> None:
    from automl.loop.monitor import monitor
    from automl.loop.report import render_text

    picked = sample(logged, "t", get_plugins(), n=6).picked
    rows = [{"item_id": i.item_id, "label": "spam" if n < 2 else i.predicted} for n, i in enumerate(picked)]
    assert main(["review", "import", "model=t", f"input={_write(tmp_path / 'r.csv', rows)}"]) == 0
    report = monitor(logged, "t", get_plugins(), {"reference": "window", "window": 100})
    by_class = {r["predicted"]: (r["reviewed"], r["disagreed"]) for r in report.disagreement}
    expected: dict[str, list[int]] = {}
    for n, i in enumerate(picked):
        seen = expected.setdefault(i.predicted, [0, 0])
        seen[0] += 1
        seen[1] += n < 2 and i.predicted != "spam"
    assert by_class == {k: tuple(v) for k, v in expected.items()}
    assert "reviewers disagreed with the model (per predicted class):" in render_text(report)


def test_flagged_invokes_are_picked_first(logged: Path) -> None:
    from automl.store.invokes import query_invokes
    from automl.store.reviews import Flag

    ids = query_invokes(logged, "SELECT invoke_id FROM invokes ORDER BY seq LIMIT 3")["invoke_id"].tolist()
    at = datetime(2026, 12, 6)
    ReviewStore(logged).flag([Flag(i, "t", "user report", at, None) for i in ids])
    picked = sample(logged, "t", get_plugins(), n=5).picked
    assert {i.invoke_id for i in picked[:3]} == set(ids)
    assert {(i.sampler, i.reason) for i in picked[:3]} == {("flagged", "flagged: user report")}
    assert all(i.sampler != "flagged" for i in picked[3:])
