"""Where the shipped config groups and recipes live, and where the workspace is."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

WORKSPACE_ENV = "AUTOML_WORKSPACE"
DEFAULT_WORKSPACE = ".automl"


def _shipped(package: str, folder: str) -> Path:
    """A folder of YAML files: inside an installed wheel it is ``package``; in a source checkout
    (also an editable install) it is ``folder`` at the top of the repository."""
    checkout = Path(__file__).resolve().parents[1] / folder
    if checkout.is_dir():
        return checkout
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError:
        raise RuntimeError(f"automl is installed without its {folder}/ folder; reinstall it") from None


def conf_dir() -> Path:
    """The Hydra config groups (``conf/`` of the repository, shipped as ``automl._conf``)."""
    return _shipped("automl._conf", "conf")


def recipes_dir() -> Path:
    """The ready recipes (``recipes/`` of the repository, shipped as ``automl._recipes``)."""
    return _shipped("automl._recipes", "recipes")


def workspace_dir(given: str | os.PathLike[str] | None = None) -> Path:
    """``workspace=`` if given, else ``$AUTOML_WORKSPACE``, else ``./.automl``; made absolute."""
    chosen = given or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE
    return Path(chosen).expanduser().resolve()
