"""The CLI as a user meets it: real processes, exact messages, exit codes."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL_HP

from ipinsights.metrics import METRIC_REGEXES

ROOT = Path(__file__).resolve().parent.parent


def ipinsights(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ipinsights.cli", *args], input=stdin, capture_output=True, cwd=ROOT, timeout=300
    )


def hp_args(**changes) -> list[str]:
    out = []
    for k, v in {**SMALL_HP, **changes}.items():
        out += ["--hp", f"{k}={v}"]
    return out


@pytest.fixture(scope="module")
def trained(small_data, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("cli") / "model"
    result = ipinsights("train", "--train", str(small_data["train"]), "--validation", str(small_data["validation"]),
                        "--model-dir", str(model_dir), *hp_args())
    return result, model_dir


def test_train_prints_the_reference_metric_lines_and_writes_the_artifact(trained):
    result, model_dir = trained
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    for name, rx in METRIC_REGEXES.items():
        assert re.search(rx, out), name
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "model.json").is_file()
    assert "model written to" in result.stderr.decode()


def test_a_sagemaker_hyperparameters_json_with_string_values_is_accepted(small_data, tmp_path):
    hp_file = tmp_path / "hyperparameters.json"
    hp_file.write_text(json.dumps({k: str(v) for k, v in {**SMALL_HP, "epochs": 1}.items()}))
    result = ipinsights("train", "--train", str(small_data["train"]), "--model-dir", str(tmp_path / "m"),
                        "--hyperparameters", str(hp_file), "--hp", "vector_dim=8")
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads((tmp_path / "m" / "model.json").read_text())["hyperparameters"]["vector_dim"] == 8


def test_predict_writes_one_json_line_per_row_in_input_order_with_row_errors(trained, tmp_path):
    _, model_dir = trained
    rows = b"user_1,46.65.1.1\nuser_1,not-an-ip\nstranger,2001:db8::1\n"
    result = ipinsights("predict", "--model-dir", str(model_dir), "--input", "-", stdin=rows)
    assert result.returncode == 0, result.stderr.decode()
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(records) == 3
    assert set(records[0]) == {"dot_product", "known_entity"} and records[0]["known_entity"] is True
    assert records[1] == {"dot_product": None, "known_entity": None, "error": "'not-an-ip' is not an IP address", "row": 2}
    assert records[2]["known_entity"] is False
    assert "1 of 3 rows could not be scored (first: row 2:" in result.stderr.decode()


def test_predict_writes_the_documented_json_and_verbose_shapes(trained, tmp_path):
    _, model_dir = trained
    source = tmp_path / "in.jsonl"
    source.write_text('{"features": ["user_1", "46.65.1.1"]}\n{"data": {"features": {"values": ["user_2", "1.2.3.4"]}}}\n')
    out = tmp_path / "out.json"
    result = ipinsights("predict", "--model-dir", str(model_dir), "--input", str(source), "--output", str(out),
                        "--content-type", "application/jsonlines", "--accept", "application/json", "--verbose")
    assert result.returncode == 0, result.stderr.decode()
    document = json.loads(out.read_text())
    assert list(document) == ["predictions"] and len(document["predictions"]) == 2
    first = document["predictions"][0]
    assert set(first) == {"dot_product", "known_entity", "entity_embedding", "ip_embedding"}
    assert len(first["entity_embedding"]) == len(first["ip_embedding"]) == SMALL_HP["vector_dim"]
    assert abs(sum(a * b for a, b in zip(first["entity_embedding"], first["ip_embedding"], strict=True)) - first["dot_product"]) < 1e-4


def test_predict_writes_csv_rows(trained):
    _, model_dir = trained
    result = ipinsights("predict", "--model-dir", str(model_dir), "--input", "-", "--accept", "text/csv",
                        stdin=b"user_1,46.65.1.1\nx,1.2.3\n")
    lines = result.stdout.decode().splitlines()
    assert re.fullmatch(r"-?\d+\.\d+(e-?\d+)?,true,", lines[0])
    assert lines[1] == ",,\"row 2: '1.2.3' is not an IP address\""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hp", "vector_dim=5000"], "ipinsights: error: vector_dim must be an integer in [4, 4096], got vector_dim=5000"),
        (["--hp", "epoch=3"], "ipinsights: error: unknown hyperparameter 'epoch'; did you mean 'epochs'?"),
        (["--hp", "random_negative_sampling_rate=0", "--hp", "shuffled_negative_sampling_rate=0"],
         "ipinsights: error: random_negative_sampling_rate + shuffled_negative_sampling_rate must be in [1, 500], got 0 + 0 = 0"),
    ],
)
def test_out_of_range_hyperparameters_give_one_line_and_exit_2(small_data, tmp_path, args, message):
    result = ipinsights("train", "--train", str(small_data["train"]), "--model-dir", str(tmp_path / "m"), *hp_args(), *args)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == message


def test_garbage_and_empty_files_give_one_line_errors_without_traceback(tmp_path):
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(bytes(range(256)) * 40)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    for path, expected in ((garbage, "rows is a valid entity,ip pair"), (empty, "the input is empty")):
        result = ipinsights("train", "--train", str(path), "--model-dir", str(tmp_path / "m"), *hp_args())
        err = result.stderr.decode()
        assert result.returncode == 2
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1].startswith("ipinsights: error: ") and expected in err


def test_a_truncated_artifact_gives_a_one_line_error(trained, tmp_path):
    _, model_dir = trained
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_bytes((model_dir / "model.json").read_bytes())
    (broken / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes()[:100])
    result = ipinsights("predict", "--model-dir", str(broken), "--input", "-", stdin=b"a,1.2.3.4\n")
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert err.startswith("ipinsights: error: ") and "checksum mismatch" in err and "\n" not in err


def test_every_command_has_help_listing_its_options_with_defaults():
    for command in ("train", "predict"):
        result = ipinsights(command, "--help")
        assert result.returncode == 0
        text = result.stdout.decode()
        assert "(default:" in text
    assert "learning_rate" in ipinsights("train", "--help").stdout.decode()


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_bad_thread_counts_give_one_line_and_exit_2(small_data, tmp_path, value):
    out = ipinsights("train", "--train", str(small_data["train"]), "--model-dir", str(tmp_path / "m"), "--threads", value, *hp_args())
    assert out.returncode == 2
    assert out.stderr.decode().strip() == f"ipinsights: error: --threads must be a positive number or auto, got --threads {value}"


def test_training_with_an_explicit_thread_count_gives_the_same_model_as_with_one(small_data, tmp_path):
    for threads in ("1", "2"):
        out = ipinsights("train", "--train", str(small_data["train"]), "--model-dir", str(tmp_path / threads), "--threads", threads, *hp_args())
        assert out.returncode == 0, out.stderr.decode()
    one, two = (json.loads((tmp_path / t / "model.json").read_text()) for t in ("1", "2"))
    assert abs(one["metrics"]["train:binary_classification_cross_entropy:epoch"] - two["metrics"]["train:binary_classification_cross_entropy:epoch"]) < 1e-3
