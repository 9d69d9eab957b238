"""scikit-learn tree ensembles as ``ai.onnx.ml`` ``TreeEnsembleRegressor`` nodes, written here
rather than by skl2onnx so that they match scikit-learn exactly:

- thresholds and inputs are doubles (``nodes_values_as_tensor``), so a value on a threshold goes
  the way scikit-learn sends it (forests see the features cast to float32 first, as they do
  natively);
- missing values follow each node's ``missing_go_to_left`` (forests learn it since scikit-learn
  1.4; skl2onnx ignores it);
- ``HistGradientBoostingClassifier``'s native categorical splits become numeric ones on derived
  columns: for each categorical split, a lookup table from the category code to 0 (left), 1
  (right, a known category) or NaN (missing, or a category unseen in training: both follow the
  node's missing direction, as in scikit-learn's predictor).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import numpy_helper

from automl_onnx.graph import DOUBLE, FLOAT, INT64, ML, GraphBuilder, Unsupported

N_CATEGORY_CODES = 256  # HistGradientBoosting bins categories as uint8


class _Trees:
    """Attribute arrays of one TreeEnsembleRegressor, filled tree by tree."""

    def __init__(self) -> None:
        self.node: dict[str, list[np.ndarray]] = {
            k: [] for k in ("tree", "id", "feature", "mode", "value", "true", "false", "missing")
        }
        self.target: dict[str, list[np.ndarray]] = {k: [] for k in ("tree", "node", "id", "weight")}
        self.count = 0

    def add(
        self,
        feature: np.ndarray,
        threshold: np.ndarray,
        left: np.ndarray,
        right: np.ndarray,
        missing_left: np.ndarray,
        is_leaf: np.ndarray,
        leaf_weights: np.ndarray,
    ) -> None:
        """One tree: per-node arrays, and ``leaf_weights`` (n_nodes, n_targets) read at leaves."""
        n = len(feature)
        t = self.count
        self.count += 1
        ids = np.arange(n, dtype=np.int64)
        self.node["tree"].append(np.full(n, t, dtype=np.int64))
        self.node["id"].append(ids)
        self.node["feature"].append(np.where(is_leaf, 0, feature).astype(np.int64))
        self.node["mode"].append(np.where(is_leaf, "LEAF", "BRANCH_LEQ"))
        self.node["value"].append(np.where(is_leaf, 0.0, threshold).astype(np.float64))
        self.node["true"].append(np.where(is_leaf, 0, left).astype(np.int64))
        self.node["false"].append(np.where(is_leaf, 0, right).astype(np.int64))
        self.node["missing"].append(np.where(is_leaf, 0, missing_left).astype(np.int64))
        leaves = np.flatnonzero(is_leaf)
        rows, targets = np.nonzero(leaf_weights[leaves])
        self.target["tree"].append(np.full(len(rows), t, dtype=np.int64))
        self.target["node"].append(leaves[rows].astype(np.int64))
        self.target["id"].append(targets.astype(np.int64))
        self.target["weight"].append(leaf_weights[leaves][rows, targets].astype(np.float64))

    def node_op(self, g: GraphBuilder, x: str, n_targets: int, base: np.ndarray, hint: str) -> str:
        """The summed leaf weights plus ``base`` per target, ``(N, n_targets)``, as double."""
        nodes = {k: np.concatenate(v) for k, v in self.node.items()}
        targets = {k: np.concatenate(v) for k, v in self.target.items()}
        if not len(targets["weight"]):  # every leaf is zero: ORT wants at least one target entry
            targets = {k: np.zeros(1, dtype=np.float64 if k == "weight" else np.int64) for k in targets}
            targets["node"][0] = int(np.flatnonzero(nodes["mode"] == "LEAF")[0])
        out = g.op(
            "TreeEnsembleRegressor",
            [x],
            hint,
            domain=ML,
            n_targets=n_targets,
            nodes_treeids=nodes["tree"].tolist(),
            nodes_nodeids=nodes["id"].tolist(),
            nodes_featureids=nodes["feature"].tolist(),
            nodes_modes=nodes["mode"].tolist(),
            nodes_values_as_tensor=numpy_helper.from_array(nodes["value"]),
            nodes_truenodeids=nodes["true"].tolist(),
            nodes_falsenodeids=nodes["false"].tolist(),
            nodes_missing_value_tracks_true=nodes["missing"].tolist(),
            target_treeids=targets["tree"].tolist(),
            target_nodeids=targets["node"].tolist(),
            target_ids=targets["id"].tolist(),
            target_weights_as_tensor=numpy_helper.from_array(targets["weight"]),
            base_values_as_tensor=numpy_helper.from_array(np.asarray(base, dtype=np.float64)),
            aggregate_function="SUM",
            post_transform="NONE",
        )
        return g.cast(out, DOUBLE)


def forest_proba(g: GraphBuilder, forest: Any, x: str) -> str:
    """Class probabilities of a fitted tree classifier or forest of them (random forest, extra
    trees): the mean over trees of each leaf's class fractions."""
    trees = list(getattr(forest, "estimators_", [forest]))
    if getattr(forest, "n_outputs_", 1) != 1:
        raise Unsupported(f"{type(forest).__name__} with several outputs")
    n_classes = len(forest.classes_)
    ensemble = _Trees()
    for estimator in trees:
        tree = estimator.tree_
        value = np.asarray(tree.value[:, 0, :n_classes], dtype=np.float64)
        total = value.sum(axis=1, keepdims=True)
        total[total == 0] = 1.0
        is_leaf = tree.children_left == -1
        missing_left = getattr(tree, "missing_go_to_left", np.zeros(tree.node_count, dtype=np.uint8))
        ensemble.add(
            tree.feature,
            tree.threshold,
            tree.children_left,
            tree.children_right,
            np.asarray(missing_left),
            is_leaf,
            value / total / len(trees),
        )
    # scikit-learn's trees read their input as float32: round the features the same way.
    x32 = g.cast(g.cast(x, FLOAT, "as_float32"), DOUBLE, "as_float32_double")
    return ensemble.node_op(g, x32, n_classes, np.zeros(n_classes), "forest")


