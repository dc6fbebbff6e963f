import json
import subprocess
import sys

import matplotlib.image
import pytest

from ipinsights.lab.demo import FAST, DemoSettings

ATTACKS = ["random_range", "random_ipv4", "other_users", "nearby_ranges"]

CLI = "import sys; from ipinsights import cli; sys.exit(cli.main(sys.argv[1:]))"


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=280
    )


def test_the_default_demo_uses_the_examples_hyperparameters_with_a_tuned_learning_rate():
    assert DemoSettings().hyperparameters() == {
        "num_entity_vectors": 6000,
        "vector_dim": 128,
        "random_negative_sampling_rate": 5,
        "mini_batch_size": 1000,
        "epochs": 5,
        "learning_rate": 0.003,
        "weight_decay": 0.0,
    }
    assert DemoSettings(num_users=1234).num_entity_vectors == 2500
    assert FAST.num_users < 500


def test_the_fast_demo_writes_a_report_folder_and_names_it_last(tmp_path):
    out = tmp_path / "demo"
    result = run_cli("demo", "--fast", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == str(out.resolve())
    for stage in ("1/4 generate", "2/4 train", "3/4 evaluate", "4/4 report"):
        assert stage in result.stdout
    assert "ROC AUC" in result.stdout and "same_16_count" in result.stdout

    report = json.loads((out / "report.json").read_text())
    assert [a["name"] for a in report["attacks"]] == ATTACKS
    assert report["attacks"][0]["results"][0]["scorer"] == "ip_insights"
    assert report["demo"]["settings"]["num_users"] == FAST.num_users
    assert set(report["demo"]["timings"]) == {"generate", "train", "evaluate", "report", "total"}

    markdown = (out / "report.md").read_text()
    assert "| attack set | scorer | ROC AUC |" in markdown
    assert "ipinsights demo --fast --out" in markdown
    assert "ipinsights evaluate --model-dir" in markdown
    for name in ATTACKS:
        png = out / f"evaluation_{name}.png"
        assert f"]({png.name})" in markdown
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.image.imread(png).shape[1] >= 1000
    assert (out / "model" / "model.json").exists()
    assert (out / "data" / "train.csv").exists() and (out / "data" / "attack_other_users.csv").exists()


@pytest.fixture
def cli(monkeypatch):
    """The CLI in this process."""
    from ipinsights import cli

    monkeypatch.setenv("COLUMNS", "200")
    return cli


def test_the_demo_refuses_to_write_into_a_folder_it_did_not_make(cli, tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert cli.main(["demo", "--fast", "--out", str(tmp_path / "mine")]) == 2
    assert (
        "is not empty and was not written by ipinsights demo; choose another --out" in capsys.readouterr().err
    )
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_demo_options_have_help_and_defaults(cli, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--users", "--seed", "--epochs", "--attacks", "--device", "--fast"):
        assert option in text
    assert "(default: demo-report)" in text and "(default: 3000; with --fast: 100)" in text


@pytest.fixture
def torch_threads():
    """Restores PyTorch's thread count after a test that lets a command change it."""
    import torch

    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


@pytest.mark.parametrize(("argv", "load", "expected"), [([], 50.0, 1), (["--threads", "1"], 0.0, 1), (["--threads", "2"], 50.0, 2)])
def test_hardening_7_the_demo_applies_the_trainers_thread_rule(cli, torch_threads, monkeypatch, tmp_path, argv, load, expected):
    import os

    from ipinsights.lab import demo

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    torch_threads.set_num_threads(3)
    seen = []
    monkeypatch.setattr(demo, "run_demo", lambda *a, **k: seen.append(torch_threads.get_num_threads()))
    assert cli.main(["demo", "--fast", "--out", str(tmp_path / "d"), *argv]) == 0
    assert seen == [expected]


def test_hardening_7_evaluate_applies_the_same_thread_rule(cli, torch_threads, monkeypatch, tmp_path):
    import os

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 50.0, 50.0))
    torch_threads.set_num_threads(3)
    seen = []

    def stop(*args, **kwargs):
        seen.append(torch_threads.get_num_threads())
        raise KeyboardInterrupt  # enough: the rule is applied before the model is loaded

    monkeypatch.setattr("ipinsights.estimator.IPInsights.load", stop)
    for name in ("normal.csv", "a.csv", "train.csv"):
        (tmp_path / name).write_text("u,1.2.3.4\n")
    argv = ["evaluate", "--model-dir", str(tmp_path), "--normal", str(tmp_path / "normal.csv"),
            "--attack", f"a={tmp_path / 'a.csv'}", "--train", str(tmp_path / "train.csv")]
    assert cli.main(argv) == 130
    assert seen == [1]
