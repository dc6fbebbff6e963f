"""The package without extras, installed for real into a fresh virtual environment.

Hardening issue, failure 2: after ``pip install .`` with no extras every command used to end in
``ModuleNotFoundError: optuna``. Here the CLI starts, ``train``, ``predict`` and ``demo --fast``
work, and ``serve`` and ``tune`` name the extra to install and exit 2.
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import torch
from conftest import SMALL_HP

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """A venv with ``pip install .`` and nothing else (torch: the same version as the test venv)."""
    env_dir = tmp_path_factory.mktemp("bare") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    torch_version = torch.__version__.split("+")[0]
    quiet = {"capture_output": True, "timeout": 900, "check": False}
    for args in (["torch==" + torch_version], [str(ROOT)]):
        result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *args], **quiet)
        assert result.returncode == 0, result.stderr.decode()[-2000:]
    return env_dir


def run(bare, *args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(bare / "bin" / "ipinsights"), *args], capture_output=True, cwd=cwd, env=env, timeout=600
    )


def test_hardening_2_the_bare_install_has_no_optional_extra(bare):
    probe = "import importlib.util as u; print([m for m in ('optuna', 'yaml', 'fastapi', 'uvicorn') if u.find_spec(m)])"
    out = subprocess.run([str(bare / "bin" / "python"), "-c", probe], capture_output=True, timeout=60)
    assert out.stdout.decode().strip() == "[]"


def test_hardening_2_the_cli_starts_and_trains_predicts_and_demos_without_extras(bare, small_data, tmp_path):
    assert run(bare, "--help", cwd=tmp_path).returncode == 0
    hp = [x for k, v in SMALL_HP.items() for x in ("--hp", f"{k}={v}")]
    trained = run(bare, "train", "--train", str(small_data["train"]), "--model-dir", "m", *hp, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr.decode()
    predicted = run(bare, "predict", "--model-dir", "m", "--input", str(small_data["validation"]),
                    "--output", "p.jsonl", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr.decode()
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 600
    demo = run(bare, "demo", "--fast", "--out", "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr.decode()
    assert (tmp_path / "demo" / "report.md").exists()


@pytest.mark.parametrize(("command", "extra"), [(["serve", "--model-dir", "m"], "serve"),
                                                (["tune", "--config", "job.yaml"], "tune"),
                                                (["tune", "describe", "job"], "tune")])
def test_hardening_2_serve_and_tune_name_the_extra_to_install_and_exit_2(bare, tmp_path, command, extra):
    result = run(bare, *command, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ipinsights: error: ")
    assert f'pip install "ipinsights[{extra}]"' in lines[0]


def test_missing_extra_error_is_an_import_error_and_an_ipinsights_error():
    from ipinsights.errors import IPInsightsError, MissingExtraError

    with pytest.raises(ImportError) as info:
        MissingExtraError.check("ipinsights serve", "serve", "no_such_module_xyz")
    assert isinstance(info.value, IPInsightsError)
    assert "no_such_module_xyz" in str(info.value)
    assert sys.modules.get("no_such_module_xyz") is None
