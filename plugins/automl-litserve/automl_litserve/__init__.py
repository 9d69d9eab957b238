"""The LitServe serving backend of automl (see docs/serving-design.md)."""
