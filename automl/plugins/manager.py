"""Builds the registries: built-in plugins plus entry points in the group ``automl``.

Loading is lazy (first use) and happens once per process. A plugin whose import or registration
fails is reported by name and skipped; the other plugins keep working. Set
``AUTOML_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the built-ins.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pluggy

from automl.plugins import hookspecs
from automl.plugins.components import BackboneSpec, ComponentSpec, LoaderSpec, MetricSpec, TrainerSpec
from automl.plugins.markers import PROJECT
from automl.plugins.registry import Entry, Registry

ENTRY_POINT_GROUP = "automl"
DISABLE_AUTOLOAD_ENV = "AUTOML_DISABLE_PLUGIN_AUTOLOAD"

SPEC_TYPES: dict[str, type[ComponentSpec]] = {
    "loader": LoaderSpec,
    "backbone": BackboneSpec,
    "trainer": TrainerSpec,
    "metric": MetricSpec,
}


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or could not register its components."""

    plugin: str
    distribution: str
    error: str


@dataclass
class Plugins:
    """Every registry, by kind, and the plugins that failed."""

    registries: dict[str, Registry[Any]]
    failures: list[PluginFailure] = field(default_factory=list)

    @property
    def loaders(self) -> Registry[LoaderSpec]:
        return self.registries["loader"]

    @property
    def trainers(self) -> Registry[TrainerSpec]:
        return self.registries["trainer"]

    @property
    def backbones(self) -> Registry[BackboneSpec]:
        return self.registries["backbone"]

    @property
    def metrics(self) -> Registry[MetricSpec]:
        return self.registries["metric"]

    def entries(self) -> list[Entry[Any]]:
        return [e for kind in hookspecs.KIND_HOOKS for e in self.registries[kind]]


@dataclass(frozen=True)
class _Source:
    name: str
    distribution: str
    version: str


CORE_DISTRIBUTION = "automl"


def _entry_point_plugins(failures: list[PluginFailure]) -> list[tuple[object, _Source]]:
    """Every plugin of the entry-point group, the core's own built-ins first (they are loaded even
    when autoloading is disabled: the built-ins are plugins like any other, declared in the core's
    ``pyproject.toml``)."""
    autoload = os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip() in ("", "0")
    points = sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: _dist_name(ep) != CORE_DISTRIBUTION)
    found = []
    for ep in points:
        dist = _dist_name(ep)
        if not autoload and dist != CORE_DISTRIBUTION:
            continue
        version = ep.dist.version if ep.dist is not None else "unknown"
        try:
            plugin = ep.load()
        except Exception as err:  # a broken plugin must not take the CLI down
            failures.append(PluginFailure(ep.name, dist, f"{type(err).__name__}: {err}"))
            continue
        found.append((plugin, _Source(ep.name, dist, version)))
    if not any(source.distribution == CORE_DISTRIBUTION for _, source in found) and not any(
        f.distribution == CORE_DISTRIBUTION for f in failures
    ):
        failures.append(
            PluginFailure(
                "builtin",
                CORE_DISTRIBUTION,
                "its built-in components are not in the install's metadata (installed before they were "
                "entry points?); reinstall automl: pip install -e . (or bash scripts/install)",
            )
        )
    return found


def _dist_name(ep: md.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "unknown"


def build_plugins(extra: list[object] | None = None) -> Plugins:
    """Load every plugin and fill the registries (``extra``: plugin objects, e.g. from tests)."""
    failures: list[PluginFailure] = []
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    sources: dict[int, _Source] = {}
    loaded = _entry_point_plugins(failures)
    loaded += [(p, _Source(getattr(p, "__name__", repr(p)), "<test>", "0")) for p in extra or []]
    for plugin, source in loaded:
        try:
            pm.register(plugin, name=f"{source.distribution}:{source.name}")
        except (ValueError, pluggy.PluginValidationError) as err:
            failures.append(PluginFailure(source.name, source.distribution, str(err)))
            continue
        sources[id(plugin)] = source
    while True:
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as err:
            source = sources.pop(id(err.plugin), _Source(repr(err.plugin), "unknown", "unknown"))
            failures.append(PluginFailure(source.name, source.distribution, str(err)))
            pm.unregister(err.plugin)

    registries: dict[str, Registry[Any]] = {
        kind: Registry(kind, SPEC_TYPES.get(kind, ComponentSpec)) for kind in hookspecs.KIND_HOOKS
    }
    plugins = pm.get_plugins()
    for kind, hook_name in hookspecs.KIND_HOOKS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            source = sources[id(impl.plugin)]
            registry = registries[kind]

            def register(spec: ComponentSpec, _r: Registry[Any] = registry, _s: _Source = source) -> None:
                _r.add(spec, _s.distribution, _s.version)

            # one plugin's hook at a time, so each spec is credited to the distribution that made it
            call = pm.subset_hook_caller(hook_name, remove_plugins=[p for p in plugins if p is not impl.plugin])
            try:
                call(register=register)
            except Exception as err:  # reported by name, the rest keep working
                failures.append(PluginFailure(source.name, source.distribution, str(err)))
    for failure in failures:
        warnings.warn(
            f"automl plugin '{failure.plugin}' ({failure.distribution}) failed: {failure.error}",
            PluginLoadWarning,
            stacklevel=2,
        )
    return Plugins(registries, failures)


class PluginLoadWarning(UserWarning):
    """A plugin failed to load; the others are still available."""


def one_line_plugin_warnings() -> None:
    """Show a failed plugin as one ``warning:`` line on stderr, not Python's warning format
    (installed by the command line and by the server's process)."""
    import sys

    default = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, PluginLoadWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            default(message, category, *args, **kwargs)

    warnings.showwarning = show


@lru_cache(maxsize=1)
def get_plugins() -> Plugins:
    """The process-wide registries, built on first use."""
    return build_plugins()


def reset_plugins() -> None:
    """Forget the loaded plugins (tests, or after installing a plugin in-process)."""
    get_plugins.cache_clear()


__all__ = ["Plugins", "PluginFailure", "build_plugins", "get_plugins", "one_line_plugin_warnings", "reset_plugins"]
