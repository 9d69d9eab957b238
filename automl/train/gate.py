"""The promotion gate: is the run's winner better than production, on the same examples?

A version's score from its own run is measured on that run's data and folds; comparing it with a
score from other data (the rows grew, reviewed labels changed some) says as much about the data as
about the models. So production's *configuration* (its trainer, backbone and hyperparameters, or
its ensemble's members and weights) is cross-validated on this run's folds: a search or retrain
that already evaluated it lends its out-of-fold predictions, and otherwise the few fits run here
on the cached embeddings. The two sets of out-of-fold predictions are then compared by a paired
bootstrap over the examples (``automl.evaluate.comparison``) with the recipe's margin: when the
data changed since production was trained (new examples, reviewed labels), the winner must not be
worse than production by more than the margin; on the same data it must be better by more than
the margin. The winner must also pass the recipe's model tests. The verdict says what was
compared, on what, and why.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl.config.schema import Recipe
from automl.config.validate import typed_options
from automl.errors import UserError
from automl.evaluate.comparison import NON_INFERIORITY, SUPERIORITY, PairedComparison, Scored, paired_bootstrap
from automl.evaluate.cv import cross_validate, one_blas_thread
from automl.evaluate.leaderboard import LeaderboardEntry, Member
from automl.evaluate.scoring import tune_threshold
from automl.evaluate.trials import TrialRecord
from automl.features.prepare import Prepared
from automl.features.views import view_key
from automl.model.model_tests import TestOutcome, failed
from automl.plugins.components import MetricSpec
from automl.plugins.manager import Plugins
from automl.registry.meta import BundleMeta
from automl.registry.promote import Verdict
from automl.registry.store import ModelStore


@dataclass(frozen=True)
class GateReport:
    """What the summary says about the gate."""

    verdict: Verdict
    production: int | None = None
    same_configuration: bool = False
    comparison: PairedComparison | None = None
    reused: int = 0  # production's members whose out-of-fold predictions came from this run's trials
    tests: list[TestOutcome] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "promote": self.verdict.promote,
            "reason": self.verdict.reason,
            "production": self.production,
            "same_configuration": self.same_configuration,
            "compared_on": None if self.comparison is None else "out-of-fold predictions on this run's folds",
            "comparison": None if self.comparison is None else self.comparison.to_json(),
            "production_members_reused": self.reused,
            "tests": [t.to_json() for t in self.tests],
        }


def production_members(meta: BundleMeta) -> list[Member]:
    """Production's configuration as leaderboard members (one, or an ensemble's)."""
    best = meta.best
    if best.trainer == "ensemble":
        return [
            Member(str(m["trainer"]), m.get("backbone"), dict(m.get("params") or {}), float(m.get("weight", 1.0)))
            for m in best.params.get("members", [])
        ]
    if best.trainer is None:
        return []
    return [Member(best.trainer, best.backbone, dict(best.params), 1.0)]


def production_backbones(store: ModelStore, name: str) -> set[str]:
    """The backbones production's configuration embeds with (a retrain must embed them too)."""
    production = store.rollout(name).production
    if production is None:
        return set()
    try:
        return {m.backbone for m in production_members(store.meta(name, production)) if m.backbone}
    except Exception:  # noqa: BLE001 - an unreadable bundle is reported by the gate itself
        return set()


def _key(trainer: str, backbone: str | None, params: Any) -> str:
    return json.dumps([trainer, backbone, params], sort_keys=True, default=str)


def _same(a: list[Member], b: list[Member]) -> bool:
    """The same member configurations. An ensemble's weights are not compared: like a model's
    parameters they are fitted (to the out-of-fold predictions), not chosen."""

    def configurations(members: list[Member]) -> set[str]:
        return {_key(m.trainer, m.backbone, m.params) for m in members}

    return configurations(a) == configurations(b)


class NotComparable(Exception):
    """Production's configuration cannot be cross-validated on this run's data."""


