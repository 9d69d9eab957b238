"""Built-in drift detectors: two-sample tests and distances between a reference and a current
sample of one column, of embeddings, or of a model's outputs.

Each compares ``reference`` with ``current`` (1-d arrays of numbers or categories; 2-d arrays of
embeddings) and returns ``{"statistic", "p_value", "threshold", "drift"}``: a test gives a p-value
(the monitor corrects p-values for testing many things at once and decides), a distance gives its
threshold and decides itself. Evidently's defaults are the reference for which to use when.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automl.plugins.components import ComponentSpec, NoOptions
from automl.plugins.markers import hookimpl

if TYPE_CHECKING:
    import numpy as np

MMD_MAX_ROWS = 1000
"""The MMD test subsamples each side to at most this many rows (its cost grows with the square)."""


def _result(statistic: float, p_value: float | None = None, threshold: float | None = None) -> dict[str, Any]:
    drift = None if p_value is not None else bool(threshold is not None and statistic > threshold)
    return {"statistic": float(statistic), "p_value": p_value, "threshold": threshold, "drift": drift}


class KolmogorovSmirnov:
    """Numeric columns and confidences in small samples: the two-sample KS test."""

    def compare(self, reference: Any, current: Any) -> Mapping[str, Any]:
        import numpy as np
        from scipy.stats import ks_2samp

        ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
        # the exact distribution only for small samples (scipy warns when it falls back itself)
        test = ks_2samp(ref, cur, method="exact" if len(ref) * len(cur) <= 10_000 else "asymp")
        return _result(test.statistic, float(test.pvalue))


def _counts(reference: Any, current: Any) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    ref, cur = np.asarray(reference, dtype=object).astype(str), np.asarray(current, dtype=object).astype(str)
    values = sorted(set(ref) | set(cur))
    return (
        np.array([np.sum(ref == v) for v in values], dtype=float),
        np.array([np.sum(cur == v) for v in values], dtype=float),
    )


class ChiSquare:
    """Categorical columns and predicted classes: the chi-square test of the two samples' counts."""

    def compare(self, reference: Any, current: Any) -> Mapping[str, Any]:
        import numpy as np
        from scipy.stats import chi2_contingency

        ref, cur = _counts(reference, current)
        if len(ref) < 2:
            return _result(0.0, 1.0)  # one value on both sides: nothing moved
        test = chi2_contingency(np.vstack([ref, cur]))
        return _result(float(test.statistic), float(test.pvalue))


class ProportionZ:
    """Columns with two values: the two-proportion z-test of the first value's share."""

    def compare(self, reference: Any, current: Any) -> Mapping[str, Any]:
        import numpy as np
        from scipy.stats import norm

        ref, cur = _counts(reference, current)
        n1, n2 = ref.sum(), cur.sum()
        p1, p2 = ref[0] / n1, cur[0] / n2
        pooled = (ref[0] + cur[0]) / (n1 + n2)
        se = float(np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)))
        if se == 0.0:
            return _result(0.0, 1.0 if p1 == p2 else 0.0)
        z = (p1 - p2) / se
        return _result(abs(z), float(2 * norm.sf(abs(z))))


@dataclass(frozen=True)
class DistanceOptions:
    threshold: float = 0.1

    def __post_init__(self) -> None:
        if not self.threshold > 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold}")


class NormedWasserstein:
    """Numeric columns in large samples: the Wasserstein distance in units of the reference's
    standard deviation (Evidently's normed distance)."""

    def __init__(self, options: DistanceOptions) -> None:
        self.threshold = options.threshold

    def compare(self, reference: Any, current: Any) -> Mapping[str, Any]:
        import numpy as np
        from scipy.stats import wasserstein_distance

        ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
        scale = float(np.std(ref)) or 1.0  # a constant reference: the raw distance
        return _result(wasserstein_distance(ref, cur) / scale, threshold=self.threshold)


class JensenShannon:
    """Categorical columns in large samples: the Jensen-Shannon distance (base 2, in [0, 1]) of
    the two samples' value frequencies."""

    def __init__(self, options: DistanceOptions) -> None:
        self.threshold = options.threshold

    def compare(self, reference: Any, current: Any) -> Mapping[str, Any]:
        from scipy.spatial.distance import jensenshannon

        ref, cur = _counts(reference, current)
        return _result(float(jensenshannon(ref / ref.sum(), cur / cur.sum(), base=2)), threshold=self.threshold)


@dataclass(frozen=True)
class PermutationOptions:
    permutations: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if self.permutations < 19:
            raise ValueError(f"permutations must be >= 19 (for a p-value below 0.05), got {self.permutations}")


class MaximumMeanDiscrepancy:
    """Embeddings (images, texts): the MMD two-sample test with a Gaussian kernel whose width is
    the median pairwise distance, and a permutation p-value (Alibi Detect's MMDDrift is the
    reference). Each side is subsampled to ``MMD_MAX_ROWS`` rows."""

    def __init__(self, options: PermutationOptions) -> None:
        import numpy as np

        self.permutations = options.permutations
        self.rng = np.random.default_rng(options.seed)

    def _rows(self, x: np.ndarray) -> np.ndarray:
        return x[self.rng.choice(len(x), MMD_MAX_ROWS, replace=False)] if len(x) > MMD_MAX_ROWS else x

    def compare(self, reference: Any, current: Any) -> Mapping[str, Any]:
        import numpy as np

        x = self._rows(np.asarray(reference, dtype=np.float64))
        y = self._rows(np.asarray(current, dtype=np.float64))
        z = np.vstack([x, y])
        sq = np.sum(z * z, axis=1)
        d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)
        width2 = float(np.median(d2[np.triu_indices(len(z), 1)])) or 1.0
        kernel = np.exp(-d2 / width2)  # its diagonal is 1
        n, m = len(x), len(y)

        def mmd2(in_x: np.ndarray) -> float:
            """The unbiased MMD^2 of the split ``in_x`` (1.0 for the rows on the reference side)."""
            a, b = in_x, 1.0 - in_x
            ka = kernel @ a
            return float((a @ ka - n) / (n * (n - 1)) + (b @ (kernel @ b) - m) / (m * (m - 1)) - 2 * (b @ ka) / (n * m))

        split = np.r_[np.ones(n), np.zeros(m)]
        observed = mmd2(split)
        exceed = sum(mmd2(self.rng.permutation(split)) >= observed for _ in range(self.permutations))
        return _result(observed, (1 + exceed) / (1 + self.permutations))


DETECTORS: list[tuple[str, str, type, Callable[..., Any]]] = [
    ("ks", "Kolmogorov-Smirnov test (numbers).", NoOptions, lambda _: KolmogorovSmirnov()),
    ("chi2", "Chi-square test of counts (categories, predicted classes).", NoOptions, lambda _: ChiSquare()),
    ("z_test", "Two-proportion z-test (two-valued columns).", NoOptions, lambda _: ProportionZ()),
    ("wasserstein", "Normed Wasserstein distance (numbers, large samples).", DistanceOptions, NormedWasserstein),
    ("jensen_shannon", "Jensen-Shannon distance (categories, large samples).", DistanceOptions, JensenShannon),
    (
        "mmd",
        "Maximum mean discrepancy with a permutation test (embeddings).",
        PermutationOptions,
        MaximumMeanDiscrepancy,
    ),
]


@hookimpl
def register_drift_detectors(register: Callable[[ComponentSpec], None]) -> None:
    for name, description, options, factory in DETECTORS:
        register(ComponentSpec(name=name, config_cls=options, description=description, factory=factory))
