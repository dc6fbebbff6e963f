"""ipinsights: open, self-hosted IP Insights (entity-IP anomaly scoring).

Heavy parts (PyTorch, pandas) are imported on first use of the names that need them, so that
``ipinsights --help`` and the light modules start fast (PEP 562 module ``__getattr__``).
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
    from ipinsights.generate import (
        ATTACKS,
        RangeTable,
        generate_logins,
        make_attacks,
        split_by_time,
        write_attacks,
        write_dataset,
    )
    from ipinsights.readers import FORMATS, read_log

_LAZY = {
    "IPInsights": "ipinsights.estimator",
    "Scores": "ipinsights.estimator",
    "ATTACKS": "ipinsights.generate",
    "RangeTable": "ipinsights.generate",
    "generate_logins": "ipinsights.generate",
    "make_attacks": "ipinsights.generate",
    "split_by_time": "ipinsights.generate",
    "write_attacks": "ipinsights.generate",
    "write_dataset": "ipinsights.generate",
    "FORMATS": "ipinsights.readers",
    "read_log": "ipinsights.readers",
}

__all__ = [
    "ATTACKS",
    "FORMATS",
    "ArtifactError",
    "ConfigError",
    "DataError",
    "DeviceError",
    "HyperParameters",
    "IPInsights",
    "IPInsightsError",
    "NotFittedError",
    "RangeTable",
    "Scores",
    "TrainingDivergedError",
    "__version__",
    "generate_logins",
    "make_attacks",
    "read_log",
    "split_by_time",
    "write_attacks",
    "write_dataset",
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
