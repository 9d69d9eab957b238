"""Built-in scikit-learn trainers, registered through ``register_trainers`` like a plugin's.

Each trainer is a config dataclass (its hyperparameters and their defaults), a default search
space in the recipe grammar, and a ``build`` that returns an unfitted scikit-learn pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from automl.features.tabular import make_preprocessor
from automl.plugins.components import TrainContext, TrainerSpec
from automl.plugins.markers import hookimpl

# OmegaConf reads these annotations at runtime: keep typing.Optional.
# ruff: noqa: UP045


@dataclass
class LogisticRegressionConfig:
    C: float = 1.0
    class_weight: Optional[str] = None
    impute: str = "median"
    max_iter: int = 2000


@dataclass
class ForestConfig:
    n_estimators: int = 200
    max_features: Any = "sqrt"
    min_samples_leaf: int = 1
    max_depth: Optional[int] = None
    class_weight: Optional[str] = None
    categorical: str = "ordinal"


@dataclass
class HistGradientBoostingConfig:
    learning_rate: float = 0.1
    max_iter: int = 300
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    max_features: float = 1.0
    class_weight: Optional[str] = None
    early_stopping: bool = True


def build_logistic_regression(cfg: LogisticRegressionConfig, ctx: TrainContext) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    model = LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=cfg.max_iter, random_state=ctx.seed)
    return Pipeline([("features", make_preprocessor(ctx, impute=cfg.impute, scale=True)), ("model", model)])


def _forest(class_name: str) -> Callable[[ForestConfig, TrainContext], Any]:
    """A build function for sklearn.ensemble's ``class_name`` (imported only when building)."""

    def build(cfg: ForestConfig, ctx: TrainContext) -> Any:
        import sklearn.ensemble
        from sklearn.pipeline import Pipeline

        model_cls = getattr(sklearn.ensemble, class_name)
        model = model_cls(
            n_estimators=cfg.n_estimators,
            max_features=cfg.max_features,
            min_samples_leaf=cfg.min_samples_leaf,
            max_depth=cfg.max_depth,
            class_weight=cfg.class_weight,
            n_jobs=ctx.n_jobs,
            random_state=ctx.seed,
        )
        features = make_preprocessor(ctx, impute="median", categorical=cfg.categorical)
        return Pipeline([("features", features), ("model", model)])

    return build


def build_hist_gradient_boosting(cfg: HistGradientBoostingConfig, ctx: TrainContext) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    model = HistGradientBoostingClassifier(
        learning_rate=cfg.learning_rate,
        max_iter=cfg.max_iter,
        max_leaf_nodes=cfg.max_leaf_nodes,
        min_samples_leaf=cfg.min_samples_leaf,
        l2_regularization=cfg.l2_regularization,
        max_features=cfg.max_features,
        class_weight=cfg.class_weight,
        early_stopping=cfg.early_stopping,
        categorical_features=list(ctx.categorical_columns) or None,
        random_state=ctx.seed,
    )
    features = make_preprocessor(ctx, impute=None, categorical="ordinal")
    return Pipeline([("features", features), ("model", model)])


_FOREST_SPACE = {
    "max_features": {"choice": ["sqrt", 0.3, 0.6, 1.0]},
    "min_samples_leaf": {"int": [1, 20]},
    "class_weight": {"choice": [None, "balanced", "balanced_subsample"]},
    "categorical": {"choice": ["ordinal", "onehot"]},
}


@hookimpl
def register_trainers(register: Callable[[TrainerSpec], None]) -> None:
    # Registration order is the order of a default search: the strongest cheap model first.
    register(
        TrainerSpec(
            name="hist_gradient_boosting",
            config_cls=HistGradientBoostingConfig,
            build=build_hist_gradient_boosting,
            default_space={
                "learning_rate": {"loguniform": [0.02, 0.3]},
                "max_leaf_nodes": {"int": [8, 128]},
                "min_samples_leaf": {"int": [5, 100]},
                "l2_regularization": {"loguniform": [1e-4, 10.0]},
                "max_features": {"uniform": [0.5, 1.0]},
                "class_weight": {"choice": [None, "balanced"]},
            },
            description="Histogram gradient boosting with native categoricals and missing values.",
        )
    )
    register(
        TrainerSpec(
            name="logistic_regression",
            config_cls=LogisticRegressionConfig,
            build=build_logistic_regression,
            default_space={
                "C": {"loguniform": [1e-3, 1e2]},
                "class_weight": {"choice": [None, "balanced"]},
                "impute": {"choice": ["median", "mean"]},
            },
            description="L2 logistic regression on one-hot categoricals and scaled numbers.",
        )
    )
    for name, class_name, what in (
        ("random_forest", "RandomForestClassifier", "Random forest"),
        ("extra_trees", "ExtraTreesClassifier", "Extremely randomized trees"),
    ):
        register(
            TrainerSpec(
                name=name,
                config_cls=ForestConfig,
                build=_forest(class_name),
                default_space=_FOREST_SPACE,
                description=f"{what} on ordinal or one-hot categoricals.",
            )
        )
