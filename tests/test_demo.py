import json
import subprocess
import sys

import matplotlib.image
import pytest

from ipinsights.demo import FAST, DemoSettings

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
