"""What a recipe leaves out, chosen from its task: the loader, the trainers, the backbones and
the exporter (``deploy.export: auto``: ``onnx`` for tables when it is installed).

A recipe with only ``name``, ``task`` and ``data`` runs for every task type. ``search.trainers: null``
takes every registered trainer of the task, in stages (cheap, strong models first: heads on cached
embeddings, linear and tree models; then fine-tuning; then networks trained from scratch), each
stage in registration order. ``search.backbones: null`` takes every registered backbone of the
task's modality that can run here (its weights installed, cached or imported into the workspace),
cheapest first. A recipe's own lists always win. The resolved recipe is what runs, what
``automl show`` prints and what the run's ``recipe.yaml`` keeps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from automl.config.schema import Recipe
from automl.plugins.components import BACKBONE, FEATURES, BackboneSpec
from automl.plugins.imported_weights import imported_weights
from automl.plugins.manager import Plugins

# The loader a task reads with when the recipe names none.
DEFAULT_LOADERS = {
    "tabular_classification": "csv",
    "image_classification": "image_folder",
    "text_classification": "text_table",
}
MODALITY = {"image_classification": "image", "text_classification": "text"}
AUTO_EXPORT = "auto"
# What `deploy.export: auto` exports with when it is installed: the copy answers one row several
# times faster (tables 8-15x, images and texts 1.6-2.7x: bench/README.md).
DEFAULT_EXPORTER = "onnx"


@dataclass(frozen=True)
class ResolvedDefaults:
    """The recipe with its defaults filled in, and what was left out of them and why."""

    recipe: Recipe
    filled: tuple[str, ...] = ()
    left_out: tuple[dict[str, str], ...] = field(default_factory=tuple)


def default_trainers(plugins: Plugins, task: str) -> list[str]:
    """Every trainer of ``task``, stage by stage, each stage in registration order."""
    entries = [e for e in plugins.trainers.in_registration_order() if task in e.spec.tasks]
    return [e.spec.name for e in sorted(entries, key=lambda e: e.spec.stage)]


def _runs_here(spec: BackboneSpec, workspace: Path) -> bool:
    return spec.weights_here() or imported_weights(workspace, spec.name) is not None


def default_backbones(plugins: Plugins, task: str, workspace: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Backbones of the task's modality whose weights are here, cheapest first; and notes on those
    left out because their weights are not."""
    modality = MODALITY.get(task)
    if modality is None:
        return [], []
    chosen: list[BackboneSpec] = []
    left_out = []
    for entry in plugins.backbones.in_registration_order():
        spec = entry.spec
        if spec.modality != modality or not spec.default_search:
            continue
        if _runs_here(spec, workspace):
            chosen.append(spec)
        else:
            reason = "no weights here: " + "; ".join(s.describe() for s in spec.weights)
            left_out.append({"backbone": spec.name, "reason": reason})
    chosen.sort(key=lambda s: s.gflops if s.gflops is not None else float("inf"))
    return [s.name for s in chosen], left_out


def resolve_defaults(recipe: Recipe, plugins: Plugins, workspace: Path) -> ResolvedDefaults:
    """``recipe`` with the loader, trainers and backbones it left null chosen from its task."""
    task = recipe.task.type
    filled = []
    data, search = recipe.data, recipe.search
    left_out: list[dict[str, str]] = []
    if data.loader is None and task in DEFAULT_LOADERS:
        data = dataclasses.replace(data, loader=DEFAULT_LOADERS[task])
        filled.append("data.loader")
    if search.trainers is None:
        search = dataclasses.replace(search, trainers=default_trainers(plugins, task))
        filled.append("search.trainers")
    if search.backbones is None:
        backbones, left_out = default_backbones(plugins, task, workspace)
        search = dataclasses.replace(search, backbones=backbones)
        filled.append("search.backbones")
        if task in MODALITY and not backbones and "search.trainers" in filled:
            # Nothing to embed with: the default trainers are those that need no backbone.
            takes_raw = [t for t in search.trainers or [] if plugins.trainers.get(t).inputs not in (FEATURES, BACKBONE)]
            search = dataclasses.replace(search, trainers=takes_raw)
    deploy = recipe.deploy
    if deploy.export == AUTO_EXPORT:
        exporters = plugins.registries["exporter"]
        chosen = DEFAULT_EXPORTER if DEFAULT_EXPORTER in exporters else None
        deploy = dataclasses.replace(deploy, export=chosen)
        if chosen is not None:
            filled.append("deploy.export")
    resolved = dataclasses.replace(recipe, data=data, search=search, deploy=deploy)
    return ResolvedDefaults(resolved, tuple(filled), tuple(left_out))
