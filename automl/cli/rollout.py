"""``automl rollout status | step | abort`` and ``automl models history``: an automatic rollout
seen and steered by a person, and the audit trail of every move."""

from __future__ import annotations

from typing import Any

from automl.cli.args import Args, emit
from automl.cli.promote import named, store_of
from automl.errors import UserError
from automl.registry.rollout import Event, RolloutState, describe
from automl.registry.store import ModelStore

ACTIONS = ("status", "step", "abort")


def _status(store: ModelStore, name: str) -> tuple[dict[str, Any], str]:
    from automl.serve.rollout_controller import read_analysis

    state = store.rollout(name)
    analysis = read_analysis(store, name) if state.plan is not None else None
    data = {"name": name, **state.summary(), "analysis": analysis}
    if state.plan is None or state.candidate is None:
        what = f"{state.mode} of version {state.candidate}" if state.mode != "idle" else "no rollout running"
        return data, f"{name}: production {state.production}; {what}"
    plan = state.plan
    steps = " -> ".join(f"[{describe(s)}]" if i == plan.step else describe(s) for i, s in enumerate(plan.steps))
    lines = [
        f"{name}: version {state.candidate} rolling out over production {state.production}",
        f"step {plan.step + 1} of {len(plan.steps)}: {steps} (since {plan.since}; failed analyses {plan.failures})",
    ]
    if analysis and analysis.get("candidate") == state.candidate:
        lines.append(f"last analysis {analysis.get('at')}: {analysis.get('compared')} compared requests")
        for check in analysis.get("checks", []):
            result = {True: "pass", False: "FAIL", None: "wait"}[check["passed"]]
            lines.append(f"  {check['name']:<18} {result:<5} {check['detail']}")
    else:
        lines.append("no analysis yet (the server analyses while it serves the model)")
    return data, "\n".join(lines)


def _moved(name: str, before: RolloutState, after: RolloutState) -> tuple[dict[str, Any], str]:
    event = after.events[-1] if after.events else None
    line = f"{name}: {event.action} of version {event.version}: {event.why}" if event else f"{name}: unchanged"
    return {"name": name, "before": before.summary(), "after": after.summary()}, line


def cmd_rollout(args: Args, sub: list[str]) -> int:
    action = sub[0] if sub else "status"
    if action not in ACTIONS:
        raise UserError(f"automl rollout {action}: unknown action; use {', '.join(ACTIONS)}.")
    ref = args.require("model", "the NAME of the model whose rollout to show or steer")
    store = store_of(args.get("workspace"))
    why = args.get("why")
    args.finish(f"rollout {action}")
    name = named(store, ref, f"rollout {action}")
    if action == "status":
        emit(args, *_status(store, name))
        return 0
    reason = f"by hand: {why}" if why else "by hand"
    if action == "step":
        before, after = store.update_rollout(name, lambda s: s.stepped(reason))
    else:
        before, after = store.update_rollout(name, lambda s: s.rollout_stopped("abort", reason))
    emit(args, *_moved(name, before, after))
    return 0


def history(state: RolloutState) -> list[Event]:
    """Every move on record, oldest first; a state saved before the audit trail shows its
    production changes."""
    if state.events:
        return list(state.events)
    return [Event(c.at or "-", c.version, c.how, "before the audit trail") for c in state.history]


def show_history(args: Args) -> int:
    ref = args.require("model", "the NAME of the model")
    store = store_of(args.get("workspace"))
    args.finish("models history")
    name = named(store, ref, "history")
    events = history(store.rollout(name))
    text = "\n".join(f"{e.at:<26} v{e.version:<5} {e.action:<9} {e.why}" for e in events) or f"{name}: no history yet"
    emit(args, {"name": name, "events": [e.to_json() for e in events]}, text)
    return 0
