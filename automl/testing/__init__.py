"""Testing helpers for plugin authors and for automl's own tests.

- Conformance checks (``check_trainer``, ``check_metric``, ``check_loader``), as scikit-learn's
  ``check_estimator`` does for estimators, and small problems to run them on.
- Fakes: ``InProcessServer`` runs the core's request pipeline without an HTTP server or
  processes (as httpx's ``MockTransport`` does for clients), and ``slowed`` registers a copy of a
  model that takes a set time to answer (timeouts and overload, without a knob in the server).
"""

from automl.testing.conformance import (
    check_loader,
    check_metric,
    check_trainer,
    local_ray,
    specs_of,
    tabular_problem,
    write_image_folder,
)
from automl.testing.serving import InProcessServer, SlowModel, slowed

__all__ = [
    "InProcessServer",
    "SlowModel",
    "check_loader",
    "check_metric",
    "check_trainer",
    "local_ray",
    "slowed",
    "specs_of",
    "tabular_problem",
    "write_image_folder",
]
