"""The exceptions ipinsights raises.

Every error a user can cause derives from :class:`IPInsightsError`; each concrete one also
derives from the matching built-in, so callers can catch either::

    IPInsightsError
    ├── ConfigError(ValueError)             a hyperparameter or job setting is invalid
    │   └── NotFittedError                  a model or baseline is used before fit() or load()
    ├── DataError(ValueError)               input rows cannot be used (empty, too many bad rows, ...)
    ├── ArtifactError(ValueError)           a saved model is missing, damaged or from another version
    ├── DeviceError(RuntimeError)           the requested device is not available
    ├── TrainingDivergedError(FloatingPointError)  the loss or a metric became NaN or infinite
    ├── MissingExtraError(ImportError)      a command needs an optional extra that is not installed
    ├── DiskFullError(OSError)              the disk (or quota) of a tuning job is full; resumable
    └── the HTTP request errors of ``ipinsights serve``, with the status each answers:
        ├── RequestError(ValueError)               400: the body cannot be read as a whole
        ├── UnsupportedMediaTypeError(ValueError)  415: a Content-Type we do not read
        ├── NotAcceptableError(ValueError)         406: an Accept type we do not write
        ├── PayloadTooLargeError(ValueError)       413: the body is above the payload limit
        └── BodyTimeoutError(TimeoutError)         408: the body did not arrive in time

The messages name the thing, the rule, the value and, where possible, the fix.
"""

from __future__ import annotations

import importlib.util

__all__ = [
    "ArtifactError",
    "BodyTimeoutError",
    "ConfigError",
    "DataError",
    "DeviceError",
    "DiskFullError",
    "IPInsightsError",
    "MissingExtraError",
    "NotAcceptableError",
    "NotFittedError",
    "PayloadTooLargeError",
    "RequestError",
    "TrainingDivergedError",
    "UnsupportedMediaTypeError",
]


class IPInsightsError(Exception):
    """Base class of every error ipinsights raises on purpose."""


class ConfigError(IPInsightsError, ValueError):
    """A hyperparameter, option or job configuration is invalid."""


class NotFittedError(ConfigError):
    """A model or baseline is used before ``fit()`` (or ``load()``).

    A :class:`ConfigError`, as this misuse was reported before it had its own class.
    """


class DataError(IPInsightsError, ValueError):
    """Input data cannot be used: unreadable, empty, or too many bad rows."""


class ArtifactError(IPInsightsError, ValueError):
    """A model artifact is missing, damaged, truncated or incompatible."""


class DeviceError(IPInsightsError, RuntimeError):
    """The requested compute device is not available."""


class TrainingDivergedError(IPInsightsError, FloatingPointError):
    """Training diverged: the loss (or a reported metric) is NaN or infinite; lower ``learning_rate``."""


class DiskFullError(IPInsightsError, OSError):
    """The disk (or the quota) holding a tuning job is full; the job can resume once space is freed."""


class RequestError(IPInsightsError, ValueError):
    """The request body cannot be read as a whole (HTTP 400)."""


class UnsupportedMediaTypeError(IPInsightsError, ValueError):
    """The Content-Type is not one we read (HTTP 415)."""


class NotAcceptableError(IPInsightsError, ValueError):
    """The Accept type is not one we write (HTTP 406)."""


class PayloadTooLargeError(IPInsightsError, ValueError):
    """The request body is above the server's payload limit (HTTP 413)."""


class BodyTimeoutError(IPInsightsError, TimeoutError):
    """The request body did not arrive within the server's body timeout (HTTP 408)."""


class MissingExtraError(IPInsightsError, ImportError):
    """A command needs an optional extra (``serve``, ``tune``, ``postgres``) that is not installed."""

    @classmethod
    def check(cls, command: str, extra: str, *modules: str) -> None:
        """Raise when any of ``modules`` cannot be imported, naming the extra that provides them.

        Example:
            >>> MissingExtraError.check("serve", "serve", "json")  # the standard library: present
        """
        missing = [name for name in modules if importlib.util.find_spec(name) is None]
        if missing:
            raise cls(
                f"{command} needs the '{extra}' extra ({', '.join(missing)} not installed); "
                f'install it with: pip install "ipinsights[{extra}]" (or ".[{extra}]" from a clone)'
            )
