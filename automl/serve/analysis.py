"""The live comparison of a rollout's candidate with production, and its analysis.

While a version rolls out (``deploy.rollout``), the server records what both versions do with the
same inputs: in the shadow step the candidate is called beside production on every request; in a
canary step production is called (unlogged, after the answer) on the requests the candidate
answered. Each such pair, and every call's status and latency, is an observation here. An analysis
(Argo Rollouts' and Flagger's analysis steps are the model) checks the pairs since the step
began: agreement, predicted-class distribution, confidence (the median's drop; the distributions'
KS distance shown beside it), the candidate's error rate, its p99 latency against production's,
and accuracy on inputs reviewers have labelled.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from automl.config.schema import RolloutConfig

MAX_KEPT = 200_000  # observations kept per model (the oldest go first)


@dataclass(frozen=True)
class Pair:
    """Candidate and production on the same input."""

    at: float  # time.monotonic()
    content_id: str
    candidate: str
    production: str
    candidate_confidence: float
    production_confidence: float


@dataclass(frozen=True)
class Call:
    """One call of a version (answering or shadow): its status and latency."""

    at: float
    version: int
    status: int
    latency_ms: float


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool | None  # None: not enough data to say
    value: float | None
    limit: float | None
    detail: str


@dataclass(frozen=True)
class Analysis:
    model: str
    candidate: int
    production: int
    compared: int  # pairs since the step began
    checks: list[Check] = field(default_factory=list)
    at: str = ""

    @property
    def passed(self) -> bool:
        """Every check that can be made now passed, and the comparison had enough requests."""
        needed = [c for c in self.checks if c.name != "reviewed_accuracy"]
        return all(c.passed is True for c in needed) and any(c.name == "agreement" for c in needed)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "failed": [c.name for c in self.failed]}


class LiveComparison:
    """Observations of every served model, appended by the request pipeline (event loop thread)
    and read by the rollout controller (its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: dict[str, deque[Pair]] = {}
        self._calls: dict[str, deque[Call]] = {}

    def pair(self, model: str, pair: Pair) -> None:
        with self._lock:
            self._pairs.setdefault(model, deque(maxlen=MAX_KEPT)).append(pair)

    def call(self, model: str, version: int, status: int, latency_ms: float) -> None:
        with self._lock:
            self._calls.setdefault(model, deque(maxlen=MAX_KEPT)).append(
                Call(time.monotonic(), version, status, latency_ms)
            )

    def since(self, model: str, start: float) -> tuple[list[Pair], list[Call]]:
        with self._lock:
            pairs = [p for p in self._pairs.get(model, ()) if p.at >= start]
            calls = [c for c in self._calls.get(model, ()) if c.at >= start]
        return pairs, calls


def _tvd(a: list[str], b: list[str]) -> float:
    """Total variation distance between two label distributions."""
    ca, cb = Counter(a), Counter(b)
    return 0.5 * sum(abs(ca[k] / len(a) - cb[k] / len(b)) for k in set(ca) | set(cb))


def _ks(a: list[float], b: list[float]) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(a, b).statistic)


def _p99(values: list[float]) -> float:
    return float(np.percentile(values, 99))


def analyse(
    model: str,
    candidate: int,
    production: int,
    pairs: list[Pair],
    calls: list[Call],
    reviewed: Mapping[str, str],
    config: RolloutConfig,
) -> Analysis:
    """Every check on the observations since the step began. A check without enough data says so
    (``passed=None``); reviewed accuracy is checked only once ``min_reviewed`` pairs were labelled."""
    n = len(pairs)
    checks: list[Check] = []
    enough = n >= config.min_requests
    wait = f"{n} of {config.min_requests} compared requests"

    def check(
        name: str,
        ok: bool,
        value: float,
        limit: float,
        detail: str,
        sufficient: bool | None = None,
        waiting: str = wait,
    ) -> None:
        sure = enough if sufficient is None else sufficient
        checks.append(Check(name, ok if sure else None, value, limit, detail if sure else waiting))

    if n:
        agreement = float(np.mean([p.candidate == p.production for p in pairs]))
        check(
            "agreement",
            agreement >= config.min_agreement,
            agreement,
            config.min_agreement,
            f"same label on {agreement:.1%} of {n} requests (at least {config.min_agreement:.0%})",
        )
        shift = _tvd([p.candidate for p in pairs], [p.production for p in pairs])
        check(
            "class_balance",
            shift <= config.max_class_shift,
            shift,
            config.max_class_shift,
            f"predicted classes differ by {shift:.3f} (total variation, at most {config.max_class_shift:g})",
        )
        sure = [p.candidate_confidence for p in pairs]
        usual = [p.production_confidence for p in pairs]
        drop = float(np.median(usual) - np.median(sure))
        check(
            "confidence",
            drop <= config.max_confidence_drop,
            drop,
            config.max_confidence_drop,
            f"median confidence {np.median(sure):.3f} vs production {np.median(usual):.3f} (a drop of at most "
            f"{config.max_confidence_drop:g}; KS distance {_ks(sure, usual):.3f})",
        )
    else:
        checks.append(Check("agreement", None, None, config.min_agreement, wait))
    mine = [c for c in calls if c.version == candidate]
    theirs = [c for c in calls if c.version == production]
    if mine:
        errors = sum(1 for c in mine if c.status >= 500) / len(mine)
        check(
            "errors",
            errors <= config.max_error_rate,
            errors,
            config.max_error_rate,
            f"{errors:.1%} of {len(mine)} candidate calls failed (at most {config.max_error_rate:.1%})",
            len(mine) >= config.min_requests,
            f"{len(mine)} of {config.min_requests} candidate calls",
        )
    ok_mine = [c.latency_ms for c in mine if c.status < 400]
    ok_theirs = [c.latency_ms for c in theirs if c.status < 400]
    if ok_mine and ok_theirs:
        p_mine, p_theirs = _p99(ok_mine), _p99(ok_theirs)
        limit = p_theirs * config.max_latency_ratio + config.latency_slack_ms
        check(
            "latency_p99",
            p_mine <= limit,
            p_mine,
            limit,
            f"p99 {p_mine:.1f} ms vs production {p_theirs:.1f} ms (at most {limit:.1f} ms)",
            len(ok_mine) >= config.min_requests and len(ok_theirs) >= config.min_requests,
            f"{min(len(ok_mine), len(ok_theirs))} of {config.min_requests} answered calls of each",
        )
    labelled = [(p, reviewed[p.content_id]) for p in pairs if p.content_id in reviewed]
    if len(labelled) >= config.min_reviewed:
        mine_acc = float(np.mean([p.candidate == truth for p, truth in labelled]))
        theirs_acc = float(np.mean([p.production == truth for p, truth in labelled]))
        checks.append(
            Check(
                "reviewed_accuracy",
                mine_acc >= theirs_acc - config.max_accuracy_drop,
                mine_acc,
                theirs_acc - config.max_accuracy_drop,
                f"{mine_acc:.1%} vs production {theirs_acc:.1%} on {len(labelled)} reviewed inputs",
            )
        )
    else:
        checks.append(
            Check(
                "reviewed_accuracy",
                None,
                None,
                None,
                f"{len(labelled)} of {config.min_reviewed} reviewed inputs: not checked yet",
            )
        )
    return Analysis(model, candidate, production, n, checks)
