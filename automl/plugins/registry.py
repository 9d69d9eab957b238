"""Typed registries: one per kind, filled by the registration hooks, checked on the way in."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from automl.errors import UserError, unknown_name
from automl.plugins.components import ComponentSpec

S = TypeVar("S", bound=ComponentSpec)


class PluginError(Exception):
    """A plugin registered something malformed; reported by the plugin's name."""


@dataclass(frozen=True)
class Entry(Generic[S]):
    """A registered component and the distribution that brought it."""

    kind: str
    spec: S
    distribution: str
    version: str


class Registry(Generic[S]):
    """Components of one kind by name."""

    def __init__(self, kind: str, spec_type: type[S]) -> None:
        self.kind = kind
        self.spec_type = spec_type
        self._entries: dict[str, Entry[S]] = {}

    def add(self, spec: S, distribution: str, version: str) -> None:
        """Check ``spec`` and add it; a name registered twice is an error naming both sources."""
        if not isinstance(spec, self.spec_type):
            raise PluginError(
                f"{distribution} registered a {type(spec).__name__} as a {self.kind}; "
                f"expected a {self.spec_type.__name__}"
            )
        if not spec.name or not spec.name.replace("_", "").replace("-", "").isalnum():
            raise PluginError(f"{distribution} registered a {self.kind} with a bad name {spec.name!r}")
        if not dataclasses.is_dataclass(spec.config_cls):
            raise PluginError(f"{self.kind} '{spec.name}' from {distribution}: config_cls must be a dataclass")
        known = {f.name for f in dataclasses.fields(spec.config_cls)}
        unknown = sorted(set(getattr(spec, "default_space", {})) - known)
        if unknown:
            raise PluginError(
                f"{self.kind} '{spec.name}' from {distribution}: default_space names "
                f"{', '.join(unknown)}, which {spec.config_cls.__name__} does not have"
            )
        if spec.name in self._entries:
            first = self._entries[spec.name].distribution
            raise PluginError(f"{self.kind} '{spec.name}' is registered twice: by {first} and by {distribution}")
        self._entries[spec.name] = Entry(self.kind, spec, distribution, version)

    def get(self, name: str) -> S:
        """The spec registered as ``name`` (or ``FAMILY:MEMBER`` of a spec with a ``variant``), or a
        one-line error listing the registered names."""
        return self.entry(name).spec

    def entry(self, name: str) -> Entry[S]:
        found = self._entries.get(name)
        if found is not None:
            return found
        family, _, member = name.partition(":")
        base = self._entries.get(family)
        variant = getattr(base.spec, "variant", None) if base is not None else None
        if base is None or variant is None or not member:
            raise unknown_name(self.kind.replace("_", " "), name, self._entries)
        try:
            spec = variant(member)
        except ValueError as err:
            raise UserError(f"{self.kind.replace('_', ' ')} '{name}': {err}") from None
        return Entry(self.kind, spec, base.distribution, base.version)

    def in_registration_order(self) -> list[Entry[S]]:
        """Built-ins first, then plugins in the order they loaded; each in the order it registered."""
        return list(self._entries.values())

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[S]]:
        return iter(sorted(self._entries.values(), key=lambda e: e.spec.name))

    def __len__(self) -> int:
        return len(self._entries)


def require(registry: Registry[S], name: str, key: str) -> S:
    """Look ``name`` up for recipe key ``key``; the error names the key."""
    try:
        return registry.get(name)
    except UserError as err:
        raise UserError(f"{key}: {err}") from None
