"""The core's own components (loaders, trainers, metrics), registered through the same hooks and
entry points (``[project.entry-points.automl]`` in ``pyproject.toml``) as any plugin."""
