"""ipinsights: open, self-hosted IP Insights (entity-IP anomaly scoring).

Heavy parts (PyTorch, pandas) are imported on first use of the names that need them, so that
``ipinsights --help`` and the light modules start fast (PEP 562 module ``__getattr__``). The root
holds the model API; the evaluation lab (synthetic logins, attack sets, baselines, reports) has
its own namespace, :mod:`ipinsights.lab`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ipinsights._version import __version__
from ipinsights.config import HyperParameters
from ipinsights.errors import (
    ArtifactError,
    ConfigError,
    DataError,
    DeviceError,
    IPInsightsError,
    NotFittedError,
    TrainingDivergedError,
)

if TYPE_CHECKING:  # pragma: no cover
    from ipinsights.estimator import IPInsights, Scores
    from ipinsights.readers import FORMATS, read_log

_LAZY = {
    "IPInsights": "ipinsights.estimator",
    "Scores": "ipinsights.estimator",
    "FORMATS": "ipinsights.readers",
    "read_log": "ipinsights.readers",
}

__all__ = [
    "FORMATS",
    "ArtifactError",
    "ConfigError",
    "DataError",
    "DeviceError",
    "HyperParameters",
    "IPInsights",
    "IPInsightsError",
    "NotFittedError",
    "Scores",
    "TrainingDivergedError",
    "__version__",
    "read_log",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ipinsights' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
