"""The model server's core: configuration, the supervisor of ``automl serve``, request inputs,
routing by rollout state, predictions and invoke records. No web framework is imported here; the
HTTP server itself is a serving backend registered by a plugin (``automl-litserve``)."""
