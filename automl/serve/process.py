"""The server's main process: ``python -m automl.serve.process CONFIG_JSON``.

Started by the supervisor (``automl serve``) in a session of its own: it looks the serving backend
up by its registered name and calls its factory with a ``ServingApp``; the backend runs the server
until SIGTERM or SIGINT. (A module of its own, so what the backend pickles for its workers names
``automl.serve.app``, never ``__main__``.)
"""

from __future__ import annotations

import logging
import sys

from automl.plugins.manager import one_line_plugin_warnings
from automl.serve.app import ServingApp, serving_backend
from automl.serve.config import ServeConfig


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config = ServeConfig.from_json(argv[0])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    one_line_plugin_warnings()
    return serving_backend(config.backend)(ServingApp(config))


if __name__ == "__main__":
    sys.exit(main())
