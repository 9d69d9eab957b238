"""The only files the pages serve: an image inside a folder a page may read (a project's pool, a
recipe's data folder), or an image invoke's input from the invoke log's blobs. A path that
resolves outside its folder, a name that is not a blob key, or a file that is not an image is
refused (404)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, JSONResponse, Response

from automl.data.images import is_image_file
from automl.store.invokes import InvokePaths
from automl.store.invokes.blobs import blob_path

_BLOB = re.compile(r"^[0-9a-f]{32}$")


def image_inside(root: Path | None, value: Any) -> Path | None:
    """The image file ``value`` names, only when it resolves inside ``root``."""
    if root is None or not isinstance(value, str):
        return None
    path = Path(value).resolve()
    if not path.is_relative_to(root.resolve()) or not is_image_file(path):
        return None
    return path


def blob_file(workspace: Path, key: Any) -> Path | None:
    """The stored input of an image invoke, by its blob key."""
    if not isinstance(key, str) or not _BLOB.match(key):
        return None
    return blob_path(InvokePaths(workspace).blobs, key)


def image_response(path: Path | None) -> Response:
    if path is None or not path.is_file():
        return JSONResponse({"error": "no image for this item (or its file lies outside its folder)"}, status_code=404)
    return FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})
