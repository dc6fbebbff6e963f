import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL_HP, make_logins, write_csv

from ipinsights import ConfigError, IPInsights
from ipinsights.lab.evaluation import evaluate
from ipinsights.lab.report import MODEL

ROOT = Path(__file__).resolve().parent.parent

CLI = "import sys; from ipinsights import cli; sys.exit(cli.main(sys.argv[1:]))"


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=240
    )


class FixedModel:
    """Scores pairs like a model that knows each user's /16 (dot 5 inside it, -5 outside)."""

    class hyperparameters:
        @staticmethod
        def to_dict():
            return {"vector_dim": 4}

    def __init__(self, train):
        from ipinsights.readers import as_pairs

        pairs = as_pairs(train, "train")
        self.known = set(zip(pairs.entity_hash.tolist(), (pairs.ip_lo >> 16).tolist(), strict=True))

    def score_hashed(self, entity_hash, ip_hi, ip_lo):
        from ipinsights import Scores

        inside = [
            (e, n) in self.known for e, n in zip(entity_hash.tolist(), (ip_lo >> 16).tolist(), strict=True)
        ]
        dot = np.where(inside, 5.0, -5.0).astype(np.float32)
        return Scores(dot, np.ones(len(dot), dtype=bool))


@pytest.fixture(scope="module")
def frames():
    train = pd.DataFrame(make_logins(30, 30, seed=1), columns=["entity", "ip"])
    normal = pd.DataFrame(make_logins(30, 10, seed=2), columns=["entity", "ip"])
    rng = np.random.default_rng(3)
    attack = pd.DataFrame(
        {
            "entity": [f"user_{i}" for i in rng.integers(0, 30, 200)],
            "ip": [f"203.{i % 256}.7.9" for i in range(200)],
        }
    )
    return train, normal, attack


@pytest.fixture(scope="module")
def report(frames):
    train, normal, attack = frames
    return evaluate(FixedModel(train), normal, {"far": attack, "same": normal.iloc[:50]}, train)


