"""The ``automl`` command: parse ``key=value`` arguments, call one function, print.

Exit codes: 0 done, 1 internal failure, 2 user error, 3 trained but not promoted, 4 drift.
Nothing heavy (torch, ray, sklearn) is imported before a command needs it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from automl.errors import AutomlError, NotPromoted, UserError

USAGE = """\
automl COMMAND [key=value ...] [--json]

commands:
  run      recipe=NAME|FILE [override ...]   train, evaluate, register and promote a model
  show     recipe=NAME|FILE [override ...]   print the fully resolved recipe as YAML
  predict  model=REF input=FILE output=FILE  predict in-process from a saved model
  models   [list | delete model=REF]         versions, metrics, aliases and traffic in the workspace
           promote model=NAME:VERSION [canary=PERCENT | shadow=true]
                                             make a version production, a canary or a shadow
           rollback model=NAME | abort model=NAME
                                             production back to the one before | end a canary or shadow
  plugins                                    every registered component
  weights  fetch backbone=NAME | import backbone=NAME path=FILE
                                             pretrained weights for offline machines
  keys     add model=NAME [note=TEXT] | list [model=NAME] | revoke id=KEY_ID
                                             API keys of the model server (stored hashed)
  serve    model=NAME | models=[a,b] [port=8000] [host=127.0.0.1] [workers=1]
                                             serve models over HTTP until SIGTERM or Ctrl-C
  gc       [model=NAME] [retention_days=N] [dry_run=true]
                                             delete invokes older than each model's deploy.retention_days

REF is NAME (production), NAME:VERSION or NAME@ALIAS. Every command accepts workspace=DIR
(default: $AUTOML_WORKSPACE, else ./.automl). Overrides use Hydra's grammar: key=value,
+key=value, search=quick, 'search.trainers=[logistic_regression,lightgbm]'.
exit codes: 0 done, 1 internal failure, 2 user error, 3 trained but not promoted, 4 drift.
"""


class Args:
    """A command's ``key=value`` arguments; asking for an unknown key is caught by ``finish``."""

    def __init__(self, pairs: Sequence[str], as_json: bool, started: float | None = None) -> None:
        self.as_json = as_json
        self.started = time.monotonic() if started is None else started  # the command's start
        self.values: dict[str, str] = {}
        self.extra: list[str] = []
        for pair in pairs:
            if pair.startswith("~"):  # Hydra's delete override: passed on to the recipe as is
                self.extra.append(pair)
                continue
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise UserError(f"'{pair}': arguments are key=value (see automl --help).")
            self.values[key] = value
            self.extra.append(pair)
        self.used: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:
        self.used.add(key)
        return self.values.get(key, default)

    def require(self, key: str, what: str) -> str:
        value = self.get(key)
        if not value:
            raise UserError(f"{key}= is required: {what}.")
        return value

    def finish(self, command: str) -> None:
        unknown = [k for k in self.values if k not in self.used and k != "workspace"]
        if unknown:
            raise UserError(f"automl {command}: unknown argument(s) {', '.join(unknown)}= (see automl --help).")


def _emit(args: Args, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.as_json else text)


def cmd_run(args: Args, sub: list[str]) -> int:
    from automl.config.compose import load_recipe
    from automl.runner import run_recipe

    recipe = args.require("recipe", "a ready recipe name or a path to a YAML file")
    overrides = [p for p in args.extra if not p.startswith("recipe=")]
    summary = run_recipe(load_recipe(recipe, overrides), started=args.started)
    model = summary["model"]
    text = (
        f"{model['name']} v{model['version']} ({model['alias']}): {summary['metric']} "
        f"{summary['score']:.4f} ± {summary['score_std']:.4f} over {len(summary['fold_scores'])} folds, "
        f"best {summary['best']['trainer']}; {summary['trials']} trials ({summary['failed_trials']} failed), "
        f"{summary['data']['rows']} rows ({summary['data']['skipped']} skipped) in {summary['duration_s']:.1f} s\n"
        f"summary: {summary['run_dir']}/summary.json"
    )
    _emit(args, summary, text)
    if model["alias"] != "production":
        raise NotPromoted(f"{model['name']} v{model['version']} did not beat production; kept as candidate.")
    return 0


