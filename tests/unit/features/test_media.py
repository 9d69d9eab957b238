"""Image and text loading, the embedding cache, and the backbone x trainer pairing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.builtin.media_loaders import load_image_folder, load_text_table
from automl.config.schema import DataConfig
from automl.data.table import build_table
from automl.errors import UserError
from automl.features.embeddings import embed_cached
from automl.plugins.components import LoadRequest
from automl.plugins.manager import build_plugins
from automl.search.configs import trainer_backbone_pairs
from automl.testing import write_image_folder


def make_images(root: Path, per_label: int = 4) -> Path:
    """``root/cat/`` and ``root/dog/`` with ``per_label`` small PNGs each."""
    write_image_folder(root, 2 * per_label, labels=("cat", "dog"), sizes=((16, 16),))
    return root


def test_image_folder_reports_unreadable_images_and_hashes_bytes(tmp_path: Path) -> None:
    root = make_images(tmp_path / "photos")
    good = (root / "cat" / "img000.png").read_bytes()
    (root / "cat" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "dog" / "notes.txt").write_text("not an image, not listed")
    (root / "dog" / "fake.jpg").write_text("not an image either")
    result = load_image_folder(LoadRequest("image_classification", root, None, None))
    assert len(result.frame) == 8
    assert sorted(Path(s).name for s, _ in result.bad_rows) == ["fake.jpg", "truncated.png"]
    assert all("unreadable image" in reason for _, reason in result.bad_rows)
    table = build_table(result, DataConfig(loader="image_folder", max_bad_fraction=0.3), min_per_class=2)
    assert table.classes == ["cat", "dog"] and len(table.skipped) == 2
    assert len(set(table.ids)) == 8


def test_too_many_bad_images_fail_with_their_paths(tmp_path: Path) -> None:
    root = make_images(tmp_path / "photos", per_label=2)
    for i in range(3):
        (root / "dog" / f"broken{i}.jpg").write_bytes(b"\xff\xd8 nope")
    result = load_image_folder(LoadRequest("image_classification", root, None, None))
    with pytest.raises(UserError, match="broken0.jpg: unreadable image"):
        build_table(result, DataConfig(loader="image_folder"), min_per_class=2)


def test_text_table_skips_empty_texts_by_row(tmp_path: Path) -> None:
    path = tmp_path / "sms.csv"
    pd.DataFrame({"body": ["hello there", " ", None, "win cash now"], "kind": ["ham", "ham", "spam", "spam"]}).to_csv(
        path, index=False
    )
    result = load_text_table(LoadRequest("text_classification", path, "kind", None, text_column="body"))
    assert result.frame["input"].tolist() == ["hello there", "win cash now"]
    assert result.bad_rows == [("row 1", "empty text"), ("row 2", "empty text")]
    with pytest.raises(UserError, match="data.text_column: no column 'text'"):
        load_text_table(LoadRequest("text_classification", path, "kind", None))


class CountingEmbedder:
    identity = "counting:v1"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, inputs: list[str]) -> np.ndarray:
        self.seen += inputs
        return np.array([[len(t), t.count("a")] for t in inputs], dtype=np.float32)


def test_the_cache_embeds_only_what_is_new(tmp_path: Path) -> None:
    texts = ["alpha", "beta", "gamma", "alpha"]
    ids = ["a", "b", "c", "a"]
    embedder = CountingEmbedder()
    first, stats = embed_cached(embedder, ids, texts, tmp_path)
    assert (stats.computed, stats.cached) == (3, 0) and embedder.seen == ["alpha", "beta", "gamma"]
    again, stats = embed_cached(CountingEmbedder(), [*ids, "d"], [*texts, "delta"], tmp_path)
    assert (stats.computed, stats.cached) == (1, 4)
    np.testing.assert_array_equal(again[:4], first)
    other = CountingEmbedder()
    other.identity = "counting:v2"
    assert embed_cached(other, ids, texts, tmp_path)[1].computed == 3


def test_feature_trainers_pair_with_each_backbone_raw_trainers_do_not() -> None:
    plugins = build_plugins()
    pairs = trainer_backbone_pairs(plugins, ["linear_probe", "tfidf_linear"], ["b1", "b2"])
    assert pairs == [("linear_probe", "b1"), ("linear_probe", "b2"), ("tfidf_linear", None)]
    assert trainer_backbone_pairs(plugins, ["linear_probe", "tfidf_linear"], []) == [("tfidf_linear", None)]
    assert trainer_backbone_pairs(plugins, ["random_forest"], [], tabular=True) == [("random_forest", None)]
