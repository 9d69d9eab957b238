"""Explicit key mappings from other libraries' state-dict layouts onto timm models.

Each layout builds a ``rename(source_key) -> timm_key | None`` for one model; the mapping is then
checked key by key and shape by shape (:func:`automl.plugins.weights.remap_state_dict`), never
matched by position.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch

from automl_timm.catalogue import EFFICIENTNET_PYTORCH

Rename = Callable[[str], "str | None"]

# EfficientNet-PyTorch block parts -> timm, by block kind. A block with an expansion conv is an
# inverted residual in timm (conv_pw expands, conv_pwl projects); one without is a depthwise-separable
# block (conv_pw projects).
_INVERTED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_STEM_HEAD = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_BLOCK = re.compile(r"^_blocks\.(\d+)\.(_[a-z_]+\d?)\.(.+)$")
_TOP = re.compile(r"^(_[a-z_]+\d?)\.(.+)$")


def efficientnet_pytorch(model: torch.nn.Module, source_keys: list[str]) -> Rename:
    """EfficientNet-PyTorch (``_conv_stem``, ``_blocks.K._depthwise_conv``, ``_fc``) onto a timm
    EfficientNet: the flat block index K walks timm's stages in order."""
    positions = [(s, i) for s, stage in enumerate(model.blocks) for i in range(len(stage))]  # type: ignore[arg-type]
    expanding = {int(m.group(1)) for k in source_keys if (m := _BLOCK.match(k)) and m.group(2) == "_expand_conv"}

    def rename(key: str) -> str | None:
        block = _BLOCK.match(key)
        if block:
            index, part, rest = int(block.group(1)), block.group(2), block.group(3)
            if index >= len(positions):
                return None
            parts = _INVERTED if index in expanding else _SEPARABLE
            if part not in parts:
                return None
            stage, position = positions[index]
            return f"blocks.{stage}.{position}.{parts[part]}.{rest}"
        top = _TOP.match(key)
        if top and top.group(1) in _STEM_HEAD:
            return f"{_STEM_HEAD[top.group(1)]}.{top.group(2)}"
        return None

    return rename


def native(model: torch.nn.Module, source_keys: list[str]) -> Rename:
    """A file already in timm's own layout."""
    return lambda key: key


LAYOUTS: dict[str, Callable[[torch.nn.Module, list[str]], Rename]] = {
    EFFICIENTNET_PYTORCH: efficientnet_pytorch,
    "native": native,
}
