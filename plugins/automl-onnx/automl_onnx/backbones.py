"""A backbone view's network as ONNX (``torch.onnx.export``), from the preprocessed tensor to the
embedding its heads were trained on.

Image (automl-timm's ``TimmEmbedder``): input ``(N, 3, H, W)`` float32, the image decoded to RGB,
resized, centre-cropped, scaled to [0, 1] and normalised exactly as timm's eval transform does
(``data_config`` in the sidecar; :mod:`automl_onnx.imaging` does it with Pillow and numpy).
Decoding and resizing stay outside the graph: ONNX has no image decoder, and its ``Resize`` does
not reproduce Pillow's antialiased bicubic filter.

Text (automl-transformers' ``TextEmbedder``): inputs ``input_ids`` and ``attention_mask``
``(N, L)`` int64 from the model's own tokenizer (saved beside the graph); the graph pools (mean
over real tokens, or the first token) and L2-normalises as the embedder does.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from automl_onnx.graph import FLOAT, INT64, GraphBuilder, Unsupported
from automl_onnx.network_cache import NetworkCache, first_conversion_seconds

OUTPUT = "automl_backbone_embedding"  # unlikely to clash with a name inside the network


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.onnx's deprecation warnings and progress lines off."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def kind_of(embedder: Any) -> str:
    if hasattr(embedder, "model") and isinstance(getattr(embedder, "data_config", None), dict):
        return "image"
    if hasattr(embedder, "model") and hasattr(embedder, "tokenizer") and hasattr(embedder, "pooling"):
        return "text"
    raise Unsupported(f"the embedder {type(embedder).__name__} has no ONNX export (image: timm, text: transformers)")


def network_key(cache: NetworkCache, embedder: Any, opset: int) -> str | None:
    """The cache key of ``embedder``'s converted network (None: not cached)."""
    kind = kind_of(embedder)
    detail = kind if kind == "image" else f"text:{embedder.pooling}:{bool(embedder.normalize)}"
    return cache.key(getattr(embedder, "identity", None), detail, opset)


def conversion_seconds(cache: NetworkCache, embedder: Any, opset: int) -> float:
    """What converting ``embedder``'s network would cost now: nothing when it is cached, else the
    first conversion's estimate."""
    if cache.seconds(network_key(cache, embedder, opset)) is not None:
        return 0.0
    return first_conversion_seconds(embedder.model)


def _torch_export(
    module: Any, args: tuple[Any, ...], input_names: list[str], dynamic: dict[str, dict[int, str]], opset: int
) -> Any:
    """The ONNX model of ``module`` (torch.export-based exporter first, TorchScript-based second)."""
    import onnx
    import torch

    errors = []
    with _quiet(), torch.inference_mode(False), torch.no_grad():
        try:
            shapes = {name: {axis: torch.export.Dim.AUTO for axis in axes} for name, axes in dynamic.items()}
            program = torch.onnx.export(
                module,
                args,
                None,
                dynamo=True,
                input_names=input_names,
                output_names=[OUTPUT],
                dynamic_shapes=shapes,
                opset_version=opset,
                verbose=False,
                optimize=True,
            )
            return program.model_proto
        except Exception as err:
            errors.append(f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}")
        try:
            buffer = io.BytesIO()
            torch.onnx.export(
                module,
                args,
                buffer,
                dynamo=False,
                input_names=input_names,
                output_names=[OUTPUT],
                dynamic_axes={**dynamic, OUTPUT: {0: "batch"}},
                opset_version=opset,
            )
            return onnx.load_from_string(buffer.getvalue())
        except Exception as err:
            errors.append(f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}")
    raise Unsupported(f"torch.onnx could not export the backbone: {' / '.join(errors)}")


def image_backbone(
    g: GraphBuilder, embedder: Any, input_name: str, hint: str, cache: NetworkCache
) -> tuple[str, int, dict[str, Any]]:
    """Adds input ``input_name`` (N, 3, H, W) and the network (converted, or from ``cache``);
    returns the embedding value, its width and the input's description for the sidecar."""
    import torch

    config = dict(embedder.data_config)
    channels, height, width = (int(v) for v in config["input_size"])

    class Embed(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixels: Any) -> Any:
            return self.model(pixels).float().flatten(1)

    module = Embed(embedder.model).eval()
    example = torch.zeros(2, channels, height, width)
    key = network_key(cache, embedder, g.opsets[""])
    network = cache.network(
        key, lambda: _torch_export(module, (example,), ["pixels"], {"pixels": {0: "batch"}}, g.opsets[""])
    )
    pixels = g.input(input_name, FLOAT, [None, channels, height, width])
    outputs = g.splice(network, {"pixels": pixels}, hint)
    dim = int(embedder.dim) if hasattr(embedder, "dim") else None
    described = {
        "name": input_name,
        "type": "float",
        "shape": [None, channels, height, width],
        "preprocess": {"kind": "timm_eval", "data_config": _jsonable(config)},
        "backbone": getattr(embedder, "name", None),
        "identity": getattr(embedder, "identity", None),
    }
    return outputs[OUTPUT], dim or 0, described


def text_backbone(
    g: GraphBuilder, embedder: Any, prefix: str, hint: str, folder: Path, cache: NetworkCache
) -> tuple[str, int, list[dict[str, Any]]]:
    """Adds inputs ``{prefix}input_ids`` and ``{prefix}attention_mask`` (N, L) and the encoder with
    its pooling (converted, or from ``cache``); the tokenizer is saved under
    ``folder / f"{prefix}tokenizer"``."""
    import torch

    pooling, normalize = embedder.pooling, bool(embedder.normalize)
    if pooling not in ("mean", "cls"):
        raise Unsupported(f"text pooling {pooling!r} has no ONNX export")

    class Encode(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            if pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            return pooled.float()

    encoded = embedder.tokenizer(["an example", "a longer example text"], padding=True, return_tensors="pt")
    args = (encoded["input_ids"], encoded["attention_mask"])
    module = Encode(embedder.model).eval()
    dynamic = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    key = network_key(cache, embedder, g.opsets[""])
    network = cache.network(
        key, lambda: _torch_export(module, args, ["input_ids", "attention_mask"], dynamic, g.opsets[""])
    )
    tokenizer_dir = f"{prefix}tokenizer"
    embedder.tokenizer.save_pretrained(str(folder / tokenizer_dir))
    ids = g.input(f"{prefix}input_ids", INT64, [None, None])
    mask = g.input(f"{prefix}attention_mask", INT64, [None, None])
    outputs = g.splice(network, {"input_ids": ids, "attention_mask": mask}, hint)
    tokenize = {"kind": "tokenizer", "dir": tokenizer_dir, "max_length": int(embedder.max_length)}
    described = [
        {"name": ids, "type": "int64", "shape": [None, None], "preprocess": {**tokenize, "field": "input_ids"}},
        {"name": mask, "type": "int64", "shape": [None, None], "preprocess": {**tokenize, "field": "attention_mask"}},
    ]
    return outputs[OUTPUT], int(embedder.dim), described


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "item"):
        return value.item()
    return value
