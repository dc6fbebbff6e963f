"""The error tree: every exception the package raises is declared in ipinsights.errors and drawn there."""

import ast
import inspect
from pathlib import Path

import pytest

from ipinsights import errors

SRC = Path(errors.__file__).resolve().parent


def test_no_module_but_errors_defines_an_exception_class():
    defined = []
    for path in SRC.rglob("*.py"):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                "Error" in ast.unparse(base) or "Exception" in ast.unparse(base) for base in node.bases
            ):
                defined.append(f"{path.relative_to(SRC)}: {node.name}")
    # Control-flow signals that never reach a caller are allowed where they are used.
    assert [d for d in defined if not d.endswith("_StopRequested")] == []  # tune._trial: SIGTERM to a trial


@pytest.mark.parametrize("name", errors.__all__)
def test_each_error_is_in_the_documented_tree_and_subclasses_a_builtin(name):
    cls = getattr(errors, name)
    assert issubclass(cls, errors.IPInsightsError)
    tree = errors.__doc__.split("::", 1)[1]
    assert f" {name}" in tree, f"{name} is missing from the tree in ipinsights.errors' docstring"
    if cls is not errors.IPInsightsError:
        builtins = [b for b in inspect.getmro(cls) if b.__module__ == "builtins" and b not in (object, Exception, BaseException)]
        assert builtins, f"{name} should also subclass the matching built-in"


def test_the_new_errors_are_caught_by_the_handlers_written_for_their_builtins():
    assert issubclass(errors.NotFittedError, errors.ConfigError) and issubclass(errors.NotFittedError, ValueError)
    assert issubclass(errors.TrainingDivergedError, FloatingPointError)
    assert issubclass(errors.BodyTimeoutError, TimeoutError) and issubclass(errors.DiskFullError, OSError)
    from ipinsights import inference, serve
    from ipinsights.tune import _storage

    assert inference.RequestError is errors.RequestError and serve.PayloadTooLargeError is errors.PayloadTooLargeError
    assert _storage.DiskFullError is errors.DiskFullError