def cmd_show(args: Args, sub: list[str]) -> int:
    import dataclasses

    from automl.config.compose import load_recipe, recipe_to_yaml
    from automl.config.validate import check_recipe
    from automl.plugins.manager import get_plugins

    recipe = load_recipe(
        args.require("recipe", "a ready recipe name or a path to a YAML file"),
        [p for p in args.extra if not p.startswith("recipe=")],
    )
    checked = check_recipe(recipe, get_plugins())
    resolved = checked.recipe
    text = recipe_to_yaml(resolved).rstrip()
    if checked.defaults and checked.defaults.filled:
        text += f"\n# chosen by task ({resolved.task.type}): {', '.join(checked.defaults.filled)}"
    for note in checked.defaults.left_out if checked.defaults else ():
        text += f"\n# not in the default backbones: {note['backbone']} ({note['reason']})"
    _emit(args, dataclasses.asdict(resolved), text)
    return 0


def cmd_predict(args: Args, sub: list[str]) -> int:
    from automl.predict_files import predict_file

    result = predict_file(
        args.require("model", "NAME, NAME:VERSION or NAME@ALIAS"),
        args.require("input", "the file to predict (CSV, Parquet or JSONL)"),
        args.require("output", "where to write predictions (CSV or Parquet)"),
        args.get("workspace"),
    )
    args.finish("predict")
    _emit(args, result, f"{result['rows']} predictions by {result['model']} -> {result['output']}")
    return 0


def cmd_models(args: Args, sub: list[str]) -> int:
    from automl.model_listing import delete_version, list_versions, render_versions

    action = sub[0] if sub else "list"
    if action == "list":
        rows = list_versions(args.get("workspace"), args.get("model"))
        args.finish("models")
        _emit(args, rows, render_versions(rows))
    elif action == "delete":
        ref, workspace = args.require("model", "NAME:VERSION to delete"), args.get("workspace")
        args.finish("models delete")
        deleted = delete_version(ref, workspace)
        _emit(args, deleted, f"deleted {deleted['name']}:{deleted['version']}")
    elif action == "promote":
        from automl.model_promotion import promote_version

        ref = args.require("model", "NAME:VERSION to promote")
        canary, shadow, workspace = args.get("canary"), args.get("shadow"), args.get("workspace")
        args.finish("models promote")
        _emit(args, *promote_version(ref, canary, shadow, workspace))
    elif action in ("rollback", "abort"):
        from automl.model_promotion import abort_rollout, rollback_model

        ref, workspace = args.require("model", f"the NAME of the model to {action}"), args.get("workspace")
        args.finish(f"models {action}")
        _emit(args, *(rollback_model if action == "rollback" else abort_rollout)(ref, workspace))
    else:
        raise UserError(f"automl models {action}: unknown action; use list, promote, rollback, abort or delete.")
    return 0


def cmd_plugins(args: Args, sub: list[str]) -> int:
    from automl.plugins.listing import plugin_rows, render_plugins

    args.finish("plugins")
    rows, _ = plugin_rows()
    _emit(args, rows, render_plugins(rows))  # failed plugins are reported by the warning filter in main
    return 0


def cmd_weights(args: Args, sub: list[str]) -> int:
    from automl.paths import workspace_dir
    from automl.plugins.manager import get_plugins
    from automl.weights import fetch_weights, import_weights

    action = sub[0] if sub else ""
    backbone = args.require("backbone", "the registered backbone name (see automl plugins)")
    if action == "import":
        path = args.require("path", "the weights file to import")
        args.finish("weights import")
        done = import_weights(get_plugins(), workspace_dir(args.get("workspace")), backbone, path)
        _emit(args, done, f"imported {done['weights']} for {backbone}")
    elif action == "fetch":
        args.finish("weights fetch")
        done = fetch_weights(get_plugins(), backbone)
        _emit(args, done, f"{backbone}: weights are in the local cache ({done['identity']})")
    else:
        raise UserError(
            "automl weights: use `weights fetch backbone=NAME` or `weights import backbone=NAME path=FILE`."
        )
    return 0


