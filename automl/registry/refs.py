"""Model references: ``NAME`` (production, or the only version), ``NAME:7``, ``NAME@candidate``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from automl.errors import UserError

_REF = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_-]*)(?::(?P<version>\d+)|@(?P<alias>[A-Za-z][A-Za-z0-9_-]*))?$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        m = _REF.match(text.strip())
        if not m:
            raise UserError(
                f"model={text}: expected NAME, NAME:VERSION or NAME@ALIAS (e.g. income:3, income@candidate)."
            )
        version = int(m["version"]) if m["version"] else None
        if version is not None and version < 1:
            raise UserError(f"model={text}: versions start at 1.")
        return cls(m["name"], version, m["alias"])

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name
