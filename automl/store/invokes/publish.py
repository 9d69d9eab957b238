"""Published parts: immutable Parquet files that readers query without touching the writer's lock.

A part is named by the range of ``seq`` it holds, ``part-<first>-<last>.parquet``. It appears whole
(written to a temp name, synced, renamed, the folder synced: ``automl.durable``) or not at all; a
temp file left by a crash is ignored by readers and removed by the next owner. A merged part
covers the ranges of the parts it replaces, so a reader that lists both in the moment between the
rename and the deletes keeps the merged one (``visible``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from automl import durable
from automl.store.invokes.record import SCHEMA, with_added_columns

_NAME = re.compile(r"^part-(\d{16})-(\d{16})\.parquet$")
TEMP_PREFIX = durable.TEMP_PREFIX


@dataclass(frozen=True, order=True)
class Part:
    first: int
    last: int
    path: Path


def part_name(first: int, last: int) -> str:
    return f"part-{first:016d}-{last:016d}.parquet"


def list_parts(folder: Path) -> list[Part]:
    """Every part in ``folder`` in seq order (temp files and strangers left out)."""
    if not folder.is_dir():
        return []
    parts = []
    for entry in os.scandir(folder):
        match = _NAME.match(entry.name)
        if match:
            parts.append(Part(int(match[1]), int(match[2]), Path(entry.path)))
    return sorted(parts)


def visible(parts: list[Part]) -> list[Part]:
    """The parts a reader should read: none that another part covers."""
    shown: list[Part] = []
    reach = 0
    for part in sorted(parts, key=lambda p: (p.first, -p.last)):  # a cover comes before what it covers
        if part.last > reach:
            shown.append(part)
            reach = part.last
    return shown


def last_seq(folder: Path) -> int:
    return max((p.last for p in list_parts(folder)), default=0)


def write_part(folder: Path, table: pa.Table) -> Part:
    """Publish ``table`` (rows in seq order) as a new part."""
    seqs = table.column("seq")
    part = Part(seqs[0].as_py(), seqs[-1].as_py(), folder / part_name(seqs[0].as_py(), seqs[-1].as_py()))
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(part.path, table)
    return part


def replace_part(part: Part, table: pa.Table) -> None:
    """Swap a part's rows for ``table`` (a subset of them); readers see the old file or the new."""
    _write_atomically(part.path, table)


def _write_atomically(final: Path, table: pa.Table) -> None:
    with durable.atomic_path(final) as tmp:
        pq.write_table(table.cast(SCHEMA), tmp)


def read_part(part: Part) -> pa.Table:
    return with_added_columns(pq.read_table(part.path)).cast(SCHEMA)


def clean(folder: Path) -> None:
    """Remove temp files and covered parts a crash left behind. Only the store's owner calls it."""
    if not folder.is_dir():
        return
    for entry in os.scandir(folder):
        if entry.name.startswith(TEMP_PREFIX):
            os.unlink(entry.path)
    parts = list_parts(folder)
    for part in set(parts) - set(visible(parts)):
        part.path.unlink(missing_ok=True)
