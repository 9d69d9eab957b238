"""The server's main process for LitServe: ``automl serve`` starts ``automl.serve.process`` in a
session of its own, which calls ``run`` with the core's ``ServingApp``."""

from __future__ import annotations

import os

from automl.plugins.api import ServingApp


def run(app: ServingApp) -> int:
    os.environ.pop("LIT_SERVER_API_KEY", None)  # read by litserve at import: it would guard /health too
    from automl_litserve.shutdown import die_with_parent, install_shutdown

    die_with_parent()
    from automl_litserve.app import build

    settings = app.settings
    server = build(app)
    install_shutdown(server)
    server.run(
        host=settings.host, port=settings.port, num_api_servers=1, generate_client_file=False, log_level="warning"
    )
    return 0
