"""The fitted artefact: ``FittedModel`` (fitted), the ``Predictor`` that loads a registered
version (predictor), and batch prediction over files (batch)."""
