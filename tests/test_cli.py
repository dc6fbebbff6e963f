"""The CLI as a user meets it: real processes, exact messages, exit codes."""

import argparse
import json
import os
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
    # score: the combined score of a model trained with validation data (docs/design.md)
    assert set(records[0]) == {"dot_product", "known_entity", "score"} and records[0]["known_entity"] is True
    assert records[1] == {"dot_product": None, "known_entity": None, "error": "'not-an-ip' is not an IP address", "row": 2}
    assert records[2]["known_entity"] is False
    assert "1 of 3 rows could not be scored (first: row 2:" in result.stderr.decode()


def test_predict_exits_1_when_no_row_could_be_scored_and_still_writes_the_error_records(trained, tmp_path):
    _, model_dir = trained
    rows = b'{"entity": "user_1", "ip": "46.65.1.1"}\n{"entity": "user_2", "ip": "1.2.3.4"}\n'
    result = ipinsights("predict", "--model-dir", str(model_dir), "--input", "-", stdin=rows)
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [r["row"] for r in records] == [1, 2] and all(r["dot_product"] is None for r in records)
    assert "2 of 2 rows could not be scored" in result.stderr.decode()
    assert "no row could be scored; is the input text/csv (--content-type)?" in result.stderr.decode()


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
    assert set(first) == {"dot_product", "known_entity", "score", "entity_embedding", "ip_embedding"}
    assert len(first["entity_embedding"]) == len(first["ip_embedding"]) == SMALL_HP["vector_dim"]
    assert abs(sum(a * b for a, b in zip(first["entity_embedding"], first["ip_embedding"], strict=True)) - first["dot_product"]) < 1e-4


def test_predict_writes_csv_rows(trained):
    _, model_dir = trained
    result = ipinsights("predict", "--model-dir", str(model_dir), "--input", "-", "--accept", "text/csv",
                        stdin=b"user_1,46.65.1.1\nx,1.2.3\n")
    lines = result.stdout.decode().splitlines()
    assert re.fullmatch(r"-?\d+\.\d+(e-?\d+)?,true,", lines[0])
    assert lines[1] == ",,\"row 2: '1.2.3' is not an IP address\""


def _predict_in_process(argv: list[str], capsys) -> tuple[int, str]:
    from ipinsights import cli

    status = cli.main(argv)
    return status, capsys.readouterr().err


_STREAM_ROWS = "".join(
    f"user_{i % 7},46.65.{i % 200}.{i % 250 + 1}\n" if i % 97 else f"user_{i % 7},not-an-ip-{i}\n" for i in range(1, 600)
) + "user_3,2001:db8::7\n\n  \nlast,1.2.3.4"  # blank lines count; the last line has no newline


@pytest.mark.parametrize("accept", ["text/csv", "application/jsonlines", "application/json"])
def test_predict_streamed_in_small_chunks_writes_the_same_bytes_as_one_chunk(trained, tmp_path, monkeypatch, capsys, accept):
    from ipinsights import predict

    _, model_dir = trained
    source = tmp_path / "in.csv"
    source.write_text(_STREAM_ROWS)
    whole, chunked = tmp_path / "whole.out", tmp_path / "chunked.out"
    argv = ["predict", "--model-dir", str(model_dir), "--input", str(source), "--accept", accept, "--threads", "1"]
    assert _predict_in_process([*argv, "--output", str(whole)], capsys)[0] == 0
    monkeypatch.setattr(predict, "CHUNK_BYTES", 100)  # ~4 rows a chunk: 150 chunks
    status, err = _predict_in_process([*argv, "--output", str(chunked)], capsys)
    assert status == 0
    assert chunked.read_bytes() == whole.read_bytes()
    assert "6 of 601 rows could not be scored (first: row 97: 'not-an-ip-97' is not an IP address)" in err
    if accept != "application/json":
        assert chunked.read_text().count("\n") == 601
    # row numbers of the whole input, not the chunk's
    assert ("row 582: 'not-an-ip-582'" if accept == "text/csv" else "not-an-ip-582' is not an IP address\", \"row\": 582}") in chunked.read_text()


