from automl_lightgbm import plugin

from automl.testing import check_trainer, specs_of


def test_lightgbm_trainer_conforms():
    (spec,) = specs_of(plugin, "register_trainers")
    assert spec.name == "lightgbm"
    check_trainer(spec)


def test_lightgbm_registers_through_the_entry_point():
    from automl.plugins.manager import build_plugins

    entry = build_plugins().trainers.entry("lightgbm")
    assert entry.distribution == "automl-lightgbm"
