"""One typed parser for every command's ``key=value`` arguments.

Commands ask for a value with the type they need (text, whole number, number, flag, list of
names); a bad value is a one-line ``UserError`` naming the key, and ``finish`` refuses any key the
command did not ask for. Nothing else in the package parses argument strings.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from typing import Any

from automl.errors import UserError

_TRUE, _FALSE = "true", "false"


class Args:
    """A command's ``key=value`` arguments, read through typed getters."""

    def __init__(self, pairs: Sequence[str], as_json: bool, started: float | None = None) -> None:
        self.as_json = as_json
        self.started = time.monotonic() if started is None else started  # the command's start
        self.values: dict[str, str] = {}
        self.extra: list[str] = []  # every argument as given: a recipe's Hydra overrides
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
        """The text of ``key=``, or ``default`` when it is not given."""
        self.used.add(key)
        return self.values.get(key, default)

    def require(self, key: str, what: str) -> str:
        value = self.get(key)
        if not value:
            raise UserError(f"{key}= is required: {what}.")
        return value

    def integer(self, key: str, default: int | None, low: int, high: int, hint: str | None = None) -> int | None:
        """A whole number in ``[low, high]``; ``hint`` replaces the default explanation."""
        text = self.get(key)
        if text is None:
            return default
        try:
            number = int(text)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise UserError(f"{key}={text}: {hint or f'expected a whole number from {low} to {high}'}.")
        return number

    def number(
        self,
        key: str,
        default: float | None,
        hint: str,
        low: float = -math.inf,
        high: float = math.inf,
        above: bool = False,
    ) -> float | None:
        """A finite number at least ``low`` (above it when ``above``) and at most ``high``."""
        text = self.get(key)
        if text is None:
            return default
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        in_range = (number > low if above else number >= low) and number <= high
        if not (math.isfinite(number) and in_range):
            raise UserError(f"{key}={text}: {hint}.")
        return number

    def flag(self, key: str, hint: str) -> bool:
        """``key=true`` or ``key=false`` (the default when left out)."""
        text = self.get(key)
        if text is None or text.lower() == _FALSE:
            return False
        if text.lower() == _TRUE:
            return True
        raise UserError(f"{key}={text}: {hint}.")

    def names(self, key: str) -> list[str] | None:
        """``key=[a,b]`` or ``key=a,b``: names in order, without repeats or blanks."""
        text = self.get(key)
        if text is None:
            return None
        names = [n.strip() for n in text.strip().removeprefix("[").removesuffix("]").split(",")]
        return list(dict.fromkeys(n for n in names if n))

    def overrides(self, *consumed: str) -> list[str]:
        """The arguments a recipe takes as Hydra overrides: all but the ``consumed`` keys."""
        return [p for p in self.extra if p.partition("=")[0] not in consumed]

    def finish(self, command: str) -> None:
        unknown = [k for k in self.values if k not in self.used and k != "workspace"]
        if unknown:
            raise UserError(f"automl {command}: unknown argument(s) {', '.join(unknown)}= (see automl --help).")


def emit(args: Args, data: Any, text: str) -> None:
    """Print ``data`` as JSON under ``--json``, else the human ``text``."""
    print(json.dumps(data, indent=2, default=str) if args.as_json else text)
