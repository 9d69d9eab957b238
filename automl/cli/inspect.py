"""``automl inspect``: likely label errors in a recipe's training data."""

from __future__ import annotations

from automl.cli.args import Args, emit


def cmd_inspect(args: Args, sub: list[str]) -> int:
    import dataclasses

    from automl.loop.label_issues import inspect_labels
    from automl.paths import workspace_dir

    recipe = args.require("recipe", "the name of a recipe that has been run")
    top = args.integer("n", 20, 1, 1_000_000)
    send = args.flag("send", "use send=true to queue the suspects for review")
    workspace = workspace_dir(args.get("workspace"))
    args.finish("inspect")
    assert top is not None
    report = inspect_labels(workspace, recipe, top)
    sent = []
    if send:
        from automl.loop.label_issues import send_to_review
        from automl.plugins.manager import get_plugins

        sent = send_to_review(workspace, report, get_plugins())
    lines = [
        f"{report.recipe} (run {report.run_id}): {report.flagged} of {report.examples} examples look mislabelled "
        f"(cleanlab, out-of-fold probabilities); the {len(report.suspects)} least likely labels:",
        f"{'SOURCE':<40}{'GIVEN':<16}{'SUGGESTED':<16}{'SCORE':>7}  FLAGGED",
    ]
    lines += [
        f"{s.source[-39:]:<40}{s.given[:15]:<16}{s.suggested[:15]:<16}{s.score:>7.3f}  {'yes' if s.flagged else 'no'}"
        for s in report.suspects
    ]
    if report.confused:
        pairs = ", ".join(f"{a} -> {b} ({n})" for a, b, n in report.confused)
        lines.append(f"most confused (given -> suggested): {pairs}")
    if report.near_duplicates:
        lines.append("near-duplicates: " + ", ".join(f"{a} ~ {b}" for a, b in report.near_duplicates[:10]))
    if report.outliers:
        lines.append("outliers (most unusual first): " + ", ".join(report.outliers[:10]))
    lines += [f"note: {note}" for note in report.notes]
    if send:
        lines.append(f"queued {len(sent)} suspects for review (automl review next model={recipe})")
    emit(args, {**dataclasses.asdict(report), "queued": [i.item_id for i in sent]}, "\n".join(lines))
    return 0
