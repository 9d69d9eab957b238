"""Generate ``docs/recipe-reference.md`` from the schema dataclasses and the shipped ``conf/``.

    python -m automl.config.reference > docs/recipe-reference.md

Every key of :class:`~automl.config.schema.Recipe` is printed with its dotted name, type, default
and the ``help`` metadata of its field; then the search-space grammar, the ``conf/`` groups (read
from :func:`automl.paths.conf_dir` when this runs) and the built-in components' options.
``tests/unit/test_docs.py`` fails when the file and this output differ.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import MISSING, OmegaConf

from automl.config.schema import Recipe
from automl.paths import conf_dir
from automl.plugins.manager import CORE_DISTRIBUTION
from automl.plugins.registry import Registry

REGENERATE = "python -m automl.config.reference > docs/recipe-reference.md"

INTRO = f"""\
# Recipe reference

<!-- Generated from automl/config/schema.py and conf/ by `{REGENERATE}`. Do not edit. -->

A recipe is a YAML file: a ready one in `recipes/` (named by its file name, e.g.
`recipe=penguins`) or a path to any YAML file (`recipe=path/to/mine.yaml`). Its `defaults` list
picks entries of the `conf/` groups listed below, and its own keys override them. Every key in
this page can also be set on the command line as `key=value` (`eval.cv_folds=3`,
`'search.trainers=[logistic_regression,random_forest]'`), and a group entry is switched with
`group=option` (`search=quick`). Keys not listed here are errors, as are values of the wrong
type, out-of-range values and unregistered component names. `automl show recipe=NAME` prints
the recipe as composed and checked, with every key.
"""

GRAMMAR = """\
## Search-space grammar

`search.space` maps a trainer's name to its hyperparameters; each hyperparameter (a field of the
trainer's config dataclass) is given in one of these forms:

| Form | Meaning |
|---|---|
| `value` | A fixed value: every trial uses it. |
| `{uniform: [lo, hi]}` | A float drawn uniformly from `lo` to `hi`. |
| `{loguniform: [lo, hi]}` | A float drawn uniformly on a log scale; `lo` must be > 0. |
| `{int: [lo, hi]}` | A whole number from `lo` to `hi`, both included. |
| `{choice: [a, b, ...]}` | One of the listed values (any type, `null` included). |

What a recipe gives is laid over the trainer's default space (listed under Built-in components
for the shipped trainers; `automl plugins` names every registered trainer). A hyperparameter the
trainer's config does not have is an error that lists the ones it has; each bound and option is
type-checked against the config. A search space for a trainer that is not in `search.trainers`
is an error.

```yaml
search:
  trainers: [logistic_regression, hist_gradient_boosting]
  space:
    logistic_regression:
      C: {loguniform: [1.0e-3, 10.0]}
      class_weight: balanced
    hist_gradient_boosting:
      max_leaf_nodes: {int: [8, 64]}
      class_weight: {choice: [null, balanced]}
```

The first trial of each trainer uses the trainer's own defaults (a default outside the given
range is sampled instead); later trials sample the space with a generator seeded by `seed`.
"""

CONF_INTRO = """\
## Config groups (`conf/`)

A recipe's `defaults` list picks one option per group (`- search: default`); the command line
switches it (`search=quick`), or adds a group the list does not name (`+search=quick`). An option
sets the keys under its group's section. Keys the recipe file sets itself win over the group's
(the shipped recipes end their defaults list with `_self_`), and `key=value` overrides win over
both.
"""


def type_name(tp: Any) -> str:
    """A type annotation as the reference prints it: ``str or null``, ``list[str]``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:
        names = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin in (list, tuple):
        return f"list[{', '.join(type_name(a) for a in args if a is not Ellipsis)}]"
    if origin is dict:
        return f"dict[{', '.join(type_name(a) for a in args)}]"
    if tp is Any:
        return "any"
    return getattr(tp, "__name__", str(tp))


def yaml_value(value: Any) -> str:
    """A value in YAML flow style: ``null``, ``true``, ``[a, b]``, ``{k: v}``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str) and _needs_quotes(value):
        return json.dumps(value)
    return str(value)


def _needs_quotes(text: str) -> bool:
    """Whether a string would not read back as the same string in YAML flow style."""
    if text == "" or text.strip() != text or text[0] in "[]{},#&*!|>'\"%@`?:-~":
        return True
    if text.lower() in ("null", "true", "false", "yes", "no", "on", "off"):
        return True
    looks_numeric = re.fullmatch(r"[-+]?(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?", text)
    return bool(looks_numeric) or ": " in text or " #" in text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    return _cell(f"`{yaml_value(value)}`")


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return "required" if f.default == MISSING else _code(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return _code(f.default_factory())
    return "required"


def _section_type(tp: Any) -> type | None:
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def _item_type(tp: Any) -> type | None:
    """The dataclass of a list's items (``eval.tests``), documented as a section of its own."""
    args = typing.get_args(tp)
    return _section_type(args[0]) if typing.get_origin(tp) is list and args else None


