"""One content id for an example everywhere: a hash of its canonical bytes.

A tabular row's canonical bytes are its values in the recipe's column order, each written the
same way whether it arrived from a CSV, Parquet or a JSON request (39 and 39.0 are one value;
missing is empty).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import Any

SEPARATOR = "\x1f"


def canonical_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if hasattr(value, "item"):  # numpy scalars
        return canonical_value(value.item())
    return str(value)


def row_content_id(values: Sequence[Any]) -> str:
    text = SEPARATOR.join(canonical_value(v) for v in values)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def bytes_content_id(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def dataset_hash(ids: Iterable[str], labels: Iterable[str]) -> str:
    """Hash of a labelled dataset: every (content id, label) pair in order."""
    h = hashlib.blake2b(digest_size=16)
    for content_id, label in zip(ids, labels, strict=True):
        h.update(f"{content_id}\t{label}\n".encode())
    return h.hexdigest()
