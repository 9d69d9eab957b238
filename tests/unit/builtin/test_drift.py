"""The built-in drift detectors: same-distribution samples rarely alarm, shifted ones do."""

from __future__ import annotations

import numpy as np
import pytest

from automl.builtin.drift import (
    ChiSquare,
    DistanceOptions,
    JensenShannon,
    KolmogorovSmirnov,
    MaximumMeanDiscrepancy,
    NormedWasserstein,
    PermutationOptions,
    ProportionZ,
)
from automl.plugins.manager import get_plugins


def test_every_detector_is_registered_by_name() -> None:
    names = set(get_plugins().registries["drift_detector"].names())
    assert {"ks", "chi2", "z_test", "wasserstein", "jensen_shannon", "mmd"} <= names


def test_tests_give_small_p_values_only_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    same = [KolmogorovSmirnov().compare(rng.normal(size=300), rng.normal(size=300))["p_value"] for _ in range(40)]
    assert np.mean(np.array(same) < 0.05) <= 0.15  # about 5% by chance
    assert KolmogorovSmirnov().compare(rng.normal(size=1000), rng.normal(0.5, 1, 1000))["p_value"] < 1e-6
    balanced, shifted = ["a"] * 500 + ["b"] * 500, ["a"] * 650 + ["b"] * 350
    assert ChiSquare().compare(balanced, balanced)["p_value"] == pytest.approx(1.0)
    assert ChiSquare().compare(balanced, shifted)["p_value"] < 1e-6
    assert ChiSquare().compare(["a"] * 10, ["a"] * 10)["p_value"] == 1.0  # one value on both sides
    assert ProportionZ().compare(balanced, balanced)["p_value"] == pytest.approx(1.0)
    assert ProportionZ().compare(balanced, shifted)["p_value"] < 1e-6


def test_distances_decide_against_their_threshold() -> None:
    rng = np.random.default_rng(1)
    wasserstein = NormedWasserstein(DistanceOptions(threshold=0.1))
    assert wasserstein.compare(rng.normal(size=5000), rng.normal(size=5000))["drift"] is False
    moved = wasserstein.compare(rng.normal(size=5000), rng.normal(0.5, 1, 5000))
    assert moved["drift"] is True and moved["statistic"] == pytest.approx(0.5, abs=0.05)  # in standard deviations
    js = JensenShannon(DistanceOptions(threshold=0.1))
    assert js.compare(["a", "b"] * 500, ["a", "b"] * 500)["statistic"] == pytest.approx(0.0)
    assert js.compare(["a", "b"] * 500, ["a"] * 900 + ["b"] * 100)["drift"] is True
    with pytest.raises(ValueError, match="threshold"):
        DistanceOptions(threshold=0)


def test_mmd_finds_a_fifth_of_inputs_of_a_new_kind() -> None:
    rng = np.random.default_rng(2)
    mmd = MaximumMeanDiscrepancy(PermutationOptions(permutations=99, seed=0))
    reference = rng.normal(size=(300, 16))
    assert mmd.compare(reference, rng.normal(size=(300, 16)))["p_value"] > 0.05
    new_kind = np.vstack([rng.normal(size=(240, 16)), rng.normal(loc=1.5, size=(60, 16))])
    assert mmd.compare(reference, new_kind)["p_value"] <= 0.01