def test_predict_writes_gzip_when_the_output_name_ends_in_gz(trained, tmp_path, monkeypatch, capsys):
    import gzip

    from ipinsights import predict

    _, model_dir = trained
    source = tmp_path / "in.csv.gz"
    source.write_bytes(gzip.compress(_STREAM_ROWS.encode()))
    argv = ["predict", "--model-dir", str(model_dir), "--input", str(source), "--threads", "1"]
    assert _predict_in_process([*argv, "--output", str(tmp_path / "plain.jsonl")], capsys)[0] == 0
    monkeypatch.setattr(predict, "CHUNK_BYTES", 1000)
    assert _predict_in_process([*argv, "--output", str(tmp_path / "packed.jsonl.gz")], capsys)[0] == 0
    assert gzip.decompress((tmp_path / "packed.jsonl.gz").read_bytes()) == (tmp_path / "plain.jsonl").read_bytes()


def test_predict_with_input_carries_the_entity_and_ip_and_a_threshold_flags_rows(trained, tmp_path, capsys):
    _, model_dir = trained
    source = tmp_path / "in.csv"
    source.write_text('user_1,46.65.1.1\nuser_1,200.1.1.1\n"o\'brien, jr",2001:db8::1\nx,1.2.3\n')
    out = tmp_path / "out.jsonl"
    argv = ["predict", "--model-dir", str(model_dir), "--input", str(source), "--threads", "1", "--with-input"]
    assert _predict_in_process([*argv, "--output", str(out)], capsys)[0] == 0
    plain = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r.get("entity"), r.get("ip")) for r in plain] == [
        ("user_1", "46.65.1.1"), ("user_1", "200.1.1.1"), ("o'brien, jr", "2001:db8::1"), (None, None)
    ]
    assert list(plain[0]) == ["entity", "ip", "dot_product", "known_entity", "score"]
    assert plain[3] == {"dot_product": None, "known_entity": None, "error": "'1.2.3' is not an IP address", "row": 4}
    scores = [r["score"] for r in plain[:3]]
    threshold = (min(scores) + max(scores)) / 2  # flags some rows and not others
    want = [s < threshold for s in scores]
    assert any(want) and not all(want)
    status, err = _predict_in_process([*argv, "--output", str(out), "--flag-below", str(threshold)], capsys)
    flagged = [json.loads(line) for line in out.read_text().splitlines()]
    assert status == 0 and [r.get("flagged") for r in flagged] == [*want, None]
    assert list(flagged[0]) == ["entity", "ip", "dot_product", "known_entity", "score", "flagged"]
    assert f"{sum(want)} of 4 rows flagged" in err
    status, _ = _predict_in_process([*argv, "--output", str(out), "--flag-below", str(threshold), "--only-flagged",
                                     "--accept", "text/csv"], capsys)  # fmt: skip
    lines = out.read_text().splitlines()
    first = want.index(True)
    assert status == 0 and len(lines) == sum(want) + 1
    assert lines[0].startswith(["user_1,46.65.1.1,", "user_1,200.1.1.1,", '"o\'brien, jr",2001:db8::1,'][first])
    assert all(line.endswith(",,true") for line in lines[:-1])
    assert lines[-1] == ",,,,\"row 4: '1.2.3' is not an IP address\","  # error records are kept


def test_predict_flag_fpr_takes_its_threshold_from_a_reference_file(trained, small_data, tmp_path, capsys):
    _, model_dir = trained
    out = tmp_path / "out.jsonl"
    argv = ["predict", "--model-dir", str(model_dir), "--input", str(small_data["validation"]), "--output", str(out),
            "--threads", "1", "--flag-fpr", "0.05", "--reference", str(small_data["validation"])]  # fmt: skip
    status, err = _predict_in_process(argv, capsys)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert status == 0 and len(records) == 600
    num_flagged = sum(r["flagged"] for r in records)
    assert 0 < num_flagged <= 30  # at most 5 % of the reference itself
    assert re.search(r"flagging score < -?\d", err) and f"{num_flagged} of 600 rows flagged" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--flag-below", "1", "--flag-fpr", "0.1", "--reference", "x"], "give --flag-below or --flag-fpr, not both"),
        (["--flag-fpr", "0.1"], "--flag-fpr needs --reference PATH"),
        (["--only-flagged"], "--only-flagged needs a threshold"),
        (["--flag-fpr", "1.5", "--reference", "-"], "--flag-fpr must be a fraction in (0, 1), e.g. 0.01 for 1 %, got 1.5"),
    ],
)
def test_predict_threshold_options_that_do_not_fit_give_one_line(trained, extra, message):
    _, model_dir = trained
    result = ipinsights("predict", "--model-dir", str(model_dir), "--input", "-", *extra, stdin=b"user_1,46.65.1.1\n")
    assert one_line_error(result).startswith("ipinsights: error: " + message)


