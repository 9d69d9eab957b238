"""Range, cross-field and component-name checks on a typed recipe, before any work starts.

Messages follow scikit-learn's form: *The 'cv_folds' option of eval must be an int >= 2. Got 1.*
"""

from __future__ import annotations

import glob
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from automl.config.defaults import ResolvedDefaults, resolve_defaults
from automl.config.errors import config_error
from automl.config.schema import MonitorConfig, Recipe, RolloutConfig
from automl.config.space import SearchSpace, build_space
from automl.errors import UserError, unknown_name
from automl.paths import workspace_dir
from automl.plugins.components import BACKBONE, FEATURES
from automl.plugins.manager import Plugins
from automl.plugins.registry import require

TASKS = ("tabular_classification", "image_classification", "text_classification")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


TASK_MODALITY = {"image_classification": "image", "text_classification": "text"}


@dataclass(frozen=True)
class CheckedRecipe:
    """A recipe that passed every check, with its components' options typed."""

    recipe: Recipe
    loader_options: Any
    spaces: dict[str, SearchSpace]
    backbone_options: dict[str, Any] = field(default_factory=dict)
    augmenters: list[tuple[str, Any]] = field(default_factory=list)
    export_options: Any = None
    defaults: ResolvedDefaults | None = None

    @property
    def trainers(self) -> list[str]:
        """``search.trainers``, filled from the task when the recipe left it null."""
        return list(self.recipe.search.trainers or [])

    @property
    def loader(self) -> str:
        """``data.loader``, filled from the task when the recipe left it null."""
        assert self.recipe.data.loader is not None, "check_recipe fills the loader"
        return self.recipe.data.loader


