"""Registers the ``litserve`` serving backend. Nothing heavy is imported here (``automl plugins``
imports this module): litserve is imported only by the server process."""

from __future__ import annotations

from collections.abc import Callable

from automl.plugins.api import ComponentSpec, ServingApp, hookimpl


def run_server(app: ServingApp) -> int:
    """Run LitServe for ``app`` until SIGTERM/SIGINT (called in the server's main process)."""
    from automl_litserve.main import run

    return run(app)


@hookimpl
def register_serving_backends(register: Callable[[ComponentSpec], None]) -> None:
    register(
        ComponentSpec(
            name="litserve",
            description="LitServe: one HTTP server for one or more models, inference in worker processes.",
            factory=run_server,
        )
    )
