"""``automl sample`` and ``automl review``: invokes worth a human look go to the review queue;
their labels come back as training data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from automl.cli.args import Args, emit
from automl.errors import UserError

if TYPE_CHECKING:
    from automl.store.reviews import QueueItem


def _line(item: QueueItem) -> str:
    return f"{item.item_id}  {item.sampler:<15} {item.predicted:<16} {item.confidence:.2f}  {item.reason}"


def cmd_sample(args: Args, sub: list[str]) -> int:
    import dataclasses

    from automl.loop.sampling import sample
    from automl.paths import workspace_dir
    from automl.plugins.manager import get_plugins

    ref = args.require("model", "NAME (its production version), NAME:VERSION or NAME@ALIAS")
    n = args.integer("n", None, 1, 100_000)
    workspace = workspace_dir(args.get("workspace"))
    args.finish("sample")
    result = sample(workspace, ref, get_plugins(), n)
    lines = [
        f"queued {len(result.picked)} of {result.candidates} invokes of {result.model} for review "
        f"({result.budget_left} left of today's budget)"
    ]
    lines += [f"note: {note}" for note in result.notes]
    lines += [_line(i) for i in result.picked]
    emit(args, dataclasses.asdict(result), "\n".join(lines))
    return 0


def cmd_review(args: Args, sub: list[str]) -> int:
    from automl.loop.review import export_queue, import_labels
    from automl.paths import workspace_dir
    from automl.store.reviews import ReviewStore

    action = sub[0] if sub else "list"
    ref = args.require("model", "NAME of the model whose queue to use")
    workspace = workspace_dir(args.get("workspace"))
    if action == "export":
        output = args.require("output", "the CSV file to write the pending items to")
        args.finish("review export")
        count = export_queue(workspace, ref, Path(output))
        emit(args, {"items": count, "output": output}, f"{count} pending items -> {output} (fill in the label column)")
    elif action == "import":
        source = args.require("input", "the CSV file with item_id and label columns")
        new_labels = args.flag("new_labels", "use new_labels=true to accept labels the model does not know yet")
        reviewer = args.get("reviewer")
        args.finish("review import")
        done = import_labels(workspace, ref, Path(source), new_labels, reviewer)
        text = (
            f"{done.labelled} labels of {done.model} saved ({done.changed} differ from the model; "
            f"{done.left_empty} rows without a label left pending)"
        )
        if done.new_labels:
            text += f"; new labels: {', '.join(done.new_labels)}"
        import dataclasses

        emit(args, dataclasses.asdict(done), text)
    elif action == "next":
        from automl.loop.review import review_next

        reviewer = args.get("reviewer")
        args.finish("review next")
        labelled, skipped = review_next(workspace, ref, input, print, reviewer)
        emit(args, {"labelled": labelled, "skipped": skipped}, f"{labelled} labelled, {skipped} skipped")
    elif action == "list":
        from automl.loop.review import model_classes

        args.finish("review list")
        name, _ = model_classes(workspace, ref)
        items = ReviewStore(workspace).items(name)
        lines = [_line(i) for i in items]
        emit(args, [i.__dict__ for i in items], "\n".join(lines) if items else f"no pending items for {name}")
    else:
        raise UserError(f"automl review {action}: unknown action; use list, next, export or import.")
    return 0
