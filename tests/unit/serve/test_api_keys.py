"""API keys: shown once, stored hashed (0600), verified in constant time per model, revocable;
and the ``automl keys`` command with its errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from automl.cli import main
from automl.errors import UserError
from automl.registry.store import ModelStore
from automl.serve.api_keys import KeyStore


def test_a_key_is_stored_only_as_a_hash_and_verifies_for_its_model(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    entry, key = keys.add("dogs", note="mobile app")
    assert key.startswith(f"amk_{entry.id}_") and len(key) > 50
    stored = (tmp_path / "keys.json").read_text()
    assert key not in stored and key.split("_", 2)[2] not in stored
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    assert keys.verify("dogs", key) == entry.id
    assert keys.verify("spam", key) is None, "a key belongs to one model"
    assert keys.verify("dogs", key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert keys.verify("dogs", "") is None and keys.verify("dogs", None) is None
    assert keys.verify("dogs", "Bearer " + key) is None


def test_revoked_keys_stop_working_and_others_keep_working(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    first, first_key = keys.add("dogs")
    second, second_key = keys.add("dogs")
    keys.revoke(first.id)
    assert keys.verify("dogs", first_key) is None and keys.verify("dogs", second_key) == second.id
    with pytest.raises(UserError, match="already revoked"):
        keys.revoke(first.id)
    with pytest.raises(UserError, match=rf"no such key\. Active keys: {second.id}"):
        keys.revoke("000000000000")
    assert [e.revoked is not None for e in keys.entries()] == [True, False]


def test_a_damaged_key_file_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text("{not json")
    with pytest.raises(UserError, match="keys.json is damaged"):
        KeyStore(tmp_path).entries()


def _cli(*args: str) -> int:
    return main(list(args))


def test_keys_command(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("keys", "add", "model=dogs") == 2
    assert "no such model" in capsys.readouterr().err
    ModelStore(workspace).register("dogs", {"w": 1}, {"metric": "accuracy", "score": 0.9, "classes": ["a", "b"]})
    assert _cli("keys", "add", "model=dogs", "note=ci", "--json") == 0
    added = json.loads(capsys.readouterr().out)
    assert added["model"] == "dogs" and added["note"] == "ci" and added["key"].startswith("amk_")
    assert KeyStore(workspace).verify("dogs", added["key"]) == added["id"]

    assert _cli("keys", "list") == 0
    listing = capsys.readouterr().out
    assert added["id"] in listing and added["key"] not in listing and "sha256" not in listing
    assert _cli("keys", "list", "model=other", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []

    assert _cli("keys", "revoke", f"id={added['id']}") == 0
    assert f"revoked key {added['id']} of dogs" in capsys.readouterr().out
    assert KeyStore(workspace).verify("dogs", added["key"]) is None
    assert _cli("keys", "revoke") == 2
    assert "id= is required" in capsys.readouterr().err
    assert _cli("keys", "rotate") == 2
    assert "use add, list or revoke" in capsys.readouterr().err