def _in_bitset(bitset: np.ndarray, codes: np.ndarray) -> np.ndarray:
    words = np.asarray(bitset, dtype=np.uint64)[codes // 32]
    return ((words >> (codes % 32).astype(np.uint64)) & np.uint64(1)).astype(bool)


def hist_gradient_boosting_proba(g: GraphBuilder, model: Any, x: str, n_features: int) -> str:
    """Class probabilities of a fitted ``HistGradientBoostingClassifier`` (numeric and native
    categorical features, missing values)."""
    if getattr(model, "_preprocessor", None) is not None:
        x = _hgb_preprocessor(g, model._preprocessor, x, n_features)
    try:
        predictors = model._predictors
        baseline = np.asarray(model._baseline_prediction, dtype=np.float64).ravel()
        is_categorical = model.is_categorical_
        known, f_idx_map = (
            model._bin_mapper.make_known_categories_bitsets() if is_categorical is not None else (None, None)
        )
    except AttributeError as err:
        raise Unsupported(f"HistGradientBoostingClassifier internals differ in this scikit-learn ({err})") from None
    n_targets = int(model.n_trees_per_iteration_)
    codes = np.arange(N_CATEGORY_CODES)
    derived: dict[int, list[np.ndarray]] = {}  # feature -> lookup columns (257 rows each)
    derived_index: list[tuple[int, int]] = []  # (feature, position) in order of creation
    ensemble = _Trees()
    for iteration in predictors:
        for k, predictor in enumerate(iteration):
            nodes = predictor.nodes
            feature = nodes["feature_idx"].astype(np.int64).copy()
            threshold = nodes["num_threshold"].astype(np.float64).copy()
            is_leaf = nodes["is_leaf"].astype(bool)
            for i in np.flatnonzero(nodes["is_categorical"].astype(bool) & ~is_leaf):
                f = int(feature[i])
                left = _in_bitset(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][i]], codes)
                seen = _in_bitset(known[f_idx_map[f]], codes)
                column = np.full(N_CATEGORY_CODES + 1, np.nan)
                column[:N_CATEGORY_CODES] = np.where(left, 0.0, np.where(seen, 1.0, np.nan))
                derived.setdefault(f, []).append(column)
                derived_index.append((f, len(derived[f]) - 1))
                feature[i] = n_features + len(derived_index) - 1
                threshold[i] = 0.5
            weights = np.zeros((len(nodes), n_targets))
            weights[:, k] = np.where(is_leaf, nodes["value"], 0.0)
            ensemble.add(
                feature, threshold, nodes["left"], nodes["right"], nodes["missing_go_to_left"], is_leaf, weights
            )
    if derived:
        x = _with_derived_columns(g, x, derived, derived_index)
    raw = ensemble.node_op(g, x, n_targets, baseline, "boosting")
    if n_targets == 1:
        p1 = g.op("Sigmoid", [raw])
        return g.op("Concat", [g.op("Sub", [g.const(np.ones((1, 1))), p1]), p1], "hgb_proba", axis=1)
    return g.op("Softmax", [raw], "hgb_proba", axis=1)


