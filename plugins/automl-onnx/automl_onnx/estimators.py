"""A member's final estimator on an ``(N, F)`` feature matrix, as class probabilities ``(N, k)``
(double): the tree ensembles of :mod:`automl_onnx.trees`, LightGBM through onnxmltools, anything
else through skl2onnx (double precision where its converters allow it, else float)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from automl_onnx.graph import DOUBLE, FLOAT, ML, ML_OPSET, GraphBuilder, Unsupported


def describe(estimator: Any) -> str:
    """``Pipeline(StandardScaler, LogisticRegression)`` or ``RandomForestClassifier``."""
    steps = getattr(estimator, "steps", None)
    if steps:
        return f"Pipeline({', '.join(type(s).__name__ for _, s in steps)})"
    return type(estimator).__name__


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200]}" if text else type(err).__name__


def _lightgbm(estimator: Any) -> Any:
    """The ``lightgbm.LGBMClassifier`` behind ``estimator`` (itself, or automl-lightgbm's wrapper's
    ``model_``), or None."""
    for candidate in (estimator, getattr(estimator, "model_", None)):
        if candidate is not None and type(candidate).__name__ == "LGBMClassifier":
            return candidate
    return None


def estimator_proba(g: GraphBuilder, estimator: Any, x: str, n_features: int, hint: str) -> str:
    """Probabilities over ``estimator.classes_`` from the double matrix ``x``."""
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    from automl_onnx.trees import forest_proba, hist_gradient_boosting_proba

    if isinstance(estimator, (RandomForestClassifier, ExtraTreesClassifier, DecisionTreeClassifier)):
        return forest_proba(g, estimator, x)
    if isinstance(estimator, HistGradientBoostingClassifier):
        return hist_gradient_boosting_proba(g, estimator, x, n_features)
    booster = _lightgbm(estimator)
    if booster is not None:
        return _lightgbm_proba(g, booster, x, n_features, hint)
    return skl2onnx_proba(g, estimator, x, n_features, hint)


def _lightgbm_proba(g: GraphBuilder, booster: Any, x: str, n_features: int, hint: str) -> str:
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = convert_lightgbm(
                booster, initial_types=[("X", FloatTensorType([None, n_features]))], zipmap=False, target_opset=15
            )
    except Exception as err:
        raise Unsupported(f"onnxmltools cannot convert the LightGBM model: {_first_line(err)}") from None
    outputs = g.splice(model, {"X": g.cast(x, FLOAT)}, hint)
    return g.cast(_probabilities(outputs), DOUBLE)


def _probabilities(outputs: dict[str, str]) -> str:
    for name in ("probabilities", "output_probability"):
        if name in outputs:
            return outputs[name]
    if len(outputs) == 2:
        return list(outputs.values())[1]
    raise Unsupported(f"the converted estimator has no probability output (outputs: {sorted(outputs)})")


def skl2onnx_proba(g: GraphBuilder, estimator: Any, x: str, n_features: int, hint: str) -> str:
    """Any estimator (or pipeline) skl2onnx converts, double first, then float."""
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    errors: list[str] = []
    for tensor_type, elem in ((DoubleTensorType, DOUBLE), (FloatTensorType, FLOAT)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = convert_sklearn(
                    estimator,
                    initial_types=[("X", tensor_type([None, n_features]))],
                    options={id(final): {"zipmap": False}},
                    target_opset={"": g.opsets[""], ML: ML_OPSET},
                )
            # A converter may accept doubles and still emit an operator onnxruntime has no double
            # kernel for: load it on its own before splicing it in.
            ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        except Exception as err:
            errors.append(_first_line(err))
            continue
        outputs = g.splice(model, {"X": x if elem == DOUBLE else g.cast(x, FLOAT)}, hint)
        return g.cast(_probabilities(outputs), DOUBLE)
    raise Unsupported(f"skl2onnx cannot convert {describe(estimator)}: {errors[-1]}")


def aligned(g: GraphBuilder, proba: str, classes: Any, n_classes: int) -> str:
    """``proba`` over ``classes`` (indices into the model's classes) as ``(N, n_classes)``, with
    zeros for classes the estimator never saw (as ``automl.evaluate.cv.predict_proba`` pads)."""
    try:
        index = np.asarray(classes).astype(np.int64)
    except (TypeError, ValueError):
        raise Unsupported(f"the estimator's classes_ are not class indices: {list(classes)[:5]}") from None
    if np.array_equal(index, np.arange(n_classes)):
        return proba
    if (index < 0).any() or (index >= n_classes).any():
        raise Unsupported(f"the estimator's classes_ {index.tolist()} are not among the {n_classes} classes")
    spread = np.zeros((len(index), n_classes))
    spread[np.arange(len(index)), index] = 1.0
    return g.op("MatMul", [proba, g.const(spread, "classes")], "aligned")
