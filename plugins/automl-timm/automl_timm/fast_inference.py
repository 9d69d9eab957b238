"""A faster inference copy of a timm model on the CPU: batch norms folded into the convolutions
before them, in channels-last memory layout (about 2x on EfficientNet-Lite0 on 2 cores).

The copy is checked against the model on a fixed random batch; where it disagrees (a model whose
conv and norm are not consecutive in its forward), the model itself is used.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

TOLERANCE = 1e-3  # largest absolute difference, relative to the largest output


def _fold(module: nn.Module) -> int:
    """Folds each ``Conv2d`` directly followed (in definition order) by a ``BatchNorm2d`` into one
    conv; a timm ``BatchNormAct2d`` keeps its dropout and activation. Returns how many."""
    folded = 0
    names = list(module._modules)
    for first, second in zip(names, names[1:], strict=False):
        conv, norm = module._modules[first], module._modules[second]
        if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and norm.track_running_stats:
            module._modules[first] = fuse_conv_bn_eval(conv, norm)
            rest = [m for m in (getattr(norm, "drop", None), getattr(norm, "act", None)) if m is not None]
            module._modules[second] = nn.Sequential(*rest) if rest else nn.Identity()
            folded += 1
    for child in module.children():
        folded += _fold(child)
    return folded


def inference_copy(model: nn.Module, input_size: tuple[int, int, int]) -> nn.Module:
    """A folded, channels-last copy of ``model`` in eval mode that gives its outputs, or ``model``."""
    model = model.eval()
    fast = copy.deepcopy(model)
    if _fold(fast) == 0:
        return model
    fast = fast.to(memory_format=torch.channels_last).eval()
    generator = torch.Generator().manual_seed(0)
    probe = torch.randn(2, *input_size, generator=generator)
    with torch.inference_mode():
        want = model(probe)
        got = fast(probe.contiguous(memory_format=torch.channels_last))
    scale = float(want.abs().max()) or 1.0
    return fast if float((got - want).abs().max()) <= TOLERANCE * scale else model
