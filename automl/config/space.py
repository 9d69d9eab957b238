"""Search spaces in the recipe grammar, typed, and sampled with a seeded generator.

A hyperparameter is a fixed value or one of ``{uniform: [lo, hi]}``, ``{loguniform: [lo, hi]}``,
``{int: [lo, hi]}`` (inclusive) or ``{choice: [...]}``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.errors import UserError, did_you_mean

DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")


@dataclass(frozen=True)
class Fixed:
    value: Any

    def contains(self, value: Any) -> bool:
        return value == self.value

    def sample(self, rng: np.random.Generator) -> Any:
        return self.value


@dataclass(frozen=True)
class Uniform:
    lo: float
    hi: float

    def contains(self, value: Any) -> bool:
        return isinstance(value, int | float) and self.lo <= value <= self.hi

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.lo, self.hi))


@dataclass(frozen=True)
class LogUniform:
    lo: float
    hi: float

    def contains(self, value: Any) -> bool:
        return isinstance(value, int | float) and self.lo <= value <= self.hi

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.lo), math.log(self.hi))))


@dataclass(frozen=True)
class IntRange:
    lo: int
    hi: int

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and self.lo <= value <= self.hi

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.lo, self.hi + 1))


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]

    def contains(self, value: Any) -> bool:
        return value in self.options

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]


Param = Fixed | Uniform | LogUniform | IntRange | Choice


def _bounds(key: str, kind: str, raw: Any) -> tuple[float, float]:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise UserError(f"{key}: {{{kind}: [lo, hi]}} needs a list of two numbers. Got {raw!r}.")
    lo, hi = raw
    if isinstance(lo, bool) or isinstance(hi, bool) or not all(isinstance(v, int | float) for v in raw):
        raise UserError(f"{key}: {{{kind}: [lo, hi]}} needs numbers. Got {raw!r}.")
    if lo > hi:
        raise UserError(f"{key}: lo must be <= hi in {{{kind}: [lo, hi]}}. Got {raw!r}.")
    if kind == "loguniform" and lo <= 0:
        raise UserError(f"{key}: loguniform bounds must be > 0. Got {raw!r}.")
    if kind == "int" and not (float(lo).is_integer() and float(hi).is_integer()):
        raise UserError(f"{key}: int bounds must be whole numbers. Got {raw!r}.")
    return lo, hi


def parse_param(key: str, spec: Any) -> Param:
    """One hyperparameter from the recipe grammar; ``key`` names it in errors."""
    if not isinstance(spec, Mapping):
        return Fixed(spec)
    if len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
        given = ", ".join(map(str, spec)) or "nothing"
        hint = did_you_mean(str(next(iter(spec), "")), DISTRIBUTIONS)
        raise UserError(f"{key}: a search spec is one of {', '.join(DISTRIBUTIONS)}; got {given}{hint}.")
    kind, raw = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(raw, list | tuple) or not raw:
            raise UserError(f"{key}: {{choice: [...]}} needs a non-empty list. Got {raw!r}.")
        return Choice(tuple(raw))
    lo, hi = _bounds(key, kind, raw)
    if kind == "int":
        return IntRange(int(lo), int(hi))
    return (Uniform if kind == "uniform" else LogUniform)(float(lo), float(hi))


@dataclass(frozen=True)
class SearchSpace:
    """A component's hyperparameters: each fixed or sampled."""

    params: Mapping[str, Param]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {name: self.params[name].sample(rng) for name in sorted(self.params)}

    def candidate_values(self, name: str) -> list[Any]:
        """Values that stand for ``name`` when checking types: bounds, options or the value."""
        p = self.params[name]
        if isinstance(p, Fixed):
            return [p.value]
        if isinstance(p, Choice):
            return list(p.options)
        return [p.lo, p.hi]


def build_space(key: str, config_cls: type, default_space: Mapping[str, Any], given: Mapping[str, Any]) -> SearchSpace:
    """The component's default space overlaid with the recipe's; unknown names are errors."""
    fields = [f.name for f in dataclasses.fields(config_cls)]
    for name in given:
        if name not in fields:
            raise UserError(
                f"Unknown hyperparameter '{key}.{name}'{did_you_mean(str(name), fields)}. "
                f"It has: {', '.join(fields) or 'no hyperparameters'}."
            )
    merged = {**default_space, **given}
    return SearchSpace({name: parse_param(f"{key}.{name}", spec) for name, spec in merged.items()})
