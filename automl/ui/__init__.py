"""The pages of ``automl ui``: models, runs and the review / annotate page, served by Starlette
from the project's own process over the same stores as the commands (no second copy of state).

A page is a module with ``routes(ctx)`` and one ``Page`` line in ``automl.ui.server.PAGES``."""
