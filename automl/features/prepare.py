"""Turn an example table into the views the search trains on.

Tabular: the recipe's columns, coerced by a feature schema. Image and text: the raw inputs, and
for each backbone its embeddings from the cache (computing only what is new) and, when a trainer
of the recipe fine-tunes it, the raw inputs with the backbone and the augmenters. A backbone whose
weights cannot be found is skipped with a warning that says where they were looked for, or fails
the run when ``search.require_weights`` is set.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from automl.config.validate import CheckedRecipe
from automl.data.table import ExampleTable
from automl.deadline import EMBED_SHARE, Deadline
from automl.errors import UserError
from automl.features.embeddings import EmbedStats, embed_cached, missing_ids
from automl.features.tabular import FeatureSchema
from automl.features.views import (
    FEATURES_VIEW,
    RAW_VIEW,
    EmbeddingView,
    RawView,
    TabularView,
    embedding_frame,
    view_key,
)
from automl.plugins.components import BACKBONE, RAW, Embedder, TrainContext, WeightsUnavailable
from automl.plugins.imported_weights import with_imported_weights
from automl.plugins.manager import Plugins


@dataclass
class Prepared:
    """Every view (key -> X), its training context, and the view objects a saved model keeps."""

    views: dict[str, Any]
    contexts: dict[str, TrainContext]
    view_objects: dict[str, Any]
    backbones: list[str] = field(default_factory=list)
    skipped_backbones: list[dict[str, str]] = field(default_factory=list)
    embedding: dict[str, dict[str, float]] = field(default_factory=dict)
    forward_rates: dict[str, float] = field(default_factory=dict)
    tunable: dict[str, list[str]] = field(default_factory=dict)


RATE_SAMPLE = 8  # examples timed to measure a backbone's inference rate when the cache had them all


def forward_rate(embedder: Embedder, inputs: list[Any], computed: int, per_second: float) -> float:
    """Examples per second of ``embedder``: from this run's embedding when it computed enough,
    else timed on a few examples (their cached vectors are not used for this)."""
    if computed >= RATE_SAMPLE and per_second > 0:
        return per_second
    sample = inputs[:RATE_SAMPLE]
    started = time.perf_counter()
    embedder.embed(sample)
    return len(sample) / max(time.perf_counter() - started, 1e-9)


def build_augmenters(checked: CheckedRecipe, plugins: Plugins) -> tuple[Any, ...]:
    registry = plugins.registries["augmenter"]
    built = []
    for name, config in checked.augmenters:
        factory = registry.get(name).factory
        assert factory is not None
        built.append(factory(config))
    return tuple(built)


def _context(
    checked: CheckedRecipe, table: ExampleTable, numeric: tuple[str, ...] = (), categorical: tuple[str, ...] = ()
) -> TrainContext:
    r = checked.recipe
    return TrainContext(
        r.task.type, len(table.classes), r.seed, numeric, categorical, n_jobs=max(1, int(r.search.cpus_per_trial))
    )


@dataclass
class EmbedPace:
    """Examples per second per GFLOP seen so far, to estimate the next backbone's embedding time
    from its declared ``gflops`` before loading it."""

    rate_x_gflops: float | None = None

    def observe(self, gflops: float | None, stats: EmbedStats) -> None:
        if gflops and stats.computed >= RATE_SAMPLE and stats.per_second > 0:
            self.rate_x_gflops = stats.per_second * gflops

    def estimate(self, gflops: float | None, n: int) -> float | None:
        """Seconds to embed ``n`` examples (None when nothing is known to estimate from)."""
        if not gflops or self.rate_x_gflops is None:
            return None
        return n * gflops / self.rate_x_gflops


PROBE = 32  # examples embedded first to time a backbone when a budget applies (kept in the cache)


def _embed_within(
    embedder: Embedder, ids: list[str], inputs: list[Any], workspace: Path, deadline: Deadline | None, needed: bool
) -> tuple[np.ndarray, EmbedStats] | str:
    """Every example's vector, or (with a deadline) the reason to skip the backbone: embedding the
    examples not cached, timed on a sample of them after one untimed example, would end past
    ``EMBED_SHARE`` of the budget. A ``needed`` backbone (nothing cheap and strong could train
    instead) is embedded regardless."""
    probe = EmbedStats(0, 0, 0.0)
    if deadline is not None and deadline.budget_s is not None:
        missing = missing_ids(embedder, ids, workspace)
        if len(missing) > PROBE + 1:
            # One example first, untimed: a backbone's first call pays one-off set-up costs.
            _, first = embed_cached(embedder, [ids[missing[0]]], [inputs[missing[0]]], workspace)
            rest = missing[1:]
            sample = sorted({rest[round(i * (len(rest) - 1) / (PROBE - 1))] for i in range(PROBE)})
            _, timed = embed_cached(embedder, [ids[i] for i in sample], [inputs[i] for i in sample], workspace)
            estimate = (len(rest) - timed.computed) / max(timed.per_second, 1e-9)
            probe = EmbedStats(0, first.computed + timed.computed, first.seconds + timed.seconds)
            if not needed and not deadline.fits(estimate, EMBED_SHARE):
                return (
                    f"embedding {len(missing)} examples would take about {estimate:.0f} s (timed on "
                    f"{timed.computed}), past {EMBED_SHARE:.0%} of search.time_budget_s={deadline.budget_s:g}; "
                    "raise the budget to use it"
                )
    vectors, stats = embed_cached(embedder, ids, inputs, workspace)
    computed = probe.computed + stats.computed
    return vectors, EmbedStats(len(ids) - computed, computed, probe.seconds + stats.seconds)


def prepare_views(
    checked: CheckedRecipe,
    plugins: Plugins,
    table: ExampleTable,
    workspace: Path,
    deadline: Deadline | None = None,
    only_backbones: list[str] | None = None,
    log: TextIO | None = None,
) -> Prepared:
    """Every view of ``table`` (of the recipe's backbones, or of ``only_backbones`` among them);
    with a ``deadline``, a backbone is skipped when its estimated embedding time does not fit
    ``EMBED_SHARE`` of the budget (see ``_embed_within``). Notes and warnings go to ``log``
    (default stderr)."""
    log = log or sys.stderr
    r = checked.recipe
    if r.task.type == "tabular_classification":
        schema = FeatureSchema.infer(table.features)
        ctx = _context(checked, table, schema.numeric, schema.categorical)
        return Prepared(
            {FEATURES_VIEW: schema.coerce(table.features)}, {FEATURES_VIEW: ctx}, {FEATURES_VIEW: TabularView(schema)}
        )
    inputs = table.features["input"].tolist()
    raw = RawView().transform(inputs)
    prepared = Prepared({RAW_VIEW: raw}, {RAW_VIEW: _context(checked, table)}, {RAW_VIEW: RawView()})
    trainers = r.search.trainers or []  # filled in by resolve_defaults
    tuners = [plugins.trainers.get(t) for t in trainers if plugins.trainers.get(t).inputs == BACKBONE]
    augmenters = build_augmenters(checked, plugins) if tuners else ()
    pace = EmbedPace()
    # A cheap, strong trainer on the raw inputs (stage 0, e.g. TF-IDF for texts) can stand in for
    # a backbone that does not fit the budget; a network from scratch cannot.
    takes_raw = any(plugins.trainers.get(t).inputs == RAW and plugins.trainers.get(t).stage == 0 for t in trainers)
    for name in r.search.backbones or []:
        if only_backbones is not None and name not in only_backbones:
            continue
        spec = plugins.backbones.get(name)
        assert spec.load is not None
        estimate = pace.estimate(spec.gflops, len(inputs))
        over_budget = estimate is not None and deadline is not None and not deadline.fits(estimate, EMBED_SHARE)
        if over_budget and prepared.backbones:
            assert deadline is not None and estimate is not None
            reason = (
                f"embedding {len(inputs)} examples would take about {estimate:.0f} s, past {EMBED_SHARE:.0%} of "
                f"search.time_budget_s={deadline.budget_s:g}; raise the budget to use it"
            )
            print(f"note: not using backbone {name}: {reason}", file=log)
            prepared.skipped_backbones.append({"backbone": name, "reason": reason})
            continue
        try:
            embedder = spec.load(with_imported_weights(checked.backbone_options[name], workspace, name))
        except WeightsUnavailable as err:
            if r.search.require_weights:
                raise UserError(f"search.backbones: {name}: {err}") from None
            print(f"warning: skipping backbone {name}: {err}", file=log)
            prepared.skipped_backbones.append({"backbone": name, "reason": str(err)})
            continue
        needed = not prepared.backbones and not takes_raw  # nothing else could train
        done = _embed_within(embedder, table.ids.tolist(), inputs, workspace, deadline, needed)
        if isinstance(done, str):
            print(f"note: not using backbone {name}: {done}", file=log)
            prepared.skipped_backbones.append({"backbone": name, "reason": done})
            continue
        vectors, stats = done
        pace.observe(spec.gflops, stats)
        frame = embedding_frame(vectors)
        key = f"backbone:{name}"
        prepared.views[key] = frame
        prepared.contexts[key] = _context(checked, table, tuple(frame.columns))
        prepared.view_objects[key] = EmbeddingView(embedder)
        prepared.backbones.append(name)
        prepared.embedding[name] = {**dataclasses.asdict(stats), "per_second": stats.per_second}
        takers = [t.name for t in tuners if t.accepts_backbone is None or t.accepts_backbone(embedder)]
        if takers:
            tune_key = view_key(BACKBONE, name)
            prepared.views[tune_key] = raw
            base = _context(checked, table)
            prepared.contexts[tune_key] = dataclasses.replace(base, backbone=embedder, augmenters=augmenters)
            prepared.view_objects[tune_key] = RawView()
            prepared.forward_rates[name] = forward_rate(embedder, inputs, stats.computed, stats.per_second)
            for trainer in takers:
                prepared.tunable.setdefault(trainer, []).append(name)
        print(
            f"embedded with {name}: {stats.computed} new, {stats.cached} from the cache"
            + (f" ({stats.per_second:.1f}/s)" if stats.computed else ""),
            file=log,
        )
    return prepared
