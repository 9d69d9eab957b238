"""Merging small published parts, so readers open a few files rather than one per second.

Size-tiered: a part's tier is how many times ``fan_in`` its size is over ``base_bytes``; a run of
``fan_in`` neighbouring parts of one tier becomes one part of the next. Each row is rewritten about
once per tier, and parts from ``final_tier`` up are left alone. Merging streams part by part, so
memory stays at one part's size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from automl.durable import atomic_path
from automl.store.invokes.publish import Part, list_parts, part_name, read_part, visible
from automl.store.invokes.record import SCHEMA


@dataclass(frozen=True)
class CompactPolicy:
    fan_in: int = 8
    base_bytes: int = 256 * 1024
    final_tier: int = 2  # parts of 16 MiB and up (with the defaults) are not merged again

    def tier(self, size: int) -> int:
        return int(math.log(size / self.base_bytes, self.fan_in)) if size > self.base_bytes else 0


def next_run(parts: list[Part], policy: CompactPolicy) -> list[Part] | None:
    """The oldest ``fan_in`` neighbouring parts of one tier below the final one, if any."""
    run: list[Part] = []
    run_tier = -1
    for part in parts:
        tier = policy.tier(part.path.stat().st_size)
        if tier != run_tier:
            run, run_tier = [], tier
        run.append(part)
        if len(run) == policy.fan_in and tier < policy.final_tier:
            return run
    return None


def merge(folder: Path, run: list[Part]) -> Part:
    """Write the run as one part covering its ranges, then delete the parts it replaces."""
    merged = Part(run[0].first, run[-1].last, folder / part_name(run[0].first, run[-1].last))
    with atomic_path(merged.path) as tmp, pq.ParquetWriter(tmp, SCHEMA) as out:
        for part in run:
            out.write_table(read_part(part))
    for part in run:
        part.path.unlink(missing_ok=True)
    return merged


def compact(folder: Path, policy: CompactPolicy, max_merges: int = 4) -> int:
    """Merge up to ``max_merges`` runs; how many were merged. Only the store's owner calls it."""
    merges = 0
    while merges < max_merges:
        run = next_run(visible(list_parts(folder)), policy)
        if run is None:
            break
        merge(folder, run)
        merges += 1
    return merges
