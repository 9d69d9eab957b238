"""Errors a user can cause, each with the exit code the CLI turns it into.

Anything else that escapes a command is an internal failure (exit 1) and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AutomlError(Exception):
    """Base of the errors the CLI reports as one line, without a traceback."""

    exit_code = 1


class UserError(AutomlError):
    """A bad recipe, a missing file or a bad argument: the user can fix it (exit 2)."""

    exit_code = 2


class NotPromoted(AutomlError):
    """Trained and registered, but the new version did not beat production (exit 3)."""

    exit_code = 3


class DriftDetected(AutomlError):
    """Monitoring found drift beyond the recipe's threshold (exit 4), so a scheduler can act."""

    exit_code = 4


class BundleFormatError(UserError):
    """A saved model bundle this version of automl cannot read."""


def did_you_mean(given: str, choices: Iterable[str]) -> str:
    """The ' (did you mean X?)' suffix for a misspelt name, or ''."""
    close = difflib.get_close_matches(given, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_name(what: str, given: str, choices: Iterable[str]) -> UserError:
    """A one-line error for an unregistered component name, listing the registered ones."""
    names = sorted(choices)
    listed = ", ".join(names) if names else "none registered"
    return UserError(f"Unknown {what} '{given}'{did_you_mean(given, names)}. Registered: {listed}.")
