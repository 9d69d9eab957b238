"""The configurations (``TrialConfig``) a search tries, in order: each trainer's defaults first,
then samples.

Generated up front from the seed, so a search with a trial cap and no time budget is
reproducible whatever order Ray finishes trials in.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, TextIO

import numpy as np

from automl.config.space import Fixed, SearchSpace
from automl.config.validate import CheckedRecipe, typed_options
from automl.evaluate.trials import TrialConfig
from automl.features.prepare import Prepared
from automl.plugins.components import BACKBONE, FEATURES
from automl.plugins.manager import Plugins
from automl.search.retrain import ModePlan

MAX_CONFIGS = 1000
# A configuration that fine-tunes a backbone is tried only when its estimated cross-validation
# time fits in this share of the search budget, leaving the rest for the cheap heads.
COSTLY_SHARE = 0.5


def _default_params(space: SearchSpace, config_cls: type, rng: np.random.Generator) -> dict[str, Any]:
    """The trainer's own defaults, except where the recipe fixed a value or the default lies
    outside the recipe's range (then a sample)."""
    defaults = {f.name: f.default for f in dataclasses.fields(config_cls) if f.default is not dataclasses.MISSING}
    params: dict[str, Any] = {}
    for name in sorted(space.params):
        p = space.params[name]
        if isinstance(p, Fixed):
            params[name] = p.value
        elif name in defaults and p.contains(defaults[name]):
            continue
        else:
            params[name] = p.sample(rng)
    return params


def trainer_backbone_pairs(
    plugins: Plugins,
    trainers: list[str],
    backbones: list[str],
    tabular: bool = False,
    tunable: Mapping[str, list[str]] | None = None,
) -> list[tuple[str, str | None]]:
    """A table's trainers once each. For images and texts: a feature trainer on each available
    backbone (none when every backbone was skipped), a fine-tuning trainer on each backbone it
    takes (``tunable``), a raw-input trainer once."""
    pairs: list[tuple[str, str | None]] = []
    for name in trainers:
        inputs = plugins.trainers.get(name).inputs
        if tabular or inputs not in (FEATURES, BACKBONE):
            pairs.append((name, None))
        elif inputs == FEATURES:
            pairs += [(name, b) for b in backbones]
        else:
            pairs += [(name, b) for b in (tunable or {}).get(name, []) if b in backbones]
    return pairs


def _costed_rate(
    plugins: Plugins, trainer: str, backbone: str | None, forward_rates: Mapping[str, float]
) -> float | None:
    """The backbone's forward rate when the trainer estimates its cost on it; None when the time
    budget cannot leave the trainer's configs out (no estimate, or no measured rate)."""
    rate = forward_rates.get(backbone or "", 0.0)
    return rate if plugins.trainers.get(trainer).cost is not None and rate > 0 else None


def affordable(
    configs: list[TrialConfig],
    plugins: Plugins,
    budget_s: float | None,
    n_train: int,
    n_folds: int,
    forward_rates: Mapping[str, float],
) -> tuple[list[TrialConfig], list[dict[str, Any]]]:
    """The configs whose estimated cross-validation time fits ``COSTLY_SHARE`` of the budget
    (trainers without a cost estimate always fit), renumbered; and one note per (trainer, backbone)
    with configs left out, with the cheapest estimate."""
    if budget_s is None:
        return configs, []
    kept: list[TrialConfig] = []
    dropped: dict[tuple[str, str | None], float] = {}
    for c in configs:
        trainer = plugins.trainers.get(c.trainer)
        rate = _costed_rate(plugins, c.trainer, c.backbone, forward_rates)
        if trainer.cost is None or rate is None:
            kept.append(c)
            continue
        config = typed_options(trainer.config_cls, c.params, f"search.space.{trainer.name}")
        seconds = trainer.cost(config, n_train, rate) * n_folds
        if seconds <= COSTLY_SHARE * budget_s:
            kept.append(c)
        else:
            key = (c.trainer, c.backbone)
            dropped[key] = min(seconds, dropped.get(key, float("inf")))
    notes = [
        {
            "trainer": t,
            "backbone": b,
            "reason": f"needs about {s:.0f} s for {n_folds} folds, more than {COSTLY_SHARE:.0%} of "
            f"the search's {budget_s:.0f} s (what search.time_budget_s leaves it); raise the budget to try it",
        }
        for (t, b), s in dropped.items()
    ]
    return [dataclasses.replace(c, index=i) for i, c in enumerate(kept)], notes


def _draw_configs(
    pairs: list[tuple[str, str | None]],
    spaces: Mapping[str, SearchSpace],
    config_classes: Mapping[str, type],
    seed: int,
    stages: Mapping[str, int] | None = None,
) -> Iterator[TrialConfig]:
    """Configs round-robin over the pairs, without
    end (none without pairs): a trainer's first config its defaults, then samples. A trainer of
    stage ``s`` (see ``TrainerSpec.stage``) joins from round ``s`` on, so cheap models are tried
    first and twice before fine-tuning and networks from scratch. One generator draws them all in
    order, so the first ``n`` are the same however many are taken."""
    if not pairs:
        return
    stages = stages or {}
    lowest = min(stages.get(name, 0) for name, _ in pairs)
    first_round = {name: stages.get(name, 0) - lowest for name, _ in pairs}
    rng = np.random.default_rng(seed)
    index = 0
    for round_ in itertools.count():
        for name, backbone in pairs:
            if round_ < first_round[name]:
                continue
            space = spaces[name]
            if round_ == first_round[name]:
                params = _default_params(space, config_classes[name], rng)
            else:
                params = space.sample(rng)
            yield TrialConfig(index, name, params, backbone)
            index += 1


