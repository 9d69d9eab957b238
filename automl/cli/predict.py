"""``automl predict``: predictions for a file, in-process, from a saved model."""

from __future__ import annotations

from automl.cli.args import Args, emit


def cmd_predict(args: Args, sub: list[str]) -> int:
    from automl.model.batch import predict_file

    result = predict_file(
        args.require("model", "NAME, NAME:VERSION or NAME@ALIAS"),
        args.require("input", "the file to predict (CSV, Parquet or JSONL)"),
        args.require("output", "where to write predictions (CSV or Parquet)"),
        args.get("workspace"),
    )
    args.finish("predict")
    emit(args, result, f"{result['rows']} predictions by {result['model']} -> {result['output']}")
    return 0
