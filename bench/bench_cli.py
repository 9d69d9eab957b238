"""Start-up benchmark of the ``automl`` command line.

Times ``automl --help`` and ``automl plugins`` as fresh subprocesses (each repeat is a new
interpreter, so what is measured is what a user waits for), next to a bare ``python -c pass`` for
the interpreter's own start-up. Then checks, in this process, that importing ``automl.cli`` and
building the plugin registry imports neither torch nor ray, and lists which heavy modules did get
imported.

    .venv/bin/python bench/bench_cli.py            # 10 repeats
    .venv/bin/python bench/bench_cli.py -n 30 --limit 0.5

Exit status 1 when torch or ray got imported or a median is over ``--limit`` seconds.
This script imports only the standard library before the in-process check, so the check sees
exactly what automl itself pulls in.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Modules that must never be imported on the --help / plugins path.
FORBIDDEN = ("torch", "ray")
# Modules worth knowing about when they show up (each costs from tens of ms to seconds).
HEAVY = (
    "torch",
    "ray",
    "sklearn",
    "scipy",
    "pandas",
    "pyarrow",
    "duckdb",
    "lightgbm",
    "xgboost",
    "flaml",
    "hydra",
    "omegaconf",
    "numpy",
    "joblib",
    "yaml",
)


def automl_executable() -> list[str]:
    """The ``automl`` console script next to this interpreter, else on PATH, else ``python -m``."""
    beside = Path(sys.executable).parent / "automl"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("automl")
    if found:
        return [found]
    return [sys.executable, "-m", "automl"]


def time_command(cmd: list[str], repeats: int) -> list[float]:
    env = dict(os.environ)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
        times.append(elapsed)
    return times


def heavy_imports() -> tuple[list[str], int, float]:
    """Import automl.cli and build the plugin registry here; the heavy top-level packages that
    came with it, the number of plugin entries, and the seconds it took."""
    before = set(sys.modules)
    started = time.perf_counter()
    import automl.cli  # noqa: F401
    from automl.plugins.listing import plugin_rows

    rows, _failures = plugin_rows()  # builds the registry (built-ins and entry-point plugins)
    elapsed = time.perf_counter() - started
    new_top = {name.partition(".")[0] for name in set(sys.modules) - before}
    return sorted(m for m in HEAVY if m in new_top), len(rows), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--repeats", type=int, default=10, help="runs per command (default 10)")
    parser.add_argument("--limit", type=float, default=1.0, help="seconds a median must stay under (default 1.0)")
    args = parser.parse_args()

    # First, before anything else is imported here: the in-process import check.
    preloaded = sorted(m for m in HEAVY if m in sys.modules)
    heavy, n_entries, in_process_s = heavy_imports()

    automl = automl_executable()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "automl --help": [*automl, "--help"],
        "automl plugins": [*automl, "plugins"],
    }
    for cmd in commands.values():  # one untimed run each: warm the OS file cache
        time_command(cmd, 1)
    print(f"automl CLI start-up, {args.repeats} repeats each ({os.cpu_count()} CPUs; {' '.join(automl)})")
    print(f"{'command':<18} {'median s':>9} {'min s':>9} {'max s':>9}")
    failed = False
    for name, cmd in commands.items():
        times = time_command(cmd, args.repeats)
        median = statistics.median(times)
        verdict = ""
        if name.startswith("automl"):
            ok = median < args.limit
            failed |= not ok
            verdict = f"  {'ok' if ok else 'OVER'} (limit {args.limit:g} s)"
        print(f"{name:<18} {median:>9.3f} {min(times):>9.3f} {max(times):>9.3f}{verdict}")

    print()
    print(
        f"in-process: import automl.cli + build the plugin registry ({n_entries} components) took {in_process_s:.3f} s"
    )
    if preloaded:
        print(f"  (already imported before the check: {', '.join(preloaded)})")
    print(f"  heavy modules imported: {', '.join(heavy) if heavy else 'none'}")
    bad = [m for m in FORBIDDEN if m in heavy]
    print(f"  torch/ray imported: {'YES: ' + ', '.join(bad) if bad else 'no'}")
    failed |= bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
