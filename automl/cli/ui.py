"""``automl ui``: the pages (models, runs, review) on 127.0.0.1 until SIGTERM or Ctrl-C."""

from __future__ import annotations

import json

from automl.cli.args import Args
from automl.errors import UserError

DEFAULT_PORT = 8765


def cmd_ui(args: Args, sub: list[str]) -> int:
    from automl.paths import workspace_dir

    workspace = workspace_dir(args.get("workspace"))
    host = args.get("host") or "127.0.0.1"
    port = args.integer("port", DEFAULT_PORT, 0, 65535, "expected a port from 1 to 65535 (0: a free one)")
    project, source, labels = args.get("project"), args.get("source"), args.names("labels") or []
    reviewer = args.get("reviewer")
    args.finish("ui")
    if source and not project:
        raise UserError("source= needs project=NAME: the name of the project (and of its model).")
    from automl.ui.access import Access

    try:
        access = Access.for_host(host)
    except ValueError as err:
        raise UserError(str(err)) from None
    from automl.ui.review_routes import start_projects
    from automl.ui.server import UiContext, bind, create_app, run_server

    if source and project:
        from automl.ui.projects import create_project

        create_project(workspace, project, source, labels)
    ctx = UiContext(workspace, access, reviewer)
    start_projects(ctx)
    app = create_app(ctx)
    sock = bind(host, port or 0)
    bound = sock.getsockname()[1]
    base = f"http://{f'[{host}]' if ':' in host else host}:{bound}"
    login = f"{base}/login?token={access.login_token}"
    page = f"{base}/review" + (f"?model={project}" if project else "")
    if args.as_json:
        print(json.dumps({"url": page, "login_url": login, "workspace": str(workspace)}), flush=True)
    else:
        reads = "reads open on this machine" if access.loopback else "every page needs the key"
        print(f"automl ui: {page} (workspace {workspace}; {reads})", flush=True)
        print(f"to label and train, open once: {login}", flush=True)
        print("Ctrl-C stops it.", flush=True)
    try:
        run_server(app, sock)
    finally:
        for job in list(ctx.jobs.values()):
            job.stop()  # a run started from the page ends with the pages
    return 0
