"""Compose a recipe with Hydra and convert it, once, to the typed :class:`Recipe`.

A recipe is a ready name (``recipes/NAME.yaml``) or a path to a YAML file anywhere. It is the
primary config; ``conf/`` is on Hydra's search path, so a recipe's defaults list can pick
``data: csv`` or ``search: quick`` and a command line can switch them (``search=quick``).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from automl.config.errors import config_error, schema_keys
from automl.config.schema import Recipe
from automl.errors import UserError, did_you_mean
from automl.paths import conf_dir, recipes_dir


def ready_recipes() -> list[str]:
    """Names of the recipes shipped in ``recipes/``."""
    return sorted(p.stem for p in recipes_dir().glob("*.yaml"))


def locate_recipe(recipe: str) -> Path:
    """The YAML file of a recipe given by ready name or by path."""
    if not recipe:
        raise UserError("recipe= is required: a ready recipe name or a path to a YAML file.")
    looks_like_path = recipe.endswith((".yaml", ".yml")) or "/" in recipe or "\\" in recipe
    if looks_like_path:
        path = Path(recipe).expanduser()
        if not path.is_file():
            raise UserError(f"recipe={recipe}: no such file.")
        return path.resolve()
    path = recipes_dir() / f"{recipe}.yaml"
    if not path.is_file():
        names = ready_recipes()
        raise UserError(
            f"recipe={recipe}: no ready recipe of that name{did_you_mean(recipe, names)}. "
            f"Ready recipes: {', '.join(names)}; or give a path to a YAML file."
        )
    return path


ROOT = "_automl_root"
DEFAULTS = "_automl_defaults"
# Maps keyed by component names the user chooses: any key under them may be set from the command
# line (``search.space.finetune.epochs=3``) without Hydra's ``+``; the component's own config
# checks the keys and values when the recipe is checked.
OPEN_MAPS = (
    "search.space",
    "search.backbone_options",
    "search.augmenter_options",
    "data.options",
    "deploy.export_options",
)


def open_map_overrides(overrides: list[str] | tuple[str, ...]) -> list[str]:
    """``KEY=VALUE`` under an open map becomes ``++KEY=VALUE`` (set, adding the key if new)."""
    out = []
    for override in overrides:
        key = override.split("=", 1)[0]
        plain = not override.startswith(("+", "~")) and "=" in override
        out.append(f"++{override}" if plain and key.startswith(tuple(m + "." for m in OPEN_MAPS)) else override)
    return out


def _store_root(recipe_stem: str) -> None:
    """A primary config that puts the schema's defaults under the recipe, so every recipe key
    can be overridden as ``key=value`` (not only the keys the recipe file spells out)."""
    from hydra.core.config_store import ConfigStore

    defaults = OmegaConf.to_container(OmegaConf.structured(Recipe))
    assert isinstance(defaults, dict)
    defaults.pop("name")  # required: the recipe must give it
    store = ConfigStore.instance()
    store.store(name=DEFAULTS, node=defaults)
    store.store(name=ROOT, node={"defaults": [DEFAULTS, recipe_stem, "_self_"]})


def compose_config(recipe: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The recipe composed with Hydra and the command line's overrides, not yet checked."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException as OCError

    path = locate_recipe(recipe)
    _store_root(path.stem)
    search_path = f"hydra.searchpath=[file://{conf_dir()}]"
    try:
        with initialize_config_dir(config_dir=str(path.parent), version_base=None):
            return compose(config_name=ROOT, overrides=[*open_map_overrides(overrides), search_path])
    except (HydraException, OCError) as err:
        message = " ".join(str(err).split())
        missing = re.match(r"Could not override '([^']+)'", message)
        if missing and (conf_dir() / missing.group(1)).is_dir():
            group = missing.group(1)
            raise UserError(
                f"{group}=...: this recipe's defaults list has no '{group}' entry to switch; "
                f"use +{group}=... to add one, or set {group}.KEY=VALUE."
            ) from None
        if missing:
            key = missing.group(1)
            parent, _, leaf = key.rpartition(".")
            valid = schema_keys(Recipe, parent)
            listed = f" Valid keys{' of ' + parent if parent else ''}: {', '.join(valid)}." if valid else ""
            raise UserError(
                f"Unknown key '{key}'{did_you_mean(leaf, valid)}.{listed} (To add a new key on purpose, use +{key}=...)"
            ) from None
        raise UserError(f"Cannot compose recipe '{recipe}': {message}") from None


def to_recipe(cfg: DictConfig, cwd: Path | None = None) -> Recipe:
    """Check ``cfg`` against the schema (keys and types) and convert it to a typed Recipe.

    Relative ``data.path`` and ``workspace`` become absolute, against ``cwd``.
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Recipe), cfg)
        recipe = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        raise config_error(err, Recipe) from None
    assert isinstance(recipe, Recipe)
    base = cwd or Path.cwd()
    if recipe.data.path and "://" not in recipe.data.path:
        recipe.data.path = str((base / Path(recipe.data.path).expanduser()).resolve())
    if recipe.workspace:
        recipe.workspace = str((base / Path(recipe.workspace).expanduser()).resolve())
    return recipe


def load_recipe(recipe: str, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Compose, type-check and convert a recipe (ranges and names: ``validate.check_recipe``)."""
    return to_recipe(compose_config(recipe, overrides))


def recipe_to_yaml(recipe: Recipe) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(dataclasses.asdict(recipe)))
