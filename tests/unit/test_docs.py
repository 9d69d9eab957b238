"""The docs stay true to the code: the recipe reference is generated, every schema key and every
hook is documented (the hook with its exact signature, as datasette's tests/test_docs.py does)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import typing
from pathlib import Path

import pytest

from automl.cli import COMMANDS
from automl.config import schema
from automl.config.reference import REGENERATE, render
from automl.config.space import DISTRIBUTIONS
from automl.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def read_doc(name: str) -> str:
    path = DOCS / name
    assert path.is_file(), f"docs/{name} is missing"
    return path.read_text()


def test_recipe_reference_is_generated_from_the_schema():
    assert read_doc("recipe-reference.md") == render(), (
        f"docs/recipe-reference.md is out of date; regenerate it with `{REGENERATE}`"
    )


def _schema_keys(cls: type, prefix: str = "") -> tuple[list[str], set[type]]:
    """Every dotted key under ``cls`` and the dataclasses reached on the way."""
    keys: list[str] = []
    reached = {cls}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        keys.append(prefix + f.name)
        tp = hints[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            sub_keys, sub_reached = _schema_keys(tp, f"{prefix}{f.name}.")
            keys += sub_keys
            reached |= sub_reached
        item = typing.get_args(tp)[0] if typing.get_origin(tp) is list and typing.get_args(tp) else None
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            sub_keys, sub_reached = _schema_keys(item, f"{prefix}{f.name}[].")
            keys += sub_keys
            reached |= sub_reached
    return keys, reached


def test_every_schema_dataclass_is_part_of_the_recipe():
    _, reached = _schema_keys(schema.Recipe)
    defined = {
        obj
        for _, obj in inspect.getmembers(schema, inspect.isclass)
        if dataclasses.is_dataclass(obj) and obj.__module__ == schema.__name__
    }
    assert defined - reached == set(), (
        "schema dataclasses not reachable from Recipe, so not in the reference: "
        f"{sorted(c.__name__ for c in defined - reached)}"
    )


@pytest.mark.parametrize("key", _schema_keys(schema.Recipe)[0])
def test_every_schema_field_is_in_the_recipe_reference(key: str):
    assert f"`{key}`" in read_doc("recipe-reference.md"), (
        f"recipe key '{key}' is not in docs/recipe-reference.md; regenerate it with `{REGENERATE}`"
    )


def test_search_space_grammar_is_documented():
    reference = read_doc("recipe-reference.md")
    for kind in DISTRIBUTIONS:
        assert f"{{{kind}: [" in reference, f"search-space form '{kind}' is not in the reference"


def hook_signatures() -> dict[str, str]:
    """``name(args) -> return`` of every hookspec, spelt as in automl/plugins/hookspecs.py."""
    tree = ast.parse(Path(hookspecs.__file__).read_text())
    signatures = {
        node.name: f"{node.name}({ast.unparse(node.args)}) -> {ast.unparse(node.returns)}"
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.returns is not None
    }
    hooks = {name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "automl_spec")}
    assert hooks, "no hookspecs found in automl.plugins.hookspecs"
    return {name: signatures[name] for name in sorted(hooks)}


@pytest.mark.parametrize("hook", sorted(hook_signatures()))
def test_every_hook_is_in_the_plugin_guide_with_its_signature(hook: str):
    signature = hook_signatures()[hook]
    assert signature in read_doc("plugin-guide.md"), f"docs/plugin-guide.md does not document the hook `{signature}`"


def test_every_hook_kind_is_named_in_the_plugin_guide():
    guide = read_doc("plugin-guide.md")
    missing = [kind for kind in hookspecs.KIND_HOOKS if f"`{kind}`" not in guide]
    assert not missing, f"docs/plugin-guide.md does not name the component kind(s) {missing}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_a_section_in_the_cli_doc(command: str):
    headings = re.findall(r"^#+ .*$", read_doc("cli.md"), flags=re.MULTILINE)
    assert any(f"`automl {command}" in h for h in headings), f"docs/cli.md has no section on `automl {command}`"


# --- the architecture page and the paths the docs name ------------------------------------------

PAGES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md", ROOT / "bench" / "README.md"]


def _module_rows() -> list[str]:
    text = read_doc("architecture.md")
    table = text[text.index("## Modules") :]
    table = table[: table.index("\n## ", 1)]
    return [line for line in table.splitlines() if line.startswith("| `automl/")]


def test_every_core_module_has_a_row_in_the_architecture_page():
    """A module added, moved or renamed without its row in docs/architecture.md fails here."""
    rows = _module_rows()
    missing = []
    for path in sorted((ROOT / "automl").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if path.name == "__init__.py" and rel not in ("automl/__init__.py", "automl/cli/__init__.py"):
            continue
        folder = rel.rsplit("/", 1)[0] + "/"
        named = any(f"`{rel}`" in row for row in rows) or any(
            row.startswith(f"| `{folder}") and f"`{path.name}`" in row.split("|")[1] + row.split("|")[2] for row in rows
        )
        listed_folder = any(row.startswith(f"| `{folder}` |") for row in rows)
        if not named and not (listed_folder and f"`{path.name}`" in " ".join(rows)):
            missing.append(rel)
    assert not missing, f"docs/architecture.md's module table does not name: {missing}"


def test_every_path_the_docs_name_exists():
    missing = []
    for page in PAGES:
        for found in re.findall(
            r"`((?:automl|plugins|tests|bench|docs|conf|recipes|scripts)/[\w./-]*)`", page.read_text()
        ):
            if any(ch in found for ch in "*{}") or found.endswith("/...") or re.search(r"\b[A-Z]{3,}\b", found):
                continue  # a pattern or a placeholder (recipes/NAME.yaml)
            where = (ROOT, ROOT / "tests" / "fixtures" / "automl-example-plugin")  # the guide's example plugin
            if not any((base / found.rstrip("/")).exists() for base in where):
                missing.append(f"{page.relative_to(ROOT)}: {found}")
    assert not missing, "the docs name paths that do not exist:\n" + "\n".join(missing)


def test_every_automl_module_the_docs_name_imports():
    """Dotted names such as `automl.serve.pipeline` or `automl.plugins.manager.get_plugins`."""
    import importlib
    import importlib.util

    def is_module(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except (ModuleNotFoundError, ValueError):  # a parent that is a module, not a package
            return False

    missing = []
    for page in PAGES:
        for dotted in set(re.findall(r"`(automl(?:\.\w+)+)", page.read_text())):
            if dotted.startswith(("automl._conf", "automl._recipes")):
                continue  # conf/ and recipes/ as an installed wheel names them (see architecture.md)
            parts = dotted.split(".")
            module = next(
                (".".join(parts[:n]) for n in range(len(parts), 0, -1) if is_module(".".join(parts[:n]))), None
            )
            obj = importlib.import_module(module) if module else None
            for attr in parts[len(module.split(".")) :] if module else []:
                obj = getattr(obj, attr, None)
            if module is None or obj is None:
                missing.append(f"{page.relative_to(ROOT)}: {dotted}")
    assert not missing, "the docs name modules or attributes that do not exist:\n" + "\n".join(missing)
