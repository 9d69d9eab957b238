"""Every ``$ automl ...`` line of a ```console block in docs/*.md and README.md runs and exits as
the docs say: 0, or N where the line ends with the comment ``# exits N``.

The commands of one file run in file order (a ``predict`` uses the model an earlier ``run`` of
the same file trained), from the repository root, with a fresh ``AUTOML_WORKSPACE`` per file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "$ automl "
EXITS = re.compile(r"\s+#\s*exits\s+(\d+)\s*$")
FENCE = re.compile(r"^(```+|~~~+)\s*(\S*)")
TIMEOUT_S = 300


@dataclass(frozen=True)
class DocCommand:
    line: int
    command: str
    expected: int


def doc_files() -> list[Path]:
    files = sorted((ROOT / "docs").glob("*.md"))
    readme = ROOT / "README.md"
    return [readme, *files] if readme.is_file() else files


def console_commands(text: str) -> list[DocCommand]:
    """The ``$ automl`` lines of the file's ```console blocks, in order."""
    commands: list[DocCommand] = []
    fence: str | None = None
    console = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        match = FENCE.match(stripped)
        if fence is None and match:
            fence, console = match.group(1), match.group(2).lower() == "console"
            continue
        if fence is not None and stripped.startswith(fence) and stripped.strip("`~") == "":
            fence, console = None, False
            continue
        if console and stripped.startswith(PROMPT):
            command = stripped[2:]
            expected = 0
            exits = EXITS.search(command)
            if exits:
                expected = int(exits.group(1))
                command = command[: exits.start()]
            commands.append(DocCommand(number, command.strip(), expected))
    return commands


def test_console_commands_are_parsed():
    text = "\n".join(
        [
            "```console",
            "$ automl plugins",
            "KIND  NAME",
            "$ automl run recipe=nope  # exits 2",
            "```",
            "$ automl outside a block",
            "```bash",
            "$ automl in a bash block",
            "```",
        ]
    )
    assert console_commands(text) == [
        DocCommand(2, "automl plugins", 0),
        DocCommand(4, "automl run recipe=nope", 2),
    ]


FILES = [p for p in doc_files() if console_commands(p.read_text())]


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_doc_commands_exit_as_documented(path: Path, tmp_path: Path):
    env = dict(os.environ)
    env["AUTOML_WORKSPACE"] = str(tmp_path / "workspace")
    # The `automl` console script of the interpreter running the tests comes first on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for cmd in console_commands(path.read_text()):
        done = subprocess.run(
            cmd.command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
        )
        assert done.returncode == cmd.expected, (
            f"{path.relative_to(ROOT)}:{cmd.line}: `{cmd.command}` exited {done.returncode}, "
            f"the docs say {cmd.expected}.\nstdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
        )
