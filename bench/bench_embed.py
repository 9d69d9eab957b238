"""Embedding throughput per backbone, against its FLOPs and the machine's float32 matmul rate.

For each backbone (loaded in this process the way automl loads it:
``get_plugins().backbones.get(NAME).load(config)``):

- **examples/s (embed)**: ``len(inputs) / t``, where t is the median over ``--repeats`` of one
  ``embedder.embed(inputs)`` call: what a user pays, including Pillow decoding and the eval
  transform (images) or tokenisation (texts), batching (the backbone's own ``batch_size``) and
  pooling. One untimed warm-up call on one batch comes first.
- **examples/s (forward)**: the same inputs decoded and transformed (or tokenised, batched as
  ``embed`` batches them: longest texts first) beforehand; t is the median time of the model's
  forward passes alone over those ready tensors (same batches, same threads, inference mode). The
  gap to the embed figure is what decoding and preprocessing cost; **prep ms/example** times that
  preparation alone (median). Each repeat times embed, then the preparation, then the forward, so
  a change in the machine's load during the run hits all three alike.
- **GFLOPs/example**: counted by ``torch.utils.flop_counter.FlopCounterMode`` on one forward pass
  (images: one image at the backbone's input size; texts: the mean over the texts used, each at its
  own tokenised length without padding, so the work the texts need). For texts the FLOPs actually
  executed are also counted, on one pass over every batch as ``embed`` pads it (each batch padded
  to its longest text), and reported with their own achieved rate. FlopCounterMode counts a
  multiply-add as 2 FLOPs and counts matrix multiplies, convolutions and attention only (not normalisation,
  activations or pooling). On CPU, ``scaled_dot_product_attention`` runs as
  ``_scaled_dot_product_flash_attention_for_cpu``, which FlopCounterMode does not count; the
  script adds it with FlopCounterMode's own SDPA formula (``attention_flops_added`` in the JSON).
- **achieved GFLOP/s** = GFLOPs/example x examples/s, and **% of matmul** = that over the
  machine's float32 matmul rate: the median rate of ``--mm-repeats`` ``torch.mm`` of two
  2048 x 2048 float32 matrices (2 x 2048^3 FLOPs each, after two warm-up calls), with the same
  torch thread count as the embedders. It is measured before the backbones and again after them;
  the table uses the first figure and prints both.

Backbones: timm image models built with ``pretrained: false`` (seeded random weights: the FLOPs and
the time do not depend on the weight values), and the bundled all_minilm_l6_v2 text model (works
offline). Images: ``--images`` real photos from dog_vs_not_oxford_pets (a seeded sample); texts:
``--texts`` messages from sms_spam (a seeded sample); the mean real token length is reported.

A JSON result is written to bench/results/embed-<timestamp>.json.

    .venv/bin/python bench/bench_embed.py
    .venv/bin/python bench/bench_embed.py --backbones resnet18,all_minilm_l6_v2 --images 16 --texts 64 --repeats 1
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench_income import add_wait_idle, machine_state, write_result

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
SHARED = Path(os.environ.get("AUTOML_SHARED_DATA") or REPO.parent / "shared" / "data")

IMAGE_BACKBONES = (
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "resnet18",
    "resnet50",
    "efficientnet_b0",
    "mobilenetv3_large_100",
    "convnext_tiny",
    "vit_small_patch16_224",
)
TEXT_BACKBONES = ("all_minilm_l6_v2",)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")  # automl.data.images
MM_N = 2048


# ---------------------------------------------------------------------------------------------
# Inputs


def sample_images(root: Path, n: int, seed: int) -> list[str]:
    files = sorted(
        f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")
    )
    if not files:
        raise SystemExit(f"no images under {root}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(files), size=min(n, len(files)), replace=False)
    return [str(files[i]) for i in sorted(chosen)]


def sample_texts(path: Path, n: int, seed: int) -> list[str]:
    import pandas as pd

    texts = [t for t in pd.read_csv(path)["text"].tolist() if isinstance(t, str) and t.strip()]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(texts), size=min(n, len(texts)), replace=False)
    return [texts[i] for i in sorted(chosen)]


# ---------------------------------------------------------------------------------------------
# Measurements


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def matmul_rate(threads: int, repeats: int) -> dict[str, Any]:
    """float32 GFLOP/s of torch.mm on two MM_N x MM_N matrices (2 n^3 FLOPs), median of repeats."""
    import torch

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(MM_N, MM_N, generator=gen, dtype=torch.float32)
    b = torch.randn(MM_N, MM_N, generator=gen, dtype=torch.float32)
    for _ in range(2):
        torch.mm(a, b)
    times = [timed(lambda: torch.mm(a, b)) for _ in range(repeats)]
    flops = 2 * MM_N**3
    return {
        "gflops": flops / statistics.median(times) / 1e9,
        "best_gflops": flops / min(times) / 1e9,
        "median_s": statistics.median(times),
        "times_s": times,
        "threads": threads,
    }


def flop_counter() -> tuple[Any, bool]:
    """A FlopCounterMode that also counts the CPU flash-attention kernel (see the docstring)."""
    import torch
    from torch.utils import flop_counter as fc

    aten = torch.ops.aten
    extra: dict[Any, Any] = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu") and (
        aten._scaled_dot_product_flash_attention_for_cpu not in fc.flop_registry
    ):

        def cpu_sdpa(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:  # type: ignore[no-untyped-def]
            return fc.sdpa_flop_count(query_shape, key_shape, value_shape)

        extra[aten._scaled_dot_product_flash_attention_for_cpu] = cpu_sdpa
    return fc.FlopCounterMode(display=False, custom_mapping=extra), bool(extra)


def count_flops(forward: Callable[[], Any]) -> tuple[int, dict[str, int], bool]:
    import torch

    counter, added = flop_counter()
    with counter, torch.inference_mode():
        forward()
    per_op = {str(k): int(v) for k, v in counter.get_flop_counts()["Global"].items()}
    return counter.get_total_flops(), per_op, added


def load_embedder(name: str, threads: int, batch_size: int | None) -> Any:
    from automl.plugins.manager import get_plugins

    spec = get_plugins().backbones.get(name)
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    options: dict[str, Any] = {"num_threads": threads}
    if "pretrained" in fields:
        options["pretrained"] = False  # seeded random weights: no download, same FLOPs and time
    if batch_size:
        options["batch_size"] = batch_size
    embedder = spec.load(spec.config_cls(**{k: v for k, v in options.items() if k in fields}))
    embedder.num_threads = threads
    return embedder


class ImagePath:
    """Decode + eval transform into batches of tensors (``prepare``), then the model alone (``forward``)."""

    def __init__(self, embedder: Any, paths: list[str]) -> None:
        self.embedder, self.paths = embedder, paths

    def prepare(self) -> list[Any]:
        import torch
        from automl_timm.embedder import as_rgb

        e = self.embedder
        return [
            torch.stack([e.transform(as_rgb(p)) for p in self.paths[i : i + e.batch_size]]).contiguous(
                memory_format=torch.channels_last
            )
            for i in range(0, len(self.paths), e.batch_size)
        ]

    def forward(self, batches: list[Any]) -> None:
        model = self.embedder.inference_model()  # what embed runs (batch norms folded, channels-last)
        for batch in batches:
            model(batch)

    def flops(self, batches: list[Any]) -> dict[str, Any]:
        flops, per_op, added = count_flops(lambda: self.embedder.model(batches[0][:1]))
        return {
            "flops_per_example": flops,
            "flop_ops": per_op,
            "attention_flops_added": added,
            "input_shape": list(batches[0].shape[1:]),
        }


class TextPath:
    """Tokenisation in ``embed``'s batches (longest texts first, each batch padded to its longest:
    ``prepare``), then the model alone (``forward``)."""

    def __init__(self, embedder: Any, texts: list[str]) -> None:
        self.embedder, self.texts = embedder, texts

    def tokenize(self, texts: list[str], **kwargs: Any) -> Any:
        return self.embedder.tokenizer(texts, truncation=True, max_length=self.embedder.max_length, **kwargs)

    def prepare(self) -> list[Any]:
        e, texts = self.embedder, self.texts
        order = np.argsort([-len(t) for t in texts], kind="stable")
        return [
            self.tokenize([texts[i] for i in order[i0 : i0 + e.batch_size]], padding=True, return_tensors="pt")
            for i0 in range(0, len(texts), e.batch_size)
        ]

    def forward(self, batches: list[Any]) -> None:
        for batch in batches:
            self.embedder.model(**batch)

    def flops(self, batches: list[Any]) -> dict[str, Any]:
        n = len(self.texts)
        executed, per_op, added = count_flops(lambda: self.forward(batches))
        # Each text at its own tokenised length, without padding. FLOPs depend on the length only,
        # so one text of each distinct length is counted.
        lengths = [len(ids) for ids in self.tokenize(self.texts)["input_ids"]]
        by_length: dict[int, int] = {}
        for text, length in zip(self.texts, lengths, strict=True):
            if length not in by_length:
                one = self.tokenize([text], return_tensors="pt")
                by_length[length] = count_flops(lambda one=one: self.embedder.model(**one))[0]
        padded = sum(int(b["attention_mask"].numel()) for b in batches)
        return {
            "flops_per_example": sum(by_length[n_tokens] for n_tokens in lengths) / n,
            "executed_flops_per_example": executed / n,
            "flop_ops": per_op,
            "attention_flops_added": added,
            "mean_tokens": sum(lengths) / n,
            "mean_padded_tokens": padded / n,
            "max_length": self.embedder.max_length,
        }


def measure(name: str, inputs: list[Any], kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Per repeat, one after the other: ``embed`` end to end, the preparation alone and the
    forward alone (so a change in the machine's load hits all three alike); medians."""
    import torch

    started = time.perf_counter()
    embedder = load_embedder(name, args.threads, args.batch_size)
    load_s = time.perf_counter() - started
    path = ImagePath(embedder, inputs) if kind == "image" else TextPath(embedder, inputs)
    n = len(inputs)

    def forward(batches: list[Any]) -> None:
        torch.set_num_threads(args.threads)  # as embed() does
        with torch.inference_mode():
            path.forward(batches)

    embedder.embed(inputs[: embedder.batch_size])  # warm-up: one batch, untimed
    batches = path.prepare()
    forward(batches[:1])  # warm-up of the forward-only path
    counted = path.flops(batches)
    embed_times, prepare_times, forward_times = [], [], []
    for _ in range(args.repeats):
        embed_times.append(timed(lambda: embedder.embed(inputs)))
        prepare_times.append(timed(path.prepare))
        forward_times.append(timed(lambda: forward(batches)))
    torch.set_num_threads(args.threads)
    flops = counted.pop("flops_per_example")
    embed_rate = n / statistics.median(embed_times)
    forward_rate = n / statistics.median(forward_times)
    result = {
        "backbone": name,
        "kind": kind,
        "examples": n,
        "batch_size": embedder.batch_size,
        "dim": int(embedder.dim),
        "identity": embedder.identity,
        "load_s": load_s,
        "gflops_per_example": flops / 1e9,
        "embed_times_s": embed_times,
        "prepare_times_s": prepare_times,
        "forward_times_s": forward_times,
        "embed_per_s": embed_rate,
        "forward_per_s": forward_rate,
        "embed_gflops": flops * embed_rate / 1e9,
        "forward_gflops": flops * forward_rate / 1e9,
        "prepare_ms_per_example": 1000 * statistics.median(prepare_times) / n,
        **counted,
    }
    if "executed_flops_per_example" in counted:  # texts: also the FLOPs spent on padding
        executed = counted["executed_flops_per_example"]
        result["executed_gflops_per_example"] = executed / 1e9
        result["embed_executed_gflops"] = executed * embed_rate / 1e9
        result["forward_executed_gflops"] = executed * forward_rate / 1e9
    return result


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description="Embedding throughput per backbone vs FLOPs and the matmul rate.")
    parser.add_argument(
        "--backbones",
        default=",".join(IMAGE_BACKBONES + TEXT_BACKBONES),
        help="comma-separated backbone names (default: the six timm ones and all_minilm_l6_v2)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="torch threads for the embedders and the matmul (default: the CPU count)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per measurement (default 3); medians")
    parser.add_argument("--images", type=int, default=64, help="images embedded per repeat (default 64)")
    parser.add_argument("--texts", type=int, default=512, help="texts embedded per repeat (default 512)")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="override the backbones' batch_size (default: their own)"
    )
    parser.add_argument("--mm-repeats", type=int, default=10, help="timed torch.mm calls (default 10); median")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image and text samples (default 0)")
    add_wait_idle(parser, "each backbone")
    args = parser.parse_args()
    names = [b.strip() for b in args.backbones.split(",") if b.strip()]
    unknown = [b for b in names if b not in IMAGE_BACKBONES + TEXT_BACKBONES]
    if unknown:
        parser.error(f"unknown backbone(s) {', '.join(unknown)}; known: {', '.join(IMAGE_BACKBONES + TEXT_BACKBONES)}")

    from automl.plugins.torch_compat import ensure_torchvision_importable

    ensure_torchvision_importable()  # before anything imports timm or torchvision
    import torch

    images = (
        sample_images(SHARED / "dog_vs_not_oxford_pets", args.images, args.seed)
        if any(b in IMAGE_BACKBONES for b in names)
        else []
    )
    texts = (
        sample_texts(SHARED / "sms_spam" / "sms_spam.csv", args.texts, args.seed)
        if any(b in TEXT_BACKBONES for b in names)
        else []
    )

    machine = [machine_state(args.wait_idle, "matmul")]
    print(f"[matmul] torch.mm {MM_N}x{MM_N} float32, {args.threads} threads", flush=True)
    mm = matmul_rate(args.threads, args.mm_repeats)
    print(f"[matmul] {mm['gflops']:.1f} GFLOP/s (median of {args.mm_repeats})", flush=True)
    results = []
    for name in names:
        kind = "image" if name in IMAGE_BACKBONES else "text"
        machine.append(machine_state(args.wait_idle, name))
        print(f"[{name}] {len(images) if kind == 'image' else len(texts)} {kind}s", flush=True)
        r = measure(name, images if kind == "image" else texts, kind, args)
        results.append(r)
        print(
            f"[{name}] {r['embed_per_s']:.1f}/s embed, {r['forward_per_s']:.1f}/s forward, "
            f"{r['gflops_per_example']:.2f} GFLOPs/example",
            flush=True,
        )
    machine.append(machine_state(0.0, "matmul-after"))
    mm_after = matmul_rate(args.threads, args.mm_repeats)
    machine.append(machine_state(0.0, "end"))
    rate = mm["gflops"]
    for r in results:
        r["embed_share_of_matmul"] = r["embed_gflops"] / rate
        r["forward_share_of_matmul"] = r["forward_gflops"] / rate

    print()
    print(
        f"embedding throughput, {args.threads} torch threads, {os.cpu_count()} CPUs, torch {torch.__version__}; "
        f"median of {args.repeats}; {len(images)} images / {len(texts)} texts"
    )
    print(
        f"float32 matmul ({MM_N}x{MM_N} torch.mm): {rate:.1f} GFLOP/s before the backbones, "
        f"{mm_after['gflops']:.1f} after"
    )
    header = (
        f"{'backbone':<24} {'GFLOPs/ex':>9} {'ex/s':>8} {'GFLOP/s':>8} {'% mm':>6} "
        f"{'fwd ex/s':>9} {'fwd GFLOP/s':>11} {'fwd % mm':>8} {'prep ms/ex':>10}"
    )
    print(header)
    for r in results:
        print(
            f"{r['backbone']:<24} {r['gflops_per_example']:>9.3f} {r['embed_per_s']:>8.1f} "
            f"{r['embed_gflops']:>8.1f} {100 * r['embed_share_of_matmul']:>5.1f}% "
            f"{r['forward_per_s']:>9.1f} {r['forward_gflops']:>11.1f} {100 * r['forward_share_of_matmul']:>7.1f}% "
            f"{r['prepare_ms_per_example']:>10.2f}"
        )
    print(
        "ex/s, GFLOP/s, % mm: embedder.embed() end to end (decode + preprocess/tokenise + forward + pooling); "
        "fwd: the model's forward alone on ready tensors; prep ms/ex: decode + transform (images) or "
        "tokenisation (texts) alone"
    )
    for r in results:
        if r["kind"] == "text":
            print(
                f"{r['backbone']}: mean {r['mean_tokens']:.1f} tokens per text "
                f"({r['mean_padded_tokens']:.1f} with the batches' padding, max_length {r['max_length']}); "
                f"GFLOPs/example above is without padding; with it {r['executed_gflops_per_example']:.3f}, "
                f"i.e. {r['embed_executed_gflops']:.1f} GFLOP/s executed by embed "
                f"({100 * r['embed_executed_gflops'] / rate:.1f}% of matmul), "
                f"{r['forward_executed_gflops']:.1f} by the forward alone "
                f"({100 * r['forward_executed_gflops'] / rate:.1f}%)"
            )
    shares = [m["other_cpu_busy"] for m in machine if m["other_cpu_busy"] is not None]
    if shares:
        print(f"machine: other processes used at most {max(shares):.0%} of the CPUs between measurements")

    write_result(
        "embed",
        args,
        ("automl", "torch", "timm", "transformers", "pillow", "numpy"),
        {"matmul": {"before": mm, "after": mm_after, "n": MM_N}, "results": results},
        machine={"processor": platform.processor(), "contention": machine},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
