"""The ``automl`` command: parse ``key=value`` arguments, call one function, print.

One module per command family (``run``, ``predict``, ``models``, ``plugins``, ``keys``, ``serve``,
``gc``), each thin: read typed arguments (``automl.cli.args``), call the layer below, print.
A command's module is imported only when it runs, and nothing heavy (torch, ray, sklearn) is
imported before a command needs it.

Exit codes: 0 done, 1 internal failure, 2 user error, 3 trained but not promoted, 4 drift.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Sequence

from automl.cli.args import Args
from automl.errors import AutomlError, DriftDetected, NotPromoted, UserError

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
           history model=NAME                every promotion, rollout step and rollback, when and why
  plugins                                    every registered component
  weights  fetch backbone=NAME | import backbone=NAME path=FILE
                                             pretrained weights for offline machines
  keys     add model=NAME [note=TEXT] | list [model=NAME] | revoke id=KEY_ID
                                             API keys of the model server (stored hashed)
  serve    model=NAME | models=[a,b] [port=8000] [host=127.0.0.1] [workers=1]
                                             serve models over HTTP until SIGTERM or Ctrl-C
  gc       [model=NAME] [retention_days=N] [dry_run=true]
                                             delete invokes older than each model's deploy.retention_days
  monitor  model=REF [reference=training|window] [window=N | window_hours=H] [reference_window=N]
           [alpha=P] [html=FILE]
                                             drift of the model's inputs and outputs (exit 4 on drift)
  sample   model=REF [n=N]                   queue recent invokes worth a human look for review
  review   [list] model=NAME | next model=NAME | export model=NAME output=FILE
           import model=NAME input=FILE [new_labels=true]
                                             the review queue; imported labels become training data
  inspect  recipe=NAME [n=N] [send=true]     likely label errors in the training data (last run)
  test     model=REF [recipe=NAME|FILE]      the recipe's model tests on a version (exit 3 if one fails)
  rollout  status|step|abort model=NAME [why=TEXT]
                                             an automatic rollout: where it is, next step now, stop it
  loop     recipe=NAME|FILE [watch=true] [retrain=always]
                                             monitor, sample, retrain on a trigger, test, gate, roll out
  ui       [host=127.0.0.1] [port=8765] [project=NAME source=DIR|FILE labels=[a,b]]
                                             the pages: models, runs, review and label in the browser

REF is NAME (production), NAME:VERSION or NAME@ALIAS. Every command accepts workspace=DIR
(default: $AUTOML_WORKSPACE, else ./.automl). Overrides use Hydra's grammar: key=value,
+key=value, search=quick, 'search.trainers=[logistic_regression,lightgbm]'.
exit codes: 0 done, 1 internal failure, 2 user error, 3 trained but not promoted, 4 drift.
"""


COMMANDS: dict[str, str] = {
    "run": "run:cmd_run",
    "show": "run:cmd_show",
    "predict": "predict:cmd_predict",
    "models": "models:cmd_models",
    "plugins": "plugins:cmd_plugins",
    "weights": "plugins:cmd_weights",
    "keys": "keys:cmd_keys",
    "serve": "serve:cmd_serve",
    "gc": "gc:cmd_gc",
    "monitor": "monitor:cmd_monitor",
    "sample": "review:cmd_sample",
    "review": "review:cmd_review",
    "inspect": "inspect:cmd_inspect",
    "test": "test:cmd_test",
    "rollout": "rollout:cmd_rollout",
    "loop": "loop:cmd_loop",
    "ui": "ui:cmd_ui",
}
"""Each command and where it lives: ``MODULE:FUNCTION`` under ``automl.cli``."""
WITH_ACTIONS = ("models", "weights", "keys", "review", "rollout")
"""Commands whose first word is an action (``automl models promote ...``)."""


def command(name: str) -> Callable[[Args, list[str]], int]:
    module, _, function = COMMANDS[name].partition(":")
    return getattr(importlib.import_module(f"automl.cli.{module}"), function)  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    argv = list(sys.argv[1:] if argv is None else argv)
    from automl.plugins.manager import one_line_plugin_warnings

    one_line_plugin_warnings()
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
        if command_name not in COMMANDS:
            from automl.errors import unknown_name

            raise unknown_name("command", command_name, COMMANDS)
        sub = [a for a in rest if "=" not in a and not a.startswith("~")]
        args = Args([a for a in rest if a not in sub], "--json" in flags, started)
        if sub and command_name not in WITH_ACTIONS:
            raise UserError(f"'{sub[0]}': arguments are key=value (see automl --help).")
        return command(command_name)(args, sub)
    except AutomlError as err:
        prefix = (
            "not promoted" if isinstance(err, NotPromoted) else "drift" if isinstance(err, DriftDetected) else "error"
        )
        print(f"{prefix}: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `automl plugins | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
