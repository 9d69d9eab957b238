"""Built-in image and text loaders. They give the frame ``input`` / ``label`` plus content ids,
and report unreadable images and empty texts as bad rows with their path or row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl.data.content_id import bytes_content_id
from automl.data.files import read_table
from automl.data.images import UnreadableImage, is_image_file, open_rgb
from automl.errors import UserError, did_you_mean
from automl.plugins.components import LoaderSpec, LoadRequest, LoadResult
from automl.plugins.markers import hookimpl


@dataclass
class ImageFolderOptions:
    pass


@dataclass
class TableOptions:
    pass


def _column(frame: Any, name: str, key: str) -> Any:
    columns = [str(c) for c in frame.columns]
    if name not in columns:
        raise UserError(
            f"{key}: no column '{name}' in the data{did_you_mean(name, columns)}. Columns: {', '.join(columns)}."
        )
    return frame[name]


def _images(pairs: list[tuple[Path, Any]]) -> LoadResult:
    """Read each (image path, label): content id from the bytes; undecodable images are bad rows."""
    import pandas as pd

    inputs, labels, sources, ids, bad = [], [], [], [], []
    for path, label in pairs:
        try:
            data = path.read_bytes()
            open_rgb(path)
        except (OSError, UnreadableImage) as err:
            bad.append((str(path), f"unreadable image: {err}"))
            continue
        inputs.append(str(path))
        labels.append(label)
        sources.append(str(path))
        ids.append(bytes_content_id(data))
    return LoadResult(pd.DataFrame({"input": inputs, "label": labels}), sources, bad, ids)


def load_image_folder(request: LoadRequest) -> LoadResult:
    root = Path(str(request.path))
    if not root.is_dir():
        raise UserError(f"data.path: {root} is not a folder (image_folder wants one sub-folder per label).")
    pairs = [
        (file, folder.name)
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for file in sorted(folder.rglob("*"))
        if is_image_file(file)
    ]
    if not pairs:
        raise UserError(f"data.path: no images in sub-folders of {root}; put each label's images in its own folder.")
    return _images(pairs)


def load_image_table(request: LoadRequest) -> LoadResult:
    path = Path(str(request.path))
    frame = read_table(path, "data.path")
    paths = _column(frame, request.image_column or "image", "data.image_column")
    labels = _column(frame, str(request.target), "data.target")
    pairs = [
        (Path(str(p)) if Path(str(p)).is_absolute() else path.parent / str(p), lab)
        for p, lab in zip(paths, labels, strict=True)
    ]
    return _images(pairs)


def load_text_table(request: LoadRequest) -> LoadResult:
    import pandas as pd

    path = Path(str(request.path))
    frame = read_table(path, "data.path")
    texts = _column(frame, request.text_column or "text", "data.text_column")
    labels = _column(frame, str(request.target), "data.target")
    keep, bad = [], []
    for row, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            bad.append((f"row {row}", "empty text"))
        else:
            keep.append(row)
    kept = pd.DataFrame({"input": texts.iloc[keep].to_numpy(), "label": labels.iloc[keep].to_numpy()})
    ids = [bytes_content_id(t.encode("utf-8")) for t in kept["input"]]
    return LoadResult(kept, keep, bad, ids)


@hookimpl
def register_loaders(register: Callable[[LoaderSpec], None]) -> None:
    register(
        LoaderSpec(
            name="image_folder",
            config_cls=ImageFolderOptions,
            load=load_image_folder,
            tasks=("image_classification",),
            description="A folder with one sub-folder of images per label.",
        )
    )
    register(
        LoaderSpec(
            name="image_table",
            config_cls=TableOptions,
            load=load_image_table,
            tasks=("image_classification",),
            description="A CSV/Parquet/JSONL of image paths (data.image_column) and labels (data.target).",
        )
    )
    register(
        LoaderSpec(
            name="text_table",
            config_cls=TableOptions,
            load=load_text_table,
            tasks=("text_classification",),
            description="A CSV/Parquet/JSONL of texts (data.text_column) and labels (data.target).",
        )
    )
