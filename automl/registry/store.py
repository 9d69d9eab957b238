"""Versions and aliases of models in a workspace.

Layout: ``models/NAME/versions/N/`` (a bundle) and ``models/NAME/aliases.json``. Version numbers
are allocated under a file lock, so two runs of one recipe never take the same number.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from automl.errors import UserError
from automl.registry.bundle import read_meta, read_model, write_bundle
from automl.registry.refs import ModelRef

PRODUCTION = "production"
CANDIDATE = "candidate"


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

    def aliases(self, name: str) -> dict[str, int]:
        path = self._model_dir(name) / "aliases.json"
        return json.loads(path.read_text()) if path.exists() else {}

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

    def meta(self, name: str, version: int) -> dict[str, Any]:
        return read_meta(self._version_dir(name, version))

    def load_model(self, name: str, version: int) -> Any:
        return read_model(self._version_dir(name, version))

    # --- writing ---------------------------------------------------------------------------

    def register(self, name: str, model: Any, meta: dict[str, Any]) -> int:
        """Save a new version; returns its number."""
        with self._locked(name):
            version = max(self.versions(name), default=0) + 1
            final = self._version_dir(name, version)
            staging = final.with_name(f".{version}.partial")
            shutil.rmtree(staging, ignore_errors=True)
            write_bundle(staging, model, {**meta, "name": name, "version": version})
            os.replace(staging, final)
            return version

    def set_alias(self, name: str, alias: str, version: int | None) -> None:
        """Point ``alias`` at ``version`` (None removes it)."""
        with self._locked(name):
            aliases = self.aliases(name)
            if version is None:
                aliases.pop(alias, None)
            else:
                aliases[alias] = version
            path = self._model_dir(name) / "aliases.json"
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(aliases, indent=2, sort_keys=True))
            os.replace(tmp, path)

    def delete(self, name: str, version: int) -> None:
        if self.aliases(name).get(PRODUCTION) == version:
            raise UserError(f"model={name}:{version} is production and cannot be deleted; a better run replaces it.")
        with self._locked(name):
            shutil.rmtree(self._version_dir(name, version))
        if self.aliases(name).get(CANDIDATE) == version:
            self.set_alias(name, CANDIDATE, None)
