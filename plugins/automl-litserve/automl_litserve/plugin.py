"""Registers the ``litserve`` serving backend. Nothing heavy is imported here (``automl plugins``
imports this module): litserve is imported only by the server process."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from automl.plugins.api import ComponentSpec, hookimpl


def server_command(config: Any) -> list[str]:
    """The server's main process: ``python -m automl_litserve.main CONFIG_JSON``."""
    return [sys.executable, "-m", "automl_litserve.main", config.to_json()]


@hookimpl
def register_serving_backends(register: Callable[[ComponentSpec], None]) -> None:
    register(
        ComponentSpec(
            name="litserve",
            description="LitServe: one HTTP server for one or more models, inference in worker processes.",
            factory=server_command,
        )
    )
