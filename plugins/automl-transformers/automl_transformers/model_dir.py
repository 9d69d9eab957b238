"""What a local Hugging Face model directory holds, and its digest (the embedder's identity).

Every file that decides the vectors is hashed in full (the config, the tokenizer's files and the
weights), so two fine-tunes of one architecture, with equal file sizes and safetensors headers,
still get different digests. Other files (README, training state) are left out.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_SUFFIXES = {".json", ".txt", ".model", ".safetensors"}  # configs, vocabularies, sentencepiece, weights
_CHUNK = 1 << 20
# transformers builds a tokenizer of special tokens only when none of these is present
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "tokenizer.model")


def has_tokenizer(folder: Path) -> bool:
    """Whether ``folder`` holds a saved tokenizer (``tokenizer.save_pretrained``) or a vocabulary."""
    return any((folder / name).is_file() for name in _TOKENIZER_FILES) or any(folder.glob("*.model"))


def _decides_vectors(path: Path) -> bool:
    if path.suffix in _SUFFIXES:
        return True
    return path.suffix == ".bin" and path.name.startswith("pytorch_model")


def model_files(folder: Path) -> list[Path]:
    """The top-level files of ``folder`` that decide a model's vectors, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and _decides_vectors(p))


def model_digest(folder: Path) -> str:
    """A BLAKE2b digest (32 hex digits) of the names, sizes and bytes of :func:`model_files`."""
    digest = hashlib.blake2b(digest_size=16)
    for path in model_files(folder):
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda h=handle: h.read(_CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()
