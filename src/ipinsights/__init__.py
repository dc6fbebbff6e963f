"""ipinsights: open, self-hosted IP Insights (entity-IP anomaly scoring)."""

from ipinsights.config import HyperParameters
from ipinsights.errors import ArtifactError, ConfigError, DataError, DeviceError, IPInsightsError
from ipinsights.estimator import IPInsights, Scores

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "DeviceError",
    "HyperParameters",
    "IPInsights",
    "IPInsightsError",
    "Scores",
    "__version__",
]
