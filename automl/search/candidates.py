"""The configurations a search tries, in order: each trainer's defaults first, then samples.

Generated up front from the seed, so a search with a trial cap and no time budget is
reproducible whatever order Ray finishes trials in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from automl.config.space import Fixed, SearchSpace
from automl.plugins.components import FEATURES
from automl.plugins.manager import Plugins

MAX_CANDIDATES = 1000


def _default_params(space: SearchSpace, config_cls: type, rng: np.random.Generator) -> dict[str, Any]:
    """The trainer's own defaults, except where the recipe fixed a value or the default lies
    outside the recipe's range (then a sample)."""
    defaults = {f.name: f.default for f in dataclasses.fields(config_cls) if f.default is not dataclasses.MISSING}
    params: dict[str, Any] = {}
    for name in sorted(space.params):
        p = space.params[name]
        if isinstance(p, Fixed):
            params[name] = p.value
        elif name in defaults and p.contains(defaults[name]):
            continue
        else:
            params[name] = p.sample(rng)
    return params


def trainer_backbone_pairs(
    plugins: Plugins, trainers: list[str], backbones: list[str], tabular: bool = False
) -> list[tuple[str, str | None]]:
    """A table's trainers once each. For images and texts: a feature trainer on each available
    backbone (none when every backbone was skipped), a raw-input trainer once."""
    pairs: list[tuple[str, str | None]] = []
    for name in trainers:
        if tabular or plugins.trainers.get(name).inputs != FEATURES:
            pairs.append((name, None))
        else:
            pairs += [(name, b) for b in backbones]
    return pairs


def candidate_configs(
    pairs: list[tuple[str, str | None]],
    spaces: Mapping[str, SearchSpace],
    config_classes: Mapping[str, type],
    n: int,
    seed: int,
) -> list[dict[str, Any]]:
    """``n`` configs ``{"index", "trainer", "backbone", "params"}``, round-robin over the pairs."""
    rng = np.random.default_rng(seed)
    n = min(n, MAX_CANDIDATES)
    configs: list[dict[str, Any]] = []
    round_ = 0
    while len(configs) < n and pairs:
        for name, backbone in pairs:
            if len(configs) == n:
                break
            space = spaces[name]
            if round_ == 0:
                params = _default_params(space, config_classes[name], rng)
            else:
                params = space.sample(rng)
            configs.append({"index": len(configs), "trainer": name, "backbone": backbone, "params": params})
        round_ += 1
    return configs