@pytest.fixture(scope="module")
def out(report, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluation")
    report.write(out)
    return out


def test_every_scorer_is_scored_on_the_same_pairs_with_auc_tpr_and_thresholds(report):
    far = report.attack("far")
    assert [r.scorer for r in far.results] == [
        MODEL,
        "new_ip",
        "same_24_count",
        "same_16_count",
        "backoff",
        "backoff_lr",
    ]
    model = far.result(MODEL)
    assert model.roc_auc > 0.95 and far.result("same_16_count").roc_auc > 0.95
    assert [p.target_fpr for p in model.points] == [0.01, 0.10]
    for p in model.points:
        assert p.dot_product_threshold == -p.threshold  # flag when dot_product < -threshold
        assert p.fpr <= p.target_fpr
    # Attacks that are copies of normal logins cannot be told apart: AUC one half for everyone.
    assert all(r.roc_auc == pytest.approx(0.5, abs=0.1) for r in report.attack("same").results)
    assert len(report.normal_scores[MODEL]) == report.meta["normal"]["rows"] == 300


def test_the_json_report_has_the_documented_schema(out):
    data = json.loads((out / "report.json").read_text())
    assert data["format"] == "ipinsights-evaluation" and data["format_version"] == 1
    assert data["target_fprs"] == [0.01, 0.1]
    assert data["scorers"][0]["name"] == MODEL
    assert {"source", "rows", "unknown_entities"} <= set(data["normal"])
    far = data["attacks"][0]
    assert set(far) == {
        "name",
        "source",
        "rows",
        "unknown_entities",
        "results",
        "best_baseline",
        "model_auc_minus_best_baseline",
    }
    assert far["name"] == "far" and far["rows"] == 200
    result = far["results"][0]
    assert result["scorer"] == MODEL and 0.0 <= result["roc_auc"] <= 1.0
    point = result["operating_points"][0]
    assert set(point) == {"target_fpr", "threshold", "fpr", "tpr", "dot_product_threshold"}
    assert far["results"][1]["operating_points"][0]["dot_product_threshold"] is None
    assert data["plots"] == {"far": "evaluation_far.png", "same": "evaluation_same.png"}


def _share_near(image, rgb, tolerance=0.05):
    return float((np.abs(image[..., :3] - np.array(rgb) / 255.0) < tolerance).all(axis=-1).mean())


def test_plots_are_real_pngs_showing_both_distributions(out):
    import matplotlib.image

    path = out / "evaluation_far.png"
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(raw) > 30_000
    image = matplotlib.image.imread(path)
    assert image.shape[0] >= 400 and image.shape[1] >= 1000
    # The normal histogram is tab:blue, the attack one tab:red, both at alpha 0.55 on white.
    blue = 0.45 * 255 + 0.55 * np.array([31, 119, 180])
    red = 0.45 * 255 + 0.55 * np.array([214, 39, 40])
    assert _share_near(image, blue) > 0.002
    assert _share_near(image, red) > 0.002


def test_evaluate_needs_an_attack_set():
    with pytest.raises(ConfigError, match="at least one attack set"):
        evaluate(
            None,
            pd.DataFrame({"entity": ["a"], "ip": ["1.2.3.4"]}),
            {},
            pd.DataFrame({"entity": ["a"], "ip": ["1.2.3.4"]}),
        )


def test_the_evaluate_command_compares_a_trained_model_with_the_baselines(small_data, tmp_path):
    model_dir = tmp_path / "model"
    IPInsights(**SMALL_HP, seed=0).fit(small_data["train"], log=None).save(model_dir)
    normal = write_csv(tmp_path / "normal.csv", make_logins(60, 5, seed=9))
    attack = write_csv(tmp_path / "attack.csv", [(f"user_{i}", f"203.0.{i}.9") for i in range(60)])
    result = run_cli(
        "evaluate", "--model-dir", str(model_dir), "--normal", str(normal), "--attack", f"far={attack}",
        "--train", str(small_data["train"]), "--out", str(tmp_path / "out"),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ROC AUC" in result.stdout and "ip_insights" in result.stdout and "same_16_count" in result.stdout
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["attacks"][0]["results"][0]["roc_auc"] > 0.9
    assert data["model"]["model_dir"] == str(model_dir)
    assert (tmp_path / "out" / "evaluation_far.png").read_bytes()[:4] == b"\x89PNG"


def test_the_evaluate_command_explains_a_malformed_attack_option(small_data, tmp_path, monkeypatch, capsys):
    from ipinsights import cli

    args = [
        "evaluate",
        "--model-dir",
        str(tmp_path),
        "--normal",
        str(small_data["train"]),
        "--train",
        str(small_data["train"]),
    ]
    assert cli.main([*args, "--attack", "attack.csv"]) == 2
    assert "ipinsights: error: --attack expects NAME=PATH, got 'attack.csv'" in capsys.readouterr().err
    assert cli.main([*args, "--attack", f"far={tmp_path / 'missing.csv'}"]) == 2
    assert f"--attack far {tmp_path / 'missing.csv'}: no such file or directory" in capsys.readouterr().err


def test_the_evaluate_command_without_attack_files_makes_them_from_the_logs_and_says_who_wins(
    small_data, tmp_path
):
    model_dir = tmp_path / "model"
    IPInsights(**SMALL_HP, seed=0).fit(small_data["train"], log=None).save(model_dir)
    normal = write_csv(tmp_path / "normal.csv", make_logins(60, 5, seed=9))
    result = run_cli(
        "evaluate", "--model-dir", str(model_dir), "--normal", str(normal), "--train", str(small_data["train"]),
        "--attack-seed", "3", "--attack-rows", "500", "--out", str(tmp_path / "out"), "--no-plots",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "attack sets made from" in result.stderr and "--attack-seed 3" in result.stderr
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    built = data["attack_sets_from_logs"]
    assert built["seed"] == 3 and [s["name"] for s in built["sets"]] == [a["name"] for a in data["attacks"]]
    assert [a["name"] for a in data["attacks"]] == [
        "nearby_24",
        "nearby_16",
        "other_users",
        "random_range",
        "random_ipv4",
    ]
    assert all(a["rows"] == 500 for a in data["attacks"])
    # One plain verdict per attack set, consistent with the table's numbers.
    for verdict, attack in zip(data["verdicts"], data["attacks"], strict=True):
        model = next(r for r in attack["results"] if r["scorer"] == MODEL)
        assert verdict["attack"] == attack["name"] and verdict["model_auc"] == model["roc_auc"]
        assert verdict["model_wins_auc"] == (
            round(model["roc_auc"], 4) >= round(verdict["best_baseline_auc"], 4)
        )
        assert verdict["text"].split(":")[0] in result.stdout
    # The thresholds are rules on predict's field that flag at most the budget of normal logins.
    at_1 = data["thresholds"][0]
    assert at_1["target_fpr"] == 0.01 and at_1["fpr"] <= 0.01
    assert (
        at_1["rule"] == f"flag when {at_1['field']} < {at_1['flag_below']:.6g}"
        and at_1["rule"] in result.stdout
    )
    scores = IPInsights.load(model_dir).score_hashed(*_hashed(normal))
    field = scores.score if at_1["field"] == "score" else scores.dot_product
    assert (field < at_1["flag_below"]).mean() <= 0.01


def _hashed(path):
    from ipinsights.data import read_pairs

    pairs = read_pairs(path)
    return pairs.entity_hash, pairs.ip_hi, pairs.ip_lo
