"""Built-in trainers for image and text tasks: heads on a backbone's cached embeddings
(linear probe, MLP, k-nearest neighbours) and trainers that need no weights at all
(TF-IDF n-grams for text, colour and gradient histograms for images)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from automl.plugins.components import RAW, TrainContext, TrainerSpec
from automl.plugins.markers import hookimpl

# OmegaConf reads these annotations at runtime: keep typing.Optional.
# ruff: noqa: UP045

MEDIA = ("image_classification", "text_classification")


@dataclass
class LinearProbeConfig:
    C: float = 1.0
    class_weight: Optional[str] = None
    max_iter: int = 2000


@dataclass
class MlpHeadConfig:
    hidden: int = 256
    alpha: float = 1e-4
    learning_rate_init: float = 1e-3
    max_iter: int = 200


@dataclass
class KnnConfig:
    n_neighbors: int = 10
    weights: str = "distance"


@dataclass
class TfidfLinearConfig:
    C: float = 10.0
    word_ngrams: int = 2
    char_ngrams: int = 5
    min_df: int = 1
    class_weight: Optional[str] = None


@dataclass
class ImageHistogramConfig:
    C: float = 1.0
    bins: int = 16
    class_weight: Optional[str] = None


def build_linear_probe(cfg: LinearProbeConfig, ctx: TrainContext) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=cfg.max_iter, random_state=ctx.seed),
    )


def build_mlp_head(cfg: MlpHeadConfig, ctx: TrainContext) -> Any:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mlp = MLPClassifier(
        hidden_layer_sizes=(cfg.hidden,),
        alpha=cfg.alpha,
        learning_rate_init=cfg.learning_rate_init,
        max_iter=cfg.max_iter,
        early_stopping=True,
        n_iter_no_change=10,
        random_state=ctx.seed,
    )
    return make_pipeline(StandardScaler(), mlp)


def build_knn(cfg: KnnConfig, ctx: TrainContext) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=cfg.n_neighbors, weights=cfg.weights, metric="cosine", n_jobs=ctx.n_jobs)


def build_tfidf_linear(cfg: TfidfLinearConfig, ctx: TrainContext) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(ngram_range=(1, cfg.word_ngrams), min_df=cfg.min_df, sublinear_tf=True, lowercase=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, cfg.char_ngrams), min_df=cfg.min_df, sublinear_tf=True),
    )
    model = LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=5000, random_state=ctx.seed)
    return make_pipeline(features, model)


def build_image_histogram(cfg: ImageHistogramConfig, ctx: TrainContext) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from automl.features.image_histograms import histogram_features

    return make_pipeline(
        FunctionTransformer(histogram_features, kw_args={"bins": cfg.bins}),
        StandardScaler(),
        LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=3000, random_state=ctx.seed),
    )


@hookimpl
def register_trainers(register: Callable[[TrainerSpec], None]) -> None:
    register(
        TrainerSpec(
            name="linear_probe",
            config_cls=LinearProbeConfig,
            build=build_linear_probe,
            tasks=MEDIA,
            default_space={"C": {"loguniform": [1e-3, 1e2]}, "class_weight": {"choice": [None, "balanced"]}},
            description="Logistic regression on a backbone's standardized embeddings.",
        )
    )
    register(
        TrainerSpec(
            name="mlp_head",
            config_cls=MlpHeadConfig,
            build=build_mlp_head,
            tasks=MEDIA,
            default_space={
                "hidden": {"choice": [128, 256, 512]},
                "alpha": {"loguniform": [1e-5, 1e-1]},
                "learning_rate_init": {"loguniform": [1e-4, 1e-2]},
            },
            description="A one-hidden-layer MLP on a backbone's embeddings, early-stopped.",
        )
    )
    register(
        TrainerSpec(
            name="knn",
            config_cls=KnnConfig,
            build=build_knn,
            tasks=MEDIA,
            default_space={"n_neighbors": {"int": [3, 30]}, "weights": {"choice": ["uniform", "distance"]}},
            description="k-nearest neighbours by cosine distance between embeddings.",
        )
    )
    register(
        TrainerSpec(
            name="tfidf_linear",
            config_cls=TfidfLinearConfig,
            build=build_tfidf_linear,
            tasks=("text_classification",),
            inputs=RAW,
            default_space={
                "C": {"loguniform": [0.1, 100.0]},
                "word_ngrams": {"int": [1, 3]},
                "char_ngrams": {"int": [3, 6]},
                "class_weight": {"choice": [None, "balanced"]},
            },
            description="TF-IDF word and character n-grams with logistic regression; needs no weights.",
        )
    )
    register(
        TrainerSpec(
            name="image_histogram",
            config_cls=ImageHistogramConfig,
            build=build_image_histogram,
            tasks=("image_classification",),
            inputs=RAW,
            stage=2,
            default_space={"C": {"loguniform": [1e-3, 10.0]}, "bins": {"choice": [8, 16, 32]}},
            description="Colour and gradient-orientation histograms with logistic regression; needs no weights.",
        )
    )
