"""Turn OmegaConf and Hydra exceptions into one-line user errors that name the key."""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf.errors import (
    ConfigKeyError,
    InterpolationResolutionError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from automl.errors import UserError, did_you_mean


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def schema_keys(schema: type | None, dotted: str) -> list[str]:
    """Field names of the dataclass reached by following ``dotted`` from ``schema``."""
    node: Any = schema
    for part in [p for p in dotted.split(".") if p]:
        if not dataclasses.is_dataclass(node):
            return []
        types = {f.name: f for f in dataclasses.fields(node)}
        if part not in types:
            return []
        f = types[part]
        node = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        node = type(node) if dataclasses.is_dataclass(node) else None
    return [f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else []


def config_error(err: OmegaConfBaseException, schema: type | None, prefix: str = "") -> UserError:
    """A one-line :class:`UserError` for an OmegaConf error raised while checking a config."""
    key = f"{prefix}{err.full_key}" if getattr(err, "full_key", None) else prefix.rstrip(".")
    if isinstance(err, ConfigKeyError) and err.key is not None:
        parent = str(err.full_key).rsplit(".", 1)[0] if "." in str(err.full_key) else ""
        valid = schema_keys(schema, parent)
        where = f" of {prefix}{parent}".rstrip(".") if (prefix or parent) else ""
        hint = did_you_mean(str(err.key), valid)
        listed = f" Valid keys{where}: {', '.join(valid)}." if valid else ""
        return UserError(f"Unknown key '{key}'{hint}.{listed}")
    if isinstance(err, MissingMandatoryValue):
        return UserError(f"{key}: a value is required and none was given.")
    if isinstance(err, InterpolationResolutionError):
        return UserError(f"{key}: cannot resolve {_first_line(err.msg or str(err))}")
    if isinstance(err, ValidationError):
        return UserError(f"{key}: {_first_line(err.msg or str(err))}")
    return UserError(f"{key}: {_first_line(str(err))}")
