"""The plugin system: hookspecs, typed component specs, the manager that loads plugins and the
registries it fills. Plugin authors import from :mod:`automl.plugins.api` and nothing else.

This room imports none of the runtime (an import-linter contract in ``pyproject.toml``), so every
other room can use it.
"""
