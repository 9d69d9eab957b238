"""``automl run`` and ``automl show``: a recipe, trained or printed as resolved."""

from __future__ import annotations

import dataclasses

from automl.cli.args import Args, emit
from automl.errors import NotPromoted

RECIPE_HELP = "a ready recipe name or a path to a YAML file"


def cmd_run(args: Args, sub: list[str]) -> int:
    from automl.config.compose import load_recipe
    from automl.train.runner import run_recipe

    recipe = args.require("recipe", RECIPE_HELP)
    summary = run_recipe(load_recipe(recipe, args.overrides("recipe")), started=args.started)
    model, data = summary.model, summary.data
    text = (
        f"{model.name} v{model.version} ({model.alias}): {summary.metric} "
        f"{summary.score:.4f} ± {summary.score_std:.4f} over {len(summary.fold_scores)} folds, "
        f"best {summary.best.trainer}; {summary.trials} trials ({summary.failed_trials} failed), "
        f"{data.rows} rows ({data.skipped} skipped) in {summary.duration_s:.1f} s\n"
        f"summary: {summary.run_dir}/summary.json"
    )
    if model.rollout:
        text += f"\nrollout started (automl rollout status model={model.name}): {model.reason}"
    elif model.reason:
        text += f"\ngate: {model.reason}"
    emit(args, summary.to_json(), text)
    if not summary.promoted:
        raise NotPromoted(f"{model.name} v{model.version} kept as candidate: {model.reason}.")
    return 0


def cmd_show(args: Args, sub: list[str]) -> int:
    from automl.config.compose import load_recipe, recipe_to_yaml
    from automl.config.validate import check_recipe
    from automl.plugins.manager import get_plugins

    recipe = load_recipe(args.require("recipe", RECIPE_HELP), args.overrides("recipe"))
    checked = check_recipe(recipe, get_plugins())
    resolved = checked.recipe
    text = recipe_to_yaml(resolved).rstrip()
    if checked.defaults and checked.defaults.filled:
        text += f"\n# chosen by task ({resolved.task.type}): {', '.join(checked.defaults.filled)}"
    for note in checked.defaults.left_out if checked.defaults else ():
        text += f"\n# not in the default backbones: {note['backbone']} ({note['reason']})"
    emit(args, dataclasses.asdict(resolved), text)
    return 0
