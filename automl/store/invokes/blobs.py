"""Image inputs, stored once per content: ``invokes/blobs/ab/<content id>``.

The key is the project's content id of the bytes (automl.data.content_id), so the blob of an image
invoke is named by the same id as the image everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from automl import durable
from automl.data.content_id import bytes_content_id
from automl.errors import UserError
from automl.store.invokes.layout import InvokePaths


def blob_path(root: Path, key: str) -> Path:
    return root / key[:2] / key


def put_blob(root: Path, data: bytes) -> str:
    """Store ``data`` unless it is already there; its key."""
    key = bytes_content_id(data)
    path = blob_path(root, key)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        durable.write_bytes(path, data)  # a reader sees the whole file or none
    return key


def read_blob(workspace: Path | str, key: str) -> bytes:
    """The bytes of an image invoke, from its ``input_blob``."""
    path = blob_path(InvokePaths(Path(workspace)).blobs, key)
    if not path.is_file():
        raise UserError(f"no invoke input {key} in {path.parent.parent}; it may have been removed by `automl gc`.")
    return path.read_bytes()


def remove_unreferenced(root: Path, keep: Iterable[str]) -> int:
    """Delete every blob (and leftover temp file) not in ``keep``; how many blobs went.

    Only the owner of the store calls this: it must not race a writer storing new blobs."""
    if not root.is_dir():
        return 0
    keep = set(keep)
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)
                removed += not path.name.startswith(durable.TEMP_PREFIX)
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed
