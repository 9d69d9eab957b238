"""The plugin: registered through its entry point, listed by ``automl plugins``, light to import,
options checked like the rest of the recipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from automl_onnx import plugin
from automl_onnx.config import OnnxExportConfig

from automl.config.validate import typed_options
from automl.errors import UserError
from automl.plugins.api import ComponentSpec
from automl.testing import specs_of


def test_registers_the_onnx_exporter():
    (spec,) = specs_of(plugin, "register_exporters")
    assert isinstance(spec, ComponentSpec) and spec.name == "onnx"
    assert spec.config_cls is OnnxExportConfig
    assert spec.factory is not None
    exporter = spec.factory(OnnxExportConfig(quantize="static"))
    assert callable(exporter.export) and exporter.config.quantize == "static"


def test_registers_through_the_entry_point():
    from automl.plugins.manager import build_plugins

    entry = build_plugins().registries["exporter"].entry("onnx")
    assert entry.distribution == "automl-onnx"


def test_automl_plugins_lists_it():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "automl", "plugins", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [r for r in json.loads(done.stdout) if r.get("kind") == "exporter" and r.get("name") == "onnx"]
    assert len(rows) == 1 and rows[0]["distribution"] == "automl-onnx", rows


def test_plugin_import_is_light():
    script = (
        "import sys, automl_onnx.plugin\n"
        "heavy = [m for m in ('onnx', 'onnxruntime', 'skl2onnx', 'onnxmltools', 'torch', 'sklearn', 'numpy')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"quantize": "int4"}, "quantize must be one of none, dynamic, static. Got 'int4'."),
        ({"tolerance": 1.5}, "tolerance must be a float in [0, 1]. Got 1.5."),
        ({"opset": 13}, "opset must be an int in [18, 21]. Got 13."),
    ],
)
def test_bad_options_are_user_errors(options: dict, message: str):
    with pytest.raises(UserError) as err:
        typed_options(OnnxExportConfig, options, "deploy.export_options")
    assert str(err.value) == f"deploy.export_options: {message}"


def test_unknown_option_is_a_user_error():
    with pytest.raises(UserError, match="quantise"):
        typed_options(OnnxExportConfig, {"quantise": "static"}, "deploy.export_options")