def cmd_keys(args: Args, sub: list[str]) -> int:
    from automl.api_keys import KeyStore
    from automl.paths import workspace_dir
    from automl.registry.store import ModelStore

    workspace = workspace_dir(args.get("workspace"))
    keys = KeyStore(workspace)
    action = sub[0] if sub else "list"
    if action == "add":
        model = args.require("model", "the model the key may call")
        note = args.get("note") or ""
        args.finish("keys add")
        names = ModelStore(workspace).names()
        if model not in names:
            raise UserError(
                f"model={model}: no such model in {workspace}. Models: {', '.join(names) or 'none'} "
                "(a key belongs to one registered model)."
            )
        entry, key = keys.add(model, note)
        data = {**entry.public(), "key": key}
        text = f"{key}\nkey {entry.id} for {model}: shown once, store it now (only its hash is kept)."
        _emit(args, data, text)
    elif action == "list":
        model = args.get("model")
        args.finish("keys list")
        rows = [e.public() for e in keys.entries() if model is None or e.model == model]
        lines = [f"{'ID':<14}{'MODEL':<20}{'CREATED':<26}{'REVOKED':<26}NOTE"]
        lines += [f"{r['id']:<14}{r['model']:<20}{r['created']:<26}{r['revoked'] or '-':<26}{r['note']}" for r in rows]
        _emit(args, rows, "\n".join(lines) if rows else "no keys")
    elif action == "revoke":
        key_id = args.require("id", "the id of the key to revoke (see automl keys list)")
        args.finish("keys revoke")
        entry = keys.revoke(key_id)
        _emit(args, entry.public(), f"revoked key {entry.id} of {entry.model}")
    else:
        raise UserError(f"automl keys {action}: unknown action; use add, list or revoke.")
    return 0


def cmd_serve(args: Args, sub: list[str]) -> int:
    from automl.paths import workspace_dir
    from automl.serve.config import build_config
    from automl.serve.supervisor import serve

    keys = (
        "model", "models", "port", "host", "workers", "max_inflight", "max_inputs",
        "timeout_s", "grace_s", "max_body_bytes", "backend",
    )  # fmt: skip
    values = {k: args.get(k) for k in keys}
    args.finish("serve")
    return serve(build_config(workspace_dir(args.get("workspace")), values))


def cmd_gc(args: Args, sub: list[str]) -> int:
    from automl.invoke_gc import describe, gc_by_recipe, parse_days, parse_dry_run
    from automl.paths import workspace_dir
    from automl.registry.store import ModelStore

    workspace = workspace_dir(args.get("workspace"))
    model = args.get("model")
    days = parse_days(args.get("retention_days"))
    dry_run = parse_dry_run(args.get("dry_run"))
    args.finish("gc")
    result = gc_by_recipe(workspace, model, days, dry_run=dry_run)
    text = describe(result, workspace, ModelStore(workspace).names())
    _emit(args, {"workspace": str(workspace), **result.to_json()}, text)
    return 0


COMMANDS: dict[str, Callable[[Args, list[str]], int]] = {
    "run": cmd_run,
    "show": cmd_show,
    "predict": cmd_predict,
    "models": cmd_models,
    "plugins": cmd_plugins,
    "weights": cmd_weights,
    "keys": cmd_keys,
    "serve": cmd_serve,
    "gc": cmd_gc,
}


def _one_line_plugin_warnings() -> None:
    """Show a failed plugin as one ``warning:`` line on stderr, not Python's warning format."""
    import warnings

    from automl.plugins.manager import PluginLoadWarning

    default = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, PluginLoadWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            default(message, category, *args, **kwargs)

    warnings.showwarning = show


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    argv = list(sys.argv[1:] if argv is None else argv)
    _one_line_plugin_warnings()
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    flags = [a for a in argv if a.startswith("-")]
    if "-h" in flags or "--help" in flags:
        print(USAGE, end="")
        return 0
    unknown = [f for f in flags if f != "--json"]
    command_name, rest = argv[0], [a for a in argv[1:] if not a.startswith("-")]
    try:
        if unknown:
            raise UserError(f"unknown option(s) {' '.join(unknown)}; the one flag is --json.")
        command = COMMANDS.get(command_name)
        if command is None:
            from automl.errors import unknown_name

            raise unknown_name("command", command_name, COMMANDS)
        sub = [a for a in rest if "=" not in a and not a.startswith("~")]
        args = Args([a for a in rest if a not in sub], "--json" in flags, started)
        if sub and command_name not in ("models", "weights", "keys"):
            raise UserError(f"'{sub[0]}': arguments are key=value (see automl --help).")
        return command(args, sub)
    except AutomlError as err:
        print(f"error: {err}" if not isinstance(err, NotPromoted) else f"not promoted: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `automl plugins | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
