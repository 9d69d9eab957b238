"""One known mismatch, fixed in one place: a CUDA build of torchvision beside a CPU build of torch.

torchvision 0.28.0 from PyPI is built against CUDA torch. Beside the local ``torch 2.13.0+cpu``
(the project's CPU machines), ``import torchvision`` fails with "operator torchvision::nms does not
exist" while registering fake kernels for operators whose schemas its missing C++ library would
have defined. Defining the two schemas (``nms``, ``qnms``) first lets torchvision import, and with
it timm, torchvision transforms and transformers' vision-dependent models. torchvision's own
compiled ops and ``torchvision.io`` image decoding stay unavailable: automl decodes images with
Pillow. The fix does nothing unless that exact mismatch is present; elsewhere (torch and
torchvision installed the usual way) it returns without touching anything.
"""

from __future__ import annotations

import importlib.util
import sys

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library: object | None = None  # kept alive: the schemas live as long as this object


def _mismatch_present() -> bool:
    import torch

    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is None:
        return False
    if not torch.__version__.endswith("+cpu"):
        return False
    try:
        torch.ops.torchvision.nms  # noqa: B018 (probing whether the schema exists)
    except (AttributeError, RuntimeError):
        return True
    return False


def ensure_torchvision_importable() -> None:
    """Call before the first ``import timm`` / ``import torchvision`` (idempotent)."""
    global _library
    if _library is not None or not _mismatch_present():
        return
    import torch

    library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS.values():
        library.define(schema)
    _library = library
