"""Text backbones for automl from Hugging Face transformers (the plugin module is ``automl_transformers.plugin``)."""
