"""``automl serve``: the models behind one HTTP server until SIGTERM or Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.cli.args import Args
from automl.errors import UserError
from automl.serve.config import DEFAULT_BACKEND, ServeConfig, auto_workers, check_served

DAY_S = 86_400.0


OPTIONS = (
    "host",
    "port",
    "workers",
    "max_inflight",
    "timeout_s",
    "grace_s",
    "max_inputs",
    "max_body_bytes",
    "backend",
    "runtime",
)


def serve_config(args: Args, workspace: Path) -> ServeConfig:
    """The server's config from ``model=NAME`` or ``models=[a,b]`` and the typed options. Checked
    in this order: unknown arguments, the models (each registered, with a production version),
    then each option's value."""
    model, models_text = args.get("model"), args.get("models")
    for key in OPTIONS:
        args.get(key)
    args.finish("serve")
    from automl.model.exported import RUNTIMES

    runtime = args.get("runtime") or "auto"
    if runtime not in RUNTIMES:
        raise UserError(f"runtime={runtime}: use auto (a version's exported copy where its export passed) or native.")
    if bool(model) == bool(models_text):
        raise UserError("automl serve: give model=NAME or models=[a,b] (one of them).")
    names = check_served(workspace, [model] if model else args.names("models") or [])

    def seconds(key: str, default: float) -> float:
        hint = f"expected seconds above 0 (at most a day), e.g. {key}={default:g}"
        value = args.number(key, default, hint, low=0.0, high=DAY_S, above=True)
        assert value is not None
        return value

    def whole(key: str, default: int, low: int, high: int) -> int:
        value = args.integer(key, default, low, high)
        assert value is not None
        return value

    return ServeConfig(
        workspace=str(workspace),
        models=names,
        host=args.get("host") or "127.0.0.1",
        port=whole("port", 8000, 1, 65535),
        workers=served_workers(args, workspace, names, whole),
        max_inflight=whole("max_inflight", 64, 1, 100_000),
        timeout_s=seconds("timeout_s", 30.0),
        grace_s=seconds("grace_s", 60.0),
        max_inputs=whole("max_inputs", 256, 1, 100_000),
        max_body_bytes=whole("max_body_bytes", 1024 * 1024, 1024, 2**31),
        backend=args.get("backend") or DEFAULT_BACKEND,
        runtime=runtime,
    )


def served_workers(args: Args, workspace: Path, names: tuple[str, ...], whole: Any) -> int:
    """``workers``: a number, or ``auto`` (the default): sized from the machine and the served
    models' tasks (``automl.serve.config.auto_workers``)."""
    if args.get("workers") not in (None, "auto"):
        return int(whole("workers", 1, 1, 64))
    from automl.registry.store import ModelStore

    store = ModelStore(workspace)
    tasks = []
    for name in names:
        version = store.rollout(name).production
        tasks.append(store.meta(name, version).task if version is not None else "")
    return auto_workers(tasks)


def cmd_serve(args: Args, sub: list[str]) -> int:
    from automl.paths import workspace_dir
    from automl.serve.supervisor import serve

    return serve(serve_config(args, workspace_dir(args.get("workspace"))))
