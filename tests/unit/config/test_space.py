import numpy as np
import pytest

from automl.builtin.trainers import LogisticRegressionConfig
from automl.config.space import Choice, Fixed, IntRange, LogUniform, Uniform, build_space, parse_param
from automl.errors import UserError


def test_grammar_parses_each_distribution() -> None:
    assert parse_param("k", 3) == Fixed(3)
    assert parse_param("k", {"uniform": [0, 1]}) == Uniform(0.0, 1.0)
    assert parse_param("k", {"loguniform": [1e-3, 1]}) == LogUniform(1e-3, 1.0)
    assert parse_param("k", {"int": [2, 5]}) == IntRange(2, 5)
    assert parse_param("k", {"choice": ["a", None]}) == Choice(("a", None))


@pytest.mark.parametrize(
    "spec", [{"uniform": [2, 1]}, {"int": [1.5, 3]}, {"choice": []}, {"uniform": [0]}, {"unifrom": [0, 1]}]
)
def test_bad_specs_are_user_errors(spec: dict) -> None:
    with pytest.raises(UserError, match="k"):
        parse_param("k", spec)


def test_sampling_is_seeded_and_in_range() -> None:
    space = build_space("s", LogisticRegressionConfig, {"C": {"loguniform": [1e-3, 10]}}, {"max_iter": {"int": [5, 9]}})
    a = [space.sample(np.random.default_rng(1)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(1)) for _ in range(3)]
    assert a == b
    for params in a:
        assert 1e-3 <= params["C"] <= 10 and 5 <= params["max_iter"] <= 9


def test_recipe_values_override_the_default_space() -> None:
    space = build_space("s", LogisticRegressionConfig, {"C": {"loguniform": [1e-3, 10]}}, {"C": 0.5})
    assert space.params["C"] == Fixed(0.5)
