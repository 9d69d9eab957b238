"""One ONNX graph for a whole ``FittedModel``: its inputs, each view (the table's preprocessing or
a backbone network), each member's estimator, the members' weighted average, and the label.

Outputs: ``probabilities`` ``(N, K)`` float32 in the order of ``model.classes``, and ``label``
``(N,)`` int64, the class index: for a binary model with a decision threshold, 1 where
P(class 1) >= threshold, else the argmax (the native ``FittedModel.predict_index``). An image or
text model also outputs ``embedding`` ``(N, D)`` float32: the backbone embedding of the view the
native model logs (``FittedModel.logged_view``), which the server keeps in the invoke log for drift
monitoring and review.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from automl_onnx.estimators import aligned, describe, estimator_proba, skl2onnx_proba
from automl_onnx.graph import DOUBLE, FLOAT, INT64, GraphBuilder, Unsupported
from automl_onnx.network_cache import NetworkCache
from automl_onnx.runtime import EMBEDDING


@dataclass
class Built:
    model: onnx.ModelProto
    meta: dict[str, Any]  # the sidecar, less what the exporter adds (file names, quantization)


def _view_kind(view: Any) -> str:
    from automl.plugins.api import EmbeddingView, RawView, TabularView

    if isinstance(view, TabularView):
        return "table"
    if isinstance(view, EmbeddingView):
        from automl_onnx.backbones import kind_of

        return kind_of(view.embedder)
    if isinstance(view, RawView):
        return "raw"
    return type(view).__name__


def build_graph(model: Any, opset: int, folder: Path, cache: NetworkCache | None = None) -> Built:
    """Raises :class:`Unsupported` (one line, naming the member) for what cannot be exported.
    ``cache``: backbone networks converted by earlier exports (none: convert each)."""
    cache = cache or NetworkCache(None)
    if not model.members:
        raise Unsupported("the model has no members")
    n_classes = len(model.classes)
    g = GraphBuilder(opset)
    g.reserve("probabilities", "label", EMBEDDING)
    used = list(dict.fromkeys(m.view for m in model.members))
    kinds = {}
    for key in used:
        first = next(i for i, m in enumerate(model.members) if m.view == key)
        member = f"member {first} ({describe(model.members[first].estimator)})"
        try:
            kind = _view_kind(model.views[key])
        except Unsupported as err:
            raise Unsupported(f"{member} (view {key}): {err}") from None
        if kind not in ("table", "image", "text"):
            what = (
                f"fine-tunes backbone {key.split(':', 1)[1]} on the raw inputs"
                if key.startswith("tune:")
                else "reads the raw texts or image files"
            )
            raise Unsupported(
                f"{member} {what} (view {key}); only table columns and heads over backbone embeddings "
                "(timm images, transformers texts) are exported"
            )
        kinds[key] = kind
    if len(set(kinds.values())) > 1:
        raise Unsupported(f"members read different kinds of input ({sorted(set(kinds.values()))})")
    input_kind = next(iter(kinds.values()))

    # Views: what each member's estimator reads (table columns, or an embedding matrix).
    sources: dict[str, _Source] = {}
    embeddings: dict[str, tuple[str, int]] = {}  # view key -> the backbone's float32 embedding, width
    described: list[dict[str, Any]] = []
    if input_kind == "table":
        from automl_onnx.tabular import add_table_inputs

        schemas = {model.views[key].schema for key in used}
        if len(schemas) > 1:
            raise Unsupported("table members use different feature schemas")
        columns, described = add_table_inputs(g, schemas.pop())
        sources = {key: _Source(g, columns=columns) for key in used}
    else:
        from automl_onnx.backbones import image_backbone, text_backbone

        for i, key in enumerate(used):
            embedder = model.views[key].embedder
            if input_kind == "image":
                name = "pixels" if len(used) == 1 else f"pixels_{i}"
                value, dim, spec = image_backbone(g, embedder, name, f"backbone{i}", cache)
                described.append(spec)
            else:
                prefix = "" if len(used) == 1 else f"b{i}_"
                value, dim, specs = text_backbone(g, embedder, prefix, f"backbone{i}", folder, cache)
                described.extend(specs)
            embeddings[key] = (value, dim)
            sources[key] = _Source(g, matrix=(g.cast(value, DOUBLE, "embedding_double"), dim))

    # Members: probabilities over all classes, as doubles, weighted.
    weighted = []
    members_meta = []
    for i, member in enumerate(model.members):
        try:
            proba = _member_proba(g, member.estimator, sources[member.view], f"m{i}")
            proba = aligned(g, proba, member.estimator.classes_, n_classes)
        except Unsupported as err:
            raise Unsupported(f"member {i} ({describe(member.estimator)}): {err}") from None
        weighted.append(g.op("Mul", [proba, g.const(np.array(float(member.weight)), f"w{i}")], f"m{i}_weighted"))
        members_meta.append({"view": member.view, "estimator": describe(member.estimator), "weight": member.weight})
    total = g.op("Sum", weighted, "proba") if len(weighted) > 1 else weighted[0]
    g.output(g.cast(total, FLOAT), "probabilities", FLOAT, [None, n_classes])
    g.output(_label(g, total, model.threshold, n_classes), "label", INT64, [None])
    outputs = {
        "probabilities": f"float32 (N, {n_classes}), columns in the order of classes",
        "label": "int64 (N,), the class index with the threshold applied",
    }
    logged = model.logged_view()
    if logged is not None and logged in embeddings:
        value, dim = embeddings[logged]
        g.output(value, EMBEDDING, FLOAT, [None, dim or None])
        outputs[EMBEDDING] = f"float32 (N, {dim}), the embedding of view {logged} (what the invoke log keeps)"

    meta = {
        "format": "automl-onnx",
        "format_version": 1,
        "task": model.task,
        "classes": list(model.classes),
        "threshold": model.threshold,
        "input_kind": input_kind,
        "inputs": described,
        "outputs": outputs,
        "members": members_meta,
        "opset": dict(g.opsets),
    }
    return Built(g.model(doc=f"automl {model.task}: {', '.join(map(str, model.classes))}"), meta)


class _Source:
    """A view's values in the graph: table columns ``name -> (value (N, 1), "double"|"string")``,
    or an embedding ``(N, D)`` double whose columns ``e0..eN`` are split out when a member's
    ColumnTransformer asks for them by name."""

    def __init__(
        self,
        g: GraphBuilder,
        columns: dict[str, tuple[str, str]] | None = None,
        matrix: tuple[str, int] | None = None,
    ) -> None:
        self.g = g
        self._columns = columns
        self.matrix = matrix

    @property
    def columns(self) -> dict[str, tuple[str, str]]:
        if self._columns is None:
            assert self.matrix is not None
            value, dim = self.matrix
            parts = self.g.op("Split", [value], "e", outputs=dim, axis=1, num_outputs=dim) if dim > 1 else [value]
            self._columns = {f"e{j}": (part, "double") for j, part in enumerate(parts)}
        return self._columns


def _member_proba(g: GraphBuilder, estimator: Any, source: _Source, hint: str) -> str:
    from sklearn.compose import ColumnTransformer

    from automl_onnx.tabular import column_transformer, split_pipeline, table_features

    steps, final = split_pipeline(estimator)
    if source.matrix is None:  # a table
        x, width = table_features(g, steps, source.columns)
        return estimator_proba(g, final, x, width, hint)
    value, dim = source.matrix
    if len(steps) == 1 and isinstance(steps[0][1], ColumnTransformer):
        x, width = column_transformer(g, steps[0][1], source.columns)
        return estimator_proba(g, final, x, width, hint)
    if not steps:
        return estimator_proba(g, final, value, dim, hint)
    return skl2onnx_proba(g, estimator, value, dim, hint)


def _label(g: GraphBuilder, proba: str, threshold: float | None, n_classes: int) -> str:
    if threshold is not None and n_classes == 2:
        p1 = g.op("Gather", [proba, g.const(np.array(1, np.int64), "class1")], axis=1)
        return g.cast(g.op("GreaterOrEqual", [p1, g.const(np.array(float(threshold)), "threshold")]), INT64, "decision")
    return g.op("ArgMax", [proba], "argmax", axis=1, keepdims=0)
