"""ONNX export of automl models (the plugin module is ``automl_onnx.plugin``; exporter ``onnx``).

The exporter contract
---------------------
``make_exporter(config).export(model, inputs, folder, *, labels=None, metric=None) -> ExportReport``

- ``model``: an ``automl.model.fitted.FittedModel`` (views, members with weights, classes, threshold).
- ``inputs``: held-out raw inputs, as ``FittedModel.predict_proba`` takes them: a DataFrame of
  table rows, or a list of image paths / texts. They check the export (every row) and time it.
- ``folder``: where ``model.onnx`` and its sidecar ``model.json`` are written (plus, for text
  models, the tokenizer; with quantization kept, ``model.float.onnx``).
- ``labels`` / ``metric`` (optional): the inputs' class indices and a ``MetricSpec``; with them
  the quantization tolerance bounds the metric's change instead of the share of changed labels.

It returns an :class:`ExportReport` and never raises for a model it cannot export:
``exported=False`` with a one-line ``reason`` naming the member and what stops it. ``exported``
is True only when the graph was written, loads in onnxruntime, and agrees with the native model on
every check row: ``max |p_onnx - p_native| <= atol`` (1e-4 by default) and the same label (a row
whose native probabilities lie within ``atol`` of the decision boundary may differ).

The graph
---------
One graph for the whole inference path, opset 18 (``ai.onnx.ml`` 3), IR version 10.

Inputs, by the model's input kind (``model.json``'s ``inputs`` lists them):

- table: one input per feature column, named as the column (a column called ``label`` or
  ``probabilities`` gets ``<column>_input``; ``model.json`` maps columns to inputs), shape
  ``(N, 1)``: ``double`` for a numeric column (NaN = missing), ``string`` for a categorical one
  (``""`` = missing), which is what ``FeatureSchema.coerce`` gives the native model;
- image: ``pixels`` ``(N, 3, H, W)`` float32, decoded, resized, centre-cropped and normalised as
  timm's eval transform (``data_config`` in the sidecar; :mod:`automl_onnx.imaging` does it
  without torch). Decoding and resizing stay in Python: ONNX has no image decoder and its
  ``Resize`` does not reproduce Pillow's antialiased filters;
- text: ``input_ids`` and ``attention_mask`` ``(N, L)`` int64 from the backbone's tokenizer
  (saved in ``tokenizer/``).

Outputs: ``probabilities`` ``(N, K)`` float32 (columns in the order of ``classes``) and ``label``
``(N,)`` int64, the class index with the decision threshold applied (binary models; the
threshold is in the sidecar too). The members' probabilities are averaged inside the graph with
their weights. :class:`automl_onnx.runtime.OnnxModel` runs a folder from raw inputs.

What exports
------------
Table members that are a ``ColumnTransformer`` (imputers with indicators, scaling, one-hot or
ordinal encoding with infrequent categories) followed by logistic regression, random forest,
extra trees, histogram gradient boosting (numeric and native categorical splits, missing values)
or LightGBM (onnxmltools), or any estimator skl2onnx converts. Image / text members that are a
head (linear probe, MLP, ...) over a timm / transformers backbone's embedding. Not: members on
the raw inputs (TF-IDF n-grams, image histograms, the scratch CNN, fine-tuned backbones).
"""

from automl_onnx.config import ExportReport, OnnxExportConfig, QuantizationReport

__all__ = ["ExportReport", "OnnxExportConfig", "QuantizationReport"]