def test_predict_worker_processes_write_what_one_process_writes(trained, tmp_path, capsys):
    from ipinsights.estimator import IPInsights
    from ipinsights.inference import MediaType
    from ipinsights.predict import AtomicOutput, PredictOptions, predict_stream, start_workers

    _, model_dir = trained
    source = tmp_path / "in.csv"
    source.write_text((_STREAM_ROWS + "\n") * 3)
    model = IPInsights.load(model_dir)
    options = PredictOptions(MediaType("text/csv"), with_input=True, flag_below=0.0)
    outputs = []
    for workers in (1, 2):
        output = AtomicOutput(str(tmp_path / f"out{workers}.csv"))
        pool = start_workers(str(model_dir), "cpu", workers) if workers > 1 else None
        summary = predict_stream(None if pool else model, str(source), output, content_type="text/csv",
                                 options=options, pool=pool)  # fmt: skip
        output.commit()
        outputs.append((tmp_path / f"out{workers}.csv").read_bytes())
        assert (summary.num_rows, summary.num_bad) == (1803, 18)
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == 1803


def test_predict_workers_that_cannot_load_the_model_raise_its_error_once(trained, tmp_path):
    from ipinsights.errors import ArtifactError
    from ipinsights.estimator import IPInsights
    from ipinsights.inference import MediaType
    from ipinsights.predict import AtomicOutput, PredictOptions, predict_stream, start_workers

    _, model_dir = trained
    source = tmp_path / "in.csv"
    source.write_text("user_1,46.65.1.1\n")
    pool = start_workers(str(tmp_path / "no-model"), "cpu", 2)  # the main process's model is fine, theirs is not
    output = AtomicOutput(str(tmp_path / "out.csv"))
    with pytest.raises(ArtifactError, match="no-model"):
        predict_stream(IPInsights.load(model_dir), str(source), output, content_type="text/csv",
                       options=PredictOptions(MediaType("text/csv")), pool=pool)  # fmt: skip
    output.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


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


