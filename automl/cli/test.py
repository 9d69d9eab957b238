"""``automl test``: a registered version against its recipe's model tests (``eval.tests``); exit 3
when one fails."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl.cli.args import Args, emit
from automl.errors import NotPromoted, UserError

if TYPE_CHECKING:
    from automl.config.schema import Recipe
    from automl.plugins.manager import Plugins
    from automl.registry.meta import BundleMeta


def _recipes(given: str | None, meta: BundleMeta, plugins: Plugins) -> tuple[Recipe, Recipe]:
    """The recipe the version was trained by (typed again from its lineage, as the training
    reference reads its data) and the recipe whose tests run: ``recipe=`` when given, else that one."""
    from omegaconf import OmegaConf

    from automl.config.compose import load_recipe, to_recipe
    from automl.config.validate import check_recipe

    lineage = check_recipe(to_recipe(OmegaConf.create(dict(meta.recipe))), plugins).recipe
    if not given:
        return lineage, lineage
    recipe = check_recipe(load_recipe(given), plugins).recipe
    if recipe.task.type != meta.task:
        raise UserError(
            f"recipe={given} is a {recipe.task.type} recipe; {meta.name}:{meta.version} is a {meta.task} model."
        )
    return lineage, recipe


def cmd_test(args: Args, sub: list[str]) -> int:
    from pathlib import Path

    from automl.loop.reference import training_table
    from automl.model.model_tests import failed, format_table, read_oof, run_model_tests
    from automl.paths import workspace_dir
    from automl.plugins.manager import get_plugins
    from automl.registry.refs import ModelRef
    from automl.registry.store import ModelStore
    from automl.train.annotations import with_annotations

    ref = args.require("model", "NAME (its production version), NAME:VERSION or NAME@ALIAS")
    given = args.get("recipe")
    workspace = workspace_dir(args.get("workspace"))
    args.finish("test")
    store = ModelStore(workspace)
    name, version = store.resolve(ModelRef.parse(ref))
    meta = store.meta(name, version)
    if not meta.recipe:
        raise UserError(f"{name}:{version} carries no recipe (saved before lineage): its training data cannot be read.")
    plugins = get_plugins()
    lineage, recipe = _recipes(given, meta, plugins)
    head: dict[str, Any] = {"model": name, "version": version}
    if not recipe.eval.tests:
        emit(
            args,
            {**head, "passed": True, "tests": [], "notes": []},
            f"no tests in eval.tests of {given or recipe.name}",
        )
        return 0
    model = store.load_model(name, version)
    table = with_annotations(training_table(meta, plugins), lineage, workspace)  # the gate's table
    notes = []
    run_id = meta.lineage.get("run_id")
    oof_file = workspace / "runs" / name / str(run_id) / "oof.parquet" if run_id else None
    oof = None
    if oof_file is not None and oof_file.is_file():
        oof = read_oof(oof_file, table.ids, list(meta.classes))
    elif any(t.type == "class_floor" for t in recipe.eval.tests):
        notes.append(f"no out-of-fold predictions of {name}:{version}'s run ({oof_file or 'no run_id in its lineage'})")
    data_root = Path(recipe.data.path) if recipe.data.path and "://" not in recipe.data.path else None
    outcomes = run_model_tests(recipe.eval.tests, model, table, oof, meta.threshold, recipe.seed, data_root)
    bad = failed(outcomes)
    summary = f"{name}:{version}: {len(outcomes) - len(bad)} of {len(outcomes)} model tests passed"
    text = "\n".join([format_table(outcomes), summary, *(f"note: {n}" for n in notes)])
    emit(args, {**head, "passed": not bad, "tests": [o.to_json() for o in outcomes], "notes": notes}, text)
    if bad:
        first = bad[0]
        raise NotPromoted(
            f"{name}:{version} failed {len(bad)} of {len(outcomes)} model tests; first: {first.name} ({first.detail})"
        )
    return 0
