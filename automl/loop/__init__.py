"""The ML loop over the stores and the registry: drift monitoring, active sampling, label issues,
the review queue, the promotion gate with model tests, and rollout (``automl loop``). Empty for
now; see the open issues "The ML loop"."""
