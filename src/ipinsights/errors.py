"""The exceptions ipinsights raises.

Every error a user can cause derives from :class:`IPInsightsError`; each concrete one also
derives from the matching built-in, so callers can catch either::

    IPInsightsError
    ├── ConfigError(ValueError)      a hyperparameter or job setting is invalid
    ├── DataError(ValueError)        input rows cannot be used (empty, too many bad rows, ...)
    ├── ArtifactError(ValueError)    a saved model is missing, damaged or from another version
    ├── DeviceError(RuntimeError)    the requested device is not available
    └── MissingExtraError(ImportError) a command needs an optional extra that is not installed

The messages name the thing, the rule, the value and, where possible, the fix.
"""

from __future__ import annotations

import importlib.util

__all__ = ["ArtifactError", "ConfigError", "DataError", "DeviceError", "IPInsightsError", "MissingExtraError"]


class IPInsightsError(Exception):
    """Base class of every error ipinsights raises on purpose."""


class ConfigError(IPInsightsError, ValueError):
    """A hyperparameter, option or job configuration is invalid."""


class DataError(IPInsightsError, ValueError):
    """Input data cannot be used: unreadable, empty, or too many bad rows."""


class ArtifactError(IPInsightsError, ValueError):
    """A model artifact is missing, damaged, truncated or incompatible."""


class DeviceError(IPInsightsError, RuntimeError):
    """The requested compute device is not available."""


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
