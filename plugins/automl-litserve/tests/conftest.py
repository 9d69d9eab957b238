"""These tests import the repository's shared test helpers (``tests.helpers``). ``python -m pytest``
from the root (scripts/test) has the root on ``sys.path``; a bare ``pytest`` run under
``--import-mode=importlib`` does not, so put it there."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
