"""The run report (``report.html``): how long it takes to write and to render, and what it adds to
``automl run``.

Target (issue 13): the report of a run with 40 trials and 5,000 out-of-fold predictions renders
within 2 s.

1. **The run folder**: ``automl.testing.runs.fake_run`` writes one with 40 trials (ASHA-stopped
   and failed ones among them, an ensemble on top) and 5,000 out-of-fold predictions over three
   classes, through the run's own writers (``write_artifacts``, ``leaderboard_rows``,
   ``RunSummary``), so its files are shaped as a real run's.
2. **Generation**: ``render_run_report`` in a fresh process that has already imported what a run
   has by then (pandas, pyarrow, scikit-learn's metrics): the first report of a process,
   matplotlib's import included, as at the end of ``automl run`` (median of ``--fresh``
   processes); then the median of ``--repeats`` more in one process (warm).
3. **Rendering in the browser**: Debian's chromium driven by Playwright, as the page tests launch
   it (``--headless --no-sandbox --disable-gpu``); a new page per repeat, timed from
   ``page.goto(file://...)`` to the load event with every image complete and decoded (median of
   ``--repeats``; the first load of the browser apart).
4. **Cost added to a run**: ``automl run recipe=penguins search=quick`` (four trials, FIFO, no
   budget: the same work every time) ``--run-repeats`` times with the report and as many times
   without it (the same command with ``automl.train.runner._with_report`` replaced by a no-op),
   alternated; the report's own seconds as the run prints them (``report: PATH (X s)``) and the
   medians of the wall times.

    .venv/bin/python bench/bench_run_report.py                    # 40 trials, 5,000 predictions
    .venv/bin/python bench/bench_run_report.py --skip-run         # leave out the automl runs
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_income import REPO, automl_executable, machine_state, write_result  # noqa: E402

sys.path.insert(0, str(REPO))
from tests.browser.conftest import BROWSER_ARGS, chromium_path  # noqa: E402

TARGET_S = 2.0
FRESH = """
import sys, time
from pathlib import Path
import pandas, pyarrow.parquet, sklearn.metrics  # imported by a run before it writes its report
started = time.perf_counter()
from automl.evaluate.run_report import render_run_report
render_run_report(Path(sys.argv[1]))
print(time.perf_counter() - started)
"""
WITHOUT_REPORT = """
import sys
import automl.train.runner as runner
runner._with_report = lambda summary, run_dir, log: summary
from automl.cli import main
sys.exit(main(sys.argv[1:]))
"""
IMAGES_READY = "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"


def generation(run_dir: Path, fresh: int, repeats: int) -> dict[str, Any]:
    from automl.evaluate.run_report import render_run_report

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    first = []
    for _ in range(fresh):
        done = subprocess.run([sys.executable, "-c", FRESH, str(run_dir)], env=env, capture_output=True, text=True)
        done.check_returncode()
        first.append(float(done.stdout.strip().splitlines()[-1]))
    render_run_report(run_dir)  # this process's first
    warm = []
    for _ in range(repeats):
        started = time.perf_counter()
        page = render_run_report(run_dir)
        warm.append(time.perf_counter() - started)
    return {
        "fresh_process_s": first,
        "fresh_process_median_s": statistics.median(first),
        "warm_s": warm,
        "warm_median_s": statistics.median(warm),
        "page_bytes": len(page.encode()),
    }


def browser_render(report: Path, repeats: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise SystemExit("no chromium on PATH: run `bash scripts/install-browser` (as root)")
    times, navigation = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            for _ in range(repeats + 1):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                started = time.perf_counter()
                page.goto(report.as_uri(), wait_until="load")
                page.wait_for_function(IMAGES_READY)
                page.evaluate("Promise.all(Array.from(document.images, i => i.decode()))")
                times.append(time.perf_counter() - started)
                navigation.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000.0)
                context.close()
        finally:
            browser.close()
    return {
        "first_load_s": times[0],
        "load_s": times[1:],
        "median_s": statistics.median(times[1:]),
        "navigation_load_event_median_s": statistics.median(navigation[1:]),
    }


def one_run(workspace: Path, with_report: bool) -> dict[str, Any]:
    command = automl_executable() if with_report else [sys.executable, "-c", WITHOUT_REPORT]
    command += ["run", "recipe=penguins", "search=quick", f"workspace={workspace}"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"automl run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    said = re.search(r"^report: .* \(([0-9.]+) s\)$", done.stderr, re.MULTILINE)
    return {"wall_s": wall, "report_s": float(said.group(1)) if said else None}


def run_cost(repeats: int) -> dict[str, Any]:
    with_report, without = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            with_report.append(one_run(Path(tmp) / f"with-{i}", True))
            without.append(one_run(Path(tmp) / f"without-{i}", False))
    wall_with = statistics.median(r["wall_s"] for r in with_report)
    wall_without = statistics.median(r["wall_s"] for r in without)
    return {
        "with_report": with_report,
        "without_report": without,
        "report_s_median": statistics.median(r["report_s"] for r in with_report),
        "wall_with_median_s": wall_with,
        "wall_without_median_s": wall_without,
        "wall_added_s": wall_with - wall_without,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10, help="warm generations and browser loads")
    parser.add_argument("--fresh", type=int, default=3, help="fresh processes timed for the first report")
    parser.add_argument("--run-repeats", type=int, default=3, help="automl runs with and without the report")
    parser.add_argument("--skip-run", action="store_true", help="leave out the automl runs")
    args = parser.parse_args()

    from automl.testing.runs import fake_run

    machine = machine_state(0.0, "start")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "runs" / "bench" / "20260101-000000-0000"
        classes = [f"class_{k}" for k in range(args.classes)]
        fake_run(run_dir, classes=classes, examples=args.examples, trials=args.trials)
        made = generation(run_dir, args.fresh, args.repeats)
        from automl.evaluate.run_report import write_run_report

        shown = browser_render(write_run_report(run_dir), args.repeats)
    cost = None if args.skip_run else run_cost(args.run_repeats)

    print(f"run folder: {args.trials} trials, {args.examples} out-of-fold predictions, {args.classes} classes")
    print(f"generation, fresh process (first report): median {made['fresh_process_median_s']:.2f} s")
    print(f"generation, warm: median {made['warm_median_s']:.2f} s; page {made['page_bytes'] / 1e3:.0f} kB")
    first = shown["first_load_s"]
    print(f"browser: load event with images decoded, median {shown['median_s']:.3f} s (first {first:.3f} s)")
    if cost:
        print(
            f"automl run recipe=penguins search=quick: the report {cost['report_s_median']:.2f} s in the run; wall "
            f"{cost['wall_with_median_s']:.1f} s with it, {cost['wall_without_median_s']:.1f} s without "
            f"(median of {args.run_repeats} each)"
        )
    met = made["fresh_process_median_s"] <= TARGET_S and shown["median_s"] <= TARGET_S
    print(f"target (written and rendered within {TARGET_S:g} s each): {'met' if met else 'NOT met'}")
    write_result(
        "run_report",
        args,
        ("matplotlib", "scikit-learn", "pandas", "playwright"),
        {"generation": made, "browser": shown, "run_cost": cost, "target_met": met},
        machine,
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