# -- hardening (issue 10) -----------------------------------------------------------------------


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The one error line; warnings printed before it (``ipinsights train: warning: ...``) aside."""
    err = "".join(line for line in result.stderr.decode().splitlines(keepends=True) if ": warning: " not in line)
    assert result.returncode == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("ipinsights: error: ")
    return err.strip()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "expected a JSON object of name: value (e.g. {\"vector_dim\": \"128\"}), got a JSON list"),
        (b'[["epochs", "2"]]', "got a JSON list"),
        (b'"abc"', "got a JSON string"),
        (b"5", "got a JSON number"),
        (b"\xff\xfe\x00", "not UTF-8 text; expected a JSON object of name: value"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply; expected a flat JSON object of name: value"),
    ],
)
def test_hardening_8_a_hyperparameters_file_that_is_not_a_json_object_gives_one_line(small_data, tmp_path, content, message):
    hp_file = tmp_path / "hp.json"
    hp_file.write_bytes(content)
    result = ipinsights("train", "--train", str(small_data["train"]), "--model-dir", str(tmp_path / "m"),
                        "--hyperparameters", str(hp_file), *hp_args())
    err = one_line_error(result)
    assert err.startswith(f"ipinsights: error: --hyperparameters {hp_file}: ") and err.endswith(message)


def test_hardening_8_a_huge_in_range_num_entity_vectors_is_refused_naming_the_estimate_and_the_fix(small_data, tmp_path):
    result = ipinsights("train", "--train", str(small_data["train"]), "--model-dir", str(tmp_path / "m"),
                        *hp_args(num_entity_vectors=250_000_000, vector_dim=4096))
    err = one_line_error(result)
    assert re.fullmatch(
        r"ipinsights: error: training needs about 4,10\d\.\d GB for the embedding tables and their Adam moments "
        r"\(num_entity_vectors=250000000, vector_dim=4096\), more than the [\d,.]+ GB available \(.+\); "
        r"lower num_entity_vectors \(about 2 x the distinct entities is enough\) or vector_dim, or free memory", err), err
    assert not (tmp_path / "m").exists()


def test_hardening_8_the_memory_check_runs_before_the_network_is_built(small_data, monkeypatch):
    from ipinsights import ConfigError, IPInsights

    monkeypatch.setattr("ipinsights.model.available_memory_bytes", lambda device: (10_000, "MemAvailable in /proc/meminfo"))
    with pytest.raises(ConfigError, match=r"more than the 0\.0 GB available \(MemAvailable in /proc/meminfo\)"):
        IPInsights(**SMALL_HP).fit(small_data["train"], log=None)


def test_hardening_8_a_bad_model_json_gives_one_line_from_predict(trained, tmp_path):
    _, model_dir = trained
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    meta = json.loads((model_dir / "model.json").read_text())
    for change in ({"ip_encoder": "bogus"}, {"hyperparameters": {**meta["hyperparameters"], "num_entity_vectors": 250_000_000}}):
        (broken / "model.json").write_text(json.dumps({**meta, **change}))
        result = ipinsights("predict", "--model-dir", str(broken), "--input", "-", stdin=b"a,1.2.3.4\n")
        assert str(broken / "model.") in one_line_error(result)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("{tmp}", "--output {tmp}: is a directory; give a file name (e.g. {tmp}/predictions.jsonl)"),
        ("{tmp}/nope/x.jsonl", "--output {tmp}/nope/x.jsonl: the folder {tmp}/nope does not exist; create it first"),
        ("/dev/full", "--output /dev/full: cannot write (No space left on device)"),
    ],
)
def test_hardening_8_an_unwritable_predict_output_gives_one_line(trained, tmp_path, output, message):
    _, model_dir = trained
    if output == "/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    output = output.format(tmp=tmp_path)
    result = ipinsights("predict", "--model-dir", str(model_dir), "--input", "-", "--output", output, stdin=b"user_1,46.65.1.1\n")
    assert one_line_error(result) == "ipinsights: error: " + message.format(tmp=tmp_path)


def test_hardening_9_predict_decompresses_gzip_input_by_its_magic_bytes(trained, tmp_path):
    import gzip

    _, model_dir = trained
    rows = b"user_1,46.65.1.1\nstranger,2001:db8::1\n"
    plain, packed = tmp_path / "in.csv", tmp_path / "in.csv.gz"
    plain.write_bytes(rows)
    packed.write_bytes(gzip.compress(rows))
    outputs = [ipinsights("predict", "--model-dir", str(model_dir), "--input", str(p)) for p in (plain, packed)]
    assert [r.returncode for r in outputs] == [0, 0] and outputs[1].stderr == b""
    assert outputs[0].stdout == outputs[1].stdout and outputs[1].stdout.count(b"dot_product") == 2
    from_stdin = ipinsights("predict", "--model-dir", str(model_dir), "--input", "-", stdin=gzip.compress(rows))
    assert from_stdin.stdout == outputs[0].stdout
    (tmp_path / "cut.gz").write_bytes(gzip.compress(rows)[:20])
    cut = ipinsights("predict", "--model-dir", str(model_dir), "--input", str(tmp_path / "cut.gz"))
    assert f"--input {tmp_path / 'cut.gz'}: looks like gzip but cannot be decompressed" in one_line_error(cut)


def test_hardening_10_predict_replaces_its_output_only_when_complete(trained, tmp_path, monkeypatch, capsys):
    from ipinsights import cli

    _, model_dir = trained
    out = tmp_path / "out.jsonl"
    out.write_text("previous, complete output\n")
    (tmp_path / ".out.jsonl.k1lled.tmp").write_bytes(b"left by a killed run")
    source = tmp_path / "in.csv"
    source.write_text("user_1,46.65.1.1\n")
    argv = ["predict", "--model-dir", str(model_dir), "--input", str(source), "--output", str(out)]

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    assert cli.main(argv) == 2
    assert "cannot write (No space left on device); the previous file is unchanged" in capsys.readouterr().err
    assert out.read_text() == "previous, complete output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.jsonl"]
    monkeypatch.undo()
    assert cli.main(argv) == 0
    assert out.read_text().startswith('{"dot_product": ')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.jsonl"]


_SLOW_WRITE = """
import sys, time
from pathlib import Path
import os
from ipinsights import cli
real_write = os.fdopen
def slow_fdopen(fd, mode):
    fh = real_write(fd, mode)
    write = fh.write
    def slowly(data):
        write(data[: len(data) // 2]); fh.flush(); print("half written", flush=True); time.sleep(60); write(data[len(data) // 2 :])
    fh.write = slowly
    return fh
os.fdopen = slow_fdopen
sys.exit(cli.main(sys.argv[1:]))
"""


def test_hardening_10_kill_9_during_predict_leaves_the_previous_output_whole(trained, tmp_path):
    import signal

    _, model_dir = trained
    out = tmp_path / "out.jsonl"
    out.write_text("previous, complete output\n")
    source = tmp_path / "in.csv"
    source.write_text("user_1,46.65.1.1\n" * 1000)
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITE, "predict", "--model-dir", str(model_dir), "--input",
                             str(source), "--output", str(out)], stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout.readline() == b"half written\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert out.read_text() == "previous, complete output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.jsonl"]  # no partial file either


def test_train_reference_switch_gives_the_reference_negatives_and_no_combined_score(small_data, tmp_path):
    model_dir = tmp_path / "ref"
    result = ipinsights("train", "--train", str(small_data["train"]), "--validation", str(small_data["validation"]),
                        "--model-dir", str(model_dir), "--reference", *hp_args(epochs=1))
    assert result.returncode == 0, result.stderr.decode()
    assert "0 nearby" in result.stdout.decode()
    predicted = ipinsights("predict", "--model-dir", str(model_dir), "--input", "-", stdin=b"user_1,46.65.1.1\n")
    assert set(json.loads(predicted.stdout.decode())) == {"dot_product", "known_entity"}
    refused = ipinsights("train", "--train", str(small_data["train"]), "--model-dir", str(model_dir), "--reference",
                         *hp_args(epochs=1), "--hp", "nearby_negative_sampling_rate=2")
    assert refused.returncode == 2 and "leave out --hp nearby_negative_sampling_rate" in refused.stderr.decode()


def _parsers(parser: argparse.ArgumentParser, name: str = "ipinsights"):
    """Every parser of the command line: the program's, each command's, each tune action's."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {command}")


def test_every_option_of_every_command_has_help_and_states_its_default_at_most_once():
    from ipinsights.cli import build_parser

    parsers = dict(_parsers(build_parser()))
    assert {"ipinsights train", "ipinsights tune list", "ipinsights serve", "ipinsights evaluate"} <= set(parsers)
    for name, parser in parsers.items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction):
                continue
            where = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help is not argparse.SUPPRESS, f"{where} has no help"
            text = formatter._expand_help(action)
            assert text.count("(default") <= 1, f"{where} states its default twice: {text}"
            for stated in ("(default: None)", "(default: False)", "(default: [])"):
                assert stated not in text, f"{where}: {text}"
            if action.required or action.nargs == 0:
                assert "(default:" not in text, f"{where} is required or a flag: {text}"
        assert "(default: None)" not in parser.format_help()


def test_every_train_option_reaches_the_nproc_workers_unchanged():
    from ipinsights.cli import build_parser, train

    parser = build_parser()
    given = parser.parse_args([
        "train", "--train", "t.csv", "--validation=-v.csv", "--model-dir", "m", "--hyperparameters", "hp.json",
        "--hp", "vector_dim=8", "--hp", "epochs=auto", "--seed", "7", "--device", "cpu", "--max-bad-fraction", "0.3",
        "--ip-encoder", "bits", "--threads", "2", "--reference", "--nproc", "3", "--auto-size", "--format", "jsonl",
        "--entity-field", "user.name", "--ip-field=-odd",
    ])
    train_parser = dict(_parsers(parser))["ipinsights train"]
    for action in train_parser._actions[1:]:
        assert getattr(given, action.dest) != action.default, f"give --{action.dest} a value here, so it is checked"
    assert vars(parser.parse_args(train._worker_argv(given))) == {**vars(given), "nproc": 1}
    defaults = parser.parse_args(["train", "--train", "t.csv", "--model-dir", "m"])
    assert vars(parser.parse_args(train._worker_argv(defaults))) == vars(defaults)


def test_the_help_of_the_command_line_does_not_load_pytorch():
    code = "import sys; from ipinsights import cli; cli.build_parser(); print(sorted({'torch', 'optuna', 'fastapi'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize(
    ("command", "stated"),
    [
        ("generate", ["(default: 10000)", "(default: builtin)", "(default: that sum)"]),
        ("serve", ["(default: 6.0)", "(default: 1000)", "(default: $SAGEMAKER_BIND_TO_PORT when set, else 8080)"]),
        ("tune list", ["(default: Name)", "(default: Ascending)"]),
    ],
)
def test_the_help_states_defaults_in_one_form_the_computed_ones_in_words(capsys, command, stated):
    from ipinsights.cli import main

    with pytest.raises(SystemExit):
        main([*command.split(), "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in stated:
        assert default in text