def draw_configs(
    pairs: list[tuple[str, str | None]],
    spaces: Mapping[str, SearchSpace],
    config_classes: Mapping[str, type],
    n: int,
    seed: int,
    stages: Mapping[str, int] | None = None,
) -> list[TrialConfig]:
    """``n`` configs, round-robin over the pairs."""
    configs = _draw_configs(pairs, spaces, config_classes, seed, stages)
    return list(itertools.islice(configs, min(n, MAX_CONFIGS)))


def plan_configs(
    checked: CheckedRecipe,
    plugins: Plugins,
    backbones: list[str],
    tunable: Mapping[str, list[str]],
    forward_rates: Mapping[str, float],
    n_rows: int,
    budget_s: float | None = None,
) -> tuple[list[TrialConfig], list[dict[str, Any]]]:
    """The configs a search tries (at most ``search.max_trials``), and notes on those left out by
    the search's time budget ``budget_s`` (None: no limit)."""
    r = checked.recipe
    s = r.search
    tabular = r.task.type == "tabular_classification"
    pairs = trainer_backbone_pairs(plugins, checked.trainers, backbones, tabular, tunable)
    classes = {name: plugins.trainers.get(name).config_cls for name in checked.trainers}
    stages = {name: plugins.trainers.get(name).stage for name in checked.trainers}
    limit = min(s.max_trials or MAX_CONFIGS, MAX_CONFIGS)
    gated = budget_s is not None and any(_costed_rate(plugins, t, b, forward_rates) is not None for t, b in pairs)
    if not gated:
        # The budget leaves nothing out, so the first ``limit`` configs are the ones tried: no more
        # are drawn, none is typed.
        return draw_configs(pairs, checked.spaces, classes, limit, r.seed, stages), []
    # The budget may leave configs out. A note (stderr, and ``left_out`` in summary.json) names each
    # (trainer, backbone) with a config left out among all MAX_CONFIGS, with the cheapest
    # estimate of those; stopping at ``limit`` kept configs could drop a note or change its
    # estimate. So all are drawn and every config with a cost estimate is typed and costed, past
    # ``limit`` too; the others are never typed.
    configs = draw_configs(pairs, checked.spaces, classes, MAX_CONFIGS, r.seed, stages)
    n_folds = r.eval.cv_folds
    n_train = n_rows * (n_folds - 1) // n_folds
    kept, notes = affordable(configs, plugins, budget_s, n_train, n_folds, forward_rates)
    return kept[:limit], notes


def still_available(
    configs: list[TrialConfig],
    checked: CheckedRecipe,
    plugins: Plugins,
    backbones: list[str],
    tunable: Mapping[str, list[str]],
) -> list[TrialConfig]:
    """A retrain's configs whose trainer is still in the recipe and whose backbone loaded, renumbered."""
    r = checked.recipe
    tabular = r.task.type == "tabular_classification"
    pairs = set(trainer_backbone_pairs(plugins, checked.trainers, backbones, tabular, tunable))
    kept = [c for c in configs if (c.trainer, c.backbone) in pairs]
    return [dataclasses.replace(c, index=i) for i, c in enumerate(kept)]


class ConfigChoice(NamedTuple):
    """What a run tries: its mode (a retrain with nothing left to train becomes a search), the
    configs, and the notes on those a search left out."""

    plan: ModePlan
    configs: list[TrialConfig]
    left_out: list[dict[str, Any]]

    @property
    def retrain(self) -> bool:
        return self.plan.mode == "retrain"


def choose_configs(
    plan: ModePlan,
    checked: CheckedRecipe,
    plugins: Plugins,
    prepared: Prepared,
    n_rows: int,
    log: TextIO,
    budget_s: float | None = None,
) -> ConfigChoice:
    """A retrain's configs still available, else (a search, or a retrain left with none) the
    planned ones; says on ``log`` when a retrain turns into a search and what is left out."""
    if plan.mode == "retrain":
        configs = still_available(plan.configs, checked, plugins, prepared.backbones, prepared.tunable)
        if configs:
            return ConfigChoice(plan, configs, [])
        reason = "none of the last run's best configurations can train now (a backbone or trainer is missing)"
        plan = dataclasses.replace(plan, mode="search", reason=reason)
        print(f"mode: search ({reason})", file=log)
    configs, left_out = plan_configs(
        checked, plugins, prepared.backbones, prepared.tunable, prepared.forward_rates, n_rows, budget_s
    )
    for note in left_out:
        print(f"note: not trying {note['trainer']} on {note['backbone']}: {note['reason']}", file=log)
    return ConfigChoice(plan, configs, left_out)
