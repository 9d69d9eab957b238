"""A labelling project: a queue the page knows, kept as ``<workspace>/ui/<name>.json``.

A project started from nothing names a pool (a folder of unlabelled images, or a file of texts:
``.txt`` one per line, or a ``.csv``/``.jsonl``/``.parquet`` with a ``text`` column), its task and
its labels; each pool input becomes a review-queue item of the model ``name`` (version 0, sampler
``unlabelled``) whose ``input_json`` is the text or the image file's path, so an annotation of it
is a training example for ``automl run`` (``automl.train.annotations``). A registered model's queue
needs no file until someone adds a label on the page. The queue, the annotations and the models
stay in their own stores; this file only holds what they do not: the pool and the label names.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from automl import durable
from automl.data.content_id import bytes_content_id
from automl.data.images import IMAGE_SUFFIXES, is_image_file
from automl.errors import UserError
from automl.registry.meta import IMAGE_TASK, TEXT_TASK
from automl.store.reviews import QueueItem, ReviewStore
from automl.ui.files import image_inside

POOL_SAMPLER = "unlabelled"
MAX_POOL = 100_000
MAX_LABEL = 100
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
TEXT_SUFFIXES = (".txt", ".csv", ".jsonl", ".parquet")


@dataclass(frozen=True)
class Project:
    name: str
    task: str
    labels: list[str] = field(default_factory=list)
    source: str | None = None  # the pool: a folder of images or a file of texts (absolute)
    trainers: list[str] | None = None  # the generated recipe's search.trainers (None: by task)
    time_budget_s: float = 60.0

    @property
    def pool_root(self) -> Path | None:
        """The folder whose files the page may serve: the image folder, or the text file's."""
        if self.source is None:
            return None
        path = Path(self.source)
        return path if path.is_dir() else path.parent


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UserError(
            f"project name {name!r}: use a letter then letters, digits, '_' or '-' (at most 64); "
            "it is also the model's name."
        )
    return name


def check_label(label: str) -> str:
    label = (label or "").strip()
    if not label or len(label) > MAX_LABEL or any(ord(c) < 32 for c in label):
        raise UserError(f"label {label[:40]!r}: give 1 to {MAX_LABEL} printable characters.")
    return label


def project_file(workspace: Path, name: str) -> Path:
    return workspace / "ui" / f"{check_name(name)}.json"


def load_project(workspace: Path, name: str) -> Project | None:
    path = project_file(workspace, name)
    if not path.is_file():
        return None
    try:
        return Project(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as err:
        raise UserError(f"{path} is damaged ({err}); delete it to start the project again.") from None


def save_project(workspace: Path, project: Project) -> None:
    path = project_file(workspace, project.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    durable.write_text(path, json.dumps(asdict(project), indent=2))


def project_names(workspace: Path) -> list[str]:
    folder = workspace / "ui"
    return sorted(p.stem for p in folder.glob("*.json") if _NAME.match(p.stem)) if folder.is_dir() else []


def with_label(workspace: Path, project: Project, label: str) -> Project:
    label = check_label(label)
    if label in project.labels:
        return project
    changed = replace(project, labels=[*project.labels, label])
    save_project(workspace, changed)
    return changed


def _pool_texts(path: Path) -> list[str]:
    if path.suffix.lower() == ".txt":
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return [line.strip() for line in lines if line.strip()]
    from automl.data.files import read_table

    frame = read_table(path, "source")
    column = "text" if "text" in frame.columns else next((c for c in frame.columns if frame[c].dtype == object), None)
    if column is None:
        raise UserError(f"source={path}: no text column (name one 'text').")
    return [t.strip() for t in frame[column] if isinstance(t, str) and t.strip()]


def pool_inputs(source: Path) -> tuple[str, list[tuple[str, str]]]:
    """The task and each (content id, input) of a pool: image paths or texts, in file order."""
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if is_image_file(p) and not _hidden(p, source))
        if not files:
            raise UserError(f"source={source}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder.")
        return IMAGE_TASK, [(bytes_content_id(p.read_bytes()), str(p)) for p in files[:MAX_POOL]]
    if source.is_file() and source.suffix.lower() in TEXT_SUFFIXES:
        texts = _pool_texts(source)
        if not texts:
            raise UserError(f"source={source}: no texts in this file.")
        return TEXT_TASK, [(bytes_content_id(t.encode("utf-8")), t) for t in texts[:MAX_POOL]]
    raise UserError(
        f"source={source}: give a folder of images or a file of texts ({', '.join(TEXT_SUFFIXES)}; one text a line "
        "in .txt, a 'text' column otherwise)."
    )


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def queue_pool(workspace: Path, project: Project) -> int:
    """Queue every pool input not queued or annotated yet (a new file in the folder joins the
    queue at the next start); how many joined."""
    if project.source is None:
        return 0
    _, inputs = pool_inputs(Path(project.source))
    reviews = ReviewStore(workspace)
    known = reviews.known_contents(project.name)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    items, seen = [], set(known)
    for i, (content_id, value) in enumerate(inputs):
        if content_id in seen:
            continue
        seen.add(content_id)
        items.append(
            QueueItem(
                item_id=uuid.uuid4().hex[:12],
                model=project.name,
                version=0,
                invoke_id="",
                content_id=content_id,
                sampled_at=now + timedelta(microseconds=i),  # arrival: the pool's order
                sampler=POOL_SAMPLER,
                reason="not labelled yet",
                predicted="",
                confidence=float("nan"),
                input_json=json.dumps(value),
                input_blob=None,
            )
        )
    reviews.add(items)
    return len(items)


def create_project(
    workspace: Path, name: str, source: str, labels: list[str], trainers: list[str] | None = None
) -> Project:
    """A new project over an unlabelled pool (or the same one again: its new inputs are queued)."""
    check_name(name)
    path = Path(source).expanduser().resolve()
    task, _ = pool_inputs(path)
    old = load_project(workspace, name)
    if old is not None and old.source != str(path):
        raise UserError(f"project {name} already labels {old.source}; choose another name.")
    from automl.registry.store import ModelStore

    if old is None and name in ModelStore(workspace).names():
        raise UserError(f"a model called {name} is already registered; choose another project name.")
    clean = list(dict.fromkeys(check_label(label) for label in labels))
    merged = list(dict.fromkeys([*(old.labels if old else []), *clean]))
    project = Project(
        name, task, merged, str(path), trainers if trainers is not None else (old.trainers if old else None)
    )
    save_project(workspace, project)
    queue_pool(workspace, project)
    return project


def pool_file(project: Project, value: Any) -> Path | None:
    """The image file of a pool item, only when it lies inside the project's pool folder."""
    return image_inside(project.pool_root, value) if project.task == IMAGE_TASK else None
