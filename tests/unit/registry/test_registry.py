import json
from pathlib import Path

import pytest

from automl.builtin.metrics import register_metrics
from automl.errors import BundleFormatError, UserError
from automl.registry.refs import ModelRef
from automl.registry.store import ModelStore
from tests.helpers import gate_by_score

METRICS: dict = {}
register_metrics(register=lambda spec: METRICS.__setitem__(spec.name, spec))


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("income", ModelRef("income")),
        ("income:3", ModelRef("income", 3)),
        ("income@candidate", ModelRef("income", alias="candidate")),
    ],
)
def test_refs_parse(text: str, ref: ModelRef) -> None:
    assert ModelRef.parse(text) == ref
    assert str(ref) == text


@pytest.mark.parametrize("text", ["", "income:", "income:0", "in come", "income@", "a:b"])
def test_bad_refs_are_user_errors(text: str) -> None:
    with pytest.raises(UserError):
        ModelRef.parse(text)


def register(store: ModelStore, score: float, metric: str = "roc_auc") -> tuple[int, str]:
    version = store.register("m", {"weights": score}, {"metric": metric, "score": score, "classes": ["a", "b"]})
    return version, gate_by_score(store, "m", version, score, METRICS[metric])[0]


def test_versions_aliases_and_the_promotion_gate(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    assert register(store, 0.80) == (1, "production")
    assert register(store, 0.79) == (2, "candidate")
    assert store.resolve("m@candidate") == ("m", 2)
    assert register(store, 0.85) == (3, "production")
    assert store.aliases("m") == {"production": 3}
    assert store.resolve("m") == ("m", 3)
    assert store.resolve("m:1") == ("m", 1)
    assert store.load_model("m", 1) == {"weights": 0.80}


def test_lower_is_better_metrics_promote_lower_scores(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    register(store, 0.5, "log_loss")
    assert register(store, 0.4, "log_loss")[1] == "production"
    assert register(store, 0.45, "log_loss")[1] == "candidate"


def test_delete_refuses_production_and_clears_candidate(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    register(store, 0.8)
    register(store, 0.7)
    with pytest.raises(UserError, match="is production"):
        store.delete("m", 1)
    store.delete("m", 2)
    assert store.versions("m") == [1]
    assert store.aliases("m") == {"production": 1}


def test_resolve_errors_say_what_exists(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    with pytest.raises(UserError, match="no model named 'm'"):
        store.resolve("m")
    register(store, 0.8)
    with pytest.raises(UserError, match="no version 9. Versions: 1"):
        store.resolve("m:9")
    with pytest.raises(UserError, match="no version is 'candidate'"):
        store.resolve("m@candidate")


def test_a_bundle_of_another_format_is_a_clear_error(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    register(store, 0.8)
    meta_path = tmp_path / "models" / "m" / "versions" / "1" / "bundle.json"
    meta = json.loads(meta_path.read_text())
    meta["format"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(BundleFormatError, match="bundle format 99.*reads format 2"):
        store.load_model("m", 1)


def test_two_runs_finishing_at_once_cannot_both_become_production(tmp_path: Path, monkeypatch) -> None:
    """Run B (0.90) is registered and promoted while run A (0.85) is being promoted: A must be
    compared with B under the lock, not with the production it would have read before it."""
    store = ModelStore(tmp_path)
    register(store, 0.80)
    a = store.register("m", {}, {"metric": "roc_auc", "score": 0.85, "classes": ["a", "b"]})
    b = store.register("m", {}, {"metric": "roc_auc", "score": 0.90, "classes": ["a", "b"]})
    original = ModelStore.update_rollout
    calls = []

    def concurrent(self, name, change):  # B's promotion lands just before A's takes the lock
        if not calls:
            calls.append(name)
            gate_by_score(store, "m", b, 0.90, METRICS["roc_auc"])
        return original(self, name, change)

    monkeypatch.setattr(ModelStore, "update_rollout", concurrent)
    assert gate_by_score(store, "m", a, 0.85, METRICS["roc_auc"]) == ("candidate", 1)
    assert store.rollout("m").production == b
