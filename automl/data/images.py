"""Image files read with Pillow (torchvision's decoders are not used: see automl/plugins/torch_compat.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class UnreadableImage(Exception):
    """An image file that Pillow cannot decode completely (missing, truncated, not an image)."""


def open_rgb(path: str | os.PathLike[str] | BinaryIO) -> Any:
    """The fully decoded image (from a path or a binary file object) as an RGB ``PIL.Image``;
    ``UnreadableImage`` says why not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
        raise UnreadableImage(f"{type(err).__name__}: {err}") from None


def as_rgb(item: Any) -> Any:
    """An RGB ``PIL.Image`` from an image file path (decoded by :func:`open_rgb`) or a PIL image."""
    if isinstance(item, (str, os.PathLike)):
        return open_rgb(item)
    if hasattr(item, "convert"):
        return item if item.mode == "RGB" else item.convert("RGB")
    raise TypeError(f"expected an image file path or a PIL image, got {type(item).__name__}")


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
