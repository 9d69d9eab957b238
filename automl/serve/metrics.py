"""Request counters and latency histograms in Prometheus' text format (no dependency)."""

from __future__ import annotations

from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(**values: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return ",".join(f'{k}="{esc(str(v))}"' for k, v in values.items())


class Metrics:
    """``automl_requests_total`` by model, version, route and status; ``automl_request_seconds``."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self.hist: dict[tuple[str, str, str], list[float]] = {}

    def observe(self, model: str, version: str, route: str, status: int, seconds: float) -> None:
        self.requests[(model, version, route, str(status))] += 1
        h = self.hist.setdefault((model, version, route), [0.0] * (len(BUCKETS) + 2))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                h[i] += 1
        h[-2] += 1
        h[-1] += seconds

    def render(self, gauges: dict[str, float]) -> str:
        out = [
            "# HELP automl_requests_total Predict requests by model, version, route and status.",
            "# TYPE automl_requests_total counter",
        ]
        for (m, v, r, s), n in sorted(self.requests.items()):
            out.append(f"automl_requests_total{{{_labels(model=m, version=v, route=r, status=s)}}} {n}")
        out += ["# HELP automl_request_seconds Predict latency in seconds.", "# TYPE automl_request_seconds histogram"]
        for (m, v, r), h in sorted(self.hist.items()):
            labels = _labels(model=m, version=v, route=r)
            for i, bound in enumerate(BUCKETS):
                out.append(f'automl_request_seconds_bucket{{{labels},le="{bound}"}} {int(h[i])}')
            out.append(f'automl_request_seconds_bucket{{{labels},le="+Inf"}} {int(h[-2])}')
            out.append(f"automl_request_seconds_count{{{labels}}} {int(h[-2])}")
            out.append(f"automl_request_seconds_sum{{{labels}}} {h[-1]:.6f}")
        for name, value in gauges.items():
            out += [f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(out) + "\n"