def _hgb_preprocessor(g: GraphBuilder, pre: Any, x: str, n_features: int) -> str:
    """The encoder HistGradientBoosting puts in front of its categorical features (scikit-learn
    >= 1.4): each categorical column's values become their index among the categories seen in
    training (NaN when missing or unseen), and the categorical columns move to the front."""
    blocks: list[tuple[int, str]] = []
    for name, transformer, selected in pre.transformers_:
        columns = np.arange(n_features)[np.asarray(selected)] if len(np.atleast_1d(selected)) else []
        if isinstance(transformer, str) and transformer == "drop" or not len(columns):
            continue
        start = pre.output_indices_[name].start
        if name == "encoder":
            for j, (column, categories) in enumerate(zip(columns, transformer.categories_, strict=True)):
                known = np.asarray([c for c in categories if not np.isnan(c)], dtype=np.float64)
                value = g.op("Gather", [x, g.const(np.array([column], np.int64), "hgb_cat")], axis=1)  # (N, 1)
                if not len(known):
                    blocks.append((start + j, g.op("Mul", [value, g.const(np.array(np.nan))])))
                    continue
                hits = g.cast(g.op("Equal", [value, g.const(known[None, :], "hgb_categories")]), DOUBLE)
                index = g.cast(g.op("ArgMax", [hits], axis=1, keepdims=1), DOUBLE)
                seen = g.op(
                    "Greater",
                    [g.op("ReduceMax", [hits, g.const(np.array([1], np.int64))], keepdims=1), g.const(np.array(0.5))],
                )
                blocks.append((start + j, g.op("Where", [seen, index, g.const(np.array(np.nan))], "hgb_code")))
        elif name == "numerical":
            picked = g.op("Gather", [x, g.const(columns.astype(np.int64), "hgb_numeric")], axis=1)
            blocks.append((start, picked))
        else:
            raise Unsupported(f"HistGradientBoosting's own preprocessing step {name!r}")
    ordered = [value for _, value in sorted(blocks, key=lambda item: item[0])]
    return g.op("Concat", ordered, "hgb_input", axis=1) if len(ordered) > 1 else ordered[0]


def _with_derived_columns(
    g: GraphBuilder, x: str, derived: dict[int, list[np.ndarray]], order: list[tuple[int, int]]
) -> str:
    """``x`` with one column per categorical split appended, in creation order."""
    blocks, placed = [], []
    for f, columns in derived.items():
        value = g.op("Gather", [x, g.const(np.array([f], np.int64), f"cat{f}")], axis=1)  # (N, 1)
        value = g.op("Reshape", [value, g.const(np.array([-1], np.int64), "flat")])
        bad = g.op(
            "Or",
            [
                g.op("IsNaN", [value]),
                g.op(
                    "Or",
                    [
                        g.op("Less", [value, g.const(np.array(0.0))]),
                        g.op("GreaterOrEqual", [value, g.const(np.array(float(N_CATEGORY_CODES)))]),
                    ],
                ),
            ],
        )
        safe = g.cast(g.op("Where", [bad, g.const(np.array(0.0)), value]), INT64)
        row = g.op("Where", [bad, g.const(np.array(N_CATEGORY_CODES, np.int64)), safe])
        table = np.stack(columns, axis=1)  # (257, n_splits_on_f)
        blocks.append(g.op("Gather", [g.const(table, f"cat{f}_splits"), row], axis=0))
        placed.extend((f, j) for j in range(len(columns)))
    merged = g.op("Concat", blocks, "splits", axis=1) if len(blocks) > 1 else blocks[0]
    position = {key: i for i, key in enumerate(placed)}
    permutation = np.array([position[key] for key in order], dtype=np.int64)
    if not np.array_equal(permutation, np.arange(len(order))):
        merged = g.op("Gather", [merged, g.const(permutation, "split_order")], axis=1)
    return g.op("Concat", [x, merged], "with_splits", axis=1)
