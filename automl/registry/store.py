"""Versions, aliases and the rollout state of models in a workspace.

Layout: ``models/NAME/versions/N/`` (a bundle), ``models/NAME/rollout.json`` (production, the
candidate with its canary share or shadow mode, the history of production changes) and
``models/NAME/aliases.json`` (``production`` and ``candidate`` mirrored from the rollout state,
plus any other alias). A workspace without ``rollout.json`` is read from ``aliases.json`` alone.
Version numbers are allocated, and the two files written, under a file lock; each file is
replaced atomically, so a reader never sees half of one.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from automl import durable
from automl.errors import UserError
from automl.registry.bundle import read_meta, read_model, write_bundle
from automl.registry.meta import BUNDLE_FORMAT, BundleMeta
from automl.registry.refs import ModelRef
from automl.registry.rollout import RolloutState, Transition

PRODUCTION = "production"
CANDIDATE = "candidate"
ALIASES_FILE = "aliases.json"
ROLLOUT_FILE = "rollout.json"


def _write_json(path: Path, data: Any, sort_keys: bool = True) -> None:
    """Write ``path`` whole or not at all, and durably (``automl.durable``)."""
    durable.write_text(path, json.dumps(data, indent=2, sort_keys=sort_keys) + "\n")


class ModelStore:
    def __init__(self, workspace: Path) -> None:
        self.root = workspace / "models"

    def _model_dir(self, name: str) -> Path:
        return self.root / name

    def _version_dir(self, name: str, version: int) -> Path:
        return self._model_dir(name) / "versions" / str(version)

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        folder = self._model_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # --- reading ---------------------------------------------------------------------------

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "versions").is_dir())

    def versions(self, name: str) -> list[int]:
        folder = self._model_dir(name) / "versions"
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and (p / "bundle.json").exists())

    def _aliases_file(self, name: str) -> dict[str, int]:
        path = self._model_dir(name) / ALIASES_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def aliases(self, name: str) -> dict[str, int]:
        """Alias -> version: ``production`` and ``candidate`` from the rollout state, others as saved."""
        return self._aliases_with(name, self.rollout(name))

    def _aliases_with(self, name: str, state: RolloutState) -> dict[str, int]:
        aliases = {a: v for a, v in self._aliases_file(name).items() if a not in (PRODUCTION, CANDIDATE)}
        if state.production is not None:
            aliases[PRODUCTION] = state.production
        if state.candidate is not None:
            aliases[CANDIDATE] = state.candidate
        return aliases

    def rollout(self, name: str) -> RolloutState:
        """The model's rollout state (what the server routes by); see ``automl.registry.rollout``."""
        path = self._model_dir(name) / ROLLOUT_FILE
        try:
            text = path.read_text()
        except FileNotFoundError:
            return RolloutState.from_aliases(name, self._aliases_file(name))
        try:
            return RolloutState.from_json(name, json.loads(text))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise UserError(
                f"{path} is damaged ({err}); fix it, or delete it to fall back to {ALIASES_FILE} "
                f"(production and candidate are kept, the history of production changes is lost)."
            ) from None

    def resolve(self, ref: ModelRef | str) -> tuple[str, int]:
        """The (name, version) a reference means; errors say what exists."""
        ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
        versions = self.versions(ref.name)
        if not versions:
            known = ", ".join(self.names()) or "none yet"
            raise UserError(f"model={ref}: no model named '{ref.name}' in {self.root.parent}. Models: {known}.")
        aliases = self.aliases(ref.name)
        if ref.version is not None:
            if ref.version not in versions:
                raise UserError(f"model={ref}: no version {ref.version}. Versions: {', '.join(map(str, versions))}.")
            return ref.name, ref.version
        alias = ref.alias or PRODUCTION
        if alias in aliases:
            return ref.name, aliases[alias]
        if ref.alias is None and len(versions) == 1:
            return ref.name, versions[0]
        raise UserError(
            f"model={ref}: no version is '{alias}'. Aliases: "
            f"{', '.join(f'{a}={v}' for a, v in aliases.items()) or 'none'}; give NAME:VERSION instead."
        )

    def meta(self, name: str, version: int) -> BundleMeta:
        return read_meta(self._version_dir(name, version))

    def load_model(self, name: str, version: int) -> Any:
        return read_model(self._version_dir(name, version))

    # --- writing ---------------------------------------------------------------------------

    def register(
        self, name: str, model: Any, meta: BundleMeta | Mapping[str, Any], attachments: dict[str, Path] | None = None
    ) -> int:
        """Save a new version; returns its number. ``attachments`` (sub-folder name -> folder, e.g.
        an exported model) are copied into the version before it appears. ``meta`` given as a
        mapping is read as bundle metadata of the current format."""
        if not isinstance(meta, BundleMeta):
            meta = BundleMeta.from_json({"format": BUNDLE_FORMAT, **meta}, f"metadata of {name}")
        with self._locked(name):
            version = max(self.versions(name), default=0) + 1
            final = self._version_dir(name, version)
            staging = final.with_name(f".{version}.partial")
            shutil.rmtree(staging, ignore_errors=True)
            write_bundle(staging, model, dataclasses.replace(meta, name=name, version=version))
            for sub, folder in (attachments or {}).items():
                shutil.copytree(folder, staging / sub)
            os.replace(staging, final)
            return version

    def version_dir(self, name: str, version: int) -> Path:
        """The folder of a registered version (its bundle and attachments)."""
        return self._version_dir(name, version)

    def _write_rollout(self, name: str, state: RolloutState) -> None:
        """Call under ``_locked(name)``. ``rollout.json`` is the truth; ``aliases.json`` mirrors its
        production and candidate for readers that know only aliases (an older automl)."""
        folder = self._model_dir(name)
        _write_json(folder / ROLLOUT_FILE, state.to_json(), sort_keys=False)
        _write_json(folder / ALIASES_FILE, self._aliases_with(name, state))

    def update_rollout(self, name: str, change: Callable[[RolloutState], RolloutState]) -> Transition:
        """Apply ``change`` to the model's rollout state under its lock; returns (before, after).
        An error raised by ``change`` leaves the files as they were."""
        with self._locked(name):
            before = self.rollout(name)
            after = change(before)
            if after != before:
                self._write_rollout(name, after)
            return Transition(before, after)

    def set_alias(self, name: str, alias: str, version: int | None) -> None:
        """Point ``alias`` at ``version`` (None removes it). ``production`` and ``candidate`` are
        part of the rollout state: use ``update_rollout`` for them."""
        if alias in (PRODUCTION, CANDIDATE):
            raise ValueError(f"the '{alias}' alias is part of the rollout state; use update_rollout")
        with self._locked(name):
            aliases = self._aliases_file(name)
            if version is None:
                aliases.pop(alias, None)
            else:
                aliases[alias] = version
            _write_json(self._model_dir(name) / ALIASES_FILE, aliases)

    def delete(self, name: str, version: int) -> None:
        """Delete a version; production, a canary and a shadow are refused, an idle candidate
        loses its alias."""
        with self._locked(name):
            state = self.rollout(name)
            ref = f"model={name}:{version}"
            if version == state.production:
                raise UserError(f"{ref} is production; promote another version before deleting it.")
            if version == state.canary:
                raise UserError(
                    f"{ref} answers {state.percent}% of traffic as a canary; end the canary first "
                    f"(automl models abort model={name}), then delete it."
                )
            if version == state.shadow:
                raise UserError(
                    f"{ref} runs in shadow; end the shadow first (automl models abort model={name}), then delete it."
                )
            shutil.rmtree(self._version_dir(name, version))
            after = state.without(version)
            if after != state:
                self._write_rollout(name, after)
