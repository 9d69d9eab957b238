"""Request inputs checked against a model, before it predicts: pure functions.

Tabular rows are objects of columns (every feature column present; numbers, strings or null; a
string, a boolean or a non-finite number in a numeric column is an error, never a silent NaN),
texts are strings, images are bytes (decoded from base64 where they arrived as JSON strings).
Every problem is an ``InputError`` naming the input and column; the server answers it with 422.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl.features.tabular import category_text

TABULAR = "tabular_classification"
TEXT = "text_classification"
IMAGE = "image_classification"


class InputError(ValueError):
    """An input that this model cannot take (answered with 422)."""


@dataclass(frozen=True)
class TabularSchema:
    columns: tuple[str, ...]  # the feature columns in recipe order (the content id's order)
    numeric: frozenset[str]


def tabular_schema(model: Any, features: Sequence[str]) -> TabularSchema:
    """The columns of a fitted model's tabular views (``FeatureSchema.numeric`` of each)."""
    numeric: set[str] = set()
    for view in getattr(model, "views", {}).values():
        schema = getattr(view, "schema", None)
        numeric.update(getattr(schema, "numeric", ()) or ())
    return TabularSchema(tuple(features), frozenset(numeric))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_rows(inputs: Sequence[Any], schema: TabularSchema) -> list[dict[str, Any]]:
    """Rows with only the feature columns, or an ``InputError``; extra keys are ignored."""
    rows = []
    for i, row in enumerate(inputs):
        if not isinstance(row, dict):
            raise InputError(f"input {i}: a tabular model takes an object of columns, got {type(row).__name__}")
        missing = [c for c in schema.columns if c not in row]
        if missing:
            raise InputError(f"input {i}: missing feature column(s) {', '.join(missing)}")
        checked = {}
        for c in schema.columns:
            value = row[c]
            if value is not None and c in schema.numeric:
                if not _is_number(value) or not math.isfinite(value):
                    raise InputError(f"input {i} column {c}: expected a number or null, got {value!r}")
            elif value is not None and (not isinstance(value, str | int | float) or isinstance(value, bool)):
                raise InputError(f"input {i} column {c}: expected a string, number or null, got {type(value).__name__}")
            elif value is not None and not isinstance(value, str):
                # a category given as a number: its text, the same whatever the other rows hold
                # (and whichever runtime answers)
                value = category_text(value)
            checked[c] = value
        rows.append(checked)
    return rows


def check_texts(inputs: Sequence[Any]) -> list[str]:
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise InputError(f"input {i}: a text model takes strings, got {type(text).__name__}")
    return list(inputs)


def decode_images(inputs: Sequence[Any]) -> list[bytes]:
    """Image bytes from base64 strings (JSON) or bytes (multipart); not yet checked as images."""
    out = []
    for i, item in enumerate(inputs):
        if isinstance(item, bytes | bytearray):
            out.append(bytes(item))
        elif isinstance(item, str):
            try:
                out.append(base64.b64decode(item, validate=True))
            except (binascii.Error, ValueError):
                raise InputError(f"input {i}: an image model takes base64 strings; this is not base64") from None
        else:
            raise InputError(f"input {i}: an image model takes base64 strings, got {type(item).__name__}")
    return out


def open_images(images: Sequence[bytes]) -> list[Any]:
    """Every image decoded with Pillow, as RGB; an ``InputError`` for bytes that are not one."""
    import io

    from automl.data.images import UnreadableImage, open_rgb

    decoded = []
    for i, data in enumerate(images):
        try:
            decoded.append(open_rgb(io.BytesIO(data)))
        except UnreadableImage as err:
            raise InputError(f"input {i}: not an image ({str(err).split(':')[0]})") from None
    return decoded
