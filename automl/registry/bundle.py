"""A model bundle on disk: ``bundle.json`` (format version, classes, metrics, lineage) and the
pickled model. A bundle of another format is a clear error, not a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from automl.errors import BundleFormatError, UserError
from automl.registry.meta import BundleMeta

META_FILE = "bundle.json"
MODEL_FILE = "model.joblib"


def write_bundle(folder: Path, model: Any, meta: BundleMeta) -> None:
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    # A network's float weights barely compress (8% for EfficientNet-Lite0) at 5x the write time;
    # tables' tree ensembles shrink severalfold.
    joblib.dump(model, folder / MODEL_FILE, compress=0 if meta.is_network else 3)
    (folder / META_FILE).write_text(json.dumps(meta.to_json(), indent=2, default=str))


def read_meta(folder: Path) -> BundleMeta:
    try:
        data = json.loads((folder / META_FILE).read_text())
    except FileNotFoundError:
        raise UserError(f"{folder}: not a model bundle (no {META_FILE}).") from None
    except json.JSONDecodeError as err:
        raise BundleFormatError(f"{folder / META_FILE} is damaged ({err}); re-run the recipe.") from None
    if not isinstance(data, dict):
        raise BundleFormatError(f"{folder / META_FILE} is not a JSON object; re-run the recipe.")
    return BundleMeta.from_json(data, str(folder))


def read_model(folder: Path) -> Any:
    import joblib

    meta = read_meta(folder)
    try:
        if meta.is_network:
            # Their networks unpickle timm / transformers classes, which import torchvision.
            from automl.plugins.torch_compat import ensure_torchvision_importable

            ensure_torchvision_importable()
        return joblib.load(folder / MODEL_FILE)
    except AttributeError as err:  # a class the pickle names is not where it was saved from
        raise BundleFormatError(
            f"{folder}: the model was saved by an automl or plugin version whose classes this one does not "
            f"have ({err}); install a matching version or re-run the recipe."
        ) from None
    except ModuleNotFoundError as err:
        raise UserError(
            f"{folder}: the model needs the package '{err.name}', which is not installed; install it "
            f"(e.g. the automl plugin that trained it) and try again."
        ) from None