def schema_sections(cls: type = Recipe, prefix: str = "") -> Iterator[tuple[str, type, list[str]]]:
    """``(section, dataclass, leaf field names)`` for ``cls`` and every nested section, in order
    (a list of dataclasses is a leaf, and its items a section ``key[].``)."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    yield prefix, cls, [f.name for f in fields if _section_type(hints[f.name]) is None]
    for f in fields:
        nested = _section_type(hints[f.name])
        if nested is not None:
            yield from schema_sections(nested, f"{prefix}{f.name}.")
        item = _item_type(hints[f.name])
        if item is not None:
            yield from schema_sections(item, f"{prefix}{f.name}[].")


def _schema_table(cls: type, prefix: str, names: list[str]) -> list[str]:
    hints = typing.get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for name in names:
        f = by_name[name]
        help_text = f.metadata.get("help")
        if not help_text:
            raise ValueError(f"{cls.__name__}.{name} has no help metadata; the reference needs one")
        kind = _cell(type_name(hints[name]))
        lines.append(f"| `{prefix}{name}` | {kind} | {_default(f)} | {_cell(help_text)} |")
    return lines


def recipe_keys() -> list[str]:
    out = ["## Recipe keys", ""]
    for prefix, cls, names in schema_sections():
        title = "Top level" if not prefix else f"`{prefix.rstrip('.')}`"
        out += [f"### {title}", "", *_schema_table(cls, prefix, names), ""]
    return out


def _leading_comment(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def conf_groups(root: Path | None = None) -> list[str]:
    root = root or conf_dir()
    out = [CONF_INTRO]
    for group in sorted(p for p in root.iterdir() if p.is_dir()):
        out += [f"### `{group.name}`", "", "| Option | Sets | Description |", "|---|---|---|"]
        for path in sorted(group.glob("*.yaml")):
            values = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
            assert isinstance(values, dict)
            keys = [f"`{group.name}.{k!s}: {yaml_value(v)}`" for k, v in values.items()]
            sets = "<br>".join(_cell(k) for k in keys)
            out.append(f"| `{group.name}={path.stem}` | {sets} | {_cell(_leading_comment(path))} |")
        out.append("")
    return out


def _core_specs(registry: Registry[Any]) -> list[Any]:
    """The specs the core distribution registered, in registration order."""
    return [e.spec for e in registry.in_registration_order() if e.distribution == CORE_DISTRIBUTION]


def _options_table(config_cls: type, space: dict[str, Any] | None = None) -> list[str]:
    hints = typing.get_type_hints(config_cls)
    fields = dataclasses.fields(config_cls)
    if not fields:
        return ["No options.", ""]
    head = ["| Option | Type | Default |", "|---|---|---|"]
    if space is not None:
        head = ["| Hyperparameter | Type | Default | Default search space |", "|---|---|---|---|"]
    rows = []
    for f in fields:
        row = f"| `{f.name}` | {_cell(type_name(hints[f.name]))} | {_default(f)} |"
        if space is not None:
            row += f" {_code(space[f.name]) if f.name in space else 'not searched'} |"
        rows.append(row)
    return [*head, *rows, ""]


def builtin_components() -> list[str]:
    """Options of the components that ship with automl (plugins' are not listed here)."""
    from automl.plugins.manager import get_plugins

    plugins = get_plugins()
    out = [
        "## Built-in components",
        "",
        "The components that ship with automl. Plugins add more: `automl plugins` lists every",
        "registered component, and a plugin's own documentation gives its options.",
        "",
        "### Loaders (`data.loader`, options in `data.options`)",
        "",
    ]
    for spec in _core_specs(plugins.loaders):
        path = "Needs `data.path`." if spec.needs_path else "`data.path` is optional."
        out += [f"#### `{spec.name}`", "", f"{spec.description} {path}", ""]
        out += _options_table(spec.config_cls)
    out += ["### Trainers (`search.trainers`, hyperparameters in `search.space.NAME`)", ""]
    for spec in _core_specs(plugins.trainers):
        out += [f"#### `{spec.name}`", "", spec.description, ""]
        out += _options_table(spec.config_cls, dict(spec.default_space))
    out += [
        "### Metrics (`eval.metric`)",
        "",
        "| Metric | Better | Threshold tuning | Description |",
        "|---|---|---|---|",
    ]
    for spec in _core_specs(plugins.metrics):
        better = "higher" if spec.greater_is_better else "lower"
        tuned = "yes (binary tasks)" if spec.uses_labels else "no"
        out.append(f"| `{spec.name}` | {better} | {tuned} | {_cell(spec.description)} |")
    out.append("")
    return out


def render(conf_root: Path | None = None) -> str:
    """The whole reference, as Markdown."""
    parts: list[Callable[[], list[str]]] = [
        lambda: [INTRO],
        recipe_keys,
        lambda: [GRAMMAR],
        lambda: conf_groups(conf_root),
        builtin_components,
    ]
    text = "\n".join(line for part in parts for line in part())
    return text.rstrip("\n") + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
