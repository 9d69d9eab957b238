"""Registers the ``lightgbm`` trainer. LightGBM itself is imported only when a model is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from automl.plugins.api import TrainContext, TrainerSpec, hookimpl, make_preprocessor

# OmegaConf reads these annotations at runtime: keep typing.Optional.
# ruff: noqa: UP045


@dataclass
class LightGBMConfig:
    n_estimators: int = 400
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_child_samples: int = 20
    subsample: float = 1.0
    colsample_bytree: float = 1.0
    reg_lambda: float = 0.0
    class_weight: Optional[str] = None


def build_lightgbm(cfg: LightGBMConfig, ctx: TrainContext) -> Any:
    from sklearn.pipeline import Pipeline

    from automl_lightgbm.model import CategoricalLGBMClassifier

    model = CategoricalLGBMClassifier(
        categorical=tuple(ctx.categorical_columns),
        n_estimators=cfg.n_estimators,
        learning_rate=cfg.learning_rate,
        num_leaves=cfg.num_leaves,
        min_child_samples=cfg.min_child_samples,
        subsample=cfg.subsample,
        colsample_bytree=cfg.colsample_bytree,
        reg_lambda=cfg.reg_lambda,
        class_weight=cfg.class_weight,
        n_jobs=ctx.n_jobs,
        random_state=ctx.seed,
    )
    features = make_preprocessor(ctx, impute=None, categorical="ordinal")
    return Pipeline([("features", features), ("model", model)])


@hookimpl
def register_trainers(register: Callable[[TrainerSpec], None]) -> None:
    register(
        TrainerSpec(
            name="lightgbm",
            config_cls=LightGBMConfig,
            build=build_lightgbm,
            default_space={
                "learning_rate": {"loguniform": [0.01, 0.2]},
                "num_leaves": {"int": [8, 128]},
                "min_child_samples": {"int": [5, 100]},
                "subsample": {"uniform": [0.6, 1.0]},
                "colsample_bytree": {"uniform": [0.5, 1.0]},
                "reg_lambda": {"loguniform": [1e-3, 10.0]},
                "class_weight": {"choice": [None, "balanced"]},
            },
            description="LightGBM gradient-boosted trees with native categoricals.",
        )
    )
