"""The server's main process: ``python -m automl_litserve.main CONFIG_JSON`` (started by
``automl serve`` in its own session)."""

from __future__ import annotations

import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.pop("LIT_SERVER_API_KEY", None)  # read by litserve at import: it would guard /health too
    from automl.serve.config import ServeConfig
    from automl_litserve.shutdown import die_with_parent, install_shutdown

    argv = sys.argv[1:] if argv is None else argv
    config = ServeConfig.from_json(argv[0])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    die_with_parent()
    from automl_litserve.app import build

    server = build(config)
    install_shutdown(server)
    server.run(host=config.host, port=config.port, num_api_servers=1, generate_client_file=False, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
