"""The lab's namespace: every re-exported name resolves, and importing it stays light."""

import subprocess
import sys

import pytest

import ipinsights.lab


@pytest.mark.parametrize("name", ipinsights.lab.__all__)
def test_every_exported_name_resolves_to_the_object_of_its_module(name: str) -> None:
    value = getattr(ipinsights.lab, name)
    module = sys.modules[ipinsights.lab._LAZY[name]]
    assert value is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="module 'ipinsights.lab' has no attribute 'generate'"):
        ipinsights.lab.generate  # noqa: B018


def test_importing_the_lab_loads_neither_pandas_nor_torch() -> None:
    code = "import sys, ipinsights.lab; print(sorted({'pandas', 'torch'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
