"""``automl keys``: the model server's API keys (stored hashed)."""

from __future__ import annotations

from automl.cli.args import Args, emit
from automl.errors import UserError


def cmd_keys(args: Args, sub: list[str]) -> int:
    from automl.paths import workspace_dir
    from automl.registry.store import ModelStore
    from automl.serve.api_keys import KeyStore

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
        emit(args, data, text)
    elif action == "list":
        only = args.get("model")
        args.finish("keys list")
        rows = [e.public() for e in keys.entries() if only is None or e.model == only]
        lines = [f"{'ID':<14}{'MODEL':<20}{'CREATED':<26}{'REVOKED':<26}NOTE"]
        lines += [f"{r['id']:<14}{r['model']:<20}{r['created']:<26}{r['revoked'] or '-':<26}{r['note']}" for r in rows]
        emit(args, rows, "\n".join(lines) if rows else "no keys")
    elif action == "revoke":
        key_id = args.require("id", "the id of the key to revoke (see automl keys list)")
        args.finish("keys revoke")
        entry = keys.revoke(key_id)
        emit(args, entry.public(), f"revoked key {entry.id} of {entry.model}")
    else:
        raise UserError(f"automl keys {action}: unknown action; use add, list or revoke.")
    return 0
