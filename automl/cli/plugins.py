"""``automl plugins`` and ``automl weights``: the registered components, and pretrained weights
for machines that cannot reach the hub."""

from __future__ import annotations

from automl.cli.args import Args, emit
from automl.errors import UserError


def cmd_plugins(args: Args, sub: list[str]) -> int:
    from automl.plugins.listing import plugin_rows, render_plugins

    args.finish("plugins")
    rows, _ = plugin_rows()
    emit(args, rows, render_plugins(rows))  # failed plugins are reported by the warning filter in main
    return 0


def cmd_weights(args: Args, sub: list[str]) -> int:
    from automl.paths import workspace_dir
    from automl.plugins.imported_weights import fetch_weights, import_weights
    from automl.plugins.manager import get_plugins

    action = sub[0] if sub else ""
    backbone = args.require("backbone", "the registered backbone name (see automl plugins)")
    if action == "import":
        path = args.require("path", "the weights file to import")
        args.finish("weights import")
        done = import_weights(get_plugins(), workspace_dir(args.get("workspace")), backbone, path)
        emit(args, done, f"imported {done['weights']} for {backbone}")
    elif action == "fetch":
        args.finish("weights fetch")
        done = fetch_weights(get_plugins(), backbone)
        emit(args, done, f"{backbone}: weights are in the local cache ({done['identity']})")
    else:
        raise UserError(
            "automl weights: use `weights fetch backbone=NAME` or `weights import backbone=NAME path=FILE`."
        )
    return 0
