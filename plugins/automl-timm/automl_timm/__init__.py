"""timm backbones, image augmenters and a from-scratch CNN for automl (the plugin module is ``automl_timm.plugin``)."""
