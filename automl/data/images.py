"""Image files read with Pillow (torchvision's decoders are not used: see automl/torch_compat.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class UnreadableImage(Exception):
    """An image file that Pillow cannot decode completely (missing, truncated, not an image)."""


def open_rgb(path: str | Path) -> Any:
    """The fully decoded image as an RGB ``PIL.Image``; ``UnreadableImage`` says why not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
        raise UnreadableImage(f"{type(err).__name__}: {err}") from None


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