def typed_options(config_cls: type, values: Mapping[str, Any], key: str) -> Any:
    """An instance of a component's config dataclass from recipe values, checked by OmegaConf
    (types) and by the dataclass's own ``__post_init__`` (ranges: a ``ValueError`` there names the
    option and what it must be)."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(config_cls), dict(values))
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        raise config_error(err, config_cls, prefix=f"{key}.") from None
    except ValueError as err:
        raise UserError(f"{key}: {err}") from None


def _at_least(section: str, option: str, value: Any, low: float, kind: str = "an int") -> None:
    if value is not None and value < low:
        raise UserError(f"The '{option}' option of {section} must be {kind} >= {low:g}. Got {value}.")


def _check_ranges(r: Recipe) -> None:
    if not NAME_PATTERN.match(r.name):
        raise UserError(f"name: use letters, digits, '_' and '-' (starting with a letter or digit). Got {r.name!r}.")
    if r.task.type not in TASKS:
        raise unknown_name("task.type", r.task.type, TASKS)
    if not 0 <= r.data.max_bad_fraction <= 1:
        raise UserError(f"The 'max_bad_fraction' option of data must be in [0, 1]. Got {r.data.max_bad_fraction}.")
    if r.data.labels is not None and len(set(r.data.labels)) < 2:
        raise UserError(f"data.labels: a classifier needs at least two labels. Got {r.data.labels}.")
    s = r.search
    _at_least("search", "time_budget_s", s.time_budget_s, 1, "a number")
    _at_least("search", "max_trials", s.max_trials, 1)
    if s.time_budget_s is None and s.max_trials is None:
        raise UserError("search: set time_budget_s or max_trials (or both); with neither it never ends.")
    if s.scheduler not in ("asha", "fifo"):
        raise unknown_name("search.scheduler", s.scheduler, ("asha", "fifo"))
    _at_least("search", "max_concurrent_trials", s.max_concurrent_trials, 1)
    if s.cpus_per_trial <= 0:
        raise UserError(f"The 'cpus_per_trial' option of search must be a number > 0. Got {s.cpus_per_trial}.")
    _at_least("search", "ensemble_size", s.ensemble_size, 1)
    if s.mode not in ("auto", "search", "retrain"):
        raise unknown_name("search.mode", s.mode, ("auto", "search", "retrain"))
    _at_least("search", "retrain_top_k", s.retrain_top_k, 1)
    if s.retrain_max_change < 0:
        raise UserError(f"The 'retrain_max_change' option of search must be a number >= 0. Got {s.retrain_max_change}.")
    if not s.trainers:
        raise UserError(
            f"search.trainers: no trainer to search; name at least one for {r.task.type} (see `automl plugins`)."
        )
    _at_least("eval", "cv_folds", r.eval.cv_folds, 2)
    _at_least("eval", "importance_rows", r.eval.importance_rows, 10)
    _at_least("ray", "num_cpus", r.ray.num_cpus, 1)
    days = r.deploy.retention_days
    if days is not None and not (math.isfinite(days) and days >= 0):
        raise UserError(
            f"The 'retention_days' option of deploy must be a number >= 0 (null keeps invokes forever). Got {days}."
        )
    check_monitor(r.monitor)
    check_gate(r)
    check_model_tests(r)
    check_rollout(r.deploy.rollout)
    check_loop(r)


def _share(section: str, option: str, value: float, low: float = 0.0, high: float = 1.0) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise UserError(f"The '{option}' option of {section} must be a number in [{low:g}, {high:g}]. Got {value}.")


def check_gate(r: Recipe) -> None:
    g = r.eval.gate
    if not math.isfinite(g.margin) or g.margin < 0:
        raise UserError(
            f"The 'margin' option of eval.gate must be a number >= 0 in the metric's units. Got {g.margin}."
        )
    _share("eval.gate", "confidence", g.confidence, 0.5, 0.999)
    _at_least("eval.gate", "bootstrap", g.bootstrap, 100)


TEST_TYPES = ("must_pass", "class_floor", "invariance")
PERTURBATIONS = {
    "typos": "text_classification",
    "flip": "image_classification",
    "crop": "image_classification",
    "noise": "tabular_classification",
}


def check_model_tests(r: Recipe) -> None:
    """Each ``eval.tests`` entry names a known type and has what that type needs."""
    for i, t in enumerate(r.eval.tests):
        where = f"eval.tests[{i}]"
        if t.type not in TEST_TYPES:
            raise unknown_name(f"{where}.type", t.type, TEST_TYPES)
        if t.type == "must_pass" and (t.input is None or t.label is None):
            raise UserError(
                f"{where}: a must_pass test needs an input and the label it must get (input: ..., label: ...)."
            )
        if t.type == "class_floor":
            if t.recall is None and t.precision is None:
                raise UserError(f"{where}: a class_floor test needs recall: or precision: (a floor in [0, 1]).")
            for key in ("recall", "precision"):
                if getattr(t, key) is not None:
                    _share(where, key, getattr(t, key))
        if t.type == "invariance":
            if t.perturbation not in PERTURBATIONS:
                raise unknown_name(f"{where}.perturbation", str(t.perturbation), tuple(PERTURBATIONS))
            if PERTURBATIONS[t.perturbation] != r.task.type:
                fits = [p for p, task in PERTURBATIONS.items() if task == r.task.type]
                raise UserError(
                    f"{where}.perturbation={t.perturbation} is for {PERTURBATIONS[t.perturbation]}; "
                    f"this recipe's task is {r.task.type}: use {' or '.join(fits)}."
                )
            _share(where, "strength", t.strength, 0.0, 0.5)
            _share(where, "max_fail_rate", t.max_fail_rate)
            _at_least(where, "examples", t.examples, 1)
        if r.data.labels is not None and t.label is not None and t.label not in r.data.labels:
            raise unknown_name(f"{where}.label", t.label, tuple(r.data.labels))


def check_rollout(ro: RolloutConfig) -> None:
    """``deploy.rollout``: steps are 'shadow' or canary percents rising to 100."""
    percents: list[int] = []
    for i, step in enumerate(ro.steps):
        if step == "shadow":
            if percents or i:
                raise UserError("deploy.rollout.steps: 'shadow' can only be the first step (before any canary).")
            continue
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 100:
            raise UserError(
                f"deploy.rollout.steps: {step!r} is not a step; use 'shadow' or a whole percent of traffic "
                f"from 1 to 100, e.g. [shadow, 5, 25, 50, 100]."
            )
        if percents and step <= percents[-1]:
            raise UserError(f"deploy.rollout.steps: the canary percents must rise; {step} comes after {percents[-1]}.")
        percents.append(step)
    if ro.steps and (not percents or percents[-1] != 100):
        raise UserError("deploy.rollout.steps: the last step must be 100 (the candidate takes all traffic).")
    _at_least("deploy.rollout", "interval_s", ro.interval_s, 0.1, "a number")
    _at_least("deploy.rollout", "step_requests", ro.step_requests, 1)
    _at_least("deploy.rollout", "step_s", ro.step_s, 0, "a number")
    _at_least("deploy.rollout", "min_requests", ro.min_requests, 1)
    _at_least("deploy.rollout", "failure_limit", ro.failure_limit, 1)
    _at_least("deploy.rollout", "min_reviewed", ro.min_reviewed, 1)
    for key in ("min_agreement", "max_class_shift", "max_confidence_drop", "max_error_rate", "max_accuracy_drop"):
        _share("deploy.rollout", key, getattr(ro, key))
    _at_least("deploy.rollout", "max_latency_ratio", ro.max_latency_ratio, 1, "a number")
    _at_least("deploy.rollout", "latency_slack_ms", ro.latency_slack_ms, 0, "a number")


RETRAIN_TRIGGERS = ("annotations", "data", "drift", "always")


def check_loop(r: Recipe) -> None:
    for trigger in r.loop.retrain_on:
        if trigger not in RETRAIN_TRIGGERS:
            raise unknown_name("loop.retrain_on", trigger, RETRAIN_TRIGGERS)
    _at_least("loop", "min_annotations", r.loop.min_annotations, 1)
    _at_least("loop", "interval_s", r.loop.interval_s, 0.1, "a number")
    _at_least("loop", "monitor_interval_s", r.loop.monitor_interval_s, 1, "a number")


def check_monitor_components(m: MonitorConfig, plugins: Plugins) -> None:
    """The detectors and samplers a ``monitor:`` section names are registered."""
    detectors = plugins.registries["drift_detector"]
    for key in ("numeric_test", "categorical_test", "embedding_test"):
        if getattr(m, key) is not None:
            require(detectors, getattr(m, key), f"monitor.{key}")
    for name in m.samplers:
        require(plugins.registries["sampler"], name, "monitor.samplers")


def check_monitor(m: MonitorConfig) -> None:
    """The ranges of a ``monitor:`` section (a recipe's, or one overridden by ``automl monitor``)."""
    if m.reference not in ("training", "window"):
        raise unknown_name("monitor.reference", m.reference, ("training", "window"))
    _at_least("monitor", "window", m.window, 2)
    if m.window_hours is not None and not (math.isfinite(m.window_hours) and m.window_hours > 0):
        raise UserError(f"The 'window_hours' option of monitor must be a number of hours > 0. Got {m.window_hours}.")
    _at_least("monitor", "reference_window", m.reference_window, 2)
    if not 0 < m.alpha < 1:
        raise UserError(f"The 'alpha' option of monitor must be a number in (0, 1). Got {m.alpha}.")
    _at_least("monitor", "large_sample", m.large_sample, 2)
    if not m.distance_threshold > 0:
        raise UserError(f"The 'distance_threshold' option of monitor must be a number > 0. Got {m.distance_threshold}.")
    _at_least("monitor", "permutations", m.permutations, 19)
    _at_least("monitor", "min_invokes", m.min_invokes, 2)
    if not 0 <= m.random_share <= 1:
        raise UserError(f"The 'random_share' option of monitor must be in [0, 1]. Got {m.random_share}.")
    _at_least("monitor", "per_day", m.per_day, 1)
    _at_least("monitor", "sample_from", m.sample_from, 1)
    if not 0 <= m.min_distance < 2:
        raise UserError(
            f"The 'min_distance' option of monitor must be a cosine distance in [0, 2). Got {m.min_distance}."
        )


def _check_data(r: Recipe, plugins: Plugins) -> Any:
    if r.data.loader is None:
        raise UserError(f"data.loader: a {r.task.type} task has no default loader; name one (see `automl plugins`).")
    loader = require(plugins.loaders, r.data.loader, "data.loader")
    if r.task.type not in loader.tasks:
        readers = [e.spec.name for e in plugins.loaders.in_registration_order() if r.task.type in e.spec.tasks]
        raise UserError(
            f"data.loader: '{loader.name}' reads {', '.join(loader.tasks)} data, not {r.task.type}; "
            f"use {' or '.join(readers) or 'a loader of that task'} (or leave data.loader out)."
        )
    options = typed_options(loader.config_cls, dict(r.data.options), "data.options")
    if loader.needs_path:
        if not r.data.path:
            raise UserError(f"data.path is required by the '{loader.name}' loader: name the file to read.")
        if not (Path(r.data.path).exists() or glob.glob(r.data.path)):
            raise UserError(f"data.path: no such file or directory: {r.data.path}")
    if r.task.type != "image_classification" and not r.data.target:
        raise UserError("data.target is required: name the column that holds the label.")
    return options


def _check_backbones(r: Recipe, plugins: Plugins) -> dict[str, Any]:
    modality = TASK_MODALITY.get(r.task.type)
    backbones = r.search.backbones or []  # filled in by resolve_defaults
    if backbones and modality is None:
        raise UserError(f"search.backbones: a {r.task.type} task uses no backbone; remove them.")
    options: dict[str, Any] = {}
    for i, name in enumerate(backbones):
        backbone = require(plugins.backbones, name, f"search.backbones[{i}]")
        if backbone.load is None and backbone.variant is not None:
            raise UserError(f"search.backbones[{i}]: '{name}' is a family of models; name one as {name}:MODEL.")
        if backbone.modality != modality:
            raise UserError(f"search.backbones[{i}]: '{name}' embeds {backbone.modality}s, not {modality}s.")
        given = dict(r.search.backbone_options.get(name, {}))
        options[name] = typed_options(backbone.config_cls, given, f"search.backbone_options.{name}")
    for name in r.search.backbone_options:
        if name not in backbones:
            raise UserError(
                f"search.backbone_options.{name}: '{name}' is not in search.backbones; add it there or remove it."
            )
    feature_trainers = [t for t in r.search.trainers or [] if plugins.trainers.get(t).inputs in (FEATURES, BACKBONE)]
    if modality and feature_trainers and not backbones:
        raise UserError(
            f"search.trainers: {', '.join(feature_trainers)} train on a backbone; "
            f"name one in search.backbones (see `automl plugins`) or use trainers that take raw {modality}s."
        )
    return options


def _check_augmenters(r: Recipe, plugins: Plugins) -> list[tuple[str, Any]]:
    """The recipe's augmenters with typed options, when a trainer that fine-tunes will use them."""
    if not any(plugins.trainers.get(t).inputs == BACKBONE for t in r.search.trainers or []):
        return []
    for name in r.search.augmenter_options:
        if name not in r.search.augmenters:
            raise UserError(
                f"search.augmenter_options.{name}: '{name}' is not in search.augmenters; add it there or remove it."
            )
    checked = []
    for i, name in enumerate(r.search.augmenters):
        spec = require(plugins.registries["augmenter"], name, f"search.augmenters[{i}]")
        given = dict(r.search.augmenter_options.get(name, {}))
        checked.append((name, typed_options(spec.config_cls, given, f"search.augmenter_options.{name}")))
    return checked


def _check_search(r: Recipe, plugins: Plugins) -> dict[str, SearchSpace]:
    spaces: dict[str, SearchSpace] = {}
    trainers = r.search.trainers or []  # filled in by resolve_defaults
    for i, name in enumerate(trainers):
        trainer = require(plugins.trainers, name, f"search.trainers[{i}]")
        if r.task.type not in trainer.tasks:
            raise UserError(
                f"search.trainers[{i}]: trainer '{name}' supports {', '.join(trainer.tasks)}, not {r.task.type}."
            )
        key = f"search.space.{name}"
        space = build_space(key, trainer.config_cls, trainer.default_space, r.search.space.get(name, {}))
        for param in space.params:
            for value in space.candidate_values(param):
                typed_options(trainer.config_cls, {param: value}, key)
        spaces[name] = space
    for name in r.search.space:
        if name not in trainers:
            raise UserError(
                f"search.space.{name}: '{name}' is not in search.trainers "
                f"({', '.join(trainers)}); add it there or remove its space."
            )
    return spaces


def check_recipe(recipe: Recipe, plugins: Plugins) -> CheckedRecipe:
    """Every check that needs no data: ranges, names, component options, spaces, files; on the
    recipe with its task's defaults filled in (``CheckedRecipe.recipe`` is that recipe)."""
    if recipe.task.type not in TASKS:
        raise unknown_name("task.type", recipe.task.type, TASKS)
    defaults = resolve_defaults(recipe, plugins, workspace_dir(recipe.workspace))
    recipe = defaults.recipe
    _check_ranges(recipe)
    require(plugins.metrics, recipe.eval.metric, "eval.metric")
    check_monitor_components(recipe.monitor, plugins)
    if recipe.deploy.backend is not None:
        require(plugins.registries["serving_backend"], recipe.deploy.backend, "deploy.backend")
    export_options = None
    if recipe.deploy.export is not None:
        exporter = require(plugins.registries["exporter"], recipe.deploy.export, "deploy.export")
        given = dict(recipe.deploy.export_options)
        export_options = typed_options(exporter.config_cls, given, "deploy.export_options")
    elif recipe.deploy.export_options:
        raise UserError("deploy.export_options: set deploy.export to the exporter they are for, or remove them.")
    _at_least("deploy", "export_check_rows", recipe.deploy.export_check_rows, 1)
    spaces = _check_search(recipe, plugins)
    backbone_options = _check_backbones(recipe, plugins)
    augmenters = _check_augmenters(recipe, plugins)
    options = _check_data(recipe, plugins)
    return CheckedRecipe(recipe, options, spaces, backbone_options, augmenters, export_options, defaults)
