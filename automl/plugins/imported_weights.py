"""``automl weights``: pretrained weights for backbones on machines that cannot reach the hub.

``import`` copies a weights file carried over by hand into ``<workspace>/weights/NAME/`` (named by
its SHA-256); a run then gives that file to the backbone whenever the recipe names no weights of
its own (a backbone whose config has a ``weights`` option). ``fetch`` loads the backbone once on a
machine that is online, so its library (timm, transformers) fills its own download cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path
from typing import Any

from automl.errors import UserError
from automl.plugins.components import BackboneSpec, WeightsUnavailable
from automl.plugins.manager import Plugins


def _folder(workspace: Path, backbone: str) -> Path:
    return workspace / "weights" / backbone


def imported_weights(workspace: Path, backbone: str) -> Path | None:
    """The most recently imported weights file of a backbone, if any."""
    files = sorted(_folder(workspace, backbone).glob("*"), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


def with_imported_weights(config: Any, workspace: Path, backbone: str) -> Any:
    """``config`` with ``weights`` set to the imported file, when the recipe set none."""
    if (
        not dataclasses.is_dataclass(config)
        or isinstance(config, type)
        or not hasattr(config, "weights")
        or config.weights
    ):
        return config
    found = imported_weights(workspace, backbone)
    return dataclasses.replace(config, weights=str(found)) if found else config


def _backbone(plugins: Plugins, name: str) -> BackboneSpec:
    from automl.plugins.registry import require

    return require(plugins.backbones, name, "backbone")


def import_weights(plugins: Plugins, workspace: Path, name: str, path: str) -> dict[str, Any]:
    spec = _backbone(plugins, name)
    source = Path(path).expanduser()
    if not source.is_file():
        raise UserError(f"path={path}: no such file.")
    if "weights" not in spec.option_names():
        raise UserError(f"backbone={name} takes no weights file (its options: {', '.join(spec.option_names())}).")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    target = _folder(workspace, name) / f"{digest[:16]}{source.suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    assert spec.load is not None
    try:  # prove the file fits the backbone before anyone relies on it
        spec.load(dataclasses.replace(spec.default_config(), weights=str(target)))
    except (WeightsUnavailable, RuntimeError, ValueError, KeyError) as err:
        target.unlink()
        raise UserError(f"path={path} does not load as {name} weights: {str(err).splitlines()[0]}") from None
    return {"backbone": name, "weights": str(target), "sha256": digest}


def fetch_weights(plugins: Plugins, name: str) -> dict[str, Any]:
    spec = _backbone(plugins, name)
    assert spec.load is not None
    try:
        embedder = spec.load(spec.default_config())
    except WeightsUnavailable as err:
        raise UserError(f"backbone={name}: {err}") from None
    return {"backbone": name, "identity": embedder.identity}
