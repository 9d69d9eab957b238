"""LightGBM trainer for automl (the plugin module is ``automl_lightgbm.plugin``)."""
