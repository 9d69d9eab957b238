"""``automl loop recipe=NAME [watch=true] [retrain=always]``: one pass of the ML loop (exit 0 done,
3 retrained but not promoted, 4 drift without a retrain), or a watcher that stops cleanly on
SIGTERM or Ctrl-C between steps."""

from __future__ import annotations

import signal
import sys
from types import FrameType

from automl.cli.args import Args, emit
from automl.cli.run import RECIPE_HELP
from automl.errors import UserError

CANCELLED = 143  # 128 + SIGTERM: a pass cut short is not "done"


def cmd_loop(args: Args, sub: list[str]) -> int:
    from automl.config.compose import load_recipe
    from automl.loop.cycle import Loop, PassReport

    recipe_ref = args.require("recipe", RECIPE_HELP)
    watch = args.flag("watch", "use watch=true to keep watching (or leave watch= out for one pass)")
    retrain = args.get("retrain")
    overrides = args.overrides("recipe", "watch", "retrain")
    if retrain not in (None, "always"):
        raise UserError(f"retrain={retrain}: the one value is retrain=always (retrain whatever the triggers say).")
    loop = Loop(load_recipe(recipe_ref, overrides), sys.stderr, force=retrain == "always")

    def stop(signum: int, frame: FrameType | None) -> None:
        print("loop: stopping after the current step", file=sys.stderr, flush=True)
        loop.stop.set()

    signal.signal(signal.SIGTERM, stop)
    if not watch:
        report = loop.run_pass()
        emit(args, report.to_json(), report.line())
        if loop.stop.is_set():
            print("loop: stopped by SIGTERM before the pass ended", file=sys.stderr)
            return CANCELLED
        return report.exit_code

    def say(report: PassReport) -> None:
        emit(args, report.to_json(), report.line())
        sys.stdout.flush()

    signal.signal(signal.SIGINT, stop)
    print(
        f"loop: watching {loop.name} every {loop.recipe.loop.interval_s:g} s (SIGTERM or Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    loop.watch(say)
    print("loop: stopped", file=sys.stderr, flush=True)
    return 0
