"""Keyboard labelling speed on the review page: the time from a key to the next item shown.

A real ``automl ui`` process on 127.0.0.1 with a project of ``--items`` unlabelled images from
dog_vs_not_oxford_pets (or SMS texts with ``--kind text``), Debian's headless chromium driven by
Playwright. Each item is labelled with its true label's key (1 or 2), a key every ``--pace-ms``
at the soonest (250 ms: a fast person, who looks before pressing; 0: as fast as the driver can).
Two clocks per key:

- in the page: from the keydown event's time stamp to after the frame that shows the next item is
  painted, its image loaded (``window.automlReview.timings``, written by review.js);
- from the driver: from ``keyboard.press`` to Playwright seeing the next item's id on the card (its
  round trips to the browser included).

At the end every answer must be in the review store. Target: p95 (in the page) <= 100 ms.

    .venv/bin/python bench/bench_review_keys.py [--items 100] [--kind image|text]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_income import machine_state, write_result  # noqa: E402

from automl.store.reviews import ReviewStore  # noqa: E402
from automl.testing.local_ui import LocalUi  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TARGET_P95_MS = 100.0
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    """Debian's chromium (``scripts/install-browser``), as the page tests find it."""
    found = os.environ.get("AUTOML_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        sys.exit("no chromium on PATH: run `bash scripts/install-browser` (as root)")
    return found


def image_pool(folder: Path, n: int) -> dict[str, str]:
    """``n`` pets images (half with a dog) in one folder without labels; file name -> label."""
    folder.mkdir()
    truth = {}
    for label in ("DogPresent", "NoDogPresent"):
        for image in sorted((DATA / "dog_vs_not_oxford_pets" / label).glob("*.jpg"))[: n // 2]:
            name = f"{label[:1].lower()}_{image.name}"
            shutil.copy(image, folder / name)
            truth[name] = label
    return truth


def text_pool(path: Path, n: int) -> dict[str, str]:
    import pandas as pd

    frame = pd.read_csv(DATA / "sms_spam" / "sms_spam.csv")
    frame = frame[~frame["text"].str.contains("\n")].drop_duplicates("text").head(n)
    path.write_text("\n".join(t.strip() for t in frame["text"]) + "\n")
    return {t.strip(): label for t, label in zip(frame["text"], frame["label"], strict=True)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "max_ms": round(max(values), 1),
        "mean_ms": round(statistics.fmean(values), 1),
    }


NEXT = """([id, last]) => {
  const card = document.getElementById('card');
  return last ? card.hidden : !card.hidden && card.dataset.item !== id;
}"""


def label_all(page: Any, truth: dict[str, str], labels: list[str], image: bool, pace_s: float) -> list[float]:
    """Label every item with its true label's key, each key ``pace_s`` after the last at the
    soonest (a person looks before pressing); the driver's time from each key to the next item."""
    driver = []
    for i in range(len(truth)):
        shown = page.get_attribute("#card", "data-item")
        key = page.text_content("#item-name") if image else page.text_content("#text")
        digit = str(labels.index(truth[str(key)]) + 1)
        started = time.perf_counter()
        page.keyboard.press(digit)
        page.wait_for_function(NEXT, arg=[shown, i == len(truth) - 1])
        driver.append((time.perf_counter() - started) * 1000)
        time.sleep(max(0.0, pace_s - (time.perf_counter() - started)))
    return driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--kind", choices=("image", "text"), default="image")
    parser.add_argument("--pace-ms", type=float, default=250.0, help="a key at most every PACE ms (0: at once)")
    parser.add_argument("--wait-idle", type=float, default=60.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    machine = machine_state(args.wait_idle, "review keys")
    image = args.kind == "image"
    labels = ["DogPresent", "NoDogPresent"] if image else ["ham", "spam"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / ("photos" if image else "texts.txt")
        truth = image_pool(source, args.items) if image else text_pool(source, args.items)
        with (
            LocalUi.start(
                root / "ws", root / "ui.log", project="bench", source=source, labels=f"[{','.join(labels)}]"
            ) as ui,  # fmt: skip
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=BROWSER_ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(ui.login_url)
            page.wait_for_selector("#card:not([hidden]) " + ("#image" if image else "#text"))
            if image:  # the first image on screen, as a person would see it before the first key
                page.wait_for_function("() => document.getElementById('image').complete")
            started = time.perf_counter()
            driver = label_all(page, truth, labels, image, args.pace_ms / 1000)
            elapsed = time.perf_counter() - started
            page.evaluate("() => window.automlReview.chain")
            flushed = time.perf_counter() - started
            in_page = page.evaluate("() => window.automlReview.timings")
            browser.close()
            saved = ReviewStore(root / "ws").annotations("bench")
    inputs = [(json.loads(a.input_json or '""'), a.label) for a in saved]
    right = sum(truth[Path(value).name if image else value] == label for value, label in inputs)
    body = {
        "items": len(truth),
        "kind": args.kind,
        "pace_ms": args.pace_ms,
        "in_page": summary(in_page),
        "driver": summary(driver),
        "labelling_s": round(elapsed, 2),
        "all_saved_s": round(flushed, 2),
        "saved": len(saved),
        "saved_right": right,
        "target_p95_ms": TARGET_P95_MS,
        "met": percentile(in_page, 95) <= TARGET_P95_MS and len(saved) == len(truth),
    }
    shown = body["in_page"]
    print(
        f"{len(truth)} {args.kind} items, a key every {args.pace_ms:.0f} ms at most: key -> next item shown "
        f"in the page p50 {shown['p50_ms']} ms, "
        f"p95 {body['in_page']['p95_ms']} ms, max {body['in_page']['max_ms']} ms; seen by the driver p50 "
        f"{body['driver']['p50_ms']} ms, p95 {body['driver']['p95_ms']} ms; {len(saved)}/{len(truth)} saved "
        f"({right} with the key's label) {body['all_saved_s']} s after the first key; "
        f"target p95 <= {TARGET_P95_MS:.0f} ms: {'met' if body['met'] else 'NOT met'}"
    )
    write_result("review_keys", args, ("starlette", "uvicorn", "playwright"), body, machine)


if __name__ == "__main__":
    main()
