"""The package version, in a module that imports nothing.

Modules inside the package read it from here rather than from ``ipinsights`` (the package root
imports them, so importing it back would point upward); ``pyproject.toml`` reads it too.
"""

__version__ = "0.1.0"