def _member_oof(
    member: Member, plugins: Plugins, prepared: Prepared, y: np.ndarray, folds: np.ndarray, done: dict[str, TrialRecord]
) -> tuple[np.ndarray, bool]:
    """A member's out-of-fold predictions on this run's folds, and whether a trial lent them."""
    record = done.get(_key(member.trainer, member.backbone, member.params))
    if record is not None and record.oof is not None:
        return record.oof, True
    if member.trainer not in plugins.trainers.names():
        raise NotComparable(f"its trainer {member.trainer} is not installed")
    trainer = plugins.trainers.get(member.trainer)
    view = view_key(trainer.inputs, member.backbone)
    if view not in prepared.views:
        raise NotComparable(f"this run did not prepare its inputs ({view})")
    try:
        config = typed_options(trainer.config_cls, member.params, f"production's {member.trainer}")
        ctx = dataclasses.replace(prepared.contexts[view], n_jobs=os.cpu_count() or 1)
        with one_blas_thread():
            *_, (_, oof) = cross_validate(trainer, config, prepared.views[view], ctx, y, folds)  # the last: every fold
    except (UserError, ValueError) as err:  # e.g. a trainer upgraded since: its options changed
        raise NotComparable(
            f"{member.trainer}: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
        ) from None
    return oof, False


def _tests_failed(tests: list[TestOutcome]) -> str | None:
    bad = failed(tests)
    if not bad:
        return None
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return f"model test failed: {bad[0].name}: {bad[0].detail}{more}"


def judge(
    store: ModelStore,
    recipe: Recipe,
    plugins: Plugins,
    prepared: Prepared,
    y: np.ndarray,
    folds: np.ndarray,
    winner: LeaderboardEntry,
    trials: list[TrialRecord],
    metric: MetricSpec,
    tests: list[TestOutcome],
    data_hash: str,
) -> GateReport:
    """The gate's verdict on ``winner`` (whose model passed or failed ``tests``)."""
    failure = _tests_failed(tests)
    production = store.rollout(recipe.name).production
    if production is None:
        if failure:
            return GateReport(Verdict(False, None, failure), tests=tests)
        return GateReport(Verdict(True, None, "no production version yet; every model test passed"), tests=tests)
    meta = store.meta(recipe.name, production)
    members = production_members(meta)
    if failure:
        return GateReport(Verdict(False, production, failure), production, tests=tests)
    if members and _same(members, winner.members):
        if meta.lineage.get("data_hash") == data_hash:
            reason = f"the same configuration and data as production (version {production}): nothing to gain"
            return GateReport(Verdict(False, production, reason), production, True, tests=tests)
        reason = f"the same configuration as production (version {production}), refit on this run's data"
        return GateReport(Verdict(True, production, reason), production, True, tests=tests)
    if not members:
        reason = f"production (version {production}) names no configuration to re-evaluate; promote by hand"
        return GateReport(Verdict(False, production, reason), production, tests=tests)
    done = {_key(t.trainer, t.backbone, t.params): t for t in trials if t.status == "completed"}
    try:
        parts = [_member_oof(m, plugins, prepared, y, folds, done) for m in members]
    except NotComparable as err:
        reason = (
            f"production (version {production})'s configuration cannot be re-evaluated on this data ({err}); "
            f"compare by hand and promote with automl models promote"
        )
        return GateReport(Verdict(False, production, reason), production, tests=tests)
    total = sum(m.weight for m in members)
    proba = sum(m.weight / total * oof for m, (oof, _) in zip(members, parts, strict=True))
    assert isinstance(proba, np.ndarray)
    threshold = tune_threshold(metric, y, proba) if recipe.eval.tune_threshold else None
    g = recipe.eval.gate
    rule = NON_INFERIORITY if meta.lineage.get("data_hash") != data_hash else SUPERIORITY
    comparison = paired_bootstrap(
        metric,
        y,
        Scored(winner.oof, winner.threshold),
        Scored(proba, threshold),
        g.margin,
        g.confidence,
        g.bootstrap,
        recipe.seed,
        rule,
    )
    data = "changed data" if rule == NON_INFERIORITY else "the same data"
    said = (
        f"{metric.name} {comparison.candidate:.4f} vs production (version {production}) "
        f"{comparison.production:.4f} on the same {comparison.examples} examples ({data}); {comparison.said()}"
    )
    reused = sum(1 for _, lent in parts if lent)
    return GateReport(Verdict(comparison.passed, production, said), production, False, comparison, reused, tests)
